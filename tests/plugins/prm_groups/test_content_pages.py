"""The leader's approval pages and the content API: leader1 sees exactly what will be sent and
approves it; HQ read-only; a leader of G02 gets 404 (PG-6); an edit shows the diff (PG-5);
branch staff 403 on the API; bad input 422 with paths."""

from __future__ import annotations

import re

from plugins.prm_groups.programmes import content as svc
from portal.toolkit import current_revision, db
from tests.conftest import api_token_for, bearer, login
from tests.plugins.prm_groups.content_fixtures import (
    CONTENT,
    PASSWORD,
    fire,
    leader_of,
    make_programme,
    users,
)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _submitted():
    p = make_programme()
    fire(p, "submit", users().hq)
    return p


def test_leader_approves_exactly_the_text_shown(app, client):
    p = _submitted()
    assert login(client, "leader1@example.com").status_code == 302
    listing = client.get("/prm/programmes/approvals")
    assert listing.status_code == 200 and f'data-programme="{p.id}"' in listing.get_data(as_text=True)
    page = client.get(f"/prm/programmes/{p.id}/approval")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "(광고)김민수님, 건강 챙기고 계신가요?" in html  # subject as sent (PG-8)
    assert "파트너포털 &lt;no-reply@" in html and "보낸 사람: 파트너포털" in html and "김한빛 드림" in html
    assert 'data-testid="approve"' in html
    revision = re.search(r'name="revision" value="([0-9a-f]{64})"', html).group(1)
    assert revision == current_revision(p)
    resp = client.post(f"/prm/programmes/{p.id}/approval",
                       data={"csrf_token": _csrf(html), "action": "approve", "revision": revision, "comment": "좋아요"})
    assert resp.status_code == 303
    db.session.refresh(p)
    rev = svc.latest_revision(p.steps[0])
    assert p.state == "approved" and rev.approved_by_id == users().leader1.id and rev.approval_note == "좋아요"
    assert f'data-programme="{p.id}"' not in client.get("/prm/programmes/approvals").get_data(as_text=True)


def test_send_back_needs_a_comment_and_stale_approval_is_refused(app, client):
    p = _submitted()
    login(client, "leader1@example.com")
    html = client.get(f"/prm/programmes/{p.id}/approval").get_data(as_text=True)
    token, seen = _csrf(html), current_revision(p)
    resp = client.post(f"/prm/programmes/{p.id}/approval", data={"csrf_token": token, "action": "reject"})
    assert resp.status_code == 422 and p.state == "leader_review"
    svc.add_revision(p, p.steps[0], {**CONTENT, "signer": "김한별"}, users().hq)
    db.session.commit()
    resp = client.post(f"/prm/programmes/{p.id}/approval",
                       data={"csrf_token": token, "action": "approve", "revision": seen})
    assert resp.status_code == 409 and 'data-testid="approval-error"' in resp.get_data(as_text=True)
    db.session.refresh(p)
    assert p.state == "leader_review" and svc.approved_revision(p.steps[0]) is None
    resp = client.post(f"/prm/programmes/{p.id}/approval",
                       data={"csrf_token": token, "action": "reject", "comment": "제목을 바꿔 주세요"})
    assert resp.status_code == 303
    db.session.refresh(p)
    assert p.state == "rejected"


def test_hq_reads_only_and_other_leader_gets_404_pg6(app, client):
    p = _submitted()
    login(client, "hq@example.com")
    html = client.get(f"/prm/programmes/{p.id}/approval").get_data(as_text=True)
    assert 'data-testid="read-only"' in html and 'data-testid="approve"' not in html
    assert client.post(f"/prm/programmes/{p.id}/approval",
                       data={"csrf_token": _csrf(html), "action": "approve",
                             "revision": current_revision(p)}).status_code == 403
    assert client.get("/prm/programmes/approvals").status_code == 200
    other = leader_of("G02")
    client = app.test_client()
    assert login(client, other.email, PASSWORD).status_code == 302
    assert client.get(f"/prm/programmes/{p.id}/approval").status_code == 404
    assert client.get(f"/prm/programmes/{p.id}/steps/1/revisions").status_code == 404
    token = _csrf(client.get("/prm/programmes/approvals").get_data(as_text=True) + client.get("/dashboard")
                  .get_data(as_text=True))
    assert client.post(f"/prm/programmes/{p.id}/approval",
                       data={"csrf_token": token, "action": "approve",
                             "revision": current_revision(p)}).status_code == 404
    db.session.refresh(p)
    assert p.state == "leader_review"
    assert client.get("/api/v1/prm/approvals", headers=bearer(api_token_for(other.email))).get_json()["total"] == 0
    h = bearer(api_token_for(other.email))
    assert client.get(f"/api/v1/prm/programmes/{p.id}/preview", headers=h).status_code == 404
    assert client.get(f"/api/v1/prm/programmes/{p.id}/content", headers=h).status_code == 404


