"""Stories API (/api/v1/stories): create with field paths, scope (404, never a 403 that reveals a
story), PATCH rules, working copies, transitions (KS-1, KS-2, KS-3, KS-4), history, the list."""

from __future__ import annotations

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.knowledge_share.stories_fixtures import body, published, r02_user, story

URL = "/api/v1/stories"


@pytest.fixture
def tokens(app):
    def make(email: str) -> dict[str, str]:
        with app.app_context():
            return bearer(api_token_for(email))

    return make


def test_create_returns_the_document(app, tokens):
    client = app.test_client()
    resp = client.post(URL, json=body(visibility="branch"), headers=tokens("store1@example.com"))
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    assert resp.headers["Location"].endswith(f"{URL}/{doc['id']}")
    assert doc["state"] == "private" and doc["version"] == 1 and doc["visibility"] == "branch"
    assert doc["unit"]["code"] == "B001" and doc["scope"]["unit"]["code"] == "B001"
    assert doc["tags"]["category"]["code"] == "health" and doc["channels"] == ["sms", "seminar"]
    assert doc["result"]["mark"] == "self_reported" and doc["helpful_count"] == 0
    assert doc["transitions"] == ["submit"] and len(doc["revision"]) == 64 and doc["history"] == []
    assert doc["needs_review"] is False and doc["working_copy"] is None


def test_ks12_bad_input_is_422_with_paths_and_nothing_written(app, tokens):
    client = app.test_client()
    h = tokens("store1@example.com")
    resp = client.post(URL, json=body(title="", keywords=["x" * 31], colour="red"), headers=h)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert {"title", "keywords[0]", "colour"} <= set(errors)
    assert client.post(URL, json=body(title="가" * 201), headers=h).get_json()["errors"].keys() == {"title"}
    for junk in ("not json", "[1, 2]", '"text"', "null"):
        resp = client.post(URL, data=junk, content_type="application/json", headers=h)
        assert resp.status_code in (400, 422), junk
    assert scalar("SELECT count(*) FROM ks_story") == 0


def test_permissions_and_scope(app, tokens):
    client = app.test_client()
    assert client.post(URL, json=body()).status_code == 401
    assert client.post(URL, json=body(), headers=tokens("ibo1@example.com")).status_code == 403
    with app.app_context():
        private = story().id
        region = published(visibility="region").id
        r02 = r02_user().email
    for email, ident, status in (("store2@example.com", private, 404), ("reviewer@example.com", private, 200),
                                 ("store2@example.com", region, 200), (r02, region, 404),
                                 ("store1@example.com", "abc", 404), ("store1@example.com", 2**40, 404)):
        resp = client.get(f"{URL}/{ident}", headers=tokens(email))
        assert resp.status_code == status, (email, ident, resp.get_json())
        if status == 404:
            assert resp.get_json()["error"] == "not_found"
    # an invisible story is 404 for every verb, never a 403 that reveals it
    h = tokens(r02)
    assert client.patch(f"{URL}/{region}", json={"title": "x"}, headers=h).status_code == 404
    assert client.post(f"{URL}/{region}/transitions", json={"transition": "retract"}, headers=h).status_code == 404
    assert client.post(f"{URL}/{region}/checkout", headers=h).status_code == 404
    assert client.get(f"{URL}/{region}/history", headers=h).status_code == 404


