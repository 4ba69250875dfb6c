"""Issue 15 end to end in a real Chromium: HQ composes a message set and previews every rendition
side by side, creates an e-mail campaign with a holdout and submits it; a second account
(reviewer@) approves it; HQ schedules it; the tick and the dispatcher (the job consumer's part,
called in-process against the server's database) send it to a local SMTP server; 강남점's staff
upload a daily sales report with purchases of treatment customers on the sales upload page; the
campaign's results page shows the lift with its interval — the numbers ``campaign_results`` gives.

One live server (the seeded demo data plus cem_channels) and one browser; drives
``/usr/bin/chromium`` like ``tests/test_platform_browser.py`` (never ``playwright install``) and
runs on both test databases.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, make_app
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

KST = ZoneInfo("Asia/Seoul")
AUDIENCE = 64  # half held out: 32 + 32, enough for the interval (each group needs 30)
TIER = "E2E"  # marks the test's customers, so the campaign's rules pick exactly them

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(template_db):
    """(app, base URL): cem_channels installed, no provider (e-mail only), mail kept for the test."""
    from tests.live_server import serve

    url, drop = template_db.clone()
    app = make_app(url, PORTAL_PLUGINS=["cem_channels"], PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False,
                   PORTAL_SENDER_NAME="파트너포털", PORTAL_SENDER_CONTACT="02-1588-1234",
                   PORTAL_OPTOUT_080="080-123-4567")
    try:
        with app.app_context():
            from portal.extensions import db
            from portal.plugins_lifecycle import install

            install("cem_channels")
            db.session.remove()
        with serve(app) as base:
            app.config["PORTAL_BASE_URL"] = base
            yield app, base
    finally:
        with app.app_context():
            from portal.extensions import db

            db.session.remove()
            db.engine.dispose()
        drop()


def _context(browser, base: str):
    context = browser.new_context(base_url=base, locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    return context


def _login(page, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.get_by_test_id("lang-en").click()  # the page's words in English, whatever the account's default


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"cem-{name}.png"), full_page=True)


def _audience(app) -> list[tuple[int, str, str]]:
    """64 customers of the branches with their own addresses and marketing e-mail consent, marked
    with the tier the campaign's rules name. Returns (id, code, e-mail)."""
    from portal.extensions import db
    from portal.models import Customer
    from portal.toolkit import record_consents

    with app.app_context():
        customers = db.session.execute(select(Customer).where(
            Customer.branch_id.is_not(None), Customer.pseudonymized_at.is_(None)).order_by(Customer.id)
            .limit(AUDIENCE)).scalars().all()
        assert len(customers) == AUDIENCE
        for i, c in enumerate(customers):
            c.tier, c.email = TIER, f"e2e-{i:03d}@example.com"
        db.session.flush()
        record_consents([{"customer_id": c.id, "channel": "email", "purpose": "marketing", "granted": True,
                          "method": "web", "source": "test"} for c in customers])
        db.session.commit()
        out = [(c.id, c.code, c.email) for c in customers]
        db.session.remove()
    return out


def _report(day: str, codes: list[str]) -> bytes:
    head = "판매일자,지점코드,영수증번호,고객번호,상품코드,수량,단가,금액"
    rows = [f"{day},B001,E2E-{i:04d},{code},HEA-001,1,32000,32000" for i, code in enumerate(codes, 1)]
    return ("\ufeff" + "\n".join([head, *rows]) + "\n").encode("utf-8")


