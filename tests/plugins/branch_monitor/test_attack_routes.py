"""Hostile tester on every branch_monitor route (pages and API, from the app's URL map) for every
demo role, an HQ Staff member local on R01, an R02 branch user and an anonymous visitor:

* junk ids, codes and query strings never answer a 500, and an API error is JSON;
* a branch outside the caller's scope answers exactly like a missing one (404), never a 403 that
  reveals it exists: R01's HQ on an R02 branch, store1 on B002 (BM-10);
* anonymous visitors go to the login page (pages) or get a 401 (API);
* no page or API answer shown to store1 names another branch (BM-10: percentile bands only)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token
from tests.plugins.branch_monitor.attack_fixtures import (
    JUNK_IDS,
    JUNK_QUERIES,
    ROLES,
    bm_routes,
    client_of,
    fill,
    headers,
    text_of,
)


def _call(client, method: str, url: str, hdrs: dict, token: str | None):
    if url.startswith("/api/"):
        return client.open(url, method=method, json={} if method in ("POST", "PUT", "PATCH", "DELETE") else None,
                           headers=hdrs)
    data = {"csrf_token": token} if token and method == "POST" else None
    return client.open(url, method=method, data=data)


def test_the_add_on_has_pages_and_an_api(app):
    rules = {r[0] for r in bm_routes(app)}
    assert "/api/v1/monitor/branches" in rules
    assert "/api/v1/monitor/compliance" in rules
    assert any(r.startswith("/monitor/branches/<") for r in rules)


@pytest.mark.parametrize("who", ROLES)
def test_every_route_with_junk_ids_is_never_a_500(app, who):
    client = client_of(app, who)
    hdrs = headers(app, who)
    token = None if who == "anonymous" else csrf_token(client, "/dashboard")
    failures = []
    for rule, methods, _endpoint in (r for r in bm_routes(app) if "<" in r[0]):
        for bad in JUNK_IDS:
            url = fill(rule, bad)
            for method in sorted(methods):
                resp = _call(client, method, url, hdrs, token)
                code = resp.status_code
                if who == "anonymous":  # (a page POST meets the CSRF check first: 400)
                    ok = code in (302, 400, 404) if not url.startswith("/api/") else code in (401, 404)
                else:  # 403: the role lacks the route's permission whatever the id
                    ok = code in (403, 404, 422)
                if not ok:
                    failures.append((who, method, url, code))
                if url.startswith("/api/") and code >= 400 and not resp.is_json:
                    failures.append((who, method, url, code, "not JSON"))
    assert not failures, failures


@pytest.mark.parametrize("who", ROLES)
def test_every_list_with_junk_query_strings_is_never_a_500(app, who):
    client = client_of(app, who)
    hdrs = headers(app, who)
    failures = []
    for rule, _methods, endpoint in (r for r in bm_routes(app) if "<" not in r[0] and "GET" in r[1]):
        for query in JUNK_QUERIES:
            url = f"{rule}?{query}"
            resp = client.get(url, headers=hdrs) if rule.startswith("/api/") else client.get(url)
            if resp.status_code >= 500 or (who == "anonymous" and resp.status_code == 200):
                failures.append((who, url[:120], endpoint, resp.status_code))
            if rule.startswith("/api/") and resp.status_code >= 400 and not resp.is_json:
                failures.append((who, url[:120], endpoint, resp.status_code, "not JSON"))
    assert not failures, failures


def _branch_routes(app):
    """GET routes that take one branch code."""
    return [r for r in bm_routes(app) if "GET" in r[1] and len(re.findall(r"<", r[0])) == 1
            and ("code" in r[0] or "branch" in r[0])]


@pytest.mark.parametrize(("who", "outside", "inside"), [("hq_r01", "B005", "B001"), ("store1", "B002", "B001")])
def test_a_branch_out_of_scope_answers_like_a_missing_one(app, who, outside, inside):
    """BM-10: R01's HQ opening an R02 branch, store1 opening B002: 404 like an unknown code."""
    client = client_of(app, who)
    hdrs = headers(app, who)
    routes = _branch_routes(app)
    assert routes, "no branch routes"
    failures = []
    for rule, _methods, _endpoint in routes:
        api = rule.startswith("/api/")
        get = (lambda u: client.get(u, headers=hdrs)) if api else client.get
        missing, out = get(fill(rule, "B999")), get(fill(rule, outside))
        if out.status_code not in (403, 404) or (out.status_code == 403 and missing.status_code != 403):
            failures.append((rule, outside, out.status_code, missing.status_code))
        if out.status_code == 404 and missing.status_code == 404 and api:
            if out.get_json() != missing.get_json():
                failures.append((rule, "the 404 bodies differ", out.get_json(), missing.get_json()))
    assert not failures, failures


def test_store1_never_sees_another_branch_named(app):
    """BM-10: every GET page and API answer store1 may open (own branch filled in) names no other branch."""
    from portal.toolkit import OrgUnit, db

    others = db.session.execute(select(OrgUnit.code, OrgUnit.name).where(
        OrgUnit.kind == "branch", OrgUnit.code != "B001")).all()
    client = client_of(app, "store1")
    hdrs = headers(app, "store1")
    seen = 0
    leaks = []
    for rule, methods, _endpoint in bm_routes(app):
        if "GET" not in methods or rule.count("<") > 1:
            continue
        url = fill(rule, "B001")
        resp = client.get(url, headers=hdrs) if url.startswith("/api/") else client.get(url)
        if resp.status_code != 200 or not (resp.is_json or resp.mimetype == "text/html"):
            continue
        seen += 1
        text = text_of(resp)
        for code, name in others:
            if name in text or f'"{code}"' in text or f">{code}<" in text or f"/{code}" in text:
                leaks.append((url, code, name))
    assert seen >= 2, "store1 could open too few monitoring pages to check"
    assert not leaks, leaks
