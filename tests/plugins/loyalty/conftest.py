"""Loyalty fixtures: a per-worker template with the add-on installed, cloned for every test.

Installing runs the plugin's migrations and default seed once per worker; each test then gets its
own copy (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so tests can
run gunicorn, several connections, uninstall with purge … without stepping on each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from tests import dbs
from tests.conftest import _app_on_clone, make_app

PLUGINS = ["loyalty"]
TODAY = date.today()
# The demo's sales run up to yesterday; the earning tests import their own reports from this day
# on (``test_earning.DAY``), so the loyalty template keeps no demo sales from it onwards: imports
# for those days are never refused as duplicates, and catch-ups see only the tests' own lines.
SALES_FROM = date(2026, 11, 1)


SALE_DAY = "2026-11-05"  # the earning tests' report day (inside the tier window and not expired)


def row(**fields) -> str:
    """A report row (``tests.test_sales_import.row``) dated :data:`SALE_DAY` unless told."""
    from tests.test_sales_import import row as import_row

    return import_row(**{"day": SALE_DAY, **fields})


def _end_demo_sales_before(day: date) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(text("DELETE FROM sale_line WHERE sold_at >= :d"), {"d": day})
    db.session.execute(text("DELETE FROM sales_report WHERE report_date >= :d"), {"d": day})
    db.session.commit()


def loyalty_app(url: str, **extra):
    return make_app(url, PORTAL_PLUGINS=PLUGINS, **extra)


@pytest.fixture(scope="session")
def loyalty_template(template_db, tmp_path_factory) -> Iterator[dbs.AddonTemplate]:
    """The core's seeded template plus the loyalty add-on installed (demo sales cut before
    SALES_FROM); cloned like the core's."""
    tpl = dbs.AddonTemplate(template_db, tmp_path_factory.mktemp("loyalty"), loyalty_app, "loyalty",
                            prepare=lambda: _end_demo_sales_before(SALES_FROM))
    yield tpl
    tpl.drop()


def _app_on(tpl: dbs.AddonTemplate, **extra) -> Iterator:
    yield from _app_on_clone(tpl, factory=loyalty_app, **extra)


@pytest.fixture
def app(loyalty_template):
    """The portal with the loyalty add-on installed (default programme), on a fresh database."""
    yield from _app_on(loyalty_template)


@pytest.fixture(scope="module")
def shared_app(loyalty_template):
    yield from _app_on(loyalty_template)


@pytest.fixture
def bare_app(template_db):
    """The portal with the loyalty add-on available but not installed."""
    url, drop = template_db.clone()
    app = loyalty_app(url)
    with app.app_context():
        _end_demo_sales_before(SALES_FROM)
        yield app
        from portal.extensions import db

        db.session.remove()
        db.engine.dispose()
    drop()


def customer(cid: int):
    from portal.extensions import db
    from portal.models import Customer

    return db.session.get(Customer, cid)


def user(email: str):
    from portal.auth.service import find_user

    return find_user(email)


def balance(cid: int) -> int:
    from plugins.loyalty.summary import account_of

    _m, acct = account_of(customer(cid))
    return int(acct.balance) if acct else 0


def assert_ledger_ok() -> None:
    from plugins.loyalty.ledger import check

    assert check() == []
