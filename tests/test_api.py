"""JSON API v1: bearer tokens, JSON errors, pagination, search, writes, audit and access log.

Scope (who sees which customer) is proven for every endpoint × role in test_access_matrix.py;
this module covers the API's own behaviour. See docs/api.md.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import api_token_for, bearer, login, scalar, sql

API = "/api/v1"
WRITABLE = ("name", "phone", "email", "address", "postal_code", "birth_date", "gender", "branch_code", "partner_code",
            "note")




@pytest.fixture(scope="module")
def api(shared_app):
    return shared_app.test_client()


@pytest.fixture(scope="module")
def tok(shared_app) -> dict[str, str]:
    return {who: api_token_for(f"{who}@example.com") for who in ("admin", "hq", "reviewer", "store1", "leader1", "ibo1")}



def assert_json_error(resp, status: int, code: str | None = None) -> dict:
    """Every API error: the status, JSON ``{"error", "message"}``, never an HTML page, not cached."""
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str) and body["message"]
    assert "<html" not in resp.get_data(as_text=True).lower()
    assert resp.headers["Cache-Control"] == "no-store"
    if code:
        assert body["error"] == code
    return body


def b001_customer() -> int:
    return scalar("SELECT MIN(c.id) FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001'")


def counts() -> tuple[int, int, int]:
    return (scalar("SELECT COUNT(*) FROM customer"), scalar("SELECT COUNT(*) FROM audit_event"),
            scalar("SELECT COUNT(*) FROM quality_issue"))


# -- authentication -------------------------------------------------------------------------------


ENDPOINTS = [("GET", "/me"), ("GET", "/customers"), ("GET", "/customers/1"), ("POST", "/customers"),
             ("PATCH", "/customers/1")]


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Bearer pp_not-a-real-token", "Bearer not-even-our-prefix", "Token {t}",
    "Basic YWRtaW5AZXhhbXBsZS5jb206ZGVtby1wYXNzLTIwMjY=", "Bearer {t}x", "{t}",
], ids=["none", "empty", "scheme-only", "scheme-space", "unknown", "foreign", "wrong-scheme", "basic", "altered", "bare"])
def test_401_without_a_valid_bearer_token(api, tok, header):
    before = counts()
    for method, path in ENDPOINTS:
        headers = {} if header is None else {"Authorization": header.format(t=tok["admin"])}
        resp = api.open(API + path, method=method, headers=headers, json={"name": "x", "branch_code": "B001"})
        assert_json_error(resp, 401, "unauthorized")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert counts() == before


def test_scheme_is_case_insensitive(api, tok):
    assert api.get(f"{API}/me", headers={"Authorization": f"bearer {tok['admin']}"}).status_code == 200


def test_revoked_token_and_deactivated_user_are_refused(shared_app, api):
    from portal.auth.tokens import revoke_token
    from portal.extensions import db
    from portal.models import ApiToken, User

    raw = api_token_for("store2@example.com")
    assert api.get(f"{API}/me", headers=bearer(raw)).status_code == 200
    token = db.session.execute(db.select(ApiToken).order_by(ApiToken.id.desc())).scalars().first()
    assert token.last_used_at is not None, "a used token records when"
    revoke_token(token)
    db.session.commit()
    assert_json_error(api.get(f"{API}/me", headers=bearer(raw)), 401)

    raw = api_token_for("leader1@example.com")
    user = db.session.execute(db.select(User).where(User.email == "leader1@example.com")).scalar_one()
    user.active = False
    db.session.commit()
    try:
        assert_json_error(api.get(f"{API}/customers", headers=bearer(raw)), 401)
    finally:
        user.active = True
        db.session.commit()
    assert api.get(f"{API}/customers", headers=bearer(raw)).status_code == 200


def test_browser_session_does_not_authenticate_the_api(shared_app):
    """A logged-in browser's cookie is ignored: no CSRF exposure through the API."""
    browser = shared_app.test_client()
    assert login(browser, "admin@example.com").status_code == 302
    before = counts()
    assert_json_error(browser.get(f"{API}/customers"), 401)
    assert_json_error(browser.post(f"{API}/customers", json={"name": "CSRF", "branch_code": "B001"}), 401)
    assert_json_error(browser.patch(f"{API}/customers/{b001_customer()}", json={"name": "CSRF"}), 401)
    assert counts() == before


