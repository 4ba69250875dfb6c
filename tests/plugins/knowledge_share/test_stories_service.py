"""The story service: validation with field paths (KS-12 text), authorship and visibility, the
review workflow (KS-1, KS-2, KS-3), working copies (KS-4), edit rules and the 404 of invisible
stories. Nothing here depends on the time of day: dates are compared with the service's own
Korean day."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from tests.conftest import scalar, sql
from tests.plugins.knowledge_share.stories_fixtures import body, published, r02_user, story, user


def _svc():
    from plugins.knowledge_share.stories import service

    return service


def _error(fn, *args, **kwargs):
    from plugins.knowledge_share.errors import StoryError
    from portal.toolkit import db

    with pytest.raises(StoryError) as info:
        fn(*args, **kwargs)
    db.session.rollback()
    return info.value


def _may_open(story_id: int, email_or_user) -> bool:
    from werkzeug.exceptions import NotFound

    u = user(email_or_user) if isinstance(email_or_user, str) else email_or_user
    try:
        _svc().get_story_or_404(story_id, u)
    except NotFound:
        return False
    return True


# -- KS-1 ------------------------------------------------------------------------------------------


def test_ks1_private_pending_published_history_and_visibility(app):
    svc = _svc()
    s = story(visibility="region")
    assert s.state == "private" and s.version == 1
    unit = scalar("SELECT code FROM org_unit WHERE id = :i", i=s.author_unit_id)
    region = scalar("SELECT code FROM org_unit WHERE id = :i", i=s.scope_unit_id)
    assert (unit, region) == ("B001", "R01")
    assert not _may_open(s.id, "store2@example.com")  # private: the author and reviewers only
    assert _may_open(s.id, "reviewer@example.com")
    svc.fire(s, "submit", user("store1@example.com"))
    assert s.state == "pending"
    svc.fire(s, "publish", user("reviewer@example.com"))
    from portal.toolkit import db

    db.session.commit()
    assert s.state == "published" and s.published_at is not None and s.reviewed_at is not None
    assert s.review_due is not None and s.review_due > svc.today_kst()
    # visible per visibility: R01 branches see a region story, an R02 branch does not
    assert _may_open(s.id, "store2@example.com")
    assert not _may_open(s.id, r02_user())
    hist = svc.history_document(s)
    assert [(h["from"], h["to"]) for h in hist] == [("private", "pending"), ("pending", "published")]
    assert [h["actor"]["id"] for h in hist] == [user("store1@example.com").id, user("reviewer@example.com").id]


def test_branch_story_is_not_seen_by_another_branch(app):
    s = published(visibility="branch")
    assert _may_open(s.id, "store1@example.com")
    assert not _may_open(s.id, "store2@example.com")
    assert _may_open(s.id, "hq@example.com")  # ks.see_all


def test_404_for_junk_and_missing_ids(app):
    for ident in ("abc", "-1", "0", "99999999999999999999", "1.5", "٣", 10**6):
        assert not _may_open(ident, "store1@example.com")


# -- validation (KS-12 text) -------------------------------------------------------------------------


def test_ks12_title_empty_or_201_chars_and_every_error_by_field(app):
    svc = _svc()
    err = _error(svc.create_story, body(title=""), user("store1@example.com"))
    assert err.status == 422 and "title" in err.errors
    err = _error(svc.create_story, body(title="가" * 201, summary="x" * 20_001, channels=["fax"], season="monsoon",
                                      keywords=[f"k{i}" for i in range(11)], category="nope", visibility="world",
                                      rfm_segment="has space", colour="red"), user("store1@example.com"))
    assert {"title", "summary", "channels", "season", "keywords", "category", "visibility", "rfm_segment",
            "colour"} <= set(err.errors)
    assert scalar("SELECT count(*) FROM ks_story") == 0
    s = svc.create_story(body(title="가" * 200), user("store1@example.com"))
    assert len(s.title) == 200


def test_wrong_types_are_422_never_a_crash(app):
    svc = _svc()
    for change in ({"title": 5}, {"channels": "sms"}, {"keywords": [1]}, {"category": 1.5}, {"unit": 7},
                   {"campaign": "x"}, {"summary": ["a"]}, {"title": "a\x00b"}):
        err = _error(svc.create_story, body(**change), user("store1@example.com"))
        assert err.status == 422 and set(err.errors) == set(change), (change, err.errors)


def test_result_block_is_read_only(app):
    with force_locale("en"):
        err = _error(_svc().create_story, body(result={"lift": 9.9}), user("store1@example.com"))
    assert "result" in err.errors and "read-only" in err.errors["result"]
    err = _error(_svc().create_story, body(result_mark="verified"), user("store1@example.com"))
    assert "읽기 전용" in err.errors["result_mark"]  # Korean outside an English request


def test_visibility_needs_a_place(app):
    svc = _svc()
    err = _error(svc.create_story, body(visibility="group"), user("store1@example.com"))
    assert "visibility" in err.errors
    g = svc.create_story(body(visibility="group"), user("leader1@example.com"))
    assert g.scope_group_id is not None and g.author_unit_id is None
    err = _error(svc.create_story, body(visibility="branch"), user("leader1@example.com"))
    assert "visibility" in err.errors
    hq = svc.create_story(body(visibility="region", unit="R01"), user("hq@example.com"))
    assert scalar("SELECT code FROM org_unit WHERE id = :i", i=hq.scope_unit_id) == "R01"
    err = _error(svc.create_story, body(visibility="branch"), user("hq@example.com"))  # head office is no branch
    assert "visibility" in err.errors


def test_a_writer_of_several_units_chooses(app):
    from portal.models import LocalRole
    from portal.toolkit import BRANCH_STAFF, OrgUnit, db

    u = user("store1@example.com")
    b2 = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "B002"))
    db.session.add(LocalRole(user_id=u.id, role=BRANCH_STAFF, org_unit_id=b2.id))
    db.session.commit()
    db.session.refresh(u)
    svc = _svc()
    err = _error(svc.create_story, body(), u)
    assert "unit" in err.errors and "B001" in err.errors["unit"] and "B002" in err.errors["unit"]
    err = _error(svc.create_story, body(unit="B003"), u)
    assert "unit" in err.errors
    s = svc.create_story(body(unit="B002", visibility="branch"), u)
    assert s.author_unit_id == b2.id == s.scope_unit_id


def test_a_distributor_may_not_write(app):
    err = _error(_svc().create_story, body(), user("ibo1@example.com"))
    assert err.status == 403


# -- KS-2, KS-3 ---------------------------------------------------------------------------------------


def test_ks2_reject_needs_ten_characters_and_tells_the_author(app):
    from portal.toolkit import db

    svc = _svc()
    s = story()
    svc.fire(s, "submit", user("store1@example.com"))
    db.session.commit()
    for comment in ("", "짧은 코멘"):  # empty / 5 characters
        with force_locale("en"):
            err = _error(svc.fire, s, "reject", user("reviewer@example.com"), comment)
        assert err.status == 422 and err.errors == {"comment": "comment required (≥ 10 characters)"}
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=s.id) == "pending"
    svc.fire(s, "reject", user("reviewer@example.com"), "성과 수치의 출처를 적어 주세요.")
    db.session.commit()
    assert s.state == "private"
    text = scalar("SELECT text FROM notification WHERE kind = 'workflow.decided' AND user_id = :u",
                  u=user("store1@example.com").id)
    assert "성과 수치의 출처를 적어 주세요." in text


def test_submit_tells_the_reviewers_not_the_author(app):
    """The core workflow's notices, once each (the add-on sends none of its own)."""
    from portal.toolkit import db

    s = story()
    _svc().fire(s, "submit", user("store1@example.com"))
    db.session.commit()
    users = {r[0] for r in sql("SELECT user_id FROM notification WHERE kind = 'workflow.waiting'")}
    assert user("reviewer@example.com").id in users and user("store1@example.com").id not in users


