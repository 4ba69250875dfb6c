"""The portal's main pages for each demo role, on a database with the demo data *and* the
loyalty add-on's demo (points, tiers, family cards, an approval waiting) — what a person walking
through the portal sees. Shared by the layout test (Chromium at phone and desktop widths) and the
Korean UI test (every page's visible text in Korean).

A test module makes its app with :func:`loyalty_demo_app` (one per module: it installs the
add-on's demo) and lists a role's pages with :func:`main_pages` and a logged-in test client.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from tests.conftest import DEMO_EMAILS, login

PLUGINS = ["loyalty"]
ROLES = DEMO_EMAILS  # admin, hq, reviewer, store staff ×2, partner leader, distributor (IBO)

# Pages not (all) in the sidebar; each role gets the ones it may open (403/404 are skipped).
EXTRA_PAGES = [
    "/dashboard", "/customers/", "/customers/new", "/sales/reports", "/sales/board", "/sales/lines",
    "/sales/upload", "/quality/fix", "/quality/duplicates", "/analytics/", "/analytics/segments",
    "/analytics/segments/new", "/analytics/extractions", "/analytics/extractions/new", "/org/",
    "/loyalty/", "/loyalty/approvals", "/loyalty/programme", "/loyalty/reports/tiers",
    "/loyalty/reports/expiring", "/manage/users", "/manage/users/new", "/manage/addons",
    "/manage/addons/loyalty/settings", "/manage/audit", "/manage/audit?log=access", "/account/password",
]
HREF = re.compile(r'href="([^"#]+)"')


def ui_app_factory(url: str, **extra):
    from tests.conftest import make_app

    return make_app(url, PORTAL_PLUGINS=PLUGINS, **extra)


def loyalty_demo_app(template_db) -> Iterator:
    """The portal with the loyalty add-on installed with its demo data, on its own clone of
    the seeded template (a generator: ``yield from`` it in a module-scoped fixture)."""
    url, drop = template_db.clone()
    app = ui_app_factory(url)
    try:
        with app.app_context():
            from portal.extensions import db
            from portal.plugins_lifecycle import install

            install("loyalty", profile="demo")
            db.session.remove()
        yield app
    finally:
        with app.app_context():
            from portal.extensions import db

            db.session.remove()
            db.engine.dispose()
        drop()


def logged_in(app, email: str):
    client = app.test_client()
    resp = login(client, email)
    assert resp.status_code == 302, f"{email} cannot log in"
    return client


def _hrefs(text: str, pattern: str) -> list[str]:
    rx = re.compile(pattern)
    out: list[str] = []
    for href in HREF.findall(text):
        href = html.unescape(href)
        if rx.fullmatch(href) and href not in out:
            out.append(href)
    return out


def _sidebar(text: str) -> list[str]:
    match = re.search(r'<nav class="sidebar".*?</nav>', text, re.S)
    assert match, "no sidebar"
    return _hrefs(match.group(0), r"/.*")


def _richest_customer(app, customer_urls: list[str]) -> str | None:
    """Of the customers on a role's list, the one with the longest points statement (and a
    family card if any): the points tab with the most to show."""
    ids = [int(u.rstrip("/").rsplit("/", 1)[1]) for u in customer_urls]
    if not ids:
        return None
    from sqlalchemy import func, select

    from plugins.loyalty.models import LoyAccount, LoyEntry
    from portal.extensions import db
    from portal.models import Customer

    with app.app_context():
        row = db.session.execute(
            select(Customer.id).outerjoin(LoyAccount, LoyAccount.customer_id == Customer.id)
            .outerjoin(LoyEntry, LoyEntry.account_id == LoyAccount.id)
            .where(Customer.id.in_(ids)).group_by(Customer.id)
            .order_by((Customer.household_id.is_(None)).asc(), func.count(LoyEntry.id).desc(), Customer.id)
            .limit(1)).scalar_one_or_none()
        db.session.remove()
    return f"/customers/{row}" if row else None


def main_pages(app, client) -> list[str]:
    """A logged-in role's main pages: its sidebar, the pages above it may open, a customer with
    every tab (the one with the most points), that customer's points actions and family card, a
    daily report, an organisation unit and a user — each answering 200 to this role."""
    ok: list[str] = []
    seen: set[str] = set()

    def visit(url: str, must: bool = False) -> str | None:
        if url in seen:
            return None
        seen.add(url)
        resp = client.get(url)
        if must:
            assert resp.status_code == 200, f"{url}: {resp.status_code}"
        if resp.status_code != 200 or not resp.content_type.startswith("text/html"):
            return None
        ok.append(url)
        return resp.get_data(as_text=True)

    dashboard = visit("/dashboard", must=True)
    for url in _sidebar(dashboard):
        visit(url, must=True)
    pages = {url: visit(url) for url in EXTRA_PAGES}
    customers = pages.get("/customers/") or client.get("/customers/").get_data(as_text=True)
    customer = _richest_customer(app, _hrefs(customers, r"/customers/\d+"))
    if customer and (detail := visit(customer)):
        for tab in _hrefs(detail, r"/customers/\d+\?tab=\w+"):
            text = visit(tab)
            if text and tab.endswith("tab=points"):
                for url in _hrefs(text, r"/loyalty/(customers/\d+/(redeem|adjust)|family/\d+)"):
                    visit(url)
        for url in _hrefs(detail, r"/customers/\d+/edit"):
            visit(url)
    if reports := client.get("/sales/reports").get_data(as_text=True):
        for url in _hrefs(reports, r"/sales/reports/\d+")[:1]:
            visit(url)
    for source, pattern, n in (("/org/", r"/org/units/\d+", 3), ("/org/", r"/org/(groups|partners)/\d+", 2),
                               ("/manage/users", r"/manage/users/\d+", 1),
                               ("/analytics/extractions", r"/analytics/extractions/\d+", 1),
                               ("/analytics/segments", r"/analytics/segments/\d+", 1)):
        if text := pages.get(source):
            for url in _hrefs(text, pattern)[:n]:  # the first units: head office, a region, a branch
                visit(url)
    return ok
