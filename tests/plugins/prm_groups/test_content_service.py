"""Leader-voiced content: validation with field paths, immutable revisions with a hash, idempotent
edits, an edit of approved content back to the leader (PG-5), the word-level diff, the approval
stamp, and the text as it will be sent (PG-8)."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from plugins.prm_groups.models import PrmContentRevision
from plugins.prm_groups.programmes import ProgrammeError
from plugins.prm_groups.programmes import content as svc
from portal.toolkit import Message, approval_for, current_revision, db, workflow_history
from tests.plugins.prm_groups.content_fixtures import CONTENT, approve, fire, leader_of, make_programme, users


def edited(word_from: str, word_to: str) -> dict:
    body = CONTENT["email"]["body"].replace(word_from, word_to)
    assert body != CONTENT["email"]["body"]
    return {**CONTENT, "email": {**CONTENT["email"], "body": body}}


def test_clean_content_collects_every_error_with_paths(app):
    with force_locale("en"):
        _check_errors()
    clean = svc.clean_content(CONTENT, "c", ["email", "dm"])
    assert clean["signer"] == "김한빛" and clean == svc.clean_content(clean, "c", ["email", "dm"])  # idempotent


def _check_errors() -> None:
    clean, errors = svc.check_content({"email": {"body": "x" * 20_001, "html": 3}, "dm": {"body": "{{ price }}"},
                                       "sms": {"body": "hi"}, "extra": 1},
                                      "steps[0].content", ["email", "dm"])
    assert errors == {
        "steps[0].content.signer": "This field is required.",
        "steps[0].content.email.subject": "This field is required.",
        "steps[0].content.email.body": "At most 20,000 characters.",
        "steps[0].content.email.html": "Must be text.",
        "steps[0].content.dm.body": "Unknown variable price: use {{ customer.name }} or {{ signer }}.",
        "steps[0].content.sms": "Not a channel of this step.",
        "steps[0].content.extra": "Unknown field.",
    }
    _, errors = svc.check_content({"signer": "<b>", "email": {"subject": "{% if %}", "body": "b"}}, "c", ["email"])
    assert set(errors) == {"c.signer", "c.email.subject"} and "line 1" in errors["c.email.subject"]
    with pytest.raises(ProgrammeError) as exc:
        svc.clean_content("nope", "steps[1].content")
    assert exc.value.status == 422 and exc.value.errors == {
        "steps[1].content": "Must be an object with the signer and the text per channel."}


def test_revisions_are_immutable_numbered_hashed_and_idempotent(app):
    p = make_programme()
    step = p.steps[0]
    first = svc.latest_revision(step)
    assert first.number == 1 and len(first.sha256) == 64
    assert first.variables == ["customer.name", "signer"]
    hq = users().hq
    assert svc.add_revision(p, step, CONTENT, hq).id == first.id  # identical: nothing new
    second = svc.add_revision(p, step, edited("함께", "다 같이"), hq)
    db.session.commit()
    assert second.number == 2 and second.sha256 != first.sha256
    assert db.session.scalar(select(func.count()).select_from(PrmContentRevision)
                             .where(PrmContentRevision.step_id == step.id)) == 2
    assert svc.programme_revision(p)["steps"] == [{"position": 1, "revision": (2, second.sha256)}]


def test_only_hq_edits_and_only_in_editable_states(app):
    p = make_programme()
    step = p.steps[0]
    leader1 = users().leader1
    with pytest.raises(ProgrammeError) as exc:
        svc.add_revision(p, step, edited("함께", "모두"), leader1)
    assert exc.value.status == 403
    with pytest.raises(ProgrammeError) as exc:
        svc.add_revision(p, p.steps[1], CONTENT, users().hq)
    assert exc.value.status == 422 and "step" in exc.value.errors
    p.state = "running"
    with pytest.raises(ProgrammeError) as exc:
        svc.add_revision(p, step, edited("함께", "모두"), users().hq)
    assert exc.value.status == 409
    db.session.rollback()
    assert svc.latest_revision(step).number == 1


def test_pg5_edit_after_approval_goes_back_to_the_leader_with_a_diff(app):
    u = users()
    p = make_programme()
    step = p.steps[0]
    for word in ("다 같이", "모두"):  # revisions 2 and 3
        svc.add_revision(p, step, edited("함께", word), u.hq)
    db.session.commit()
    assert svc.latest_revision(step).number == 3
    fire(p, "submit", u.hq)
    approve(p, u.leader1, "좋습니다")
    rev3 = svc.latest_revision(step)
    assert p.state == "approved" and rev3.approved_by_id == u.leader1.id and rev3.approval_note == "좋습니다"
    assert svc.approved_revision(step) is rev3 and approval_for(p) is not None
    queued = db.session.scalar(select(func.count()).select_from(Message))

    rev4 = svc.add_revision(p, step, edited("함께", "모두들"), u.hq)  # HQ edits one word
    db.session.commit()
    assert rev4.number == 4 and p.state == "leader_review"
    assert svc.approved_revision(step) is None and approval_for(p) is None
    assert db.session.scalar(select(func.count()).select_from(Message)) == queued  # 0 messages queued
    row = svc.approval_rows(p, with_preview=False)[0]
    assert row["base"].number == 3 and row["revision"].number == 4
    changed = [d for d in row["diff"] if d["changed"]]
    assert [d["path"] for d in changed] == ["email.body"]
    assert [(op, t) for op, t in changed[0]["ops"] if op != "equal"] == [("delete", "모두"), ("insert", "모두들")]
    assert [h.transition for h in workflow_history(p)][-2:] == ["approval_withdrawn", "edited"]

    approve(p, u.leader1, "수정본도 좋아요")
    rev4 = svc.latest_revision(step)
    assert p.state == "approved" and rev4.number == 4
    assert rev4.approved_by_id == u.leader1.id and rev4.approved_at is not None and rev4.approval_note == "수정본도 좋아요"
    assert approval_for(p).revision_hash == current_revision(p)
    assert rev3.approval_note == "좋습니다"  # the earlier stamp is never rewritten


def test_stale_revision_cannot_be_approved(app):
    u = users()
    p = make_programme()
    fire(p, "submit", u.hq)
    seen = current_revision(p)
    svc.add_revision(p, p.steps[0], edited("함께", "모두"), u.hq)
    db.session.commit()
    with pytest.raises(ProgrammeError) as exc:
        fire(p, "approve", u.leader1, "", seen)
    assert exc.value.status == 409
    db.session.rollback()
    assert p.state == "leader_review" and svc.approved_revision(p.steps[0]) is None


def test_other_groups_leader_cannot_approve_pg6(app):
    u = users()
    p = make_programme()
    fire(p, "submit", u.hq)
    other = leader_of("G02")
    with pytest.raises(ProgrammeError) as exc:
        fire(p, "approve", other, "", current_revision(p))
    assert exc.value.status == 404
    db.session.rollback()
    with pytest.raises(ProgrammeError) as exc:  # HQ sees it but may not approve
        fire(p, "approve", u.hq, "", current_revision(p))
    assert exc.value.status == 403


def test_diff_is_word_level_and_covers_signer_and_channels(app):
    ops = svc.diff_text("우리 그룹이 함께 건강을 챙깁니다.", "우리 그룹이 다 함께 건강을 챙겨요!")
    assert ("insert", "다 ") in ops or any(op == "insert" and "다" in t for op, t in ops)
    assert "".join(t for op, t in ops if op != "insert") == "우리 그룹이 함께 건강을 챙깁니다."
    assert "".join(t for op, t in ops if op != "delete") == "우리 그룹이 다 함께 건강을 챙겨요!"
    fields = svc.diff({"signer": "김한빛", "email": {"subject": "a", "body": "b"}},
                      {"signer": "김한별", "email": {"subject": "a", "body": "b"}, "dm": {"body": "c"}})
    assert [(f["path"], f["changed"]) for f in fields] == [("signer", True), ("email.subject", False),
                                                          ("email.body", False), ("dm.body", True)]
    assert svc.diff_text("", "") == []


def test_pg8_text_as_sent_company_sender_ad_label_footer_leader_signs(app):
    p = make_programme()
    step = p.steps[0]
    rev = svc.latest_revision(step)
    data = svc.message_set_data(p, step, rev)
    assert data["category"] == "건강식품" and data["master"] == {}
    assert data["renditions"]["email"]["body"].endswith("김한빛 드림")  # signature appended
    assert data["renditions"]["dm"]["body"].endswith("함께 건강을 챙겨요. 김한빛 드림")  # {{ signer }} filled in
    out = {r["channel"]: r for r in svc.preview(p, step, rev)}
    email = out["email"]
    assert email["problems"] == []
    assert email["composed_subject"] == "(광고)김민수님, 건강 챙기고 계신가요?"
    assert email["sender"].startswith("파트너포털 <") and "leader1" not in email["sender"]
    assert "@example.com" not in email["sender"]  # never a leader's private address
    body = email["composed_body"]
    assert "보낸 사람: 파트너포털" in body and "연락처: 02-1588-1234" in body and "수신거부" in body
    assert "김한빛 드림" in body and body.index("김한빛 드림") < body.index("보낸 사람: 파트너포털")
    assert "김한빛" not in email["composed_subject"]  # the leader signs; the company sends
    assert out["dm"]["composed_body"].startswith("(광고)파트너포털")


def test_signer_is_escaped_in_html(app):
    out = svc._signed("<p>안녕</p></body>", "A&B", html=True)
    assert out == "<p>안녕</p><p>A&amp;B 드림</p></body>"
    assert svc._signed("{{ signer }} 올림", "김한빛") == "김한빛 올림"