def test_tokens_are_stored_hashed(shared_app):
    raw = api_token_for("hq@example.com")
    stored = sql("SELECT prefix, token_hash FROM api_token ORDER BY id DESC")[0]
    assert raw not in stored.token_hash and raw.startswith(stored.prefix) and len(stored.prefix) < len(raw) / 3


# -- JSON errors for 400/403/404/405/422, never HTML, never 500 -------------------------------------


@pytest.mark.parametrize("body,content_type", [
    ("{bad json", "application/json"), ("", "application/json"), ("[1, 2]", "application/json"),
    ('"a string"', "application/json"), ("42", "application/json"), ("null", "application/json"),
    ('{"name": "x"}', "text/plain"), ("name=x", "application/x-www-form-urlencoded"),
    (b"\xff\xfe{}", "application/json"), ('{"a": ' * 100_000 + "1" + "}" * 100_000, "application/json"),
])
def test_400_for_a_body_that_is_not_a_json_object(api, tok, body, content_type):
    before = counts()
    for method, path in (("POST", "/customers"), ("PATCH", f"/customers/{b001_customer()}")):
        resp = api.open(API + path, method=method, data=body, content_type=content_type, headers=bearer(tok["admin"]))
        assert_json_error(resp, 400, "bad_request")
    assert counts() == before


@pytest.mark.parametrize("query", [
    "per_page=0", "per_page=-1", "per_page=abc", "per_page=1.5", "per_page=", "page=0", "page=-3", "page=abc",
    "page=100001", "page=99999999999999999999999", "page=1e3", "per_page=%00",
])
def test_400_for_bad_pagination(api, tok, query):
    body = assert_json_error(api.get(f"{API}/customers?{query}", headers=bearer(tok["admin"])), 400, "bad_request")
    assert query.split("=")[0] in body["message"]


def test_403_for_a_role_without_customer_access(api, tok):
    cid = b001_customer()
    before = counts()
    assert api.get(f"{API}/me", headers=bearer(tok["reviewer"])).status_code == 200
    for method, path in ENDPOINTS[1:]:
        resp = api.open(API + path.replace("/1", f"/{cid}"), method=method, headers=bearer(tok["reviewer"]),
                        json={"name": "x", "branch_code": "B001"})
        assert "customer." in assert_json_error(resp, 403, "forbidden")["message"]
    assert counts() == before


@pytest.mark.parametrize("path", [
    "/customers/0", "/customers/-1", "/customers/abc", "/customers/1.5", "/customers/%201", "/customers/1_0",
    "/customers/99999999", "/customers/999999999999", "/customers/9223372036854775808",
    "/customers/99999999999999999999999999", "/customers/%00", "/nope", "/customers/1/extra",
    "/",
])
def test_404_is_json(api, tok, path):
    assert_json_error(api.get(API + path, headers=bearer(tok["admin"])), 404, "not_found")


def test_404_for_patch_on_a_missing_customer(api, tok):
    assert_json_error(api.patch(f"{API}/customers/99999999", json={"name": "x"}, headers=bearer(tok["admin"])), 404)


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/customers/1"), ("PUT", "/customers/1"), ("POST", "/customers/1"), ("PATCH", "/customers"),
    ("DELETE", "/customers"), ("POST", "/me"),
])
def test_405_is_json(api, tok, method, path):
    before = counts()
    resp = api.open(API + path, method=method, headers=bearer(tok["admin"]), json={"name": "x"})
    assert_json_error(resp, 405, "method_not_allowed")
    assert counts() == before


