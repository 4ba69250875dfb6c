"""The programme pages in a real Chromium on a 390 px phone and a 1366 px laptop: nothing wider
than the window, no Korean word or date broken syllable by syllable (the core layout test's
measures, on pages with a programme of every kind of step and a refused form), and the form's
rows showing only what their kind and channels use."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.live_server import serve
from tests.plugins.prm_groups.programmes_fixtures import programme
from tests.test_layout import BROKEN_KOREAN, CHROMIUM, CHROMIUM_ARGS, LAPTOP, MEASURE, PHONE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


def test_programme_pages_fit_a_phone(app):
    from playwright.sync_api import sync_playwright

    with app.app_context():
        pid = programme(steps=[{"kind": "message", "title": "리더 메시지", "channels": ["email", "dm"],
                                "content": {"signer": "김한빛", "email": {"subject": "건강한 한 해를 위해",
                                                                       "body": "안녕하세요."},
                                            "dm": {"body": "세미나에 초대합니다."}}},
                               {"kind": "seminar_series", "title": "건강 세미나", "completion_min": 2}]).id
    pages = ["/prm/programmes/", "/prm/programmes/new", f"/prm/programmes/{pid}", f"/prm/programmes/{pid}/edit"]
    with serve(app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=url, locale="ko-KR", viewport=PHONE)
        context.set_default_timeout(20_000)
        page = context.new_page()
        try:
            page.goto("/login")
            page.fill("input[name=email]", "hq@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.get_by_test_id("login-submit").click()
            page.wait_for_url("**/dashboard")
            problems = []
            for path in pages:
                page.set_viewport_size(PHONE)
                response = page.goto(path)
                assert response is not None and response.status == 200, path
                if path.endswith("/new"):  # a row shows what its kind uses; then the refused form
                    assert page.locator("#steps-0-email-subject").is_visible()
                    assert page.locator("#steps-0-sms-body").is_hidden()  # SMS not checked
                    assert page.locator("#steps-1-completion_min").is_visible()
                    assert page.locator("#steps-1-signer").is_hidden()
                    assert page.locator("#steps-3-title").is_hidden()  # no kind: an empty row
                    page.check("input[name=steps-0-channels][value=sms]")
                    assert page.locator("#steps-0-sms-body").is_visible()
                    page.get_by_test_id("save-programme").click()
                    page.wait_for_selector("[data-testid=form-errors]")
                for size in (PHONE, LAPTOP):
                    page.set_viewport_size(size)
                    m = page.evaluate(MEASURE)
                    if m["scroll"] > m["width"]:
                        problems.append(f"{path} at {size['width']} px: {m['scroll']} px ({'; '.join(m['culprits'])})")
                    if size is PHONE and (words := page.evaluate(BROKEN_KOREAN)):
                        problems.append(f"{path}: broken {', '.join(words)}")
            assert not problems, "\n".join(problems)
        finally:
            context.close()
            browser.close()
