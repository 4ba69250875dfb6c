"""The inbox pages on a 390 px phone and a 1366 px laptop in a real Chromium: nothing wider than
the window, long texts wrap, the header badge stays visible (like tests/test_layout.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import User
from portal.notify import notify
from tests.conftest import PASSWORD
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_layout import LAPTOP, MEASURE, PHONE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


def test_inbox_pages_fit_a_phone(app, monkeypatch):
    from playwright.sync_api import sync_playwright

    from portal import messaging
    from tests.live_server import serve

    monkeypatch.setattr(messaging, "queue_message", lambda **kw: None, raising=False)
    store1 = db.session.execute(select(User).where(User.email == "store1@example.com")).scalar_one()
    long_word = "https://example.com/" + "x" * 150
    for i in range(4):
        notify([store1], "portal.notice", store1.local_roles[0].org_unit,
               f"지점 일일 보고서가 도착하지 않았습니다 ({i}). 확인 후 업로드해 주세요. {long_word}")
    db.session.commit()
    with serve(app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(base_url=url, locale="ko-KR", viewport=PHONE).new_page()
            page.goto("/login")
            page.fill("input[name=email]", "store1@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.get_by_test_id("login-submit").click()
            page.wait_for_url("**/dashboard")
            assert page.get_by_test_id("unread-badge").inner_text() == "4"
            problems = []
            for path in ("/dashboard", "/inbox", "/inbox?show=unread", "/inbox/preferences", "/inbox/1"):
                page.set_viewport_size(PHONE)
                response = page.goto(path)
                assert response is not None and response.status in (200, 404), path
                for size in (PHONE, LAPTOP):
                    page.set_viewport_size(size)
                    m = page.evaluate(MEASURE)
                    if m["scroll"] > m["width"]:
                        problems.append(f"{path} at {size['width']} px: {m['scroll']} px ({'; '.join(m['culprits'])})")
            assert not problems, problems
            # opening an item from the inbox marks it read and lands on the object's page
            page.set_viewport_size(PHONE)
            page.goto("/inbox")
            page.locator(".notice-open button").first.click()
            page.wait_for_url("**/org/units/**")
            assert page.get_by_test_id("unread-badge").inner_text() == "3"
        finally:
            browser.close()