def test_hq_composes_reviewer_approves_sent_to_smtp_sales_imported_results_show_lift(server, browser, smtp_sink):  # noqa: F811,E501
    from playwright.sync_api import expect

    from plugins.cem_channels.campaign_models import CemCampaign, CemCampaignRecipient
    from plugins.cem_channels.campaigns.jobs import tick
    from plugins.cem_channels.campaigns.results import campaign_results, freeze_at
    from portal.extensions import db
    from portal.messaging import dispatch

    app, base = server
    app.config["PORTAL_SMTP_URL"] = smtp_sink.url
    people = _audience(app)
    by_id = {cid: (code, email) for cid, code, email in people}

    hq_ctx, reviewer_ctx, store_ctx = (_context(browser, base) for _ in range(3))
    try:
        # -- 1. HQ writes a message set in the editor and sees every rendition side by side ---------
        hq = hq_ctx.new_page()
        _login(hq, "hq@example.com")
        hq.goto("/message-sets/new")
        form = hq.get_by_test_id("message-set-form")
        today = datetime.now(KST).date()
        values = {
            "name": "E2E 건강식품 세미나", "category": "건강식품", "offer": "건강식품 세미나", "price": "39,000",
            "valid_from": today.isoformat(), "valid_until": (today + timedelta(days=14)).isoformat(),
            "cta": "신청하기", "cta_url": "https://example.com/seminar",
            "email_subject": "{{ offer }} 초대", "email_body": "{{ offer }}: 참가 고객 선물세트 {{ price }}",
            "email_html": "<p>{{ offer }}: 선물세트 <b>{{ price }}</b> <a href=\"{{ cta_url }}\">{{ cta }}</a></p>",
            "sms_body": "{{ offer }} 선물세트 {{ price_krw }}", "kakao_body": "{{ offer }} 선물세트 {{ price }}",
            "push_subject": "{{ offer }}", "push_body": "{{ valid_from_ko }} 개최",
        }
        for name, value in values.items():
            form.locator(f"[name={name}]").fill(value)
        form.locator("button[type=submit]").click()
        hq.wait_for_url(re.compile(r"/message-sets/\d+$"))
        set_id = int(re.search(r"/message-sets/(\d+)$", hq.url).group(1))
        preview = hq.get_by_test_id("preview")
        for channel in ("email", "sms", "kakao", "push"):
            expect(preview.get_by_test_id(f"rendition-{channel}")).to_be_visible()
        expect(preview.get_by_test_id("rendition-email")).to_contain_text("(광고)")  # wrapped as it will be sent
        expect(preview.get_by_test_id("rendition-email")).to_contain_text("39,000원")
        expect(preview.get_by_test_id("rendition-sms")).to_contain_text("080-123-4567")
        expect(preview.get_by_test_id("sms-class")).to_contain_text("SMS")
        expect(hq.get_by_test_id("problem")).to_have_count(0)  # approvable
        _shot(hq, "message-set-preview")

        # -- 2. … creates the campaign (e-mail step, 50 % holdout) and submits it --------------------
        hq.goto("/campaigns/new")
        composer = hq.get_by_test_id("composer")
        composer.locator("[name=name]").fill("E2E 세미나 초대 메일")
        composer.locator("input[name=audience][value=rules]").check()
        composer.locator("summary", has_text="Rules (JSON)").click()  # the JSON under the rule builder
        composer.locator("[name=rules]").fill(
            '{"all": [{"field": "tier", "op": "eq", "value": "E2E"}]}')
        composer.locator("[name=rules]").blur()  # the builder reads the JSON back and counts
        expect(hq.get_by_test_id("live-count")).to_contain_text(str(AUDIENCE))
        composer.locator("[name=steps-0-channel]").select_option("email")
        composer.locator("[name=steps-0-message_set_id]").select_option(str(set_id))
        # the rows left blank stay blank (no stray selected option in an empty select)
        for name in [f"steps-{i}-message_set_id" for i in range(1, 5)] + [f"variants-{c}-message_set_id" for c in "ABCDE"]:
            assert composer.locator(f"[name={name}]").input_value() == ""
        composer.locator("[name=holdout_share]").fill("50")
        composer.locator("[name=use_global_control]").check()  # leave the company-wide control group out
        hq.get_by_test_id("preview-audience").click()
        expect(hq.get_by_test_id("audience-preview")).to_contain_text(str(AUDIENCE))
        hq.get_by_test_id("save-campaign").click()
        hq.wait_for_url(re.compile(r"/campaigns/\d+$"))
        campaign_id = int(re.search(r"/campaigns/(\d+)$", hq.url).group(1))
        hq.get_by_test_id("action-submit").locator("button").click()
        expect(hq.get_by_test_id("campaign-state")).to_have_attribute("data-state", "pending_approval")
        expect(hq.get_by_test_id("action-approve")).to_have_count(0)  # four-eyes: not the author

        # -- 3. a second account approves -------------------------------------------------------
        reviewer = reviewer_ctx.new_page()
        _login(reviewer, "reviewer@example.com")
        reviewer.goto(f"/campaigns/{campaign_id}")
        reviewer.get_by_test_id("action-approve").locator("button").click()
        expect(reviewer.get_by_test_id("campaign-state")).to_have_attribute("data-state", "approved")

        # -- 4. HQ schedules it for the next whole minute (the form's precision) ---------------------
        now = datetime.now(KST)
        start = now.replace(second=0, microsecond=0) + timedelta(minutes=1 if now.second < 50 else 2)
        hq.goto(f"/campaigns/{campaign_id}")
        action = hq.get_by_test_id("action-schedule")
        action.locator("input[name=start_at]").fill(start.strftime("%Y-%m-%dT%H:%M"))
        action.locator("button").click()
        expect(hq.get_by_test_id("campaign-state")).to_have_attribute("data-state", "scheduled")
        store = store_ctx.new_page()
        _login(store, "store1@example.com")  # 강남점's staff, who will file the day's sales
        store.goto("/sales/upload")

        # -- 5. the job consumer's part once the start has come: the tick, then the dispatcher -------
        waited = max(0.0, (start - datetime.now(KST)).total_seconds() + 0.5)
        time.sleep(waited)  # the form schedules to the minute: up to a minute of waiting for the start
        with app.app_context():
            assert tick()["launched"] == 1
            assert db.session.get(CemCampaign, campaign_id).state == "sending"
            arms = dict(db.session.execute(select(CemCampaignRecipient.customer_id, CemCampaignRecipient.arm)
                                           .where(CemCampaignRecipient.campaign_id == campaign_id)).all())
            db.session.remove()
            for _ in range(5):
                if not dispatch()["claimed"]:
                    break
            db.session.remove()
        treatment = sorted(cid for cid, arm in arms.items() if arm == "treatment")
        holdout = sorted(cid for cid, arm in arms.items() if arm == "holdout")
        assert len(treatment) == len(holdout) == AUDIENCE // 2
        received = {m.rcpt_tos[0] for m in smtp_sink.received}
        assert received == {by_id[cid][1] for cid in treatment}  # every treatment customer, no holdout
        mail = smtp_sink.to(by_id[treatment[0]][1])[0]
        assert mail.header("Subject").startswith("(광고)") and "건강식품 세미나" in mail.header("Subject")

        # -- 6. 강남점's staff upload today's report: half the treatment and two of the holdout bought there
        buyers = treatment[::2] + holdout[:2]
        store.set_input_files("input[name=file]", files=[{
            "name": "b001-today.csv", "mimeType": "text/csv",
            "buffer": _report(start.date().isoformat(), [by_id[c][0] for c in buyers])}])
        store.get_by_test_id("upload-form").locator("button[type=submit]").click()
        expect(store.get_by_test_id("import-result")).to_have_attribute("data-status", "committed")
        expect(store.get_by_test_id("accepted")).to_have_text(str(len(buyers)))

        # -- 7. the results page shows the lift with its interval: the numbers of campaign_results ---
        with app.app_context():
            tick()  # every message is terminal: closed, the results interim until the window's sales are in
            campaign = db.session.get(CemCampaign, campaign_id)
            assert campaign.state == "done" and campaign_results(campaign)["frozen"] is False
            assert tick(freeze_at(campaign))["frozen"] == 1  # the tick two days after the attribution window
            campaign = db.session.get(CemCampaign, campaign_id)
            doc = campaign_results(campaign)
            db.session.remove()
        assert doc["arms"]["treatment"]["conversions"] == len(treatment[::2])
        assert doc["arms"]["holdout"]["conversions"] == 2
        assert doc["lift"] == pytest.approx(16 / 32 - 2 / 32)

        def pp(v: float) -> str:
            return f"{v * 100:+.2f} pp"

        hq.goto(f"/campaigns/{campaign_id}")
        expect(hq.get_by_test_id("results-lift")).to_contain_text(pp(doc["lift"]))
        expect(hq.get_by_test_id("results-interval")).to_contain_text(f"{pp(doc['ci_low'])} … {pp(doc['ci_high'])}")
        expect(hq.get_by_test_id("interval-bar")).to_be_visible()
        expect(hq.get_by_test_id("results-frozen")).to_be_visible()
        arms_table = hq.get_by_test_id("results-arms")
        expect(arms_table.locator("tr[data-arm=treatment]")).to_contain_text(str(len(treatment)))
        expect(arms_table.locator("tr[data-arm=treatment]")).to_contain_text(str(len(treatment[::2])))
        _shot(hq, "campaign-results")
    finally:
        for ctx in (hq_ctx, reviewer_ctx, store_ctx):
            ctx.close()
