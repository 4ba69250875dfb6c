"""Access matrix: every customer route and API endpoint × every demo role (SECURITY.md 8.2.1/8.2.2).

What each demo account may see is computed *independently* in plain SQL from the seeded data
(branch rows, group rows, the sponsor line walked with a recursive CTE) — never with the
portal's own ``scope_filter`` — and compared as sets with what every list, search, filter,
CSV export and API page returns. Object routes are probed with in-scope, out-of-scope
("boundary": the neighbouring branch, a sibling sponsor line, the group's top leader ...) and
missing ids:

* a role whose permissions do not cover the route at all gets 403 for *every* id (in scope,
  out of scope, missing alike — so the answer says nothing about which ids exist);
* a role that holds the permission gets 404 for an out-of-scope id, exactly as for a missing
  one, never 403 and never any of the customer's data;
* a write to an out-of-scope customer changes nothing (row, consents, flags, audit trail).

The route list comes from ``app.url_map``: a new customer or API route without an entry in
``ROUTES`` fails ``test_matrix_lists_every_customer_and_api_route``.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import re
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import DEMO_EMAILS, api_token_for, bearer, csrf_token, login
from tests.scope_oracle import ADMIN, CUSTOMER_IDS, HQ, IBO1, LEADER1, REVIEWER, STORE1, STORE2

VIEW, EDIT, EXPORT, FLAG = "customer.view", "customer.edit", "customer.export", "customer.flag"
PRIVACY = "customer.privacy"

# What each demo role may do with customers — written out here on purpose, not read from
# portal.security.roles: changing the role map must be a visible decision that updates this.
ROLE_PERMISSIONS: dict[str, set[str]] = {
    ADMIN: {VIEW, EDIT, EXPORT, FLAG, PRIVACY},
    HQ: {VIEW, EDIT, EXPORT, FLAG, PRIVACY},
    REVIEWER: set(),
    STORE1: {VIEW, EDIT, EXPORT, FLAG},
    STORE2: {VIEW, EDIT, EXPORT, FLAG},
    LEADER1: {VIEW, EDIT, EXPORT},
    IBO1: {VIEW, EDIT},
}

# The customers each role may see, in SQL that does not use the portal's scope code.
SCOPE_SQL = CUSTOMER_IDS

# Every customer route and API endpoint: (endpoint, method) → (permission needed, kind).
# kind: "list" (scoped list), "create", "object" (read one customer), "write" (change one), "me".
ROUTES: dict[tuple[str, str], tuple[str | None, str]] = {
    ("customers.index", "GET"): (VIEW, "list"),
    ("customers.export", "GET"): (EXPORT, "list"),
    ("customers.create", "GET"): (EDIT, "create"),
    ("customers.create", "POST"): (EDIT, "create"),
    ("customers.detail", "GET"): (VIEW, "object"),
    ("customers.edit", "GET"): (EDIT, "object"),
    ("customers.edit", "POST"): (EDIT, "write"),
    ("customers.consent", "POST"): (EDIT, "write"),
    ("customers.quality", "POST"): (FLAG, "write"),
    ("customers.quality_resolve", "POST"): (EDIT, "write"),
    ("customers.complaint", "POST"): (FLAG, "write"),
    ("customers.household", "POST"): (EDIT, "write"),
    ("customers.privacy_export", "GET"): (PRIVACY, "object"),
    ("customers.privacy_pseudonymize", "POST"): (PRIVACY, "write"),
    ("api.me", "GET"): (None, "me"),
    ("api.customers", "GET"): (VIEW, "list"),
    ("api.customer", "GET"): (VIEW, "object"),
    ("api.customer_create", "POST"): (EDIT, "create"),
    ("api.customer_update", "PATCH"): (EDIT, "write"),
    # kind "other": routes that are not one customer's page or the customer list; each has its own
    # scope tests (store1 vs B002, ibo1's downline, reviewer 403, out of scope = 404) in the file named.
    ("quality.fix_customer", "POST"): (EDIT, "other"),            # tests/test_quality.py
    ("quality.merge", "GET"): ("customer.merge", "other"),        # tests/test_quality.py
    ("quality.merge", "POST"): ("customer.merge", "other"),       # tests/test_quality.py
    ("api.customer_merge", "POST"): ("customer.merge", "other"),  # tests/test_quality.py
    ("api.quality_queue", "GET"): (EDIT, "other"),                # tests/test_quality.py
    ("api.quality_duplicates", "GET"): ("customer.merge", "other"),  # tests/test_quality.py
    ("api.sale_lines", "GET"): ("sales.view", "other"),           # tests/test_exports.py
    ("api.sales_reports", "GET"): ("sales.view", "other"),        # tests/test_sales_import.py
    ("api.sales_report", "GET"): ("sales.view", "other"),         # tests/test_sales_import.py
    ("api.sales_report_rejections", "GET"): ("sales.view", "other"),  # tests/test_sales_import.py
    ("api.sales_report_upload", "POST"): ("sales.import", "other"),   # tests/test_sales_import.py
    ("api.segment_preview", "POST"): ("segment.manage", "other"),     # tests/test_segments.py
    ("api.segments", "GET"): ("segment.manage", "other"),             # tests/test_segments.py
    ("api.segment_create", "POST"): ("segment.manage", "other"),      # tests/test_segments.py
    ("api.segment", "GET"): ("segment.manage", "other"),              # tests/test_segments.py
    ("api.segment_update", "PUT"): ("segment.manage", "other"),       # tests/test_segments.py
    ("api.segment_delete", "DELETE"): ("segment.manage", "other"),    # tests/test_segments.py
    ("api.extraction_create", "POST"): ("extraction.create", "other"),    # tests/test_extraction.py
    ("api.extractions", "GET"): ("extraction.create", "other"),           # tests/test_extraction.py
    ("api.extraction", "GET"): ("extraction.create", "other"),            # tests/test_extraction.py
    ("api.extraction_customers", "GET"): ("extraction.create", "other"),  # tests/test_extraction.py
    ("api.extraction_use", "POST"): ("extraction.create", "other"),       # tests/test_extraction.py
    ("api.extraction_cancel", "POST"): ("extraction.create", "other"),    # tests/test_extraction.py
    ("contact.log_contact", "POST"): (EDIT, "other"),                     # tests/platform/test_contact_history.py
    ("contact_api.consent_create", "POST"): (EDIT, "other"),              # tests/platform/test_contact_registry.py
    ("contact_api.contact_create", "POST"): (EDIT, "other"),              # tests/platform/test_contact_registry.py
    ("contact_api.contact_history", "GET"): (VIEW, "other"),              # tests/platform/test_contact_registry.py
}
OBJECT_ROUTES = sorted(k for k, (_p, kind) in ROUTES.items() if kind in ("object", "write"))
LIST_ROUTES = ["customers.index", "customers.export", "api.customers"]

ROW_RE = re.compile(r'data-testid="customer-row">\s*<td><a href="/customers/(\d+)"')
NEXT_RE = re.compile(r'<a href="([^"]+)" rel="next"')


# -- fixtures: one app, one login and one token per role for the whole module -----------------





@pytest.fixture(scope="module")
def browsers(shared_app) -> dict[str, Any]:
    clients = {}
    for email in DEMO_EMAILS:
        client = shared_app.test_client()
        assert login(client, email).status_code == 302, email
        client.csrf = csrf_token(client, "/dashboard")
        clients[email] = client
    return clients


@pytest.fixture(scope="module")
def tokens(shared_app) -> dict[str, str]:
    return {email: api_token_for(email) for email in DEMO_EMAILS}


# -- the oracle ---------------------------------------------------------------------------------


def sql(query: str, **params: Any) -> list[Any]:
    from portal.extensions import db

    rows = db.session.execute(text(query), params).all()
    db.session.commit()
    return rows


def customers_table() -> dict[int, dict[str, Any]]:
    """Every customer with the columns the filters look at, straight from the tables."""
    rows = sql("""
        SELECT c.id, c.code, c.name, c.phone, c.email, c.complaint, o.code AS branch, g.code AS grp,
               p.code AS partner, c.postal_code,
               (SELECT COUNT(*) FROM quality_issue q WHERE q.customer_id = c.id AND q.resolved_at IS NULL) AS open_issues
        FROM customer c
        LEFT JOIN org_unit o ON o.id = c.branch_id
        LEFT JOIN partner p ON p.id = c.partner_id
        LEFT JOIN partner_group g ON g.id = p.group_id
    """)
    return {r.id: dict(r._mapping) for r in rows}


def scope_ids(email: str) -> set[int]:
    query = SCOPE_SQL[email]
    return set() if query is None else {r[0] for r in sql(query)}


def out_of_scope_samples(email: str, table: dict[int, dict[str, Any]]) -> list[int]:
    """Boundary customers just outside the role's scope (one of each kind that exists)."""
    outside = sorted(set(table) - scope_ids(email))
    kinds = [
        lambda c: c["branch"] in ("B001", "B002"),                       # neighbouring store, same region
        lambda c: c["grp"] == "G01",                                      # same group, other sponsor line
        lambda c: c["partner"] == "G01-0001",                             # the group's top leader (upline)
        lambda c: c["grp"] not in (None, "G01"),                          # another group
        lambda c: c["branch"] is None,                                    # distributor-only customer
        lambda c: c["grp"] is None,                                       # store-only customer
        lambda c: c["branch"] is not None and c["grp"] is not None,       # co-owned by a store and a distributor
    ]
    picks = []
    for kind in kinds:
        found = next((cid for cid in outside if kind(table[cid])), None)
        if found is not None and found not in picks:
            picks.append(found)
    return picks


