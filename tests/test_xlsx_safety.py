"""Issue 13: hostile and malformed XLSX uploads are refused quickly, in bounded memory and with a
clear message — through the service, the upload page (4xx), the API (4xx) and the CLI (no
traceback) — and leave nothing behind."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
import zipfile

import pytest

from tests.conftest import api_token_for, bearer, csrf_token, login, scalar
from tests.test_sales_import import HEADER_EN, run_import
from tests.xlsx_files import shared_strings_bomb, workbook

DAY = "2021-06-15"  # before the demo data's reports
GOOD_ROW = [DAY, "B001", "R1", "C0000001", "", "", "", "", "", "", "HEA-001", "", "health", 1, 32000, 32000]
BILLION_LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>')
EXTERNAL_ENTITY = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def _zip(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """Five million shared strings in about 200 KB: half a minute and 885 MB in openpyxl."""
    data = workbook([HEADER_EN.split(",")], shared_strings=shared_strings_bomb(5_000_000))
    assert len(data) < 1_000_000
    return data


def _sheet_with_entity(entity_ref: str) -> bytes:
    rows = [HEADER_EN.split(","), GOOD_ROW[:4] + [entity_ref] + GOOD_ROW[5:]]
    return workbook(rows, prolog=BILLION_LAUGHS if "lol" in entity_ref else EXTERNAL_ENTITY)


MALFORMED = {
    "not a zip": b"PK\x03\x04" + b"\x00garbage" * 200,
    "truncated zip": None,  # filled in from a real workbook below
    "zip without a workbook": _zip({"hello.txt": "hi"}),
    "no worksheet": workbook(sheets=False),
    "entity expansion": _sheet_with_entity("&lol2;"),
    "external entity": _sheet_with_entity("&xxe;"),
    "UTF-16 part": _zip({"[Content_Types].xml": '<?xml version="1.0" encoding="UTF-16"?><Types/>'.encode("utf-16")}),
    "declared EBCDIC": _zip({"[Content_Types].xml": b'<?xml version="1.0" encoding="cp037"?><Types/>'}),
    "broken sheet XML": workbook(sheet_body=b"<worksheet><sheetData><row>"),
}
MALFORMED["truncated zip"] = workbook([HEADER_EN.split(","), GOOD_ROW])[:-200]


def test_a_zip_bomb_is_refused_within_two_seconds_and_a_few_megabytes(app, bomb):
    with app.app_context():
        reports = scalar("SELECT COUNT(*) FROM sales_report")
        tracemalloc.start()
        started = time.perf_counter()
        try:
            result = run_import(bomb, "bomb.xlsx")
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.status == "rejected"
        assert "too large" in result.message and "CSV" in result.message
        assert elapsed < 2.0, elapsed
        assert peak < 64 * 2**20, peak
        assert scalar("SELECT COUNT(*) FROM sales_report") == reports


def test_declared_sizes_are_checked_before_anything_is_inflated(app):
    """A part that says it unpacks to more than the limit is refused from the zip directory alone."""
    from portal.sales.reading import XLSX_MAX_UNCOMPRESSED

    big = b"<x/>" * (XLSX_MAX_UNCOMPRESSED // 4 + 1)
    with app.app_context():
        result = run_import(workbook([["a"]], extra={"xl/media/big.xml": big}), "big.xlsx")
        assert result.status == "rejected" and "too large" in result.message


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_workbooks_are_refused_with_a_message(app, case):
    with app.app_context():
        result = run_import(MALFORMED[case], "day.xlsx")
        assert result.status == "rejected", case
        assert result.message and "Traceback" not in result.message
        assert "root:" not in result.message  # nothing of /etc/passwd ever reaches a message
        assert scalar("SELECT COUNT(*) FROM sales_report WHERE report_date = :d", d=DAY) == 0


@pytest.mark.parametrize("case", ["not a zip", "no worksheet", "entity expansion", "external entity",
                                  "broken sheet XML", "bomb"])
def test_page_and_api_answer_422_not_500(app, client, bomb, case):
    data = bomb if case == "bomb" else MALFORMED[case]
    token = api_token_for("hq@example.com")
    api = client.post("/api/v1/sales-reports", headers=bearer(token), content_type="multipart/form-data",
                      data={"file": (io.BytesIO(data), "day.xlsx")})
    assert api.status_code == 422, api.get_data(as_text=True)[:300]
    assert api.get_json()["status"] == "rejected" and api.get_json()["message"]
    login(client, "hq@example.com")
    page = client.post("/sales/upload", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client, "/sales/upload"), "mode": "strict",
                             "file": (io.BytesIO(data), "day.xlsx")})
    assert page.status_code == 422
    assert 'data-status="rejected"' in page.get_data(as_text=True)


@pytest.mark.parametrize("case", ["not a zip", "no worksheet", "external entity", "bomb"])
def test_cli_prints_a_message_not_a_traceback(app, tmp_path, bomb, case):
    path = tmp_path / "day.xlsx"
    path.write_bytes(bomb if case == "bomb" else MALFORMED[case])
    runner = app.test_cli_runner()
    out = runner.invoke(args=["portal", "sales", "import", str(path)])
    assert out.exit_code == 1, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert "Traceback" not in out.output and out.output.strip()
    as_json = runner.invoke(args=["portal", "sales", "import", str(path), "--json"])
    assert json.loads(as_json.stdout)["status"] == "rejected"


def test_a_normal_workbook_still_imports(app):
    with app.app_context():
        result = run_import(workbook([HEADER_EN.split(","), GOOD_ROW]), "day.xlsx")
        assert result.status == "committed", (result.message, result.errors)
        assert result.encoding == "xlsx"


def test_the_pre_parse_check_is_cheap_on_a_normal_report(app):
    """A 1,000-row workbook: the check costs milliseconds (the import is benchmarked)."""
    from portal.sales.reading import check_xlsx

    data = workbook([HEADER_EN.split(","), *([DAY, "B001", f"R{i}", f"C{i:07d}", "고객", "010-7000-0001",
                                             "a@example.com", "서울", "06236", "", "HEA-001", "", "health", 1, 32000,
                                             32000] for i in range(1000))])
    best = min(_timed(check_xlsx, data) for _ in range(5))
    assert best < 0.05, best


def _timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started
