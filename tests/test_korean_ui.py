"""The Korean UI speaks Korean: no English words or raw codes on any role's main pages, the daily
report has one Korean name (판매일보), the audit log shows labels instead of codes and Python
reprs, and downloads carry their column headers in the user's language.

The pages come from :func:`tests.ui_pages.main_pages` (each demo role's sidebar, the pages it may
open, a customer with every tab, a daily report, …) on the demo data with the loyalty add-on's
demo, rendered by the test client in Korean (the default). Visible text is what a person reads:
text nodes, ``title``/``placeholder``/``aria-label``/``alt`` and button values — without scripts,
styles and ``<code>`` (an identifier an administrator types, shown as such on purpose).
"""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook

from tests.conftest import post_form
from tests.ui_pages import ROLES, logged_in, loyalty_demo_app, main_pages

# English words and codes that must not reach a Korean reader (word-bounded, case as written).
LEAKS = {
    "import mode code": r"\b(lenient|strict)\b",
    "tier code": r"\b(BASIC|SILVER|GOLD)\b",
    "actor code": r"\bsystem\b",
    "unit kind code": r"(?<![\w@./=-])(region|branch|hq)(?![\w@./=-])",  # not hq@example.com, branch=B001
    "English phrase": r"\b(joined|Loyalty|points pooled|family card)\b",
    "Python repr": r"<PluginState|PluginState|\{'|'\}|\bNone\b",
    "audit action code": r"(?<![\w/@.])(auth|user|customer|addon|loyalty|org|segment|extraction|analytics|sales_report"
                         r"|api_token)\.[a-z_]+(?![\w.@])",  # not docs/analytics.md, user.name@example.com
    "record type code": r"\b(user_account|plugin_state|sales_report|org_unit|partner_group|api_token|loy_[a-z_]+)\b",
}
LEAK_RE = {name: re.compile(rx) for name, rx in LEAKS.items()}
TEXT_ATTRS = ("title", "placeholder", "aria-label", "alt")