def test_ks1_ks2_ks3_through_the_api(app, tokens):
    client = app.test_client()
    author, reviewer = tokens("store1@example.com"), tokens("reviewer@example.com")
    sid = client.post(URL, json=body(), headers=author).get_json()["id"]
    tr = f"{URL}/{sid}/transitions"
    assert client.post(tr, json={"transition": "submit"}, headers=author).get_json()["state"] == "pending"
    # KS-3: the author may not publish — 403, nothing changes, no audit event
    events = scalar("SELECT count(*) FROM audit_event")
    resp = client.post(tr, json={"transition": "publish"}, headers=author)
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=sid) == "pending"
    assert scalar("SELECT count(*) FROM audit_event") == events
    # KS-2: empty or 5-character comment → 422 with the rule
    for comment in (None, "", "짧은 코멘"):  # empty / 5 characters
        resp = client.post(tr, json={"transition": "reject", "comment": comment}, headers=reviewer)
        assert resp.status_code == 422
        assert resp.get_json()["errors"] == {"comment": "comment required (≥ 10 characters)"}
    resp = client.post(tr, json={"transition": "reject", "comment": "고객 수를 적어 주세요, 부탁드립니다."},
                       headers=reviewer)
    assert resp.status_code == 200 and resp.get_json()["state"] == "private"
    assert scalar("SELECT count(*) FROM notification WHERE kind = 'workflow.decided'") == 1
    client.post(tr, json={"transition": "submit"}, headers=author)
    revision = client.get(f"{URL}/{sid}", headers=reviewer).get_json()["revision"]
    resp = client.post(tr, json={"transition": "publish", "revision": revision, "comment": "좋습니다"}, headers=reviewer)
    assert resp.status_code == 200 and resp.get_json()["state"] == "published"
    hist = client.get(f"{URL}/{sid}/history", headers=author).get_json()["history"]
    assert [h["transition"] for h in hist] == ["submit", "reject", "submit", "publish"]
    assert hist[1]["comment"] == "고객 수를 적어 주세요, 부탁드립니다." and hist[3]["actor"]["name"]
    # a published story is visible to every branch (visibility all), not editable in place
    assert client.get(f"{URL}/{sid}", headers=tokens("store2@example.com")).status_code == 200
    resp = client.patch(f"{URL}/{sid}", json={"title": "바로 수정"}, headers=author)
    assert resp.status_code == 409 and "checkout" in resp.get_json()["message"]


def test_transition_body_checked(app, tokens):
    client = app.test_client()
    with app.app_context():
        sid = story().id
    h = tokens("store1@example.com")
    tr = f"{URL}/{sid}/transitions"
    for payload, field in (({}, "transition"), ({"transition": 5}, "transition"), ({"transition": "fly"}, "transition"),
                           ({"transition": "merge"}, "transition"), ({"transition": "submit", "x": 1}, "x"),
                           ({"transition": "submit", "comment": 5}, "comment"),
                           ({"transition": "submit", "revision": [1]}, "revision")):
        resp = client.post(tr, json=payload, headers=h)
        assert resp.status_code == 422 and field in resp.get_json()["errors"], (payload, resp.get_json())
    resp = client.post(tr, json={"transition": "archive"}, headers=h)
    assert resp.status_code == 409  # not from private
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=sid) == "private"


def test_patch_rules_and_read_only_result(app, tokens):
    client = app.test_client()
    with app.app_context():
        sid = story().id
    h = tokens("store1@example.com")
    resp = client.patch(f"{URL}/{sid}", json={"summary": "새 요약", "season": None}, headers=h)
    assert resp.status_code == 200 and resp.get_json()["summary"] == "새 요약" and resp.get_json()["season"] is None
    resp = client.patch(f"{URL}/{sid}", json={"result": {"lift_pp": 99}}, headers=h)
    assert resp.status_code == 422 and "read-only" in resp.get_json()["errors"]["result"]
    resp = client.patch(f"{URL}/{sid}", json={"state": "published", "version": 9, "author_id": 1}, headers=h)
    assert resp.status_code == 422 and set(resp.get_json()["errors"]) == {"state", "version", "author_id"}
    assert client.patch(f"{URL}/{sid}", json={"title": "x"}, headers=tokens("hq@example.com")).status_code == 403
    assert scalar("SELECT summary FROM ks_story WHERE id = :i", i=sid) == "새 요약"


def test_ks4_working_copy_through_the_api(app, tokens):
    client = app.test_client()
    with app.app_context():
        sid = published().id
    author, reviewer, other = tokens("store1@example.com"), tokens("reviewer@example.com"), tokens("store2@example.com")
    resp = client.post(f"{URL}/{sid}/checkout", headers=author)
    assert resp.status_code == 201
    copy = resp.get_json()
    assert copy["base_id"] == sid and copy["state"] == "private" and "checkout" not in copy["urls"]
    assert client.post(f"{URL}/{sid}/checkout", headers=author).status_code == 200
    cid = copy["id"]
    client.patch(f"{URL}/{cid}", json={"title": "개정판"}, headers=author)
    assert client.post(f"{URL}/{cid}/transitions", json={"transition": "submit"}, headers=author).status_code == 200
    base = client.get(f"{URL}/{sid}", headers=other).get_json()
    assert base["title"] == "건강식품 세미나로 재구매율 상승" and base["state"] == "published" and base["version"] == 1
    assert client.get(f"{URL}/{cid}", headers=other).status_code == 404
    resp = client.post(f"{URL}/{cid}/transitions", json={"transition": "publish"}, headers=reviewer)
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["id"] == sid and doc["title"] == "개정판" and doc["version"] == 2 and doc["helpful_count"] == 0
    assert client.get(f"{URL}/{cid}", headers=author).get_json()["state"] == "merged"