@pytest.mark.parametrize("body,fields", [
    ({"name": 5, "branch_code": "B001"}, {"name"}),
    ({"name": ["a"], "branch_code": "B001"}, {"name"}),
    ({"name": "x", "phone": 1012345678, "branch_code": "B001"}, {"phone"}),
    ({"name": "x", "birth_date": 19900101, "branch_code": "B001"}, {"birth_date"}),
    ({"name": "x", "birth_date": True, "branch_code": "B001"}, {"birth_date"}),
    ({"name": "x", "birth_date": "19900101", "branch_code": "B001"}, {"birth_date"}),
    ({"name": "x", "birth_date": "1990-02-30", "branch_code": "B001"}, {"birth_date"}),
    ({"name": "x", "birth_date": "1899-12-31", "branch_code": "B001"}, {"birth_date"}),
    ({"name": "x", "gender": "X", "branch_code": "B001"}, {"gender"}),
    ({"name": "x", "branch_code": 1}, {"branch_code"}),
    ({"name": "x", "partner_code": {"code": "G01-0001"}}, {"partner_code"}),
    ({"name": "", "branch_code": "B001"}, {"name"}),
    ({"name": "   ", "branch_code": "B001"}, {"name"}),
    ({"branch_code": "B001"}, {"name"}),
    ({"name": "x" * 121, "branch_code": "B001"}, {"name"}),
    ({"name": "x"}, {"branch_code"}),
    ({"name": "x", "branch_code": "B999"}, {"branch_code"}),
    ({"name": "x", "branch_code": "R01"}, {"branch_code"}),
    ({"name": "x", "partner_code": "G09-0001"}, {"partner_code"}),
    ({"name": "a\x00b", "branch_code": "B001"}, {"name"}),
    ({"name": "x", "note": "\ud800", "branch_code": "B001"}, {"note"}),
    ({"name": "x", "phone": "123", "email": "no-at-sign", "postal_code": "1234", "birth_date": "2999-01-01",
      "branch_code": "B001"}, {"phone", "email", "postal_code", "birth_date"}),
])
def test_422_for_invalid_values_lists_every_field(api, tok, body, fields):
    before = counts()
    resp = api.post(f"{API}/customers", json=body, headers=bearer(tok["admin"]))
    err = assert_json_error(resp, 422, "validation_failed")
    assert set(err["fields"]) == fields
    assert all(f in err["message"] for f in fields)
    assert counts() == before


def test_malformed_query_values_never_fail(api, tok):
    for query in ({"q": "%"}, {"q": "_"}, {"q": "가" * 500}, {"sort": "nonsense"}, {"sort": "-"},
                  {"group": "' OR 1=1 --"}, {"complaint": "maybe"}, {"q": "' OR '1'='1"}):
        resp = api.get(f"{API}/customers", query_string=query, headers=bearer(tok["admin"]))
        assert resp.status_code == 200, query
    for query in ({"q": "\x00"}, {"branch": "\x00"}, {"quality": "a\x00b"}):  # refused up front, never a 500
        body = assert_json_error(api.get(f"{API}/customers", query_string=query, headers=bearer(tok["admin"])), 400)
        assert next(iter(query)) in body["message"]
    resp = api.get(f"{API}/customers?q=%ED%A0%80", headers=bearer(tok["admin"]))  # invalid UTF-8
    assert resp.status_code == 200
    # LIKE wildcards are literal: "%" and "_" match nobody (no name starts with them).
    assert api.get(f"{API}/customers?q=%25", headers=bearer(tok["admin"])).get_json()["total"] == 0
    assert api.get(f"{API}/customers?q=_", headers=bearer(tok["admin"])).get_json()["total"] == 0
    assert api.get(f"{API}/customers", query_string={"group": "' OR 1=1 --"},
                   headers=bearer(tok["admin"])).get_json()["total"] == 0


