"""The personal-data guard (stories/pii.py): KS-6's strings and files, and what it must let pass
(a branch's or the company's own numbers, masked numbers, product barcodes)."""

from __future__ import annotations

import io

import pytest

from plugins.knowledge_share.stories.pii import (
    CUSTOMER_ROWS,
    MAX_FILE_FINDINGS,
    Finding,
    finding_dicts,
    finding_errors,
    scan_file,
    scan_text,
)


@pytest.fixture(autouse=True)
def _english(app):
    """Findings' texts in English (the API's language); the last test reads them in Korean."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.excerpt) for f in scan_text({"summary": text})]


@pytest.mark.parametrize("text", ["010-1234-5678", "010 1234 5678", "01012345678", "010.1234.5678",
                                  "(010)1234-5678", "+82 10-1234-5678", "+82-10-1234-5678", "+821012345678",
                                  "011-123-4567", "０１０－１２３４－５６７８", "010 - 1234 - 5678"])
def test_korean_mobile_numbers_in_any_common_writing(app, text):
    """KS-6: "010-1234-5678" and its other spellings, validated by phonenumbers."""
    assert kinds(f"고객 {text}로 연락") == [("phone", text)]


@pytest.mark.parametrize("text", ["02-1588-1234", "1588-1234", "031-123-4567", "080-123-4567", "070-1234-5678",
                                  "주문번호 20261201012345678", "12,010,1234원", "010-1234-567"])
def test_company_numbers_and_other_digits_pass(app, text):
    """A story may name the branch's landline or the company's representative number."""
    assert kinds(f"문의 {text}") == []


def test_offsets_and_excerpts_point_at_the_text(app):
    """KS-6: the offending spans are listed with field, offsets and excerpt."""
    text = "행사 후 kim@example.com 으로 문의가 왔고 010-1234-5678 고객은 900101-1234567."
    found = scan_text({"title": "괜찮은 제목", "summary": text, "lessons": None})
    assert [(f.field, f.kind, f.excerpt) for f in found] == [
        ("summary", "email", "kim@example.com"), ("summary", "phone", "010-1234-5678"),
        ("summary", "rrn", "900101-1234567")]
    assert all(text[f.start:f.end] == f.excerpt for f in found)
    errors = finding_errors(found)
    start = text.index("kim@")
    assert errors[f"summary[{start}:{start + 15}]"].endswith("kim@example.com")
    assert [d["kind"] for d in finding_dicts(found)] == ["email", "phone", "rrn"]


def test_list_fields_are_read_as_joined_text(app):
    assert [f.excerpt for f in scan_text({"keywords": ["재구매", "kim@example.com"]})] == ["kim@example.com"]


def test_an_email_made_of_a_phone_number_is_one_finding(app):
    assert kinds("01012345678@naver.com") == [("email", "01012345678@naver.com")]


@pytest.mark.parametrize(("text", "found"), [
    ("900101-1234567", True), ("900101 - 2234567", True), ("050505-3234567", True), ("020229-4234567", False),
    ("000229-4234567", True), ("901301-1234567", False), ("900132-1234567", False), ("900101-9234567", False),
    ("900101-1******", False), ("9001011234567", True), ("8801234567893", False),  # an EAN-13 barcode
    ("800101-5234567", True),  # a foreign resident's registration number
])
def test_resident_registration_numbers_need_a_real_birth_date(app, text, found):
    """KS-6: "900101-1234567"; the check digit is not required (numbers since 2020 have none)."""
    assert (kinds(text) == [("rrn", text)]) is found


def customers_csv(n: int, *, sep: str = ",", header: str = "이름,휴대폰번호,구매액") -> bytes:
    rows = [header.replace(",", sep)] + [sep.join([f"김고객{i}", f"010-{2000 + i:04d}-{3000 + i:04d}", str(i * 1000)])
                                         for i in range(n)]
    return ("\n".join(rows) + "\n").encode("utf-8")


def test_a_csv_of_500_customers_is_one_customer_list_finding(app):
    """KS-6: a CSV attachment of 500 customers."""
    found = scan_file("고객명단.csv", customers_csv(500))
    assert found[0] == Finding("attachments[고객명단.csv]", "customer_list", 0, 0,
                               "500 rows look like customer records")
    assert 1 < len(found) <= MAX_FILE_FINDINGS + 1 and {f.kind for f in found[1:]} == {"phone"}
    assert "customer list" in finding_errors(found)["attachments[고객명단.csv]"]


def test_twenty_rows_are_not_a_list_but_their_numbers_are_still_found(app):
    found = scan_file("few.csv", customers_csv(CUSTOMER_ROWS))
    assert found and "customer_list" not in {f.kind for f in found}


def test_names_with_birth_dates_under_korean_headers_in_cp949(app):
    rows = ["고객명,생년월일,등급"] + [f"박{i},1990-01-{i % 28 + 1:02d},GOLD" for i in range(30)]
    found = scan_file("vip.csv", "\n".join(rows).encode("cp949"))
    assert [f.excerpt for f in found] == ["30 rows look like customer records"]


def test_tsv_and_txt_and_emails(app):
    assert scan_file("list.tsv", customers_csv(25, sep="\t", header="name,phone,amount"))[0].kind == "customer_list"
    text = "\n".join(f"회원{i} member{i}@example.com" for i in range(21)).encode()
    found = scan_file("members.txt", text)
    assert found[0].excerpt == "21 rows look like customer records" and found[1].excerpt == "member0@example.com"


def test_a_sales_summary_is_no_customer_list(app):
    rows = ["지점,월,매출"] + [f"B{i:03d},2026-{i % 12 + 1:02d},{i * 1000}" for i in range(200)]
    assert scan_file("summary.csv", "\n".join(rows).encode()) == []


def test_an_xlsx_customer_list(app):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["성명", "연락처"])
    for i in range(40):
        ws.append([f"이{i}", f"010{5000 + i:04d}{6000 + i:04d}"])
    buf = io.BytesIO()
    wb.save(buf)
    found = scan_file("list.xlsx", buf.getvalue())
    assert found[0].excerpt == "40 rows look like customer records"


def test_an_unsafe_or_broken_workbook_is_not_opened(app):
    assert scan_file("bomb.xlsx", b"PK\x03\x04" + b"\x00" * 100) == []


def test_pdf_text_and_compressed_streams_best_effort(app):
    import zlib

    plain = b"%PDF-1.4\n1 0 obj\n(Contact kim@example.com)\nendobj\n%%EOF\n"
    assert [f.kind for f in scan_file("a.pdf", plain)] == ["email"]
    body = "\n".join(f"({i} 010-{4000 + i:04d}-{5000 + i:04d}) Tj" for i in range(30)).encode()
    packed = b"%PDF-1.4\n2 0 obj\n<< /Filter /FlateDecode >>\nstream\n" + zlib.compress(body) + b"\nendstream\nendobj\n"
    found = scan_file("list.pdf", packed)
    assert found[0].kind == "customer_list" and found[1].excerpt == "010-4000-5000"


def test_images_and_empty_files_are_not_read(app):
    assert scan_file("photo.png", b"\x89PNG\r\n\x1a\n kim@example.com") == []
    assert scan_file("empty.csv", b"") == []


def test_korean_messages(app):
    from flask_babel import force_locale

    with force_locale("ko"):
        found = scan_file("명단.csv", customers_csv(30)) + scan_text({"summary": "kim@example.com"})
        errors = finding_errors(found)
    assert errors["summary[0:15]"] == "이메일 주소를 지워 주세요: kim@example.com"
    assert errors["attachments[명단.csv]"].startswith("이 파일은 고객 명단으로 보입니다(30개 행이 고객 기록으로 보입니다)")
