"""Every unhandled exception is logged, with its traceback and a request id that the error page
shows, the JSON error body carries and the ``X-Request-ID`` header names (SECURITY.md, 16.3.4)."""

from __future__ import annotations

import logging
import re

import pytest
from werkzeug.exceptions import ServiceUnavailable

from tests.conftest import login, make_app

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def prod(app):
    """The app as production runs it: exceptions answered with a 500 page, not propagated."""
    prod = make_app(app.config["SQLALCHEMY_DATABASE_URI"], TESTING=False)

    def boom():
        raise RuntimeError("kaboom: secret detail")

    def unavailable():
        raise ServiceUnavailable()

    for url, endpoint, view in (("/boom-test", "boom_test", boom), ("/api/v1/boom-test", "api_boom_test", boom),
                                ("/unavailable-test", "unavailable_test", unavailable)):
        prod.add_url_rule(url, endpoint, view)
    return prod


def _logged(caplog, rid: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if rid in r.getMessage()]


def test_an_unhandled_exception_is_logged_with_the_id_the_page_shows(prod, caplog):
    client = prod.test_client()
    with caplog.at_level(logging.ERROR):
        resp = client.get("/boom-test")
    assert resp.status_code == 500
    rid = resp.headers["X-Request-ID"]
    assert HEX_ID.fullmatch(rid)
    page = resp.get_data(as_text=True)
    assert rid in page and 'data-testid="request-id"' in page
    assert "kaboom" not in page
    (record,) = _logged(caplog, rid)
    assert record.exc_info and record.exc_info[0] is RuntimeError  # the traceback is in the log
    assert "/boom-test" in record.getMessage()


def test_the_json_error_body_carries_the_request_id(prod, caplog):
    with caplog.at_level(logging.ERROR):
        resp = prod.test_client().get("/api/v1/boom-test")
    assert resp.status_code == 500
    body = resp.get_json()
    assert body["error"] == "internal_error"
    assert body["request_id"] == resp.headers["X-Request-ID"]
    assert _logged(caplog, body["request_id"])


def test_a_sane_incoming_request_id_is_kept_and_an_unsafe_one_replaced(prod, caplog):
    client = prod.test_client()
    with caplog.at_level(logging.ERROR):
        resp = client.get("/boom-test", headers={"X-Request-ID": "edge-7f3a9c01:42"})
    assert resp.headers["X-Request-ID"] == "edge-7f3a9c01:42"
    assert "edge-7f3a9c01:42" in resp.get_data(as_text=True)
    assert _logged(caplog, "edge-7f3a9c01:42")
    for bad in ("short", "x" * 129, "id with spaces 123", "evil;log=line-0001", "<script>alert(1)</script>"):
        resp = client.get("/login", headers={"X-Request-ID": bad})
        assert resp.status_code == 200
        assert HEX_ID.fullmatch(resp.headers["X-Request-ID"]), bad


def test_every_response_has_a_request_id_and_ids_differ(app, client):
    login(client, "hq@example.com")
    ids = {client.get(url).headers["X-Request-ID"] for url in ("/dashboard", "/customers/", "/nowhere", "/login")}
    assert len(ids) == 4
    assert all(HEX_ID.fullmatch(i) for i in ids)


def test_http_errors_show_the_id_and_a_5xx_is_logged_too(prod, caplog):
    client = prod.test_client()
    resp = client.get("/nowhere")
    assert resp.status_code == 404 and resp.headers["X-Request-ID"] in resp.get_data(as_text=True)
    resp = client.get("/api/v1/nowhere")
    assert resp.status_code == 404 and resp.get_json()["request_id"] == resp.headers["X-Request-ID"]
    with caplog.at_level(logging.ERROR):
        resp = client.get("/unavailable-test")
    assert resp.status_code == 503
    assert _logged(caplog, resp.headers["X-Request-ID"])


def test_the_error_page_is_translated(prod, caplog):
    client = prod.test_client()
    with caplog.at_level(logging.ERROR):
        resp = client.get("/boom-test", headers={"Accept-Language": "ko"})
    page = resp.get_data(as_text=True)
    assert "문의" in page and "Reference for support" not in page


def test_when_the_error_page_itself_fails_a_plain_page_still_shows_the_id(prod, caplog, monkeypatch):
    """The error page needs the database (menu, user): when that is what failed, a static page."""
    import portal.web

    def broken_render(*_args, **_kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(portal.web, "render_template", broken_render)
    with caplog.at_level(logging.ERROR):
        resp = prod.test_client().get("/boom-test")
    assert resp.status_code == 500 and resp.mimetype == "text/html"
    rid = resp.headers["X-Request-ID"]
    page = resp.get_data(as_text=True)
    assert rid in page and "database is down" not in page and "kaboom" not in page
    assert len(_logged(caplog, rid)) == 2  # the exception, and the error page's own failure
