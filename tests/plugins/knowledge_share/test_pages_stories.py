"""Story pages with the Flask test client: list (search, chips, sort, pages, empty state), the form
(errors next to the fields, nothing written), the story page (fields, result mark, buttons, the
working copy), "mine", the review queue, history, scope (KS-7: out of sight is 404 and never
listed or counted), CSRF, and the dashboard boxes."""

from __future__ import annotations

from datetime import date, datetime

from tests.conftest import scalar
from tests.plugins.knowledge_share.pages_fixtures import FORM, client_for, post, r02_login, story_id_from
from tests.plugins.knowledge_share.stories_fixtures import published, story


def execute(statement: str, **params) -> None:
    from sqlalchemy import text

    from portal.toolkit import db

    db.session.execute(text(statement), params)
    db.session.commit()


def test_index_empty_state_tells_how_to_write_one(app):
    store1 = client_for(app, "store1@example.com")
    html = store1.get("/stories/").get_data(as_text=True)
    assert 'data-testid="new-story"' in html and "class=\"empty\"" in html
    ibo = client_for(app, "ibo1@example.com")  # reads, never writes
    html = ibo.get("/stories/").get_data(as_text=True)
    assert "new-story" not in html and "class=\"empty\"" in html


def test_new_form_errors_next_to_fields_and_nothing_written(app):
    """KS-12 on the page: empty / 201-character title → the form again (422) with the message."""
    store1 = client_for(app, "store1@example.com")
    html = store1.get("/stories/new").get_data(as_text=True)
    assert 'name="title"' in html and 'name="channels"' in html and 'data-markdown="1"' in html and "마크다운" in html
    assert '<option value="branch"' in html and '<option value="region"' in html and '<option selected value="all"' in html
    assert '<option value="group"' not in html  # store1 writes for a branch, not a group
    for title in ("", "가" * 201):
        resp = post(store1, "/stories/new", {**FORM, "title": title}, "/stories/new")
        assert resp.status_code == 422
        html = resp.get_data(as_text=True)
        assert 'data-testid="error-title"' in html
        assert "강남점 단골 고객" in html  # what was typed stays
    resp = post(store1, "/stories/new", {**FORM, "channels": ["fax"], "season": "monsoon"}, "/stories/new")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'data-testid="error-channels"' in html and 'data-testid="error-season"' in html
    assert scalar("SELECT count(*) FROM ks_story") == 0


def test_csrf_is_required(app):
    store1 = client_for(app, "store1@example.com")
    resp = store1.post("/stories/new", data=FORM)
    assert resp.status_code == 400
    assert scalar("SELECT count(*) FROM ks_story") == 0
    s = story()
    resp = store1.post(f"/stories/{s.id}/transition", data={"transition": "submit"})
    assert resp.status_code == 400
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=s.id) == "private"


