"""Real Chromium at 390 px: HQ reads the radar on a phone — the alarm gap with its "create
programme" link, the heat-map (scrolling inside its frame), the funnel chart — with no sideways
scrolling of the page and no script/CSP error or missing resource."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.plugins.prm_groups.radar_fixtures import build_groups
from tests.plugins.prm_groups.test_measurement_browser import _login, _watch


@pytest.mark.browser
def test_radar_on_a_phone(app):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    from portal.toolkit import db
    from tests.live_server import serve

    build_groups({"RB1": (1000, 100), "RB2": (1000, 200), "RB3": (1000, 200), "RB4": (1000, 200),
                  "RB5": (1000, 200), "RT": (25, 2)})
    db.session.close()
    errors: list[str] = []
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844})
            page = context.new_page()
            _watch(page, errors)
            _login(page, "hq@example.com")
            page.goto("/prm/radar/?end=2026-11-30&months=12&category=health")
            gap = page.locator("[data-testid=radar-gap][data-group=RB1][data-category=health]")
            expect(gap).to_contain_text("경보")
            expect(gap.get_by_test_id("create-programme")).to_have_attribute("href", "/prm/programmes/new?group=RB1&category=health")
            expect(page.locator("tr[data-group=RB1] td[data-category=health]")).to_have_attribute("data-flag", "alarm")
            expect(page.locator("tr[data-group=RT] td[data-category=health]")).to_contain_text("데이터 부족")
            expect(page.get_by_test_id("radar-funnel").locator("circle[data-group=RB1]")).to_have_count(1)
            if os.environ.get("RADAR_SCREENSHOT"):
                page.screenshot(path=os.environ["RADAR_SCREENSHOT"], full_page=True)
            width = page.evaluate("""() => ({scroll: document.documentElement.scrollWidth, width: innerWidth,
                wide: [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1
                      && !e.closest('.table-wrap')).slice(0, 5).map(e => e.tagName + '.' + e.className)})""")
            assert width["scroll"] <= width["width"], width
            context.close()
        finally:
            browser.close()
    assert errors == []
