"""SECURITY.md "Requests": security headers on every response — HTML pages, JSON API, error
pages, redirects and static files; HSTS only over https; no caching of personal data."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from tests.conftest import api_token_for, bearer, login, make_app

HTTPS = "https://localhost"


def _csp(resp) -> dict[str, list[str]]:
    header = resp.headers.get("Content-Security-Policy")
    assert header, (resp.request.path, resp.status_code)
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_security_headers(resp, *, https: bool = False) -> None:
    where = (resp.request.path, resp.status_code)
    csp = _csp(resp)
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("base-uri") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("default-src") == ["'self'"], where
    for directive in ("script-src", "style-src", "default-src"):
        for weak in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
            assert weak not in csp.get(directive, []), (where, directive, weak)
    assert "form-action" in csp, where
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    assert resp.headers.get("Referrer-Policy") in {"no-referrer", "same-origin", "strict-origin",
                                                   "strict-origin-when-cross-origin"}, where
    assert resp.headers.get("X-Frame-Options") == "DENY", where
    hsts = resp.headers.get("Strict-Transport-Security")
    if https:
        assert hsts, where
        max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))
        assert max_age >= 31536000, where
    else:
        assert hsts is None, where  # HSTS over plain http is meaningless (and breaks local dev)


def assert_no_store(resp) -> None:
    assert "no-store" in resp.headers.get("Cache-Control", ""), (resp.request.path, resp.headers)


def _customer_id() -> int:
    from portal.models import Customer

    return db.session.execute(select(func.min(Customer.id))).scalar_one()


def _admin_client(app):
    client = app.test_client()
    assert login(client, "admin@example.com").status_code == 302
    return client


@pytest.mark.parametrize("https", [False, True])
def test_headers_on_every_kind_of_response(shared_app, https):
    app = shared_app
    base = {"base_url": HTTPS} if https else {}
    client = app.test_client()
    anon = app.test_client()
    token = api_token_for("admin@example.com")
    responses = {
        "login page": anon.get("/login", **base),
        "redirect to login": anon.get("/dashboard", **base),
        "404 page": anon.get("/no/such/page", **base),
        "405 page": anon.get("/logout", **base),
        "400 csrf": anon.post("/logout", **base),
        "static css": anon.get("/static/css/portal.css", **base),
        "static js": anon.get("/static/js/portal.js", **base),
        "static 404": anon.get("/static/nope.js", **base),
        "healthz": anon.get("/healthz", **base),
        "api 401": anon.get("/api/v1/me", **base),
        "api 200": anon.get("/api/v1/me", headers=bearer(token), **base),
        "api 404": anon.get("/api/v1/customers/999999999", headers=bearer(token), **base),
        "api list": anon.get("/api/v1/customers", headers=bearer(token), **base),
        "api 422/400": anon.post("/api/v1/customers", json={"no_such_field": 1}, headers=bearer(token), **base),
    }
    token_html = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login", **base).get_data(as_text=True))
    responses["login post"] = client.post("/login", data={"email": "admin@example.com", "password": "demo-pass-2026",
                                                          "csrf_token": token_html.group(1)}, **base)
    assert responses["login post"].status_code == 302
    cid = _customer_id()
    responses.update({
        "dashboard": client.get("/dashboard", **base),
        "customer list": client.get("/customers/", **base),
        "customer detail": client.get(f"/customers/{cid}", **base),
        "customer edit": client.get(f"/customers/{cid}/edit", **base),
        "customer export": client.get("/customers/export.csv", buffered=True, **base),
        "manage users": client.get("/manage/users", **base),
        "html 404 logged in": client.get("/customers/999999999", **base),
    })
    expected = {"login page": 200, "redirect to login": 302, "404 page": 404, "405 page": 405, "400 csrf": 400,
                "static css": 200, "static js": 200, "static 404": 404, "api 401": 401, "api 200": 200,
                "api 404": 404, "api list": 200, "dashboard": 200, "customer list": 200, "customer detail": 200,
                "customer edit": 200, "customer export": 200, "manage users": 200, "html 404 logged in": 404}
    for name, resp in responses.items():
        if name in expected:
            assert resp.status_code == expected[name], (name, resp.status_code)
        assert_security_headers(resp, https=https)
        if not name.startswith("static"):
            assert_no_store(resp)
    for name in ("api 401", "api 200", "api 404", "api list", "api 422/400"):
        assert responses[name].mimetype == "application/json", name
    assert responses["404 page"].mimetype == "text/html"


def test_pages_with_personal_data_are_never_cached(shared_app):
    app = shared_app
    client = _admin_client(app)
    cid = _customer_id()
    for url in ("/customers/", f"/customers/{cid}", f"/customers/{cid}/edit", "/customers/export.csv"):
        resp = client.get(url, buffered=True)
        assert resp.status_code == 200, url
        assert_no_store(resp)
        assert "public" not in resp.headers.get("Cache-Control", "")
    api = app.test_client().get("/api/v1/customers", headers=bearer(api_token_for("admin@example.com")))
    assert api.status_code == 200
    assert_no_store(api)


def test_every_get_page_has_the_headers(shared_app):
    """Crawl every GET route (admin) — nothing slips past the after_request hook."""
    from tests.test_auth import _routes

    app = shared_app
    client = _admin_client(app)
    token = api_token_for("admin@example.com")
    seen = 0
    for rule, url in _routes(app, "GET"):
        headers = bearer(token) if rule.rule.startswith("/api/") else {}
        for base in ("http://localhost", HTTPS):
            resp = client.get(url, headers=headers, base_url=base, buffered=True)
            assert_security_headers(resp, https=base == HTTPS)
            assert_no_store(resp)
            seen += 1
    assert seen >= 30


def test_rendered_pages_need_no_inline_script_or_style(shared_app):
    """The CSP forbids inline code, so pages must not depend on it (or they break silently)."""
    from tests.test_auth import _routes

    app = shared_app
    client = _admin_client(app)
    checked = 0
    for rule, url in _routes(app, "GET"):
        if rule.rule.startswith("/api/"):
            continue
        resp = client.get(url, buffered=True)
        if resp.mimetype != "text/html":
            continue
        html = resp.get_data(as_text=True)
        checked += 1
        # External scripts and JSON data blocks only (data blocks are never executed).
        assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>", html, flags=re.I), url
        assert not re.search(r"<style\b", html, flags=re.I), url
        assert not re.search(r"\sstyle=\"", html, flags=re.I), url
        assert not re.search(r"\son[a-z]+=\"", html, flags=re.I), url
        assert "javascript:" not in html.lower(), url
    assert checked >= 10


def test_headers_on_a_500_error_page(app):
    """An unexpected exception still answers with the headers (HTML and JSON)."""
    prod = make_app(app.config["SQLALCHEMY_DATABASE_URI"], TESTING=False)

    def boom():
        raise RuntimeError("kaboom: secret detail")

    prod.add_url_rule("/boom-test", "boom_test", boom)
    prod.add_url_rule("/api/v1/boom-test", "api_boom_test", boom)
    client = prod.test_client()
    for url, mimetype in (("/boom-test", "text/html"), ("/api/v1/boom-test", "application/json")):
        resp = client.get(url)
        assert resp.status_code == 500
        assert resp.mimetype == mimetype
        assert "kaboom" not in resp.get_data(as_text=True)  # no internals leak
        assert_security_headers(resp)
        assert_no_store(resp)
        resp = client.get(url, base_url=HTTPS)
        assert_security_headers(resp, https=True)


def test_hsts_and_client_address_behind_a_trusted_proxy(app):
    """With PORTAL_PROXY_HOPS=1 the proxy's X-Forwarded-Proto/-For count; without it they don't."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    proxied = make_app(url, PORTAL_PROXY_HOPS=1)
    direct = make_app(url)
    fwd = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.23"}

    assert "Strict-Transport-Security" in proxied.test_client().get("/login", headers=fwd).headers
    assert "Strict-Transport-Security" not in direct.test_client().get("/login", headers=fwd).headers

    from portal.models import LoginFailure

    def failed_login(client, headers, email):
        page = client.get("/login", headers=headers).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        resp = client.post("/login", headers=headers,
                           data={"email": email, "password": "wrong-password-1", "csrf_token": token})
        assert resp.status_code == 401

    failed_login(proxied.test_client(), fwd, "nobody@example.com")
    # A client that forges the header on a direct connection does not choose its own address.
    failed_login(direct.test_client(), {"X-Forwarded-For": "203.0.113.99"}, "nobody2@example.com")
    db.session.commit()
    keys = set(db.session.execute(select(LoginFailure.key)).scalars())
    assert "ip:198.51.100.23" in keys
    assert "ip:203.0.113.99" not in keys
    assert "ip:127.0.0.1" in keys


def test_nul_bytes_answer_400_everywhere(app, client):
    from tests.conftest import login, post_form

    login(client, "admin@example.com")
    for url in ("/customers/?q=a%00b", "/org/?x=%00", "/manage/users?q=%00", "/manage/audit?action=%00"):
        assert client.get(url).status_code == 400, url
    resp = post_form(client, "/org/units/new", {"code": "B0\x0099", "name": "x", "kind": "branch", "parent_code": "R01"},
                     form_page="/org/units/new")
    assert resp.status_code == 400


def test_405_keeps_allow_header_in_html_and_json(client):
    html = client.put("/login")
    assert html.status_code == 405 and "GET" in html.headers["Allow"]
    api = client.delete("/api/v1/me")
    assert api.status_code in (401, 405)
    api = client.put("/api/v1/customers")
    if api.status_code == 405:
        assert api.is_json and "GET" in api.headers["Allow"]
