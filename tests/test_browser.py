"""Browser test: a real Chromium (Debian's, through Playwright) against a live portal server.

Logs in as branch staff, opens the dashboard, the customer list and a customer, switches the
language (Korean is the default) and checks that another branch's customer answers 404.
A screenshot of the dashboard goes to ``test-artifacts/``.

Never runs ``playwright install``: it drives ``/usr/bin/chromium`` (``.ci/run`` installs the
Debian package), and skips only when that binary is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, ROOT

pytest_plugins = ("tests.live_server",)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_server.url, locale="ko-KR",
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        page.on("console", lambda msg: page.js_errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text else None)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def _customer_of_branch(app, code: str) -> int:
    from portal.extensions import db
    from portal.models.customer import Customer
    from portal.models.org import OrgUnit

    with app.app_context():
        cid = db.session.scalar(
            db.select(Customer.id).join(OrgUnit, Customer.branch_id == OrgUnit.id)
            .where(OrgUnit.code == code).order_by(Customer.id).limit(1)
        )
        db.session.remove()
    assert cid, f"the seeded data has no customer of {code}"
    return cid


def _branches_of(app, codes: list[str]) -> set[str | None]:
    from portal.extensions import db
    from portal.models.customer import Customer
    from portal.models.org import OrgUnit

    with app.app_context():
        rows = db.session.execute(
            db.select(Customer.code, OrgUnit.code).outerjoin(OrgUnit, Customer.branch_id == OrgUnit.id)
            .where(Customer.code.in_(codes))
        ).all()
        db.session.remove()
    assert len(rows) == len(set(codes)), "the list shows customer numbers that do not exist"
    return {branch for _code, branch in rows}


def _lang(page) -> str:
    return page.locator("html").get_attribute("lang")


def test_login_dashboard_customer_language_and_scope(page, live_server):
    from playwright.sync_api import expect

    # Log in (the login page is Korean by default).
    page.goto("/login")
    assert _lang(page) == "ko"
    page.fill("input[name=email]", "store1@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()

    # Dashboard.
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_test_id("dashboard-title")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_contain_text("store1@example.com")
    assert _lang(page) == "ko"
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # Customer list, from the navigation: only B001's customers (store1 is B001's staff).
    page.locator("nav.sidebar a[href^='/customers']").first.click()
    expect(page).to_have_url(re.compile(r"/customers/?(\?.*)?$"))
    rows = page.get_by_test_id("customer-row")
    expect(rows.first).to_be_visible()
    codes = [c.strip() for c in rows.locator("td:first-child").all_inner_texts()]
    assert _branches_of(live_server.app, codes) == {"B001"}

    # A customer.
    first = rows.first.locator("td:nth-child(1) a")
    code = first.inner_text().strip()
    first.click()
    expect(page).to_have_url(re.compile(r"/customers/\d+"))
    customer_url = page.url
    expect(page.get_by_test_id("customer-name")).to_contain_text(code)
    expect(page.locator("nav.tabs a").first).to_be_visible()

    # Switch to English: the same page comes back in English, and it sticks.
    page.get_by_test_id("lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url == customer_url
    expect(page.get_by_test_id("customer-name")).to_contain_text(code)
    expect(page.locator(".breadcrumbs")).to_contain_text("Customers")
    expect(page.get_by_test_id("lang-en")).to_have_attribute("aria-current", "true")
    page.goto("/dashboard")
    assert _lang(page) == "en"
    expect(page.get_by_test_id("dashboard-title")).to_have_text("Dashboard")

    # ... and back to Korean.
    page.get_by_test_id("lang-ko").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_test_id("lang-ko")).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("dashboard-title")).to_be_visible()
    page.goto(customer_url)
    assert _lang(page) == "ko"
    expect(page.get_by_test_id("customer-name")).to_contain_text(code)

    # Another branch's customer does not exist for store1.
    other = _customer_of_branch(live_server.app, "B002")
    response = page.goto(f"/customers/{other}")
    assert response is not None and response.status == 404
    expect(page.locator("main h1")).to_have_text("404")
    expect(page.get_by_test_id("customer-name")).to_have_count(0)

    assert page.js_errors == [], page.js_errors


REPORT_HEADER = "판매일자,지점코드,영수증번호,고객번호,고객명,전화번호,이메일,주소,우편번호,상품코드,카테고리,수량,단가,금액"


def _report(rows: list[str]) -> bytes:
    return ("\n".join([REPORT_HEADER, *rows]) + "\n").encode("cp949")  # as Korean Excel saves it


def test_store_staff_upload_with_errors_fix_and_reupload(page, live_server):
    """Branch staff upload a report with mistakes, read the row messages, fix the file, upload again."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.fill("input[name=email]", "store1@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.get_by_test_id("lang-en").click()  # read the messages in English
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.goto("/sales/upload")
    good = "2026-11-03,B001,R-0001,,김하늘,010-5555-0101,,서울특별시 강남구 테헤란로 152,06236,HEA-001,health,2,32000,64000"
    bad_date = "2026-11-3x,B001,R-0002,,이서준,010-5555-0202,,서울특별시 서초구 서초대로 77,06611,HEA-001,health,1,32000,32000"
    bad_amount = "2026-11-03,B001,R-0003,,박민지,010-5555-0303,,서울특별시 송파구 올림픽로 300,05551,HEA-001,health,3,32000,90000"
    page.set_input_files("input[name=file]", files=[
        {"name": "b001-1103.csv", "mimeType": "text/csv", "buffer": _report([good, bad_date, bad_amount])}])
    page.get_by_test_id("upload-form").locator("button[type=submit]").click()

    result = page.get_by_test_id("import-result")
    expect(result).to_have_attribute("data-status", "rejected")
    expect(result).to_contain_text("nothing was imported")
    errors = page.get_by_test_id("import-error")
    expect(errors).to_have_count(2)
    cells = [[c.strip() for c in errors.nth(i).locator("td").all_inner_texts()] for i in range(2)]
    # The column as the file names it (its headers are Korean), the message in the reader's language.
    assert cells[0][:3] == ["3", "판매일자", "2026-11-3x"] and "YYYY-MM-DD" in cells[0][3]
    assert cells[1][:3] == ["4", "금액", "90000"] and "96,000" in cells[1][3]

    # Fix both rows and upload again: committed, all three lines in.
    fixed = [good, bad_date.replace("2026-11-3x", "2026-11-03"), bad_amount.replace(",90000", ",96000")]
    page.set_input_files("input[name=file]", files=[
        {"name": "b001-1103.csv", "mimeType": "text/csv", "buffer": _report(fixed)}])
    page.get_by_test_id("upload-form").locator("button[type=submit]").click()
    expect(result).to_have_attribute("data-status", "committed")
    expect(page.get_by_test_id("accepted")).to_have_text("3")
    expect(page.get_by_test_id("rejected")).to_have_text("0")
    expect(page.get_by_test_id("import-error")).to_have_count(0)

    # The report is on the branch's list and opens with its lines.
    result.get_by_role("link", name=re.compile(r"Open report #\d+")).click()
    expect(page).to_have_url(re.compile(r"/sales/reports/\d+"))
    expect(page.locator("main")).to_contain_text("B001")
    assert page.js_errors == [], page.js_errors