# -- pagination ---------------------------------------------------------------------------------------


def test_pagination_fields_and_next_link(api, tok):
    scope = {r[0] for r in sql("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001'")}
    assert len(scope) > 20
    url, seen, pages = f"{API}/customers?per_page=10&sort=code", [], []
    while url:
        resp = api.get(url, headers=bearer(tok["store1"]))
        assert resp.status_code == 200
        body = resp.get_json()
        assert set(body) >= {"items", "page", "per_page", "total", "total_is_capped"}
        assert body["per_page"] == 10 and body["total"] == len(scope) and body["total_is_capped"] is False
        assert len(body["items"]) == (10 if body["page"] * 10 <= len(scope) else len(scope) % 10)
        pages.append(body["page"])
        seen += [item["id"] for item in body["items"]]
        url = body.get("next")
        if url:
            assert url.startswith(f"{API}/customers?") and "per_page=10" in url and "sort=code" in url
    assert pages == list(range(1, len(pages) + 1)) and len(pages) == -(-len(scope) // 10)
    assert len(seen) == len(set(seen)) and set(seen) == scope
    code_of = dict(sql("SELECT id, code FROM customer"))
    assert [code_of[i] for i in seen] == sorted(code_of[i] for i in seen), "pages follow the sort order"


def test_pagination_limits(api, tok):
    body = api.get(f"{API}/customers?per_page=1000", headers=bearer(tok["admin"])).get_json()
    assert body["per_page"] == 200 and len(body["items"]) == 200, "per_page is capped at 200, and says so"
    body = api.get(f"{API}/customers?per_page=200&page=500", headers=bearer(tok["admin"])).get_json()
    assert body["items"] == [] and body["page"] == 500 and "next" not in body, "past the end: empty, no next"
    body = api.get(f"{API}/customers", headers=bearer(tok["admin"])).get_json()
    assert body["per_page"] == 50 and body["page"] == 1 and "next" in body


def test_sorting(api, tok):
    def names(sort: str) -> list[str]:
        items = api.get(f"{API}/customers?per_page=200&sort={sort}", headers=bearer(tok["admin"])).get_json()["items"]
        return [(i["name"], i["id"]) for i in items]

    ascending = names("name")
    assert ascending == sorted(ascending)
    codes = [i["code"] for i in api.get(f"{API}/customers?per_page=200&sort=-code",
                                        headers=bearer(tok["admin"])).get_json()["items"]]
    assert codes == sorted(codes, reverse=True) and codes[0] == scalar("SELECT MAX(code) FROM customer")


# -- search semantics ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def known(api, tok) -> dict:
    """A customer with known contact data, created through the API."""
    resp = api.post(f"{API}/customers", headers=bearer(tok["admin"]), json={
        "name": "탐색테스트", "phone": "+82 10-9876-5432", "email": "Search.Tester@Example.COM", "branch_code": "B003",
        "postal_code": "06236", "address": "서울특별시 강남구 테헤란로 152"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


@pytest.mark.parametrize("q", [
    "탐색", "탐색테스트", "010-9876-5432", "01098765432", "010 9876 5432", "+82 10-9876-5432", "+82-10-9876-5432",
    "+821098765432", "(010) 9876-5432", "010.9876.5432", "010-9876", "0109876", "search.tester@example.com",
    "Search.Tester", "search.t", "SEARCH.TESTER@EXAMPLE.COM",
])
def test_search_finds_by_name_phone_email(api, tok, known, q):
    ids = [i["id"] for i in api.get(f"{API}/customers", query_string={"q": q, "per_page": 200},
                                   headers=bearer(tok["admin"])).get_json()["items"]]
    assert known["id"] in ids


def test_search_by_code_is_exact_and_case_insensitive(api, tok, known):
    for q in (known["code"], known["code"].lower()):
        body = api.get(f"{API}/customers", query_string={"q": q}, headers=bearer(tok["admin"])).get_json()
        assert [i["id"] for i in body["items"]] == [known["id"]]
    body = api.get(f"{API}/customers", query_string={"q": known["code"][:-1]}, headers=bearer(tok["admin"])).get_json()
    assert known["id"] not in [i["id"] for i in body["items"]]


@pytest.mark.parametrize("q", ["9876-5432", "98765432", "tester@example.com", "example.com", "010-9876-5433"])
def test_search_is_prefix_only(api, tok, known, q):
    """Phones and e-mails are prefix searches (names match any part: tests/test_name_search.py)."""
    ids = [i["id"] for i in api.get(f"{API}/customers", query_string={"q": q, "per_page": 200},
                                   headers=bearer(tok["admin"])).get_json()["items"]]
    assert known["id"] not in ids


def test_search_results_equal_the_sql_oracle(api, tok, known):
    """``q`` is an OR of: code equals, name contains, e-mail prefix, phone-digits prefix."""
    def found(q: str) -> set[int]:
        body = api.get(f"{API}/customers", query_string={"q": q, "per_page": 200}, headers=bearer(tok["admin"])).get_json()
        assert body["total"] == len(body["items"]) < 200
        return {i["id"] for i in body["items"]}

    def ids(query: str) -> set[int]:
        return {r[0] for r in sql(query)}

    assert found("park") == ids("SELECT id FROM customer WHERE email LIKE 'park%'") != set()
    assert found("박") == ids("SELECT id FROM customer WHERE name LIKE '%박%'") != set()
    assert found("테스트") == ids("SELECT id FROM customer WHERE name LIKE '%테스트%'") != set()
    assert found("010-12") == ids("SELECT id FROM customer WHERE phone LIKE '01012%'") != set()


# -- create ------------------------------------------------------------------------------------------


def test_create_answers_201_with_location(api, tok, known):
    assert known["code"] == f"C{known['id']:07d}"
    assert known["phone"] == "010-9876-5432" and known["email"] == "search.tester@example.com"
    assert known["branch_code"] == "B003" and known["partner_code"] is None and known["complaint"] is False
    assert scalar("SELECT phone FROM customer WHERE id = :i", i=known["id"]) == "01098765432"
    event = sql("SELECT actor_label, changes FROM audit_event WHERE action = 'customer.created' AND object_id = :i",
                i=str(known["id"]))
    assert len(event) == 1 and event[0].actor_label == "admin@example.com"
    changes = event[0].changes if isinstance(event[0].changes, dict) else json.loads(event[0].changes)
    assert changes["phone"] == [None, "01098765432"] and changes["name"] == [None, "탐색테스트"]
    # Missing e-mail? No: given. Missing contact fields get data-quality issues (none here).
    assert known["quality_issues"] == []


def test_create_location_points_at_the_new_customer(api, tok):
    resp = api.post(f"{API}/customers", json={"name": "위치확인", "branch_code": "B001"}, headers=bearer(tok["store1"]))
    assert resp.status_code == 201
    location = resp.headers["Location"]
    assert location == f"{API}/customers/{resp.get_json()['id']}"
    assert api.get(location, headers=bearer(tok["store1"])).get_json() == resp.get_json()
    assert {q["field"] for q in resp.get_json()["quality_issues"]} == {"phone", "email", "address", "postal_code"}


def test_create_as_distributor_inside_and_outside_the_downline(api, tok):
    before = counts()
    for code in ("G01-0007", "G01-0001", "G02-0002"):
        resp = api.post(f"{API}/customers", json={"name": "외부", "partner_code": code}, headers=bearer(tok["ibo1"]))
        assert set(assert_json_error(resp, 422)["fields"]) == {"partner_code"}
    resp = api.post(f"{API}/customers", json={"name": "외부", "branch_code": "B001"}, headers=bearer(tok["ibo1"]))
    assert set(assert_json_error(resp, 422)["fields"]) == {"branch_code"}
    assert counts() == before
    resp = api.post(f"{API}/customers", json={"name": "내부", "partner_code": "g01-0004"}, headers=bearer(tok["ibo1"]))
    assert resp.status_code == 201 and resp.get_json()["partner_code"] == "G01-0004"


def test_store_cannot_create_for_another_branch(api, tok):
    before = counts()
    resp = api.post(f"{API}/customers", json={"name": "남의 고객", "branch_code": "B002"}, headers=bearer(tok["store1"]))
    assert "B002" in assert_json_error(resp, 422)["fields"]["branch_code"]
    assert counts() == before


# -- no mass assignment ----------------------------------------------------------------------------


PROTECTED = {
    "id": 999999, "code": "C9999999", "complaint": True, "complaint_note": "x", "tier": "VIP",
    "created_at": "2000-01-01T00:00:00", "updated_at": "2000-01-01T00:00:00", "household_id": 1, "branch_id": 6,
    "partner_id": 1, "pseudonymized_at": None, "quality_issues": [], "consents": [{"channel": "sms"}],
    "is_admin": True, "Name": "case matters",
}


@pytest.mark.parametrize("field", sorted(PROTECTED))
def test_protected_fields_are_refused_on_create(api, tok, field):
    before = counts()
    resp = api.post(f"{API}/customers", json={"name": "대량할당", "branch_code": "B001", field: PROTECTED[field]},
                    headers=bearer(tok["store1"]))
    err = assert_json_error(resp, 422, "validation_failed")
    assert list(err["fields"]) == [field] and field in err["message"]
    assert "name" in err["message"], "the message names the writable fields"
    assert counts() == before


@pytest.mark.parametrize("field", sorted(PROTECTED))
def test_protected_fields_are_refused_on_patch(api, tok, field):
    cid = b001_customer()
    row = sql("SELECT * FROM customer WHERE id = :i", i=cid)
    before = counts()
    resp = api.patch(f"{API}/customers/{cid}", json={"note": "mass assignment", field: PROTECTED[field]},
                     headers=bearer(tok["store1"]))
    err = assert_json_error(resp, 422, "validation_failed")
    assert list(err["fields"]) == [field] and field in err["message"]
    assert sql("SELECT * FROM customer WHERE id = :i", i=cid) == row, "not even the valid note was written"
    assert counts() == before


def test_several_unknown_fields_are_all_listed(api, tok):
    resp = api.post(f"{API}/customers", json={"name": "x", "branch_code": "B001", "tier": "VIP", "id": 1, "code": "C1"},
                    headers=bearer(tok["admin"]))
    err = assert_json_error(resp, 422)
    assert sorted(err["fields"]) == ["code", "id", "tier"]
    assert "code, id, tier" in err["message"]


# -- PATCH -----------------------------------------------------------------------------------------


def test_patch_changes_only_the_sent_fields_and_audits_them(api, tok):
    cid = b001_customer()
    before = api.get(f"{API}/customers/{cid}", headers=bearer(tok["store1"])).get_json()
    resp = api.patch(f"{API}/customers/{cid}", json={"note": "VIP 응대", "phone": "+82 10 5555 0101"},
                     headers=bearer(tok["store1"]))
    assert resp.status_code == 200
    after = resp.get_json()
    assert after["note"] == "VIP 응대" and after["phone"] == "010-5555-0101"
    unchanged = {k for k in before if k not in ("note", "phone", "updated_at", "quality_issues")}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    event = sql("SELECT actor_label, changes, summary FROM audit_event WHERE action = 'customer.updated' "
                "AND object_type = 'customer' AND object_id = :i ORDER BY id DESC", i=str(cid))[0]
    changes = event.changes if isinstance(event.changes, dict) else json.loads(event.changes)
    assert event.actor_label == "store1@example.com"
    assert set(changes) == {"note", "phone"} and changes["phone"][1] == "01055550101"
    assert changes["note"] == [before["note"], "VIP 응대"]


def test_patch_with_nothing_new_writes_no_audit_event(api, tok):
    cid = b001_customer()
    current = api.get(f"{API}/customers/{cid}", headers=bearer(tok["store1"])).get_json()
    before = counts()
    resp = api.patch(f"{API}/customers/{cid}", json={}, headers=bearer(tok["store1"]))
    assert resp.status_code == 200
    resp = api.patch(f"{API}/customers/{cid}", json={"name": current["name"]}, headers=bearer(tok["store1"]))
    assert resp.status_code == 200
    assert counts() == before


def test_patch_invalid_value_writes_nothing(api, tok):
    cid = b001_customer()
    row = sql("SELECT * FROM customer WHERE id = :i", i=cid)
    before = counts()
    for body in ({"phone": "12-34"}, {"name": None}, {"branch_code": None}, {"branch_code": "B002"},
                 {"note": "ok", "email": "bad@"}):
        if body == {"branch_code": None} and row[0].partner_id is not None:
            continue  # clearing the branch is fine when a distributor still owns the customer
        err = assert_json_error(api.patch(f"{API}/customers/{cid}", json=body, headers=bearer(tok["store1"])), 422)
        assert set(err["fields"]) <= set(body) | {"branch_code"}
    assert sql("SELECT * FROM customer WHERE id = :i", i=cid) == row
    assert counts() == before


def test_patch_resolves_and_opens_quality_issues(api, tok):
    cid = api.post(f"{API}/customers", json={"name": "품질", "branch_code": "B001"},
                   headers=bearer(tok["store1"])).get_json()["id"]
    open_fields = lambda: {q["field"] for q in api.get(f"{API}/customers/{cid}",  # noqa: E731
                                                      headers=bearer(tok["store1"])).get_json()["quality_issues"]}
    assert open_fields() == {"phone", "email", "address", "postal_code"}
    api.patch(f"{API}/customers/{cid}", json={"phone": "010-1111-2222", "postal_code": "06236"},
              headers=bearer(tok["store1"]))
    assert open_fields() == {"email", "address"}
    api.patch(f"{API}/customers/{cid}", json={"phone": None}, headers=bearer(tok["store1"]))
    assert open_fields() == {"email", "address", "phone"}


# -- access log ------------------------------------------------------------------------------------


def test_every_view_and_list_writes_an_access_log_row(api, tok):
    uid = scalar("SELECT id FROM user_account WHERE email = 'store1@example.com'")
    cid = b001_customer()

    def rows():
        return sql("SELECT action, object_id, count, detail FROM access_log WHERE user_id = :u ORDER BY id", u=uid)

    start = len(rows())
    api.get(f"{API}/customers/{cid}", headers=bearer(tok["store1"]))
    api.get(f"{API}/customers?q=김&per_page=5", headers=bearer(tok["store1"]))
    api.get(f"{API}/customers?page=2&per_page=5", headers=bearer(tok["store1"]))
    new = rows()[start:]
    assert [r.action for r in new] == ["api_view", "api_list", "api_list"]
    assert new[0].object_id == str(cid) and new[0].count == 1
    assert new[1].count <= 5 and "q=김" in new[1].detail
    assert new[2].count == 5 and "page=2" in new[2].detail
    # Refused requests show no personal data and log nothing.
    api.get(f"{API}/customers/99999999", headers=bearer(tok["store1"]))
    api.get(f"{API}/customers?per_page=0", headers=bearer(tok["store1"]))
    assert len(rows()) == start + 3


def test_every_endpoint_is_documented(shared_app):
    """docs/api.md has a section for every API route (a new endpoint without docs fails here)."""
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for rule in shared_app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule.replace("<customer_id>", "<id>")
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                assert f"### `{method} {path}`" in doc, f"{method} {path} is not documented in docs/api.md"