def in_scope_target(email: str, table: dict[int, dict[str, Any]]) -> int | None:
    """A customer of the role's scope, preferring one co-owned by a store and a distributor."""
    ids = sorted(scope_ids(email))
    co_owned = [cid for cid in ids if table[cid]["branch"] and table[cid]["partner"]
                and len(table[cid]["postal_code"] or "") == 5]
    return (co_owned or ids or [None])[0]


def missing_id() -> int:
    return sql("SELECT MAX(id) FROM customer")[0][0] + 1000


# -- walking lists --------------------------------------------------------------------------------


def walk_html(client, params: dict[str, str]) -> tuple[int, list[int]]:
    resp = client.get("/customers/", query_string={**params, "per_page": "200"})
    if resp.status_code != 200:
        return resp.status_code, []
    ids: list[int] = []
    pages = 0
    while True:
        body = resp.get_data(as_text=True)
        ids += [int(x) for x in ROW_RE.findall(body)]
        pages += 1
        nxt = NEXT_RE.search(body)
        if not nxt:
            return 200, ids
        assert pages < 50, "pager does not end"
        resp = client.get(html.unescape(nxt.group(1)))
        assert resp.status_code == 200


def walk_api(client, token: str, params: dict[str, str]) -> tuple[int, list[int]]:
    resp = client.get("/api/v1/customers", query_string={**params, "per_page": "200"}, headers=bearer(token))
    if resp.status_code != 200:
        assert resp.is_json and set(resp.get_json()) >= {"error", "message"}
        return resp.status_code, []
    ids: list[int] = []
    while True:
        body = resp.get_json()
        ids += [item["id"] for item in body["items"]]
        if "next" not in body:
            assert len(ids) == body["total"]
            return 200, ids
        assert len(ids) < 10_000
        resp = client.get(body["next"], headers=bearer(token))
        assert resp.status_code == 200


