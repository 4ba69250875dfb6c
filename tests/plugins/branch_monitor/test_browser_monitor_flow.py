"""The issue's end-to-end flow in a real Chromium against the live server, on the demo seed (scores,
then ``seed("demo")``: every branch's staff called most of their at-risk customers, one branch
almost none):

- hq@ (a 390 px phone) opens the monitor, sees that branch **in alarm for the at-risk contact rate
  on the funnel plot**, opens its scorecard from the plot, acknowledges the alert with a note; the
  alert leaves the scorecard's open alerts for its "recently acknowledged" list, with the note, and
  is listed acknowledged on the alerts page (and in the database, by hq@);
- store1@ (B001, a phone) opens its own scorecard: its KPIs with percentile bands, and **no other
  branch's name or code** anywhere in the page.

Run once in Korean and once in English (each user switches with the app's language buttons); any
console message fails it. Nothing depends on the time of day: the seed's dates follow the demo's
last sales day and the pages show its month.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"),
]

METRIC = "at_risk_contact_rate"
NOTE = "지점장과 통화: 이번 주 안에 이탈 위험 고객 전원에게 안부 전화하기로 함"


def _watch(page, problems: list[str]) -> None:
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(f"{msg.type}: {msg.text} {msg.location.get('url')}")
            if "favicon.ico" not in str(msg.location.get("url")) else None)
    page.on("dialog", lambda dialog: dialog.accept())


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


def _user(browser, base: str, email: str, lang: str, problems: list[str]):
    """A logged-in phone (390 px) for ``email``; in English after clicking the language button."""
    from playwright.sync_api import expect

    ctx = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844},
                              is_mobile=True, has_touch=True)
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    _watch(page, problems)
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.get_by_test_id("login-submit").click()
    if lang == "en":
        with page.expect_navigation():
            page.get_by_test_id("lang-en").first.click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    return ctx, page


def _texts(lang: str) -> dict[str, str]:
    """The page's words in ``lang`` from the catalogs (a missing Korean translation fails below)."""
    from flask_babel import force_locale, gettext

    from plugins.branch_monitor.kpis.service import METRICS

    with force_locale(lang):
        out = {"metric": str(METRICS[METRIC]["label"]), "alarm": gettext("Alarm"),
               "acknowledged": gettext("Alert acknowledged."), "ack_badge": gettext("Acknowledged")}
    if lang == "ko":
        with force_locale("en"):
            english = {"metric": str(METRICS[METRIC]["label"]), "alarm": gettext("Alarm")}
        assert all(out[k] != english[k] for k in english), out
    return out


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_hq_acknowledges_the_funnel_alarm_and_store1_sees_only_its_own_branch(app, lang):
    from playwright.sync_api import expect, sync_playwright
    from sqlalchemy import select

    from plugins.branch_monitor.models import ALARM, MonAlert
    from portal.toolkit import OrgUnit, User, db
    from tests.live_server import serve
    from tests.plugins.branch_monitor.seed_fixtures import run_demo_seed

    done = run_demo_seed()
    code = done["calls"]["alarm_branch"]
    branches = {c: n for c, n in db.session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.kind == "branch"))}
    name = branches[code]
    alert = db.session.execute(select(MonAlert).join(OrgUnit, OrgUnit.id == MonAlert.branch_id).where(
        OrgUnit.code == code, MonAlert.metric == METRIC, MonAlert.to_state == ALARM)).scalar_one()
    alert_id = alert.id
    hq_id = db.session.execute(select(User.id).where(User.email == "hq@example.com")).scalar_one()
    text = _texts(lang)
    db.session.close()  # SQLite: no read transaction of the test may hold the lock the server writes under
    problems: list[str] = []
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # -- hq@: the monitor's funnel plot shows the branch in alarm ---------------------------
            ctx, page = _user(browser, base, "hq@example.com", lang, problems)
            page.goto("/monitor/")
            plot = page.get_by_test_id("funnel-plot")
            expect(plot).to_have_attribute("data-metric", METRIC)
            expect(page.locator("#bm-funnel-title")).to_contain_text(text["metric"])
            alarmed = plot.locator("[data-testid=funnel-point][data-state=alarm]")
            expect(alarmed).to_have_count(1)
            expect(alarmed).to_have_attribute("data-branch", code)
            expect(alarmed.locator("title")).to_contain_text(name)
            expect(alarmed.locator("title")).to_contain_text(text["alarm"])
            row = page.locator(f"[data-testid=branch-row][data-branch={code}]")
            expect(row).to_have_attribute("data-state", ALARM)
            expect(row).to_contain_text(text["alarm"])
            _no_sideways_scroll(page)

            # -- its scorecard, opened from the plot; the alert acknowledged with a note ----------
            with page.expect_navigation():
                alarmed.click()
            assert re.search(rf"/monitor/branches/{code}(\?|$)", page.url), page.url
            expect(page.get_by_test_id("scorecard-title")).to_contain_text(f"{code} {name}")
            kpi = page.locator(f"[data-testid=kpi][data-metric={METRIC}]")
            expect(kpi).to_contain_text(text["alarm"])
            item = page.locator(f"[data-testid=open-alert][data-alert='{alert_id}']")
            expect(item).to_have_attribute("data-metric", METRIC)
            expect(item).to_contain_text(text["metric"])
            _no_sideways_scroll(page)
            item.get_by_test_id("ack-note").fill(NOTE)
            with page.expect_navigation():
                item.get_by_test_id("ack-submit").click()
            assert re.search(rf"/monitor/branches/{code}(\?|$)", page.url), page.url
            expect(page.locator(".flash")).to_contain_text(text["acknowledged"])
            expect(page.locator(f"[data-testid=open-alert][data-alert='{alert_id}']")).to_have_count(0)
            shown = page.locator(f"[data-testid=acked-alert][data-alert='{alert_id}']")
            expect(shown).to_contain_text(text["ack_badge"])
            expect(shown).to_contain_text(NOTE)
            _no_sideways_scroll(page)

            # -- shown acknowledged, with its note, on the alerts page ----------------------------
            page.goto("/monitor/alerts/?state=acknowledged")
            acked = page.locator(f"[data-testid=bm-alert-row][data-alert='{alert_id}']")
            expect(acked).to_have_attribute("data-branch", code)
            expect(acked).to_contain_text(text["ack_badge"])
            expect(acked).to_contain_text(NOTE)
            _no_sideways_scroll(page)
            ctx.close()

            # -- store1@: its own scorecard, no other branch named ----------------------------------
            ctx, page = _user(browser, base, "store1@example.com", lang, problems)
            page.goto("/monitor/my")
            expect(page.get_by_test_id("scorecard-title")).to_contain_text(f"B001 {branches['B001']}")
            expect(page.get_by_test_id("kpi").first).to_be_visible()
            expect(page.get_by_test_id("percentile-bands").first).to_be_visible()
            expect(page.get_by_test_id("funnel-plot")).to_have_count(0)
            _no_sideways_scroll(page)
            html = page.content()
            leaked = [f"{c} {n}" for c, n in branches.items() if c != "B001" and (c in html or n in html)]
            assert not leaked, f"store1's scorecard names other branches: {leaked}"
            ctx.close()
        finally:
            browser.close()
    assert problems == []
    db.session.expire_all()
    acked_row = db.session.get(MonAlert, alert_id)
    assert acked_row.ack_at is not None and acked_row.ack_note == NOTE and acked_row.ack_by_id == hq_id
