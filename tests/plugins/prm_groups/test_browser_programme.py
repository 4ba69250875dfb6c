"""The issue's whole story in a real Chromium against the live server (Korean UI, English checked at
the end): HQ finds G01 weak in 건강식품 on the radar, creates the programme from that gap (an e-mail
in the leader's voice and a seminar series with one session), sends it to the leader; leader1
approves the e-mail as it will be sent ("(광고)") on a phone; HQ starts it (holdout drawn,
campaigns created) and invites the seminar audience; an invitee registers on their link without
logging in (phone); HQ checks the ticket in; a daily sales report brings category purchases and the
results page shows the lift with its interval exactly as ``measurement.results.compute`` has it.

The seeded test template has ~30 customers per group, too few for the radar to flag anything (G01's
health cell is "insufficient"), so :func:`weak_g01` adds 300 active customers to each demo group
(set-based, no contact data: they are never part of the programme's audience), G01's with a tenth
of them buying health food against half elsewhere — an alarm."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from tests.conftest import PASSWORD
from tests.plugins.prm_groups.launch_fixtures import grant, settle
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"),
]

KST = ZoneInfo("Asia/Seoul")
SUBJECT = "{{ customer.name }}님, 건강 챙기고 계신가요?"
BODY = "{{ customer.name }}님 안녕하세요.\n요즘 우리 그룹이 함께 건강식품을 챙기기 시작했습니다.\n이번 세미나에서 만나요."
HEADER = "판매일자,지점코드,영수증번호,고객번호,고객명,전화번호,이메일,주소,우편번호,생년월일,상품코드,상품명,카테고리,수량,단가,금액"


def weak_g01(day: date, per_group: int = 300) -> None:
    """Active customers for G01–G05 with a home-care line on ``day``; health buyers: G01 a tenth,
    the others half. G01's new customers have an e-mail address and marketing consent, so the
    programme's audience is a few hundred (a holdout of about thirty). Bulk inserts, no
    per-customer query."""
    from portal.toolkit import Category, Customer, Partner, PartnerGroup, SaleLine, db

    cats = dict(db.session.execute(select(Category.code, Category.id)).all())
    for code in ("G01", "G02", "G03", "G04", "G05"):
        partner = db.session.scalar(select(Partner.id).join(PartnerGroup, PartnerGroup.id == Partner.group_id)
                                    .where(PartnerGroup.code == code).order_by(Partner.id.desc()).limit(1))
        contact = code == "G01"
        db.session.execute(insert(Customer), [
            {"code": f"E2E-{code}-{i:04d}", "name": f"활성고객{i}", "partner_id": partner,
             "email": f"e2e{i}@{code.lower()}.example.com" if contact else None,
             "address": f"서울시 중구 세종대로 {i}" if contact else None, "postal_code": "04524" if contact else None}
            for i in range(per_group)])
        ids = list(db.session.scalars(select(Customer.id).where(Customer.code.like(f"E2E-{code}-%"))
                                      .order_by(Customer.id)))
        if contact:
            grant(ids, "email")
        buyers = per_group // 10 if code == "G01" else per_group // 2
        lines = [{"customer_id": c, "partner_id": partner, "category_id": cats["home"], "sold_at": day,
                  "quantity": 1, "unit_price": 10000, "amount": 10000} for c in ids]
        lines += [{"customer_id": c, "partner_id": partner, "category_id": cats["health"], "sold_at": day,
                   "quantity": 1, "unit_price": 30000, "amount": 30000} for c in ids[:buyers]]
        db.session.execute(insert(SaleLine), lines)
    db.session.commit()
    settle()


def sales_report(day: date, codes: list[str]) -> bytes:
    """A daily report of branch B001: one health-food purchase per customer code."""
    rows = [f"{day.isoformat()},B001,E2E{i:04d},{code},,,,서울시 강남구 테헤란로 1,06236,,HEA-001,,health,1,32000,32000"
            for i, code in enumerate(codes)]
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _local(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M")


def _watch(page, problems: list[str]) -> None:
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(f"{msg.text} {msg.location.get('url')}")
            if msg.type == "error" and "favicon.ico" not in str(msg.location.get("url")) else None)
    page.on("dialog", lambda dialog: dialog.accept())  # the start button's confirm()


def _login(page, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.get_by_test_id("login-submit").click()


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


def _pp(v: float | None, unit: str = "%p") -> str:
    return "—" if v is None else f"{v:+.1f}{unit}"


def test_programme_from_radar_to_results(app):
    from playwright.sync_api import expect, sync_playwright

    from plugins.prm_groups.measurement import results
    from plugins.prm_groups.models import PrmProgramme, PrmStep
    from plugins.prm_groups.seminar_models import PrmInvitation, PrmRegistration, PrmSession
    from portal.toolkit import Customer, ExperimentAssignment, db, import_sales_report
    from tests.live_server import serve

    now = datetime.now(KST).replace(second=0, microsecond=0)
    today = now.date()
    weak_g01(today - timedelta(days=1))
    db.session.close()  # SQLite: no read transaction of the test may hold the lock the server writes under
    # The session starts in 90 minutes: in the future when saved, and its doors (two hours before)
    # already open for the check-in — whatever the time of day.
    starts = now + timedelta(minutes=90)
    problems: list[str] = []
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            hq_ctx = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 1280, "height": 900})
            hq_ctx.set_default_timeout(20_000)
            hq = hq_ctx.new_page()
            _watch(hq, problems)
            _login(hq, "hq@example.com")

            # -- the radar: G01 × 건강식품 is an alarm; "create programme" on that gap ------------------
            hq.goto("/prm/radar/")
            gap = hq.locator("[data-testid=radar-gap][data-group=G01][data-category=health]")
            expect(gap).to_contain_text("경보")
            expect(gap).to_contain_text("건강식품")
            with hq.expect_navigation():
                gap.get_by_test_id("create-programme").click()
            expect(hq.locator("#group")).to_have_value("G01")
            expect(hq.locator("#category")).to_have_value("health")

            # -- the form ----------------------------------------------------------------------
            hq.fill("#name", "한빛 그룹 건강식품 회복 프로그램")
            hq.fill("#objective", "건강식품 구매율을 다른 그룹 수준으로")
            hq.fill("#baseline_start", (today - timedelta(days=180)).isoformat())
            hq.fill("#baseline_end", (today - timedelta(days=1)).isoformat())
            hq.fill("#run_start", today.isoformat())
            hq.fill("#run_end", (today + timedelta(days=30)).isoformat())
            expect(hq.locator("#steps-0-kind")).to_have_value("message")
            hq.uncheck("input[name=steps-0-channels][value=dm]")
            hq.fill("#steps-0-title", "리더의 편지")
            hq.fill("#steps-0-signer", "김한빛")
            hq.fill("#steps-0-email-subject", SUBJECT)
            hq.fill("#steps-0-email-body", BODY)
            expect(hq.locator("#steps-1-kind")).to_have_value("seminar_series")
            hq.fill("#steps-1-title", "건강 세미나")
            hq.fill("#steps-1-completion_min", "1")
            row = hq.get_by_test_id("session-row-0")
            row.locator("input[name=sessions-0-title]").fill("1회차: 건강식품 바로 알기")
            row.locator("input[name=sessions-0-starts_at]").fill(_local(starts))
            row.locator("input[name=sessions-0-ends_at]").fill(_local(starts + timedelta(hours=2)))
            row.locator("input[name=sessions-0-venue_branch]").fill("B001")
            row.locator("input[name=sessions-0-capacity]").fill("30")
            with hq.expect_navigation():
                hq.get_by_test_id("save-programme").click()
            expect(hq.get_by_test_id("programme-state")).to_have_attribute("data-state", "draft")
            pid = int(re.search(r"/prm/programmes/(\d+)", hq.url).group(1))
            with hq.expect_navigation():
                hq.get_by_test_id("action-submit").get_by_role("button").click()
            expect(hq.get_by_test_id("programme-state")).to_have_attribute("data-state", "leader_review")
            expect(hq.get_by_test_id("waiting-leader")).to_be_visible()

            # -- leader1 on a phone: the e-mail as it will be sent, approved --------------------
            leader_ctx = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844},
                                             is_mobile=True, has_touch=True)
            leader_ctx.set_default_timeout(20_000)
            leader = leader_ctx.new_page()
            _watch(leader, problems)
            _login(leader, "leader1@example.com")
            leader.goto("/prm/programmes/approvals")
            leader.locator(f"a[href='/prm/programmes/{pid}/approval']").first.click()
            preview = leader.get_by_test_id("preview-email")
            expect(preview.get_by_test_id("subject")).to_contain_text("(광고)")
            expect(preview.get_by_test_id("subject")).to_contain_text("님, 건강 챙기고 계신가요?")
            expect(preview.get_by_test_id("body")).to_contain_text("김한빛 드림")
            _no_sideways_scroll(leader)
            leader.fill("#comment", "좋습니다. 보내 주세요.")
            with leader.expect_navigation():
                leader.get_by_test_id("approve").click()
            expect(leader.get_by_test_id("state")).to_have_text("승인됨")
            leader_ctx.close()

            # -- HQ starts it: the holdout is drawn, the campaigns are created -----------------
            hq.goto(f"/prm/programmes/{pid}")
            expect(hq.get_by_test_id("programme-state")).to_have_attribute("data-state", "approved")
            with hq.expect_navigation():
                hq.get_by_test_id("action-start").get_by_role("button").click()
            expect(hq.get_by_test_id("programme-state")).to_have_attribute("data-state", "running")
            p = db.session.get(PrmProgramme, pid)
            assert p.experiment_id is not None and p.started_at is not None
            steps = {s.kind: s for s in db.session.scalars(select(PrmStep).where(PrmStep.programme_id == pid))}
            assert steps["message"].campaign_id is not None
            series = steps["seminar_series"].id
            db.session.close()

            # -- HQ invites the seminar audience -----------------------------------------------
            with hq.expect_navigation():
                hq.get_by_test_id("link-seminars").click()
            with hq.expect_navigation():
                hq.get_by_test_id("prm-invite").click()
            expect(hq.locator(".flash-success")).to_contain_text("초대")
            invited = db.session.execute(
                select(PrmInvitation.token, PrmInvitation.customer_id, ExperimentAssignment.arm)
                .join(ExperimentAssignment, (ExperimentAssignment.customer_id == PrmInvitation.customer_id)
                      & (ExperimentAssignment.experiment_id == p.experiment_id))
                .where(PrmInvitation.step_id == series).order_by(PrmInvitation.id)).all()
            assert invited and {arm for *_x, arm in invited} == {"treatment"}  # the holdout gets no step
            token, customer_id = invited[0][0], invited[0][1]
            session_id = db.session.scalar(select(PrmSession.id).where(PrmSession.step_id == series))
            db.session.close()

            # -- the invitee, on a phone, without logging in, registers ---------------------------
            guest_ctx = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844},
                                            is_mobile=True, has_touch=True)
            guest_ctx.set_default_timeout(20_000)
            guest = guest_ctx.new_page()
            _watch(guest, problems)
            guest.goto(f"/prm/r/{token}")
            seat = guest.locator(f"[data-testid=prm-public-session][data-session='{session_id}']")
            expect(seat).to_have_attribute("data-state", "none")
            with guest.expect_navigation():
                seat.get_by_test_id("prm-register").click()
            seat = guest.locator(f"[data-testid=prm-public-session][data-session='{session_id}']")
            expect(seat).to_have_attribute("data-state", "registered")
            expect(seat.get_by_test_id("prm-qr").locator("svg")).to_have_count(1)
            _no_sideways_scroll(guest)
            checkin_token = db.session.scalar(select(PrmRegistration.checkin_token).where(
                PrmRegistration.session_id == session_id, PrmRegistration.customer_id == customer_id))
            db.session.close()
            assert checkin_token
            expect(seat.get_by_test_id("prm-checkin-token")).to_have_text(checkin_token)
            guest_ctx.close()

            # -- HQ checks the ticket in at the door --------------------------------------------
            hq.goto(f"/prm/checkin/{session_id}")
            expect(hq.get_by_test_id("count-registered")).to_have_text("1")
            hq.get_by_test_id("token-input").fill(checkin_token)
            with hq.expect_navigation():
                hq.get_by_test_id("checkin-button").click()
            expect(hq.get_by_test_id("count-attended")).to_have_text("1")
            expect(hq.get_by_test_id("checkin-error")).to_have_count(0)

            # -- today's sales report: the invitee and some other treated customers buy ---------
            treated = list(db.session.scalars(
                select(Customer.code).join(ExperimentAssignment, ExperimentAssignment.customer_id == Customer.id)
                .where(ExperimentAssignment.experiment_id == p.experiment_id,
                       ExperimentAssignment.arm == "treatment", Customer.id != customer_id)
                .order_by(Customer.id)))
            code = db.session.scalar(select(Customer.code).where(Customer.id == customer_id))
            buyers = [code, *treated[: len(treated) // 2]]
            outcome = import_sales_report(sales_report(today, buyers), "b001-today.csv", None, source="cli")
            assert outcome.status == "committed", outcome.message
            db.session.close()

            # -- the results: the lift with its interval, as the measurement computes it ---------
            hq.goto(f"/prm/programmes/{pid}/results")
            doc = results.compute(db.session.get(PrmProgramme, pid))
            db.session.close()
            h = doc["holdout"]
            assert h["available"] and h["arms"]["treatment"]["conversions"] >= len(buyers)
            assert doc["verdict"] == "significant_increase", doc  # half the treated bought today, nobody held out
            lift = hq.get_by_test_id("holdout-lift")
            expect(lift).to_contain_text(_pp(h["lift"]))
            expect(lift).to_contain_text(f"{_pp(h['ci_low'])} … {_pp(h['ci_high'])}")
            expect(hq.get_by_test_id("chart-holdout")).to_contain_text(
                f"{_pp(h['lift'])} [{_pp(h['ci_low'])}, {_pp(h['ci_high'])}]")
            for arm in ("treatment", "holdout"):
                a = h["arms"][arm]
                cells = hq.get_by_test_id("arm-table").locator(f"tr[data-arm={arm}] td")
                expect(cells.nth(1)).to_have_text(f"{a['n']:,}")
                expect(cells.nth(2)).to_have_text(f"{a['conversions']:,}")
                expect(cells.nth(3)).to_have_text(f"{a['rate'] * 100:.1f} %")
            expect(hq.get_by_test_id("results-verdict")).to_have_attribute("data-verdict", doc["verdict"])
            expect(hq.get_by_test_id("results-verdict")).to_contain_text("유의한 증가")
            expect(hq.get_by_test_id("results-success")).to_be_visible()

            # -- the same page in English -------------------------------------------------------
            with hq.expect_navigation():
                hq.get_by_test_id("lang-en").click()
            expect(hq.get_by_test_id("results-holdout")).to_contain_text("Against the randomised holdout")
            expect(hq.get_by_test_id("holdout-lift")).to_contain_text(_pp(h["lift"], " pp"))
            expect(hq.get_by_test_id("holdout-lift")).to_contain_text(
                f"95 % interval {_pp(h['ci_low'], ' pp')} … {_pp(h['ci_high'], ' pp')}")
        finally:
            browser.close()
    assert problems == []