def test_ks3_author_cannot_publish_nothing_changes_no_audit(app):
    from portal.toolkit import db

    svc = _svc()
    s = story()
    svc.fire(s, "submit", user("store1@example.com"))
    db.session.commit()
    events = scalar("SELECT count(*) FROM audit_event")
    history = scalar("SELECT count(*) FROM workflow_history")
    err = _error(svc.fire, s, "publish", user("store1@example.com"))
    assert err.status == 403
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=s.id) == "pending"
    assert scalar("SELECT count(*) FROM audit_event") == events
    assert scalar("SELECT count(*) FROM workflow_history") == history
    # a reviewer who wrote the story may not publish it either (four-eyes)
    own = svc.create_story(body(visibility="all"), user("admin@example.com"))
    svc.fire(own, "submit", user("admin@example.com"))
    db.session.commit()
    assert _error(svc.fire, own, "publish", user("admin@example.com")).status == 403


def test_unknown_and_system_transitions_are_422(app):
    s = story()
    for name in ("merge", "fly", "", None):
        assert _error(_svc().fire, s, name, user("store1@example.com")).status == 422


def test_publish_binds_to_the_revision_the_reviewer_saw(app):
    from portal.toolkit import current_revision, db

    svc = _svc()
    s = story()
    svc.fire(s, "submit", user("store1@example.com"))
    seen = current_revision(s)
    svc.update_story(s, {"summary": "바뀐 요약"}, user("store1@example.com"))
    db.session.commit()
    err = _error(svc.fire, s, "publish", user("reviewer@example.com"), revision=seen)
    assert err.status == 409 and "revision" in err.errors
    svc.fire(s, "publish", user("reviewer@example.com"), revision=current_revision(s))
    assert s.state == "published"


# -- edit rules ---------------------------------------------------------------------------------------