def test_ks1_write_submit_reject_fix_publish_through_the_pages(app):
    """KS-1 / KS-2 on the pages: store1 writes and submits; the reviewer's short rejection is refused
    (422, state unchanged), a proper one sends it back; store1 fixes and resubmits; published."""
    store1 = client_for(app, "store1@example.com")
    resp = post(store1, "/stories/new", FORM, "/stories/new")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    sid = story_id_from(resp.headers["Location"])
    html = store1.get(f"/stories/{sid}").get_data(as_text=True)
    assert 'data-state="private"' in html and 'data-testid="action-submit"' in html
    assert "<strong>건강식품 세미나</strong>" in html  # Markdown rendered
    assert 'data-mark="self_reported"' in html
    resp = post(store1, f"/stories/{sid}/transition", {"transition": "submit"})
    assert resp.status_code == 303
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=sid) == "pending"
    # the author cannot publish their own story (KS-3): no button, and a forged post is refused
    html = store1.get(f"/stories/{sid}").get_data(as_text=True)
    assert "action-publish" not in html and 'data-testid="waiting-review"' in html
    assert post(store1, f"/stories/{sid}/transition", {"transition": "publish"}).status_code == 403
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=sid) == "pending"

    reviewer = client_for(app, "reviewer@example.com")
    queue = reviewer.get("/stories/review").get_data(as_text=True)
    assert f'data-story="{sid}"' in queue
    html = reviewer.get(f"/stories/{sid}").get_data(as_text=True)
    assert 'data-testid="action-publish"' in html and 'data-testid="comment-reject"' in html
    assert 'minlength="10"' in html
    resp = post(reviewer, f"/stories/{sid}/transition", {"transition": "reject", "comment": "짧아요"})
    assert resp.status_code == 422
    assert "10" in resp.get_data(as_text=True) and "짧아요" in resp.get_data(as_text=True)
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=sid) == "pending"
    reason = "결과 수치의 출처를 적어 주세요."
    assert post(reviewer, f"/stories/{sid}/transition", {"transition": "reject", "comment": reason}).status_code == 303
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=sid) == "private"

    html = store1.get(f"/stories/{sid}/edit").get_data(as_text=True)
    assert "건강식품 세미나로 재구매율 상승" in html and 'selected value="health"' in html
    resp = post(store1, f"/stories/{sid}/edit", {**FORM, "result_text": "재구매율 +8 %p (지점 POS 집계)"},
                f"/stories/{sid}/edit")
    assert resp.status_code == 303
    assert post(store1, f"/stories/{sid}/transition", {"transition": "submit"}).status_code == 303
    html = reviewer.get(f"/stories/{sid}").get_data(as_text=True)
    assert post(reviewer, f"/stories/{sid}/transition", {"transition": "publish"}).status_code == 303
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=sid) == "published"

    history = store1.get(f"/stories/{sid}/history").get_data(as_text=True)
    assert history.count('data-testid="history-row"') == 4 and reason in history
    store2 = client_for(app, "store2@example.com")
    listing = store2.get("/stories/").get_data(as_text=True)
    assert f'data-story="{sid}"' in listing
    assert store2.get(f"/stories/{sid}").status_code == 200


def test_personal_data_on_submit_is_listed_and_nothing_moves(app):
    """KS-6 on the page: the offending spans are shown; the story stays private."""
    s = story(summary="연락처 010-1234-5678 로 문의")
    store1 = client_for(app, "store1@example.com")
    resp = post(store1, f"/stories/{s.id}/transition", {"transition": "submit"})
    assert resp.status_code == 422
    assert "010-1234-5678" in resp.get_data(as_text=True)
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=s.id) == "private"


def test_ks7_scope_branch_story_never_listed_counted_or_opened_elsewhere(app):
    """A B001 branch-only story: store2 (B002) neither lists, counts nor opens it (404 everywhere);
    an R02 user does not see a region R01 story."""
    branch = published(title="B001 전용 건강 이야기", visibility="branch")
    region = published(title="R01 지역 건강 이야기", visibility="region")
    everyone = published(title="모두의 건강 이야기")
    store2 = client_for(app, "store2@example.com")
    html = store2.get("/stories/?q=건강").get_data(as_text=True)
    assert f'data-story="{branch.id}"' not in html and f'data-story="{everyone.id}"' in html
    assert f'data-story="{region.id}"' in html  # B002 is in R01
    assert 'data-testid="story-total"' in html and "2" in html.split('data-testid="story-total"')[1][:40]
    for url in (f"/stories/{branch.id}", f"/stories/{branch.id}/history", f"/stories/{branch.id}/edit"):
        assert store2.get(url).status_code == 404, url
    assert post(store2, f"/stories/{branch.id}/transition", {"transition": "retract"}).status_code == 404
    assert post(store2, f"/stories/{branch.id}/checkout", {}).status_code == 404
    far = r02_login(app)
    html = far.get("/stories/?q=건강").get_data(as_text=True)
    assert f'data-story="{region.id}"' not in html and f'data-story="{everyone.id}"' in html
    assert far.get(f"/stories/{region.id}").status_code == 404
    store1 = client_for(app, "store1@example.com")
    assert store1.get(f"/stories/{branch.id}").status_code == 200


