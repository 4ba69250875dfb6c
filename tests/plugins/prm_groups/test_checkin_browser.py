"""The check-in page in a real Chromium at phone size (390 × 844, Korean): branch staff open
today's session, check a ticket in by its link (what a phone's QR scanner types), see the
refusal for a second scan and mark a registrant — no horizontal scrolling, no CSP violation.
A screenshot goes to ``test-artifacts/prm_checkin_phone.png``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import PASSWORD
from tests.plugins.prm_groups.checkin_fixtures import make_series
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"),
]


def test_checkin_on_a_phone(app):
    from playwright.sync_api import expect, sync_playwright

    from portal.extensions import db
    from portal.toolkit import utcnow
    from tests.live_server import serve

    now = utcnow()
    s = make_series(starts=[now - timedelta(minutes=30)], venue="B001", customers=6)
    title, token, name = s.sessions[0].title, s.registrations[0][0].checkin_token, s.customers[0].name
    other = s.registrations[0][1].id
    db.session.commit()
    db.session.close()
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844},
                                          is_mobile=True, has_touch=True)
            context.set_default_timeout(20_000)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda msg: problems.append(msg.text)
                    if msg.type == "error" and "Content Security Policy" in msg.text else None)
            page.goto("/login")
            page.fill("input[name=email]", "store1@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.get_by_test_id("login-submit").click()
            page.goto("/prm/checkin/")
            page.get_by_role("link", name=title).click()
            expect(page.get_by_test_id("session-title")).to_have_text(title)
            page.get_by_test_id("token-input").fill(f"{base}/prm/checkin/t/{token}")
            page.get_by_test_id("checkin-button").click()
            expect(page.locator(".flash-success")).to_contain_text(name[0])  # masked when of another branch
            expect(page.get_by_test_id("count-attended")).to_have_text("1")
            page.get_by_test_id("token-input").fill(token)
            page.get_by_test_id("checkin-button").click()
            expect(page.get_by_test_id("checkin-error")).to_contain_text("이미")
            expect(page.get_by_test_id("checkin-error")).to_contain_text("체크인되었습니다")
            row = page.locator(f"#reg-{other}")
            row.get_by_test_id("mark-no_show").click()
            expect(page.locator(f"#reg-{other}")).to_have_attribute("data-attendance", "no_show")
            overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"the page scrolls sideways by {overflow}px at 390px"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "prm_checkin_phone.png"), full_page=True)
            assert problems == []
        finally:
            browser.close()
