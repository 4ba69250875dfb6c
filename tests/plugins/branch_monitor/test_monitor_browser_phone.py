"""The monitor pages in a real browser on a 390 px phone: no console error (the CSP refuses any
inline style or script, which would show up here), no sideways scroll of the page, the funnel plot
and charts drawn — HQ's monitor and a scorecard, store1's own scorecard; Korean and English."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"),
]

SHOTS = None  # set to a folder path to keep screenshots while working on the pages


def _page(browser, base: str, email: str, lang: str, problems: list[str]):
    from playwright.sync_api import expect

    ctx = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844},
                              is_mobile=True, has_touch=True)
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(f"{msg.text} {msg.location.get('url')}")
            if msg.type == "error" and "favicon.ico" not in str(msg.location.get("url")) else None)
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


def _fits(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_monitor_pages_on_a_phone(app, lang):
    from playwright.sync_api import expect, sync_playwright

    from portal.toolkit import db
    from tests.live_server import serve
    from tests.plugins.branch_monitor.monitor_fixtures import BRANCHES, put_alert, put_state, seed_kpis

    seed_kpis()
    put_state("B004", "at_risk_contact_rate", "alarm")
    put_alert("B004", "at_risk_contact_rate", "alarm")
    db.session.close()
    problems: list[str] = []
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx, page = _page(browser, base, "hq@example.com", lang, problems)
            page.goto("/monitor/?month=2026-03")
            expect(page.get_by_test_id("funnel-plot")).to_be_visible()
            expect(page.get_by_test_id("funnel-point")).to_have_count(12)
            expect(page.get_by_test_id("branch-row").first).to_have_attribute("data-branch", "B004")
            _fits(page, f"monitor-{lang}")
            with page.expect_navigation():
                page.get_by_test_id("branch-row").first.get_by_role("link").first.click()
            expect(page.get_by_test_id("open-alert")).to_have_count(1)
            expect(page.get_by_test_id("ack-form")).to_be_visible()
            _fits(page, f"scorecard-{lang}")
            ctx.close()

            ctx, page = _page(browser, base, "store1@example.com", lang, problems)
            page.goto("/monitor/my?month=2026-03")
            expect(page.get_by_test_id("percentile-bands").first).to_be_visible()
            html = page.content()
            assert not [c for c, n in BRANCHES.items() if c != "B001" and (c in html or n in html)]
            _fits(page, f"mine-{lang}")
            ctx.close()
        finally:
            browser.close()
    assert not problems, problems
