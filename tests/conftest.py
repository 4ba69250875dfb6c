"""Shared fixtures: apps on cloned databases, logged-in clients, API tokens.

The seeded data is the demo loader at a small scale (all demo accounts, 12 branches, 5 groups,
``SEED_CUSTOMERS`` customers), so tests exercise the same code ``make run`` does.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.dbs import BACKEND, TemplateDB

SEED_CUSTOMERS = 400
PASSWORD = "demo-pass-2026"
TEST_PLUGIN = "tests.sample_plugin"
DEMO_EMAILS = ["admin@example.com", "hq@example.com", "reviewer@example.com", "store1@example.com",
               "store2@example.com", "leader1@example.com", "ibo1@example.com"]


class IsolatedClient(FlaskClient):
    """Each request in a fresh ``contextvars`` context, so it gets its own app context, ``g``
    and database session — as in production — even while the test holds an app context."""

    def open(self, *args, **kwargs):
        from flask import has_app_context

        if has_app_context():
            # End the test's own transaction first: on SQLite it may hold the write lock.
            from portal.extensions import db

            db.session.commit()
        # Buffered: a streamed body (CSV export) is read inside the request's own context.
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_app(url: str, **extra):
    from portal import create_app

    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url,
        "PORTAL_PLUGINS": [TEST_PLUGIN],
        "SESSION_COOKIE_SECURE": False,
        "WTF_CSRF_SSL_STRICT": False,
    }
    config.update(extra)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Iterator[TemplateDB]:
    tmp = tmp_path_factory.mktemp("db")
    os.environ["PORTAL_INSTANCE_PATH"] = str(tmp / "instance")
    tpl = TemplateDB(tmp)
    app = make_app(tpl.url)
    with app.app_context():
        from portal.demo.loader import load_demo
        from portal.extensions import db
        from portal.migrations_support import upgrade_core

        upgrade_core()
        load_demo(customers=SEED_CUSTOMERS, lines_per_customer=6, echo=lambda _m: None, install_plugins=False)
        db.session.remove()
        db.engine.dispose()
    tpl.finish()
    yield tpl
    tpl.drop()


def _app_on_clone(template_db: TemplateDB, factory=None, **extra) -> Iterator:
    """An app (``factory(url, **extra)``, default :func:`make_app`) on its own copy of a template
    database (anything with ``clone() -> (url, drop)``), inside an app context; dropped afterwards."""
    url, drop = template_db.clone()
    app = (factory or make_app)(url, **extra)
    with app.app_context():
        yield app
        from portal.extensions import db

        db.session.remove()
        db.engine.dispose()
    drop()


@contextmanager
def empty_db_app(tmp: Path, revision: str | None = None, **extra) -> Iterator:
    """An app on a brand-new empty database, inside its app context, first upgraded to
    ``revision`` when one is given (a migration test fills the old schema, then upgrades on).
    The database is dropped afterwards, also when the test fails."""
    from portal.extensions import db
    from tests.dbs import fresh_empty_db

    url, drop = fresh_empty_db(tmp)
    try:
        app = make_app(url, **extra)
        with app.app_context():
            try:
                if revision is not None:
                    from flask_migrate import upgrade

                    upgrade(directory=app.extensions["migrate"].directory, revision=revision)
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()
    finally:
        drop()


@pytest.fixture
def empty_app(tmp_path):
    """An app on an empty database (no tables), for migration tests."""
    with empty_db_app(tmp_path) as app:
        yield app


@pytest.fixture
def app(template_db):
    """A fresh app on its own copy of the seeded database."""
    yield from _app_on_clone(template_db)


@pytest.fixture(scope="module")
def shared_app(template_db):
    """One app per test module, for read-mostly tests (access matrices)."""
    yield from _app_on_clone(template_db)


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, url: str = "/login") -> str:
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def login(client, email: str, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def post_form(client, url: str, data: dict, form_page: str | None = None):
    """POST with a valid CSRF token taken from ``form_page`` (default: the dashboard)."""
    token = csrf_token(client, form_page or "/dashboard")
    return client.post(url, data={**data, "csrf_token": token})


@pytest.fixture
def login_as(client):
    def _login(email: str):
        resp = login(client, email)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return client

    return _login


def sql(query: str, **params):
    """Run raw SQL in the test's session and commit (so requests see a settled database)."""
    from sqlalchemy import text

    from portal.extensions import db

    rows = db.session.execute(text(query), params).all()
    db.session.commit()
    return rows


def scalar(query: str, **params):
    return sql(query, **params)[0][0]


def api_token_for(email: str) -> str:
    from portal.auth.service import find_user
    from portal.auth.tokens import create_token
    from portal.extensions import db

    token, raw = create_token(find_user(email), "test")
    db.session.commit()
    return raw


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def pytest_report_header(config) -> str:
    return f"portal test database: {BACKEND}"


ROOT = Path(__file__).resolve().parent.parent