def test_index_chips_sort_and_junk_parameters(app):
    published(title="건강식품 세미나로 재구매율 상승")
    published(title="Kakao 친구톡 win-back", category="beauty", channels=["kakao"], season="winter")
    store2 = client_for(app, "store2@example.com")
    html = store2.get("/stories/?channel=kakao").get_data(as_text=True)
    assert html.count('data-testid="story-card"') == 1 and "win-back" in html
    html = store2.get("/stories/?category=health&sort=helpful").get_data(as_text=True)
    assert html.count('data-testid="story-card"') == 1 and "재구매율" in html
    html = store2.get("/stories/?q=kakao").get_data(as_text=True)
    assert html.count('data-testid="story-card"') == 1
    html = store2.get("/stories/?mark=verified").get_data(as_text=True)
    assert 'data-testid="story-card"' not in html and "class=\"empty\"" in html
    for junk in ("?page=99999999999999999999", "?page=abc&sort=bad&category=nope&mark=x&season=monsoon",
                 "?q=" + "가" * 500, "?channel=kakao&channel=sms&page=0"):
        assert store2.get("/stories/" + junk).status_code == 200, junk


def test_edit_published_story_goes_through_a_working_copy(app):
    """KS-4 on the pages: "Edit" on a published story makes a copy; the published story is unchanged
    and says a revised version is waiting; publishing the copy updates the story."""
    s = published()
    store1 = client_for(app, "store1@example.com")
    html = store1.get(f"/stories/{s.id}").get_data(as_text=True)
    assert 'data-testid="checkout"' in html
    resp = store1.get(f"/stories/{s.id}/edit")
    assert resp.status_code == 303  # a published story is edited through its copy
    resp = post(store1, f"/stories/{s.id}/checkout", {})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/edit")
    copy_id = story_id_from(resp.headers["Location"])
    assert copy_id != s.id
    html = store1.get(f"/stories/{copy_id}/edit").get_data(as_text=True)
    assert 'data-testid="working-copy-notice"' in html
    resp = post(store1, f"/stories/{copy_id}/edit", {**FORM, "title": "건강식품 세미나 2회차까지"}, f"/stories/{copy_id}/edit")
    assert resp.status_code == 303
    assert post(store1, f"/stories/{copy_id}/transition", {"transition": "submit"}).status_code == 303
    store2 = client_for(app, "store2@example.com")
    html = store2.get(f"/stories/{s.id}").get_data(as_text=True)
    assert "건강식품 세미나로 재구매율 상승" in html and "2회차까지" not in html
    html = store1.get(f"/stories/{s.id}").get_data(as_text=True)
    assert 'data-testid="copy-waiting"' in html
    reviewer = client_for(app, "reviewer@example.com")
    resp = post(reviewer, f"/stories/{copy_id}/transition", {"transition": "publish"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/stories/{s.id}")
    html = store2.get(f"/stories/{s.id}").get_data(as_text=True)
    assert "건강식품 세미나 2회차까지" in html
    history = store1.get(f"/stories/{s.id}/history").get_data(as_text=True)
    assert "revised version" in history or "수정본" in history or history.count('data-testid="history-row"') >= 5


def test_mine_review_queue_and_needs_review_flag(app):
    """KS-11 on the pages: a story last reviewed 13 months ago is flagged in "mine", the list and
    the author's dashboard, and stays listed."""
    old = published(title="오래된 건강 이야기")
    execute("UPDATE ks_story SET review_due = :d WHERE id = :i", d=date(2020, 1, 1), i=old.id)
    draft = story(title="초안 이야기")
    store1 = client_for(app, "store1@example.com")
    html = store1.get("/stories/mine").get_data(as_text=True)
    assert f'data-story="{old.id}"' in html and f'data-story="{draft.id}"' in html
    assert 'data-testid="needs-review"' in html and 'data-testid="due-notice"' in html
    html = store1.get("/stories/mine?state=private").get_data(as_text=True)
    assert f'data-story="{old.id}"' not in html and f'data-story="{draft.id}"' in html
    listing = client_for(app, "store2@example.com").get("/stories/").get_data(as_text=True)
    assert f'data-story="{old.id}"' in listing and 'data-testid="needs-review"' in listing
    dash = store1.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="ks-portlet-due"' in dash and "오래된 건강 이야기" in dash
    assert 'data-testid="ks-portlet-latest"' in dash
    # review queue: reviewers only, oldest first
    assert store1.get("/stories/review").status_code == 403
    first = story(title="먼저 낸 이야기")
    second = story(title="나중에 낸 이야기")
    from plugins.knowledge_share.stories.service import fire
    from portal.toolkit import db
    from tests.plugins.knowledge_share.stories_fixtures import user

    fire(first, "submit", user("store1@example.com"))
    db.session.commit()
    execute("UPDATE ks_story SET updated_at = :t WHERE id = :i", t=datetime(2026, 1, 1), i=first.id)
    fire(second, "submit", user("store1@example.com"))
    db.session.commit()
    reviewer = client_for(app, "reviewer@example.com")
    html = reviewer.get("/stories/review").get_data(as_text=True)
    assert html.index(f'data-story="{first.id}"') < html.index(f'data-story="{second.id}"')
    dash = reviewer.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="ks-portlet-review"' in dash


def test_pages_in_english(app):
    s = published()
    execute("UPDATE user_account SET locale = 'en' WHERE email = 'store2@example.com'")
    store2 = client_for(app, "store2@example.com")
    html = store2.get("/stories/").get_data(as_text=True)
    assert "Success stories" in html and "Self-reported result" in html
    html = store2.get(f"/stories/{s.id}").get_data(as_text=True)
    assert "Who may read it" in html and "Everyone in the portal" in html


def test_ks5_result_block_on_the_page_is_read_only(app):
    """KS-5 on the page: a verified block shows its lift and interval, and the form has no field
    for it (the figures are copied, never typed); an unlinked story says self-reported."""
    from portal.toolkit import db

    s = published()
    s.result = {"source": {"kind": "campaign", "id": 42, "name": "건강식품 가을 캠페인", "url": None},
                "arms": [{"arm": "treatment", "n": 1000, "conversions": 181, "rate": 0.181},
                         {"arm": "holdout", "n": 1000, "conversions": 100, "rate": 0.1}],
                "lift_pp": 8.1, "ci_pp": [5.07, 11.13], "p_value": 0.00001, "frozen": True}
    s.result_mark = "verified"
    s.campaign_id = 42
    db.session.commit()
    store2 = client_for(app, "store2@example.com")
    html = store2.get(f"/stories/{s.id}").get_data(as_text=True)
    assert 'data-mark="verified"' in html and "+8.1 pp [5.07, 11.13]" in html and "건강식품 가을 캠페인" in html
    listing = store2.get("/stories/?mark=verified").get_data(as_text=True)
    assert f'data-story="{s.id}"' in listing and 'data-testid="mark-verified"' in listing
    store1 = client_for(app, "store1@example.com")
    form = store1.get(f"/stories/{s.id}/edit", follow_redirects=True).get_data(as_text=True)
    assert 'name="result"' not in form and 'name="lift_pp"' not in form


def test_attachments_on_the_story_page(app):
    """The upload form of the attachments area on a private story (its author), an image shown as a
    thumbnail and a PDF as a link through ``ks_attachments``; no upload form for other readers."""
    import io

    from tests.conftest import csrf_token
    from tests.plugins.knowledge_share.files_fixtures import PDF, PNG

    s = story()
    store1 = client_for(app, "store1@example.com")
    html = store1.get(f"/stories/{s.id}").get_data(as_text=True)
    assert 'data-testid="upload-attachment"' in html
    token = csrf_token(store1, f"/stories/{s.id}")
    for name, data in (("poster.png", PNG), ("guide.pdf", PDF)):
        resp = store1.post(f"/stories/files/{s.id}/upload", data={"csrf_token": token, "file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")
        assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:500]
    html = store1.get(f"/stories/{s.id}").get_data(as_text=True)
    assert html.count('data-testid="attachment"') == 2
    assert '<img src="/stories/files/' in html and "guide.pdf" in html
    p = published(title="모두의 이야기")
    html = client_for(app, "store2@example.com").get(f"/stories/{p.id}").get_data(as_text=True)
    assert 'data-testid="upload-attachment"' not in html