class VisibleText(HTMLParser):
    """The strings a person reads on a page (see the module docstring)."""

    SKIP = {"script", "style", "code", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.SKIP:
            self._skip += 1
        if self._skip:
            return
        self.texts += [attrs[a] for a in TEXT_ATTRS if attrs.get(a)]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.texts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.texts


def leaks(html: str) -> list[str]:
    found = []
    for text in visible_text(html):
        for name, rx in LEAK_RE.items():
            if m := rx.search(text):
                found.append(f"{name} {m.group(0)!r} in {text[:120]!r}")
    return found


@pytest.fixture(scope="module")
def ui_app(template_db):
    yield from loyalty_demo_app(template_db)


@pytest.mark.parametrize("email", ROLES)
def test_main_pages_in_korean_show_no_english_words_or_codes(ui_app, email):
    client = logged_in(ui_app, email)
    pages = main_pages(ui_app, client)
    assert len(pages) >= 3, pages
    problems = []
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        assert '<html lang="ko">' in html, url
        problems += [f"{url}: {p}" for p in leaks(html)]
    assert not problems, f"{email} reads English or codes in the Korean UI:\n  " + "\n  ".join(problems)


def test_the_leak_check_catches_what_it_is_meant_to():
    page = ("<main><p>lenient</p><td>SILVER → GOLD</td><td>system</td><span class='badge'>region</span>"
            "<td>addon.installed</td><td>plugin_state &lt;PluginState loyalty&gt;</td><small>x: {'a': 1}</small>"
            "<h1 title='Loyalty points'>포인트</h1><code>SILVER</code><script>var system = 1;</script></main>")
    kinds = {p.split(" ", 1)[0] for p in leaks(page)}
    assert len(leaks(page)) == 9 and {"import", "tier", "actor", "unit", "audit", "record", "Python", "English"} <= kinds
    assert leaks("<p>VIP 고객 · 판매일보 #12 · <code>GOLD</code> · 본사 CRM팀 · kim1@example.com</p>") == []


def _h1(html: str) -> str:
    return " ".join(visible_text(re.search(r"<h1.*?</h1>", html, re.S).group(0)))


def test_the_daily_report_has_one_korean_name_and_the_wording_is_natural(ui_app):
    from babel.messages.pofile import read_po

    from tests.test_i18n import po_path

    client = logged_in(ui_app, "store1@example.com")
    assert "판매일보" in _h1(client.get("/sales/reports").get_data(as_text=True))
    assert "판매일보" in _h1(client.get("/sales/upload").get_data(as_text=True))
    assert "판매일보" in _h1(client.get("/sales/board").get_data(as_text=True))
    nav = re.search(r'<nav class="sidebar".*?</nav>', client.get("/dashboard").get_data(as_text=True), re.S).group(0)
    assert "판매일보" in visible_text(nav)
    with po_path("ko").open("rb") as fh:
        catalog = read_po(fh, locale="ko")
    unnatural = {"매출 보고서": "the daily report is 판매일보", "관대": "lenient mode is '정상 행만 가져오기'",
                 "엄격": "strict mode is '오류 시 전체 취소'", "일괄 등록": "an imported consent is '파일 가져오기'"}
    found = [f"{m.id!r} → {m.string!r}: {why}" for m in catalog if m.id and isinstance(m.string, str)
             for word, why in unnatural.items() if word in m.string]
    assert not found, "\n".join(found)

    # The tier ladder's threshold column is points, not a start date.
    admin = logged_in(ui_app, "admin@example.com")
    html = admin.get("/loyalty/programme").get_data(as_text=True)
    header = visible_text(re.search(r"<thead>.*?</thead>", html, re.S).group(0))
    assert header == ["등급", "코드", "기준 포인트", "적립 배수"]


def test_the_audit_log_shows_labels_not_codes_or_python_reprs(ui_app):
    from portal import audit
    from portal.extensions import db
    from portal.models import PluginState, User

    with ui_app.app_context():
        def user(email):
            return db.session.scalar(db.select(User).where(User.email == email))

        state = db.session.get(PluginState, "loyalty")
        # What the audit trail stores for values that are not plain scalars: their Python text.
        event = audit.record("addon.settings", state, summary="loyalty",
                             changes={"phone": [{"sms": True, "email": False}, {"sms": False}],
                                      "email": [["a@example.com", "b@example.com"], None]}, actor=user("admin@example.com"))
        system = audit.record("analytics.refresh", None, summary="")
        role = audit.record("user.local_role_granted", user("store1@example.com"), summary="Branch Staff on B001")
        card = audit.record("loyalty.card_member_added", user("store1@example.com"), summary="card 9410000000000017: 120 points pooled")
        db.session.commit()
        ids = (event.id, system.id, role.id, card.id)
        db.session.remove()

    client = logged_in(ui_app, "admin@example.com")
    html = client.get("/manage/audit").get_data(as_text=True)
    rows = {m.group(1): " ".join(visible_text(m.group(0)))
            for m in re.finditer(r'<tr data-testid="audit-row" data-id="(\d+)">.*?</tr>', html, re.S)}
    settings, refresh, granted, pooled = (rows[str(i)] for i in ids)
    assert "애드온 설정 변경" in settings and "애드온 loyalty" in settings, settings
    assert "전화번호: sms: 예, 이메일: 아니요 → sms: 아니요" in settings, settings
    assert "이메일: a@example.com, b@example.com → —" in settings, settings
    assert not re.search(r"[{}\[\]']|True|False|None", settings), settings
    assert "점수 갱신" in refresh and "시스템" in refresh, refresh
    assert "로컬 역할 부여" in granted and "B001의 지점 직원" in granted, granted
    assert "패밀리 카드에 구성원 추가" in pooled and "카드 9410000000000017: 120포인트 합산" in pooled, pooled
    assert leaks(html) == []

    # The access log names the customer tab read and the list page, not "tab=consent" / "q= page=1".
    customer = re.search(r'href="(/customers/\d+)"', client.get("/customers/").get_data(as_text=True)).group(1)
    client.get(f"{customer}?tab=consent")
    access = " ".join(visible_text(client.get("/manage/audit?log=access").get_data(as_text=True)))
    assert "상세 조회" in access and "수신 동의 탭" in access and "목록 조회" in access and "고객 목록 1쪽" in access, access
    assert "tab=" not in access and "q=" not in access, access

    post_form(client, "/language", {"lang": "en", "next": "/manage/audit"}, form_page="/manage/audit")
    html = client.get("/manage/audit").get_data(as_text=True)
    assert "Add-on settings changed" in html and "Scores refreshed" in html and "Branch Staff on B001" in html
    assert "card 9410000000000017: 120 points pooled" in html and "Phone: sms: yes, E-mail: no → sms: no" in html
    post_form(client, "/language", {"lang": "ko", "next": "/manage/audit"}, form_page="/manage/audit")  # as it was


def test_changed_fields_are_named_in_korean_in_the_history_and_the_audit_log(ui_app):
    """Every field the core writes into an audit entry's changes, and the loyalty settings, read as
    labels: the history tab showed note, gender, complaint_note, household_id, consent.push.night_ads."""
    from portal import audit
    from portal.extensions import db
    from portal.models import Customer, PluginState

    raw = ["gender", "note", "complaint_note", "household_id", "consent.push.night_ads", "branch_id", "partner_id",
           "approval_limit", "krw_per_point"]
    with ui_app.app_context():
        customer = db.session.scalar(db.select(Customer).order_by(Customer.id))
        cid = customer.id
        audit.record("customer.updated", customer, summary=customer.code,
                     changes={"gender": [None, "F"], "note": ["a", "b"], "branch_id": [1, 2], "partner_id": [None, 3]})
        audit.record("customer.complaint", customer, summary=customer.code, changes={"complaint_note": ["", "x"]})
        audit.record("customer.household", customer, summary="", changes={"household_id": [None, 7]})
        audit.record("customer.consent", customer, summary="push/night_ads=no via api",
                     changes={"consent.push.night_ads": [True, False]})
        audit.record("addon.settings", db.session.get(PluginState, "loyalty"), summary="loyalty",
                     changes={"approval_limit": [5000, 6000], "krw_per_point": [1000, 500]})
        db.session.commit()
        db.session.remove()
    client = logged_in(ui_app, "admin@example.com")
    for url in (f"/customers/{cid}?tab=history", "/manage/audit"):
        text = " ".join(visible_text(client.get(url).get_data(as_text=True)))
        assert not [k for k in raw if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", text)], (url, text[:3000])
    history = " ".join(visible_text(client.get(f"/customers/{cid}?tab=history").get_data(as_text=True)))
    for word in ("성별", "메모", "불만 메모", "가족", "앱 푸시 · 야간 광고 (21:00–08:00)", "담당 지점"):
        assert word in history, word
    assert "성별 : — → 여성" in history, history  # the value too: not "F"


def test_the_access_log_shows_list_and_export_filters_in_words_not_python_text(ui_app):
    """Sale-line lists and exports and customer exports were logged as "sale_lines {'date_from': …}
    page=1" and shown so: a Python dict and English on the Korean access log."""
    client = logged_in(ui_app, "admin@example.com")
    client.get("/sales/lines?date_from=2026-11-01&q=%EA%B9%80")
    client.get("/sales/lines/export.csv?date_from=2026-11-01")
    client.get("/customers/export.csv?branch=B001")
    html = client.get("/manage/audit?log=access").get_data(as_text=True)
    text = " ".join(visible_text(html))
    assert "판매 내역 1쪽, 조건: 시작일: 2026-11-01, 검색: 김" in text, text[:3000]
    assert "판매 내역 CSV 내보내기, 조건: 시작일: 2026-11-01" in text and "고객 목록 CSV 내보내기, 조건: 지점: B001" in text
    assert "sale_lines" not in text and "customers.csv" not in text
    assert leaks(html) == []
    # The other lists and downloads the log names (written in English by the code that logs them).
    from portal.customers.labels import audit_summary

    with ui_app.test_request_context():
        for action, detail, korean in (
                ("access.list", "quality.fix branch= field= page=1", "수정 필요 데이터 1쪽"),
                ("access.api_list", "quality.duplicates page=2", "중복 고객 후보 2쪽"),
                ("access.list", "extraction 25 page=1", "대상자 목록 #25 1쪽"),
                ("access.api_list", "extraction 25 customers page=2", "대상자 목록 #25 2쪽"),
                ("access.list", "segment preview channel=", "세그먼트 미리보기"),
                ("access.view", "quality.merge", "병합 화면"),
                ("access.export", "rejections of sales report 7", "판매일보 #7의 거부된 행"),
                ("access.dsr_export", "data-subject export (JSON)", "고객 보유 정보 전체(JSON)"),
                ("access.export", "loyalty expiring points (30 days)", "30일 안에 소멸 예정인 포인트")):
            assert audit_summary(action, detail) == korean, (detail, audit_summary(action, detail))


def _csv_header(resp) -> list[str]:
    assert resp.status_code == 200, resp.status_code
    return next(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def _xlsx_header(resp) -> list[str]:
    assert resp.status_code == 200, resp.status_code
    return [c.value for c in load_workbook(io.BytesIO(resp.get_data()), read_only=True).active[1]]


def test_downloads_have_headers_in_the_users_language(ui_app):
    client = logged_in(ui_app, "store1@example.com")
    customers = _csv_header(client.get("/customers/export.csv"))
    assert customers[:3] == ["고객 번호", "이름", "전화번호"], customers
    assert _xlsx_header(client.get("/customers/export.xlsx")) == customers
    lines = _csv_header(client.get("/sales/lines/export.csv?date_from=2026-10-01&date_to=2026-10-31"))
    assert lines[:4] == ["판매일자", "지점", "영수증번호", "고객 번호"] and "금액" in lines, lines
    expiring = _csv_header(client.get("/loyalty/reports/expiring?format=csv"))
    assert expiring == ["고객 번호", "이름", "소멸 예정 포인트", "첫 소멸일"], expiring
    assert not [h for h in customers + lines + expiring if re.fullmatch(r"[a-z_]+", h)]

    post_form(client, "/language", {"lang": "en", "next": "/customers/"}, form_page="/customers/")
    assert _csv_header(client.get("/customers/export.csv"))[:3] == ["Customer no.", "Name", "Phone"]
    assert _xlsx_header(client.get("/sales/lines/export.xlsx?date_from=2026-10-01&date_to=2026-10-31"))[:2] == \
        ["Sale date", "Branch"]
    post_form(client, "/language", {"lang": "ko", "next": "/customers/"}, form_page="/customers/")  # as it was


def test_a_rejection_report_has_headers_in_the_users_language(ui_app):
    from tests.conftest import csrf_token
    from tests.test_browser import REPORT_HEADER, _report

    client = logged_in(ui_app, "store1@example.com")
    bad = "2026-11-3x,B001,R-0002,,이서준,010-5555-0202,,서울특별시 서초구 서초대로 77,06611,HEA-001,health,1,32000,32000"
    good = "2026-11-03,B001,R-0001,,김하늘,010-5555-0101,,서울특별시 강남구 테헤란로 152,06236,HEA-001,health,2,32000,64000"
    assert REPORT_HEADER.startswith("판매일자")
    resp = client.post("/sales/upload", data={
        "csrf_token": csrf_token(client, "/sales/upload"), "mode": "lenient",
        "file": (io.BytesIO(_report([good, bad])), "b001-1103.csv")}, content_type="multipart/form-data")
    assert resp.status_code == 200
    report = re.search(r'href="(/sales/reports/\d+/rejections\.csv)"', resp.get_data(as_text=True))
    assert report, "no rejection report link"
    assert _csv_header(client.get(report.group(1))) == ["행", "열", "값", "문제"]

    # The import's audit entry reads in Korean too (its summary is stored in English).
    html = logged_in(ui_app, "admin@example.com").get("/manage/audit?action=sales_report.").get_data(as_text=True)
    row = " ".join(visible_text(re.search(r'<tr data-testid="audit-row".*?</tr>', html, re.S).group(0)))
    assert "판매일보 가져오기" in row and "B001 2026-11-03: 판매 1건" in row and "(정상 행만 가져오기)" in row, row
    assert leaks(html) == []
