"""Real Chromium at 390 px: leader1 reads the e-mail as it will be sent on the approval page (no
sideways scrolling, no script or CSP error), approves it, and the programme is approved."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.prm_groups.content_fixtures import CONTENT, fire, make_programme, users


@pytest.mark.browser
def test_leader_approves_on_a_phone(app):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    from plugins.prm_groups.programmes import content as svc
    from portal.toolkit import current_revision, db
    from tests.conftest import PASSWORD
    from tests.live_server import serve

    p = make_programme()
    fire(p, "submit", users().hq)
    fire(p, "approve", users().leader1, "", current_revision(p))
    body = CONTENT["email"]["body"].replace("함께", "모두")
    svc.add_revision(p, p.steps[0], {**CONTENT, "email": {**CONTENT["email"], "body": body}}, users().hq)
    db.session.commit()
    pid = p.id
    db.session.close()  # SQLite: no read transaction of the test may hold the lock the server writes under
    errors: list[str] = []
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844})
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(f"{msg.text} {msg.location.get('url')}")
                    if msg.type == "error" and "favicon.ico" not in str(msg.location.get("url")) else None)
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto("/login")
            page.fill("input[name=email]", "leader1@example.com")
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.get_by_test_id("login-submit").click()
            page.goto("/prm/programmes/approvals")
            page.get_by_role("link", name="검토하고 승인하기").first.click()
            expect(page.get_by_test_id("preview-email").get_by_test_id("subject")).to_have_text(
                "(광고)김민수님, 건강 챙기고 계신가요?")
            expect(page.get_by_test_id("preview-email").get_by_test_id("body")).to_contain_text("김한빛 드림")
            expect(page.get_by_test_id("diff").locator("del")).to_have_text("함께")
            expect(page.get_by_test_id("diff").locator("ins")).to_have_text("모두")
            width = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, width: innerWidth})")
            assert width["scroll"] <= width["width"], width
            page.fill("#comment", "수정본 확인했습니다")
            with page.expect_navigation():
                page.get_by_test_id("approve").click()
            expect(page.get_by_test_id("state")).to_have_text("승인됨")
        finally:
            browser.close()
    assert errors == []
    from plugins.prm_groups.models import PrmProgramme

    p = db.session.get(PrmProgramme, pid)
    assert p.state == "approved" and svc.latest_revision(p.steps[0]).approval_note == "수정본 확인했습니다"