def read_export(client, params: dict[str, str], table: dict[int, dict[str, Any]]) -> tuple[int, list[int]]:
    # buffered: the streamed CSV is read inside the request's own context (see IsolatedClient)
    resp = client.get("/customers/export.csv", query_string=params, buffered=True)
    if resp.status_code != 200:
        return resp.status_code, []
    body = resp.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    by_code = {c["code"]: cid for cid, c in table.items()}
    return 200, [by_code[r[0]] for r in rows[1:]]


def list_ids(route: str, email: str, params: dict[str, str], browsers, tokens, table) -> tuple[int, list[int]]:
    if route == "customers.index":
        return walk_html(browsers[email], params)
    if route == "customers.export":
        return read_export(browsers[email], params, table)
    return walk_api(browsers[email], tokens[email], params)


# -- 1. the matrix covers every route ------------------------------------------------------------


def test_matrix_lists_every_customer_and_api_route(shared_app):
    found = set()
    for rule in shared_app.url_map.iter_rules():
        if rule.endpoint.startswith(("customers.", "api.")) or "customer_id" in rule.arguments:
            found |= {(rule.endpoint, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert found - set(ROUTES) == set(), "new customer/API route: add it to ROUTES and decide who may use it"
    assert set(ROUTES) - found == set(), "ROUTES names a route that no longer exists"


def test_the_oracle_scopes_are_not_trivial(shared_app):
    """The seeded data must make every boundary testable (otherwise the matrix proves little)."""
    table = customers_table()
    everything = set(table)
    scopes = {email: scope_ids(email) for email in DEMO_EMAILS}
    assert scopes[ADMIN] == scopes[HQ] == everything
    for email in (STORE1, STORE2, LEADER1, IBO1):
        assert scopes[email] and scopes[email] < everything, email
    assert scopes[STORE1].isdisjoint(scopes[STORE2])
    assert scopes[IBO1] < scopes[LEADER1], "the distributor's downline lies inside its group"
    assert scopes[STORE1] & scopes[LEADER1], "some B001 customers are co-owned by a G01 distributor"
    assert scopes[LEADER1] - scopes[IBO1], "G01 has customers outside G01-0002's line"
    assert any(table[c]["partner"] == "G01-0001" for c in everything), "the top leader has own customers"
    # The boundary samples really are outside, and include the interesting neighbours.
    for email in (STORE1, STORE2, LEADER1, IBO1):
        samples = out_of_scope_samples(email, table)
        assert len(samples) >= 4 and not set(samples) & scopes[email]
    assert any(table[c]["grp"] == "G01" for c in out_of_scope_samples(IBO1, table))
    assert any(table[c]["branch"] == "B002" for c in out_of_scope_samples(STORE1, table))


# -- 2. object routes: in scope / out of scope / missing ----------------------------------------


def snapshot(cid: int) -> tuple:
    """Everything a write route could change about one customer."""
    row = sql("SELECT * FROM customer WHERE id = :id", id=cid)[0]
    consents = sql("SELECT id, channel, purpose, granted FROM consent WHERE customer_id = :id ORDER BY id", id=cid)
    issues = sql("SELECT id, field, reason, resolved_at FROM quality_issue WHERE customer_id = :id ORDER BY id", id=cid)
    events = sql("SELECT id FROM audit_event WHERE object_type = 'customer' AND object_id = :id", id=str(cid))
    households = sql("SELECT COUNT(*) FROM household")
    return tuple(row), tuple(map(tuple, consents)), tuple(map(tuple, issues)), len(events), households[0][0]


def open_issue_of(cid: int) -> int:
    """An open quality issue of ``cid`` (inserted when it has none), for the resolve route."""
    rows = sql("SELECT id FROM quality_issue WHERE customer_id = :id AND resolved_at IS NULL ORDER BY id", id=cid)
    if rows:
        return rows[0][0]
    from portal.extensions import db
    from portal.models import QualityIssue

    issue = QualityIssue(customer_id=cid, field="address", reason="matrix test: letter returned")
    db.session.add(issue)
    db.session.commit()
    return issue.id


_serial = itertools.count(1)


def write_payload(endpoint: str, cid: int, table: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """A valid change for ``endpoint`` — different on every call, so it always changes something."""
    n = next(_serial)
    c = table[cid]
    if endpoint == "customers.edit":
        row = sql("SELECT name, phone, email, address, postal_code, birth_date, gender, note FROM customer WHERE id = :id",
                  id=cid)[0]
        return {"name": f"Matrix Edited {n}", "phone": row.phone or "", "email": row.email or "",
                "address": row.address or "서울특별시 강남구 1", "postal_code": "06000",
                "birth_date": str(row.birth_date or ""), "gender": row.gender or "", "note": f"edited by matrix {n}",
                "branch_code": c["branch"] or "", "partner_code": c["partner"] or ""}
    if endpoint == "customers.quality_resolve":
        return {"issue_id": str(open_issue_of(cid))}
    if endpoint == "customers.privacy_pseudonymize":
        return {"confirm_code": c["code"], "reason": f"matrix test {n}"}
    return {
        "customers.consent": {"channel": "sms", "purpose": "marketing", "granted": str(n % 2), "method": "store"},
        "customers.quality": {"field": "phone", "reason": f"matrix test: wrong number {n}"},
        "customers.complaint": {"complaint": "y", "note": f"matrix test complaint {n}"},
        "customers.household": {"new_name": f"Matrix household {n}"},
        "api.customer_update": {"name": f"Matrix Edited {n}", "note": f"edited by matrix {n}"},
    }[endpoint]


def call(browsers, tokens, email: str, endpoint: str, method: str, cid: int, payload: dict | None = None):
    client = browsers[email]
    if endpoint.startswith("api."):
        url = f"/api/v1/customers/{cid}"
        if method == "GET":
            return client.get(url, headers=bearer(tokens[email]))
        return client.patch(url, json=payload, headers=bearer(tokens[email]))
    suffix = {"customers.detail": "", "customers.edit": "/edit", "customers.consent": "/consent",
              "customers.quality": "/quality", "customers.quality_resolve": "/quality/resolve",
              "customers.complaint": "/complaint", "customers.household": "/household",
              "customers.privacy_export": "/privacy/export.json",
              "customers.privacy_pseudonymize": "/privacy/pseudonymize"}[endpoint]
    url = f"/customers/{cid}{suffix}"
    if method == "GET":
        return client.get(url)
    return client.post(url, data={**payload, "csrf_token": client.csrf})


def assert_no_data(resp, customer: dict[str, Any]) -> None:
    body = resp.get_data(as_text=True)
    for value in (customer["code"], customer["name"], customer["phone"], customer["email"]):
        if value:
            assert value not in body, f"{value!r} leaked in a {resp.status_code} answer"


def assert_error_shape(endpoint: str, resp, status: int) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    if endpoint.startswith("api."):
        assert resp.is_json, "API errors are JSON, never HTML"
        body = resp.get_json()
        assert set(body) >= {"error", "message"} and body["message"]


@pytest.mark.parametrize("email", DEMO_EMAILS)
@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=lambda r: f"{r[1]} {r[0]}")
def test_object_route(browsers, tokens, email, route):
    endpoint, method = route
    permission, kind = ROUTES[route]
    table = customers_table()
    allowed = permission in ROLE_PERMISSIONS[email]
    outside = out_of_scope_samples(email, table)
    target = in_scope_target(email, table) or in_scope_target(ADMIN, table)
    if endpoint == "customers.privacy_pseudonymize":
        # Erasing is one-way: each role erases a customer of its own that nothing else uses.
        target = sql("SELECT MAX(id) FROM customer WHERE pseudonymized_at IS NULL AND id IN ("
                     + (SCOPE_SQL[email] or SCOPE_SQL[ADMIN]) + ")")[0][0]
    gone = missing_id()
    if email in (ADMIN, HQ):
        assert outside == []

    def payload(cid: int) -> dict | None:
        if method == "GET":
            return None
        return write_payload(endpoint, cid if cid in table else target, table)

    # Out-of-scope and missing ids: the same answer, no data, no change.
    for cid in [*(outside if allowed else outside[:2]), gone]:
        data = payload(cid)
        before = snapshot(cid) if cid in table else None
        resp = call(browsers, tokens, email, endpoint, method, cid, data)
        assert_error_shape(endpoint, resp, 404 if allowed else 403)
        if cid in table:
            assert_no_data(resp, table[cid])
            assert snapshot(cid) == before, f"{endpoint} changed out-of-scope customer {cid}"

    # In scope: works when the role holds the permission, else the same 403 as above.
    data = payload(target)
    before = snapshot(target)
    resp = call(browsers, tokens, email, endpoint, method, target, data)
    if not allowed:
        assert_error_shape(endpoint, resp, 403)
        assert_no_data(resp, table[target])
        assert snapshot(target) == before
        return
    if method == "GET":
        assert resp.status_code == 200
        assert table[target]["code"] in resp.get_data(as_text=True)
        assert snapshot(target) == before
    elif endpoint.startswith("api."):
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.get_json()["name"] == data["name"]
        assert snapshot(target) != before
    else:
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        assert resp.headers["Location"].startswith(f"/customers/{target}")
        assert snapshot(target) != before, f"{endpoint} by {email} did not change customer {target}"


@pytest.mark.parametrize("email", DEMO_EMAILS)
def test_detail_tabs(shared_app, browsers, email):
    """Every tab of the customer page (core and plugin tabs) answers for in-scope customers
    only; out-of-scope ones get 404 on every tab."""
    from portal.extensions import db
    from portal.models import Customer, User
    from portal.plugins import collect

    table = customers_table()
    client = browsers[email]
    target = in_scope_target(email, table) or in_scope_target(ADMIN, table)
    user = db.session.execute(db.select(User).where(User.email == email)).scalar_one()
    customer = db.session.get(Customer, target)
    with shared_app.test_request_context():
        tabs = [t["id"] for t in collect("portal_customer_tabs", customer=customer, user=user)]
    db.session.commit()
    if VIEW not in ROLE_PERMISSIONS[email]:
        for tab in ("overview", "purchases", "consent", "history"):
            assert client.get(f"/customers/{target}", query_string={"tab": tab}).status_code == 403
        return
    assert {"overview", "consent", "history", "purchases"} <= set(tabs)
    for tab in tabs:
        resp = client.get(f"/customers/{target}", query_string={"tab": tab})
        assert resp.status_code == 200, tab
        body = resp.get_data(as_text=True)
        assert table[target]["code"] in body
        assert re.search(rf'class="active" data-testid="tab-{tab}"', body), f"tab {tab} not shown"
        for cid in out_of_scope_samples(email, table):
            resp = client.get(f"/customers/{cid}", query_string={"tab": tab})
            assert resp.status_code == 404
            assert_no_data(resp, table[cid])


# -- 3. lists, search, filters, export and API list: no foreign rows -----------------------------


def filter_cases() -> list[tuple[str, dict[str, str], Any]]:
    """(label, query args, predicate on a customer row) — the predicate is the oracle."""
    return [
        ("all", {}, lambda c: True),
        ("name prefix", {"q": "김"}, lambda c: c["name"].startswith("김")),
        ("phone digits", {"q": "010-2", "sort": "-created"}, lambda c: (c["phone"] or "").startswith("0102")),
        ("complaint", {"complaint": "1"}, lambda c: bool(c["complaint"])),
        ("quality open", {"quality": "open", "sort": "-code"}, lambda c: c["open_issues"] > 0),
        ("branch B001", {"branch": "B001"}, lambda c: c["branch"] == "B001"),
        ("branch B002", {"branch": "B002"}, lambda c: c["branch"] == "B002"),
        ("group G02", {"group": "G02"}, lambda c: c["grp"] == "G02"),
        ("combined", {"q": "이", "group": "G01", "sort": "created"},
         lambda c: c["name"].startswith("이") and c["grp"] == "G01"),
    ]


@pytest.mark.parametrize("email", DEMO_EMAILS)
@pytest.mark.parametrize("route", LIST_ROUTES)
def test_lists_hold_exactly_the_scope(browsers, tokens, email, route):
    """HTML list (all pages at per_page=200), CSV export and API list (following ``next``), under
    every search and filter, hold exactly the role's customers that match — no more, no fewer."""
    permission = ROUTES[(route, "GET")][0]
    table = customers_table()
    scope = scope_ids(email)
    if permission not in ROLE_PERMISSIONS[email]:
        for _label, params, _predicate in filter_cases()[:2]:
            assert list_ids(route, email, params, browsers, tokens, table)[0] == 403
        return
    for label, params, predicate in filter_cases():
        status, ids = list_ids(route, email, params, browsers, tokens, table)
        assert status == 200, label
        assert len(ids) == len(set(ids)), f"{label}: a row appears twice while paging"
        expected = {cid for cid in scope if predicate(table[cid])}
        foreign = set(ids) - scope
        assert not foreign, f"{route} {label}: foreign customers {sorted(foreign)[:5]}"
        assert set(ids) == expected, f"{route} {label}: missing {sorted(expected - set(ids))[:5]}"


_found_by_admin: dict[str, set[int]] = {}


def search_queries(c: dict[str, Any]) -> list[str]:
    """The ways a user might type a customer's identifiers into the search box."""
    queries = [c["code"].lower()]
    if c["phone"]:
        p = c["phone"]
        queries += [f"{p[:3]}-{p[3:7]}-{p[7:]}", f"+82 {p[1:3]} {p[3:7]} {p[7:]}"]
    if c["email"]:
        queries.append(c["email"].split("@")[0] + "@")
    return queries


@pytest.mark.parametrize("email", [STORE1, STORE2, LEADER1, IBO1])
def test_search_never_finds_foreign_customers(browsers, tokens, email):
    """Searching for an out-of-scope customer's code, phone (any format) or e-mail finds nothing
    in the list, the export or the API — while an administrator's same search does find it."""
    table = customers_table()
    scope = scope_ids(email)
    checked = 0
    for cid in out_of_scope_samples(email, table)[:4]:
        for q in search_queries(table[cid]):
            if q not in _found_by_admin:
                status, admin_ids = list_ids("api.customers", ADMIN, {"q": q}, browsers, tokens, table)
                _found_by_admin[q] = set(admin_ids)
            assert cid in _found_by_admin[q], f"the search {q!r} should find customer {cid}"
            for route in LIST_ROUTES:
                status, ids = list_ids(route, email, {"q": q}, browsers, tokens, table)
                if ROUTES[(route, "GET")][0] not in ROLE_PERMISSIONS[email]:
                    assert status == 403
                    continue
                assert status == 200
                assert cid not in ids and set(ids) <= scope, f"{route} q={q!r} leaked {set(ids) - scope}"
                checked += 1
    assert checked >= 8


# -- 4. creating: only with owners inside the creator's scope -------------------------------------


OWN_OWNER = {ADMIN: {"branch_code": "B005"}, HQ: {"partner_code": "G03-0004"}, STORE1: {"branch_code": "B001"},
             STORE2: {"branch_code": "B002"}, LEADER1: {"partner_code": "G01-0012"}, IBO1: {"partner_code": "G01-0003"}}
FOREIGN_OWNERS = {
    STORE1: [{"branch_code": "B002"}, {"partner_code": "G01-0003"}, {"branch_code": "B001", "partner_code": "G01-0003"}],
    STORE2: [{"branch_code": "B001"}],
    LEADER1: [{"partner_code": "G02-0002"}, {"branch_code": "B001"}, {"partner_code": "G01-0002", "branch_code": "B003"}],
    IBO1: [{"partner_code": "G01-0007"}, {"partner_code": "G01-0001"}, {"partner_code": "G02-0003"},
           {"branch_code": "B001"}],
}


def customer_count() -> int:
    return sql("SELECT COUNT(*) FROM customer")[0][0]


@pytest.mark.parametrize("email", DEMO_EMAILS)
def test_create_routes(browsers, tokens, email):
    client, token = browsers[email], tokens[email]
    allowed = EDIT in ROLE_PERMISSIONS[email]
    assert client.get("/customers/new").status_code == (200 if allowed else 403)

    for owner in FOREIGN_OWNERS.get(email, []):
        before = customer_count()
        resp = client.post("/api/v1/customers", json={"name": "Foreign Owner", **owner}, headers=bearer(token))
        assert_error_shape("api.customer_create", resp, 422)
        assert set(resp.get_json()["fields"]) <= {"branch_code", "partner_code"}
        resp = client.post("/customers/new", data={"name": "Foreign Owner", **owner, "csrf_token": client.csrf})
        assert resp.status_code == 400
        assert 'class="error"' in resp.get_data(as_text=True)
        assert customer_count() == before, f"{email} created a customer for {owner}"

    if not allowed:
        before = customer_count()
        resp = client.post("/api/v1/customers", json={"name": "No Right", "branch_code": "B001"}, headers=bearer(token))
        assert_error_shape("api.customer_create", resp, 403)
        resp = client.post("/customers/new", data={"name": "No Right", "branch_code": "B001", "csrf_token": client.csrf})
        assert resp.status_code == 403
        assert customer_count() == before
        return

    resp = client.post("/api/v1/customers", json={"name": f"New by {email}", **OWN_OWNER[email]}, headers=bearer(token))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    api_id = resp.get_json()["id"]
    resp = client.post("/customers/new", data={"name": f"Form by {email}", **OWN_OWNER[email], "csrf_token": client.csrf})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    form_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    # The new customers are in the creator's scope — and only in the scopes the oracle says.
    for cid in (api_id, form_id):
        assert cid in scope_ids(email)
        assert client.get(f"/customers/{cid}").status_code == 200
        for other in (STORE1, STORE2, LEADER1, IBO1):
            if other != email:
                expected = 200 if cid in scope_ids(other) else 404
                assert browsers[other].get(f"/customers/{cid}").status_code == expected, other


# -- 5. /api/v1/me ---------------------------------------------------------------------------------


EXPECTED_ME = {
    ADMIN: (["Site Administrator"], []), HQ: (["HQ Staff"], []), REVIEWER: (["Reviewer"], []),
    STORE1: ([], [("Branch Staff", "B001")]), STORE2: ([], [("Branch Staff", "B002")]),
    LEADER1: ([], [("Group Leader", "G01")]), IBO1: ([], [("Distributor", "G01-0002")]),
}


@pytest.mark.parametrize("email", DEMO_EMAILS)
def test_api_me(browsers, tokens, email):
    resp = browsers[email].get("/api/v1/me", headers=bearer(tokens[email]))
    assert resp.status_code == 200
    body = resp.get_json()
    roles, local = EXPECTED_ME[email]
    assert body["email"] == email and body["roles"] == roles
    assert [(lr["role"], lr["on"].split()[0]) for lr in body["local_roles"]] == local
    assert "password_hash" not in body
    # A browser session alone does not authenticate the API.
    assert_error_shape("api.me", browsers[email].get("/api/v1/me"), 401)
