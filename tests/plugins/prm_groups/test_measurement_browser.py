"""Real Chromium at 390 px: HQ reads a programme's results on a phone — verdict, interval chart and
arm table, no sideways scrolling, no script/CSP error or missing resource — and freezes an interim
result; leader1 sees the same figures without the button."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.prm_groups.test_measurement_api import _lift_programme


def _watch(page, errors: list[str]) -> None:
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(f"{msg.text} {msg.location.get('url')}")
            if msg.type == "error" and "favicon.ico" not in str(msg.location.get("url")) else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and "favicon.ico" not in r.url else None)


def _login(page, email: str) -> None:
    from tests.conftest import PASSWORD

    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.get_by_test_id("login-submit").click()


@pytest.mark.browser
def test_results_on_a_phone(app):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    from plugins.prm_groups.measurement.plan import freeze_plan
    from portal.toolkit import db
    from tests.live_server import serve

    p, _cat, _arms = _lift_programme()
    freeze_plan(p)
    db.session.commit()
    url = f"/prm/programmes/{p.id}/results"
    db.session.close()  # SQLite: no read transaction of the test may hold the lock the server writes under
    errors: list[str] = []
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            for email in ("hq@example.com", "leader1@example.com"):
                context = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844})
                page = context.new_page()
                _watch(page, errors)
                _login(page, email)
                page.goto(url)
                expect(page.get_by_test_id("results-verdict")).to_contain_text("유의한 증가")
                expect(page.get_by_test_id("chart-holdout")).to_contain_text("+20.0%p")
                expect(page.get_by_test_id("arm-table").locator("tr[data-arm=holdout]")).to_contain_text("10.0 %")
                width = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, width: innerWidth})")
                assert width["scroll"] <= width["width"], (email, width)
                if email == "hq@example.com":
                    with page.expect_navigation():
                        page.get_by_test_id("freeze-interim").click()
                    expect(page.locator("[data-testid=snapshot-row][data-kind=interim]")).to_have_count(1)
                else:
                    expect(page.get_by_test_id("freeze-interim")).to_have_count(0)
                context.close()
        finally:
            browser.close()
    assert errors == []