def test_edit_rules(app):
    from portal.toolkit import db

    svc = _svc()
    s = story()
    assert _error(svc.update_story, s, {"title": "남의 글"}, user("hq@example.com")).status == 403
    svc.update_story(s, {"title": "고친 제목", "visibility": "branch"}, user("store1@example.com"))
    db.session.commit()
    assert s.title == "고친 제목" and s.scope_unit_id == s.author_unit_id
    svc.fire(s, "submit", user("store1@example.com"))
    svc.update_story(s, {"lessons": "검토자가 다듬음"}, user("reviewer@example.com"))
    svc.fire(s, "publish", user("reviewer@example.com"))
    db.session.commit()
    err = _error(svc.update_story, s, {"title": "직접 수정"}, user("store1@example.com"))
    assert err.status == 409 and "/checkout" in err.errors["state"]


# -- KS-4 ----------------------------------------------------------------------------------------------


def test_ks4_working_copy_reviewed_while_the_published_story_stays(app):
    from plugins.knowledge_share.models import KsStory, KsVote
    from portal.toolkit import db

    svc = _svc()
    s = published()
    first_published = s.published_at
    db.session.add(KsVote(story_id=s.id, version=1, user_id=user("store2@example.com").id))
    s.helpful_count = 1
    db.session.commit()
    author = user("store1@example.com")
    copy = svc.checkout(s, author)
    db.session.commit()
    assert copy.base_id == s.id and copy.state == "private" and copy.title == s.title
    assert svc.checkout(s, author).id == copy.id  # one open copy, returned again
    svc.update_story(copy, {"title": "개정판: 세미나 + 후속 전화", "lessons": "전화는 이틀 안에"}, author)
    svc.fire(copy, "submit", author)
    db.session.commit()
    assert copy.state == "pending"
    db.session.expire_all()
    base = db.session.get(KsStory, s.id)
    assert (base.state, base.title, base.version) == ("published", "건강식품 세미나로 재구매율 상승", 1)
    assert _may_open(base.id, "store2@example.com") and not _may_open(copy.id, "store2@example.com")
    assert svc.story_document(base, user("store1@example.com"))["working_copy"] == copy.id
    current = svc.fire(copy, "publish", user("reviewer@example.com"))
    db.session.commit()
    db.session.expire_all()
    base = db.session.get(KsStory, s.id)
    assert current.id == base.id
    assert (base.state, base.title, base.lessons, base.version) == ("published", "개정판: 세미나 + 후속 전화",
                                                                    "전화는 이틀 안에", 2)
    assert base.helpful_count == 0  # votes are per version: the new version starts at 0
    assert base.published_at == first_published
    assert db.session.get(KsStory, copy.id).state == "merged"
    hist = svc.history_document(base)  # the copy's review stays in the story's history
    assert [(h["transition"], h["copy_id"]) for h in hist if h["copy_id"]] == [
        ("submit", copy.id), ("publish", copy.id), ("merge", copy.id)]
    assert svc.open_copy_id(base) is None
    assert svc.checkout(base, author).id != copy.id  # a new revision can start


def test_checkout_rules(app):
    svc = _svc()
    s = story()
    assert _error(svc.checkout, s, user("store1@example.com")).status == 409  # not published: edit directly
    p = published()
    assert _error(svc.checkout, p, user("store2@example.com")).status == 403  # another branch's story
    copy = svc.checkout(p, user("store1@example.com"))
    assert _error(svc.checkout, copy, user("store1@example.com")).status == 409


def test_copy_of_a_story_no_longer_published_cannot_be_published(app):
    from portal.toolkit import db

    svc = _svc()
    p = published()
    copy = svc.checkout(p, user("store1@example.com"))
    svc.fire(copy, "submit", user("store1@example.com"))
    svc.fire(p, "archive", user("reviewer@example.com"))
    db.session.commit()
    assert _error(svc.fire, copy, "publish", user("reviewer@example.com")).status == 409


def test_revision_data_changes_with_what_the_page_shows(app):
    from portal.toolkit import current_revision

    s = story()
    before = current_revision(s)
    _svc().update_story(s, {"keywords": ["세미나", "전화"]}, user("store1@example.com"))
    assert current_revision(s) != before
    data = _svc().revision_data(s)
    assert {"title", "summary", "lessons", "channels", "keywords", "visibility", "attachments"} <= set(data)


# -- the personal-data guard on submit (KS-6, the story text) -----------------------------------------


def test_submit_refuses_personal_data_with_the_spans(app):
    svc = _svc()
    s = story(summary="문의는 010-1234-5678 또는 kim@example.com 으로", lessons="고객 900101-1234567")
    err = _error(svc.fire, s, "submit", user("store1@example.com"))
    assert err.status == 422
    assert any(k.startswith("summary[") for k in err.errors) and any(k.startswith("lessons[") for k in err.errors)
    kinds = {f["kind"] for f in err.extra["findings"]}
    assert {"phone", "email", "rrn"} <= kinds
    phone = next(f for f in err.extra["findings"] if f["kind"] == "phone")
    assert s.summary[phone["start"]:phone["end"]] == "010-1234-5678"
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=s.id) == "private"
    assert scalar("SELECT count(*) FROM workflow_history") == 0