def test_revisions_page_shows_the_word_diff_pg5(app, client):
    u = users()
    p = _submitted()
    fire(p, "approve", u.leader1, "", current_revision(p))
    body = CONTENT["email"]["body"].replace("함께", "모두")
    svc.add_revision(p, p.steps[0], {**CONTENT, "email": {**CONTENT["email"], "body": body}}, u.hq)
    db.session.commit()
    assert p.state == "leader_review"
    login(client, "leader1@example.com")
    html = client.get(f"/prm/programmes/{p.id}/approval").get_data(as_text=True)
    assert 'data-testid="diff"' in html and "<del" in html and ">함께</del>" in html and ">모두</ins>" in html
    page = client.get(f"/prm/programmes/{p.id}/steps/1/revisions?from=1&to=2").get_data(as_text=True)
    assert ">함께</del>" in page and ">모두</ins>" in page
    assert client.get(f"/prm/programmes/{p.id}/steps/1/revisions?from=9").status_code == 404
    assert client.get(f"/prm/programmes/{p.id}/steps/2/revisions").status_code == 404  # a seminar step


def test_api_content_diff_preview_and_hq_revision(app, client):
    u = users()
    p = _submitted()
    hq = bearer(api_token_for("hq@example.com"))
    leader = bearer(api_token_for("leader1@example.com"))
    waiting = client.get("/api/v1/prm/approvals", headers=leader).get_json()
    assert [i["id"] for i in waiting["items"]] == [p.id] and waiting["items"][0]["revision"] == current_revision(p)
    assert client.get("/api/v1/prm/approvals", headers=hq).get_json()["total"] == 0

    preview = client.get(f"/api/v1/prm/programmes/{p.id}/preview", headers=leader).get_json()
    email = next(c for c in preview["steps"][0]["channels"] if c["channel"] == "email")
    assert email["composed_subject"].startswith("(광고)") and preview["revision"] == current_revision(p)

    url = f"/api/v1/prm/programmes/{p.id}/content"
    new = {**CONTENT, "email": {**CONTENT["email"], "subject": "{{ customer.name }}님께 드리는 편지"}}
    assert client.post(url, json={"step": 1, "content": new}, headers=leader).status_code == 403
    bad = client.post(url, json={"step": 1, "content": {"signer": "", "email": {"body": "b"}}, "x": 1}, headers=hq)
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"x"}
    bad = client.post(url, json={"step": 1, "content": {"signer": "", "email": {"body": "b"}}}, headers=hq)
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {
        "content.signer", "content.email.subject", "content.dm"}
    assert client.post(url, json={"step": 2, "content": new}, headers=hq).status_code == 422
    created = client.post(url, json={"step": 1, "content": new}, headers=hq)
    assert created.status_code == 201 and created.get_json()["number"] == 2
    assert client.post(url, json={"step": 1, "content": new}, headers=hq).status_code == 200  # unchanged

    doc = client.get(url, headers=leader).get_json()
    assert [r["number"] for r in doc["steps"][0]["revisions"]] == [2, 1]
    assert all(len(r["sha256"]) == 64 for r in doc["steps"][0]["revisions"])
    diff = client.get(f"{url}/diff?step=1&from=1&to=2", headers=leader).get_json()
    subject = next(f for f in diff["fields"] if f["path"] == "email.subject")
    assert subject["changed"] and ["delete", "건강 챙기고 계신가요?"] in [list(o) for o in subject["ops"]] or \
        any(op == "insert" and "편지" in t for op, t in subject["ops"])
    assert client.get(f"{url}/diff?step=1&from=7", headers=leader).status_code == 422

    fire(p, "approve", u.leader1, "ok", current_revision(p))
    p.state = "running"
    db.session.commit()
    assert client.post(url, json={"step": 1, "content": CONTENT}, headers=hq).status_code == 409

    store = bearer(api_token_for("store1@example.com"))
    assert client.get("/api/v1/prm/approvals", headers=store).status_code == 403
    assert client.get(f"/api/v1/prm/programmes/{p.id}/content", headers=store).status_code == 403
    assert client.get("/api/v1/prm/programmes/999999/content", headers=hq).status_code == 404