def test_list_parameters_checked(app, tokens):
    client = app.test_client()
    h = tokens("store1@example.com")
    resp = client.get(URL, headers=h)
    assert resp.status_code == 200 and set(resp.get_json()) >= {"items", "total", "page", "per_page"}
    for args, field in (("category=nope", "category"), ("channel=fax", "channel"), ("season=x", "season"),
                        ("mark=gold", "mark"), ("sort=random", "sort"), ("q=" + "가" * 201, "q"),
                        ("page=0", "page"), ("page=abc", "page")):
        resp = client.get(f"{URL}?{args}", headers=h)
        assert resp.status_code == 422 and field in resp.get_json()["errors"], args
    assert client.get(f"{URL}?page=99999999999999999999", headers=h).status_code == 422
    resp = client.get(f"{URL}?per_page=5000", headers=h)
    assert resp.status_code == 200 and resp.get_json()["per_page"] <= 100


def test_list_is_scoped(app, tokens):
    client = app.test_client()
    with app.app_context():
        published(visibility="region", title="건강식품 세미나로 재구매율 상승")
        published(title="Kakao 친구톡 win-back", visibility="all", category="beauty", summary="휴면 고객 복귀",
                  problem="", audience="", offer="쿠폰", steps="", result_text="", lessons="", keywords=["kakao"])
        story(title="비공개 초안")
        r02 = r02_user().email
    mine = client.get(URL, headers=tokens("store2@example.com")).get_json()
    assert mine["total"] == 2 and {i["title"] for i in mine["items"]} == {"건강식품 세미나로 재구매율 상승",
                                                                         "Kakao 친구톡 win-back"}
    theirs = client.get(URL, headers=tokens(r02)).get_json()
    assert theirs["total"] == 1 and theirs["items"][0]["title"] == "Kakao 친구톡 win-back"
    found = client.get(f"{URL}?q=건강", headers=tokens("store2@example.com")).get_json()
    assert [i["title"] for i in found["items"]] == ["건강식품 세미나로 재구매율 상승"]
    assert client.get(f"{URL}?q=건강", headers=tokens(r02)).get_json()["total"] == 0
    beauty = client.get(f"{URL}?category=beauty", headers=tokens("store2@example.com")).get_json()
    assert [i["title"] for i in beauty["items"]] == ["Kakao 친구톡 win-back"]


def test_submit_with_personal_data_lists_the_findings(app, tokens):
    client = app.test_client()
    with app.app_context():
        sid = story(steps="담당 010-1234-5678").id
    resp = client.post(f"{URL}/{sid}/transitions", json={"transition": "submit"}, headers=tokens("store1@example.com"))
    assert resp.status_code == 422
    data = resp.get_json()
    assert data["findings"][0]["kind"] == "phone" and data["findings"][0]["field"] == "steps"
    assert any(k.startswith("steps[") for k in data["errors"])


def test_unknown_campaign_or_programme_is_422_on_the_input_field(app, tokens):
    client = app.test_client()
    h = tokens("store1@example.com")
    for field in ("campaign", "programme"):
        resp = client.post(URL, json=body(**{field: 999999}), headers=h)
        assert resp.status_code == 422 and set(resp.get_json()["errors"]) == {field}, resp.get_json()
    resp = client.post(URL, json=body(campaign=1, programme=1), headers=h)
    assert resp.status_code == 422
    assert scalar("SELECT count(*) FROM ks_story") == 0
    resp = client.post(URL, json=body(campaign=None), headers=h)  # no link: self-reported
    assert resp.status_code == 201 and resp.get_json()["result"]["mark"] == "self_reported"
