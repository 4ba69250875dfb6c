"""CSV/XLSX exports of customers and sale lines, the sale-line page and ``GET /api/v1/sale-lines``.

Formula injection (SECURITY.md 1.2.10): customers named ``=HYPERLINK(...)``, ``+1``, ``@SUM(A1)``,
``-2`` come out neutralized in CSV *and* XLSX — the XLSX is read back with openpyxl and its XML
is checked for formula elements. Scope: what store1, ibo1 and HQ see is compared as sets with
plain SQL over the seeded data (never the portal's scope code); every export and listing leaves
an access-log row; bad parameters give a clear message or a 400, never a 500.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import api_token_for, bearer, csrf_token, login, scalar, sql
from tests.scope_oracle import ADMIN, HQ, IBO1, LEADER1, REVIEWER, SALE_LINE_IDS, STORE1, STORE2

EMAILS = (ADMIN, HQ, REVIEWER, STORE1, STORE2, LEADER1, IBO1)
API = "/api/v1"

FORMULAS = ['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "-2", "\t=1+2", "\r=1+2", "=cmd|' /C calc'!A0"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

LINES_SQL = SALE_LINE_IDS  # the lines each role may see (tests/scope_oracle.py)
CUSTOMERS_SQL = {
    HQ: "SELECT c.code FROM customer c",
    STORE1: "SELECT c.code FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001'",
}


@pytest.fixture(scope="module")
def users(shared_app):
    clients = {}
    for email in EMAILS:
        client = shared_app.test_client()
        assert login(client, email).status_code == 302, email
        client.csrf = csrf_token(client, "/dashboard")
        clients[email] = client
    return clients


@pytest.fixture(scope="module")
def tokens(shared_app):
    return {email: api_token_for(email) for email in (HQ, REVIEWER, STORE1, IBO1)}


@pytest.fixture(scope="module")
def poisoned(shared_app):
    """B001 customers (and one sale line each) whose name, address and receipt are formula payloads."""
    from portal.extensions import db
    from portal.models import Category, Customer, OrgUnit, Product, SaleLine

    b001 = db.session.execute(select(OrgUnit).where(OrgUnit.code == "B001")).scalar_one()
    product = db.session.execute(select(Product).order_by(Product.id)).scalars().first()
    category = db.session.get(Category, product.category_id)
    out = {}
    for i, payload in enumerate(FORMULAS):
        c = Customer(code=f"XF{i:06d}", name=payload, address=payload, branch_id=b001.id)
        db.session.add(c)
        db.session.flush()
        db.session.add(SaleLine(customer_id=c.id, branch_id=b001.id, product_id=product.id, category_id=category.id,
                                receipt_no=payload, sold_at=date(2026, 1, 15), quantity=1,
                                unit_price=product.unit_price, amount=product.unit_price))
        out[c.code] = payload
    db.session.commit()
    return out


# -- helpers -----------------------------------------------------------------------------------------


def as_codes(path: str, header: list[str]) -> list[str]:
    """An export's headers are in the user's language (Korean, the default); these tests name the
    columns by their codes: check the Korean headers, return the codes."""
    from portal.customers.service import EXPORT_COLUMNS as CUSTOMER_COLUMNS
    from portal.exports import header_labels
    from portal.sales.lines import EXPORT_COLUMNS as LINE_COLUMNS

    columns = list(CUSTOMER_COLUMNS if path.startswith("/customers/") else LINE_COLUMNS)
    assert header == header_labels(columns), header
    return columns


def read_csv(resp) -> tuple[list[str], list[list[str]]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode()), "UTF-8 BOM so Excel reads Korean correctly"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8")[1:])))
    return as_codes(resp.request.path, rows[0]), rows[1:]


def xlsx_book(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in resp.headers["Content-Disposition"] and ".xlsx" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    data = resp.get_data()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8") and "<f " not in z.read(name).decode("utf-8"), \
                    "a formula element in the sheet"
    return load_workbook(io.BytesIO(data))


def as_text(value) -> str:
    """An XLSX cell value as the CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)


def same_text(rows: list[list[str]]) -> list[list[str]]:
    """XML keeps no bare CR inside text (it reads back as LF): compare line breaks alike."""
    return [[v.replace("\r\n", "\n").replace("\r", "\n") for v in row] for row in rows]


def read_xlsx(resp) -> tuple[list[str], list[list[str]]]:
    ws = xlsx_book(resp).active
    rows = [[as_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    return as_codes(resp.request.path, rows[0]), rows[1:]


def ids(query: str) -> set:
    return {r[0] for r in sql(query)}


def log_rows(email: str) -> list:
    return sql("SELECT a.action, a.count, a.detail FROM access_log a JOIN user_account u ON u.id = a.user_id "
               "WHERE u.email = :e ORDER BY a.id", e=email)


ROW_ID_RE = re.compile(r'data-testid="line-row" data-line-id="(\d+)"')
NEXT_RE = re.compile(r'<a href="([^"]+)" rel="next"')


def page_ids(client, url: str) -> list[int]:
    """Every line id the HTML list shows, following its "Next" links."""
    out: list[int] = []
    while url:
        resp = client.get(url)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        body = resp.get_data(as_text=True)
        out += [int(i) for i in ROW_ID_RE.findall(body)]
        match = NEXT_RE.search(body)
        url = match.group(1).replace("&amp;", "&") if match else None
    return out


def api_ids(client, token: str, url: str) -> list[int]:
    out: list[int] = []
    while url:
        resp = client.get(url, headers=bearer(token))
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        body = resp.get_json()
        out += [item["id"] for item in body["items"]]
        url = body.get("next")
    return out


# -- the shared writers ------------------------------------------------------------------------------


def test_neutralize_is_shared_and_idempotent():
    from portal import exports
    from portal.customers import service

    assert service.neutralize is exports.neutralize  # the old import path still works
    for payload in FORMULAS:
        once = exports.neutralize(payload)
        assert once == "'" + payload and exports.neutralize(once) == once
    assert exports.neutralize("김영희") == "김영희" and exports.neutralize("010-1234-5678") == "010-1234-5678"
    assert exports.neutralize(-2) == -2 and exports.neutralize(None) is None


def test_xlsx_writer_refuses_too_many_rows_and_keeps_text_as_text(tmp_path):
    from portal.exports import ExportTooLarge, write_xlsx

    path = tmp_path / "ok.xlsx"
    with open(path, "wb") as fh:
        n = write_xlsx(fh, ["a", "b", "c"], [["=1+1", 7, date(2026, 1, 2)], ["bad\x01char", None, "-5"]],
                       "Sheet/with:bad*chars[]", max_rows=2)
    assert n == 2
    ws = load_workbook(path).active
    assert ws.title == "Sheet with bad chars"
    assert ws["A2"].data_type == "s" and ws["A2"].value == "'=1+1"
    assert ws["B2"].value == 7 and ws["C2"].value == datetime(2026, 1, 2)  # numbers and dates stay typed
    assert ws["A3"].value == "badchar" and ws["C3"].value == "'-5"
    with open(tmp_path / "big.xlsx", "wb") as fh, pytest.raises(ExportTooLarge) as exc:
        write_xlsx(fh, ["a"], ([i] for i in range(3)), "x", max_rows=2)
    assert exc.value.limit == 2 and "Excel" in str(exc.value)


# -- customers: CSV and XLSX --------------------------------------------------------------------------


def test_customer_exports_neutralize_formula_cells(users, poisoned):
    client = users[STORE1]
    header, rows = read_csv(client.get("/customers/export.csv", buffered=True))
    book = xlsx_book(client.get("/customers/export.xlsx", buffered=True))
    ws = book.active
    xheader = as_codes("/customers/", [c.value for c in ws[1]])
    assert header == xheader and header[:2] == ["code", "name"]
    by_code_csv = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    by_code_xlsx = {}
    for row in ws.iter_rows(min_row=2):
        by_code_xlsx[row[0].value] = {h: c for h, c in zip(header, row, strict=True)}
    for code, payload in poisoned.items():
        for column in ("name", "address"):
            assert by_code_csv[code][column] == "'" + payload
            cell = by_code_xlsx[code][column]
            assert cell.data_type == "s", (code, column, cell.data_type)  # a string, not a formula
            assert cell.value == "'" + payload.replace("\r", "\n")
    for sheet_row in ws.iter_rows():
        for cell in sheet_row:
            assert cell.data_type != "f"
            assert not (isinstance(cell.value, str) and cell.value.startswith(FORMULA_START)), cell.value


@pytest.mark.parametrize("email", [STORE1, HQ])
def test_customer_xlsx_and_csv_give_the_same_scoped_rows(users, poisoned, email):
    client = users[email]
    header, rows = read_csv(client.get("/customers/export.csv", buffered=True))
    xheader, xrows = read_xlsx(client.get("/customers/export.xlsx", buffered=True))
    assert xheader == header
    assert same_text(xrows) == same_text(rows)  # same rows, same order, same (neutralized) values
    assert {r[0] for r in rows} == ids(CUSTOMERS_SQL[email])
    if email == STORE1:
        assert {r[header.index("branch")] for r in rows} == {"B001"}
    # Filters apply to both formats alike.
    _h, filtered = read_csv(client.get("/customers/export.csv?branch=B001&complaint=1", buffered=True))
    _h, xfiltered = read_xlsx(client.get("/customers/export.xlsx?branch=B001&complaint=1", buffered=True))
    assert same_text(filtered) == same_text(xfiltered) and all(r[header.index("complaint")] == "Y" for r in filtered)


def test_customer_page_has_both_export_buttons(users):
    body = users[STORE1].get("/customers/").get_data(as_text=True)
    assert 'href="/customers/export.csv' in body and 'href="/customers/export.xlsx' in body
    assert 'data-testid="export-xlsx"' in body
    body = users[IBO1].get("/customers/").get_data(as_text=True)  # a distributor may not export
    assert "export-csv" not in body and "export-xlsx" not in body
    assert users[IBO1].get("/customers/export.xlsx").status_code == 403


def test_customer_exports_are_access_logged(users):
    start = len(log_rows(STORE1))
    users[STORE1].get("/customers/export.csv?q=김", buffered=True)
    users[STORE1].get("/customers/export.xlsx?q=김", buffered=True)
    new = log_rows(STORE1)[start:]
    expected = scalar("SELECT COUNT(*) FROM customer c JOIN org_unit o ON o.id = c.branch_id "
                      "WHERE o.code = 'B001' AND c.name LIKE '김%'")
    assert [r.action for r in new] == ["export", "export"]
    assert new[0].count == new[1].count == expected > 0
    assert new[0].detail.startswith("customers.csv") and new[1].detail.startswith("customers.xlsx")
    assert "김" in new[1].detail


def test_customer_xlsx_too_large_is_refused_with_a_message(users, monkeypatch):
    import portal.exports

    monkeypatch.setattr(portal.exports, "XLSX_MAX_ROWS", 3)
    start = len(log_rows(STORE1))
    resp = users[STORE1].get("/customers/export.xlsx?branch=B001")
    assert resp.status_code == 302 and "/customers/?branch=B001" in resp.headers["Location"]
    page = users[STORE1].get(resp.headers["Location"]).get_data(as_text=True)
    assert "Excel" in page and "CSV" in page and "flash-error" in page
    assert len(log_rows(STORE1)) == start + 1  # the page view only: no export left
    # CSV has no such limit.
    assert users[STORE1].get("/customers/export.csv?q=김", buffered=True).status_code == 200


# -- sale lines: page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("email", [STORE1, IBO1, HQ])
def test_sale_line_page_is_scoped(users, email):
    shown = page_ids(users[email], "/sales/lines?per_page=200" if email != HQ else "/sales/lines?per_page=200&branch=B002")
    expected = ids(LINES_SQL[email]) if email != HQ else ids(
        "SELECT s.id FROM sale_line s JOIN org_unit o ON o.id = s.branch_id WHERE o.code = 'B002'")
    assert expected and len(shown) == len(set(shown)) and set(shown) == expected
    if email == STORE1:
        b002 = ids("SELECT s.id FROM sale_line s JOIN org_unit o ON o.id = s.branch_id WHERE o.code = 'B002'")
        assert not set(shown) & b002
        # Asking for another branch gives nothing, not an error.
        assert page_ids(users[STORE1], "/sales/lines?branch=B002") == []


def test_sale_line_page_shows_totals_and_rows(users, poisoned):
    client = users[STORE1]
    resp = client.get("/sales/lines?date_from=2026-01-01&date_to=2026-01-31&per_page=5")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    count, amount = sql("SELECT COUNT(*), SUM(s.amount) FROM sale_line s JOIN org_unit o ON o.id = s.branch_id "
                        "WHERE o.code = 'B001' AND s.sold_at BETWEEN '2026-01-01' AND '2026-01-31'")[0]
    assert re.search(r'data-testid="line-count">' + f"{count:,}" + "<", body)
    assert f'data-testid="line-amount">₩{amount:,}<' in body
    assert len(ROW_ID_RE.findall(body)) == min(5, count)
    # Newest first; the customer links to the customer page; the category in the UI language (ko).
    dates = re.findall(r'data-line-id="\d+">\s*<td>(\d{4}-\d\d-\d\d)</td>', body)
    assert dates == sorted(dates, reverse=True)
    assert re.search(r'<a href="/customers/\d+">C\d{7}</a>', body)
    assert "건강식품" in body or "화장품" in body or "생활용품" in body
    assert 'data-testid="export-csv"' in body and 'data-testid="export-xlsx"' in body
    # The export buttons carry the filters (and both files share one endpoint).
    assert 'href="/sales/lines/export.csv?date_from=2026-01-01&amp;date_to=2026-01-31"' in body
    assert 'href="/sales/lines/export.xlsx?date_from=2026-01-01&amp;date_to=2026-01-31"' in body
    # A formula name is shown as escaped text (and exported neutralized, below).
    body = client.get("/sales/lines?q=XF000000").get_data(as_text=True)
    assert "=HYPERLINK(&#34;http://x&#34;)" in body or "=HYPERLINK(&quot;http://x&quot;)" in body


def test_sale_line_page_buttons_and_permissions(users):
    body = users[IBO1].get("/sales/lines").get_data(as_text=True)  # a distributor views but may not export
    assert 'data-testid="line-row"' in body and "export-csv" not in body and "export-xlsx" not in body
    assert users[IBO1].get("/sales/lines/export.csv").status_code == 403
    assert users[IBO1].get("/sales/lines/export.xlsx").status_code == 403
    for url in ("/sales/lines", "/sales/lines/export.csv", "/sales/lines/export.xlsx"):
        assert users[REVIEWER].get(url).status_code == 403, url


def test_sale_line_page_empty_states_and_past_the_end(users):
    body = users[STORE1].get("/sales/lines?q=없는이름가나다").get_data(as_text=True)
    assert 'data-testid="line-row"' not in body and "empty" in body
    resp = users[STORE1].get("/sales/lines?page=99999&per_page=200")
    assert resp.status_code == 302 and "page=" in resp.headers["Location"]


@pytest.mark.parametrize("url", [
    "/sales/lines?date_from=2026-13-01", "/sales/lines?date_to=yesterday", "/sales/lines?date_from=20260101",
    "/sales/lines?date_from=2026-02-30", "/sales/lines?date_from=2026-03-01&date_to=2026-02-01",
])
def test_sale_line_page_bad_dates_give_a_clear_message(users, url):
    resp = users[STORE1].get(url)
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert 'data-testid="filter-error"' in body and 'class="error"' in body
    assert 'data-testid="line-row"' not in body  # nothing listed under filters that could not apply


def test_sale_line_page_lenient_paging_and_junk(users):
    for url in ("/sales/lines?page=abc&per_page=-3", "/sales/lines?sort=;drop", "/sales/lines?q=%25_%25",
                "/sales/lines?category=nope&branch=' OR 1=1 --", "/sales/lines?q=" + "가" * 500):
        assert users[STORE1].get(url).status_code == 200, url
    assert users[STORE1].get("/sales/lines?q=%00").status_code == 400


# -- sale lines: export -----------------------------------------------------------------------------


def test_sale_line_exports_neutralize_formula_cells(users, poisoned):
    client = users[STORE1]
    header, rows = read_csv(client.get("/sales/lines/export.csv?date_from=2026-01-15&date_to=2026-01-15",
                                       buffered=True))
    book = xlsx_book(client.get("/sales/lines/export.xlsx?date_from=2026-01-15&date_to=2026-01-15", buffered=True))
    ws = book.active
    assert as_codes("/sales/", [c.value for c in ws[1]]) == header
    name_col, receipt_col = header.index("customer_name"), header.index("receipt_no")
    by_code_csv = {r[header.index("customer_code")]: r for r in rows}
    by_code_xlsx = {row[header.index("customer_code")].value: row for row in ws.iter_rows(min_row=2)}
    for code, payload in poisoned.items():
        assert by_code_csv[code][name_col] == by_code_csv[code][receipt_col] == "'" + payload
        for col in (name_col, receipt_col):
            cell = by_code_xlsx[code][col]
            assert cell.data_type == "s" and cell.value == "'" + payload.replace("\r", "\n")
    for sheet_row in ws.iter_rows(min_row=2):
        assert isinstance(sheet_row[header.index("sold_at")].value, datetime)  # a real date
        assert isinstance(sheet_row[header.index("amount")].value, int)  # a real number
        for cell in sheet_row:
            assert cell.data_type != "f"


@pytest.mark.parametrize("email", [STORE1, HQ])
def test_sale_line_xlsx_and_csv_give_the_same_scoped_rows(users, poisoned, email):
    client = users[email]
    header, rows = read_csv(client.get("/sales/lines/export.csv", buffered=True))
    xheader, xrows = read_xlsx(client.get("/sales/lines/export.xlsx", buffered=True))
    assert xheader == header and same_text(xrows) == same_text(rows)
    expected = sql("SELECT s.receipt_no, s.amount FROM sale_line s WHERE s.id IN (" + LINES_SQL[email] + ")")
    assert sorted((r[header.index("receipt_no")].removeprefix("'"), int(r[header.index("amount")])) for r in rows) \
        == sorted((r[0], r[1]) for r in expected)
    if email == STORE1:
        assert {r[header.index("branch")] for r in rows} == {"B001"}
    dates = [r[header.index("sold_at")] for r in rows]
    assert dates == sorted(dates, reverse=True)  # the list's default order: newest first


def test_sale_line_export_filters(users):
    client = users[HQ]
    url = "/sales/lines/export.csv?branch=B003&category=beauty&date_from=2025-06-01&date_to=2025-12-31&sort=-amount"
    header, rows = read_csv(client.get(url, buffered=True))
    expected = sql("""SELECT s.receipt_no, s.amount FROM sale_line s JOIN org_unit o ON o.id = s.branch_id
                      JOIN category c ON c.id = s.category_id
                      WHERE o.code = 'B003' AND c.code = 'beauty' AND s.sold_at BETWEEN '2025-06-01' AND '2025-12-31'""")
    assert expected
    assert sorted(r[header.index("receipt_no")] for r in rows) == sorted(r[0] for r in expected)
    amounts = [int(r[header.index("amount")]) for r in rows]
    assert amounts == sorted(amounts, reverse=True)
    assert {r[header.index("category")] for r in rows} == {"beauty"}
    assert {r[header.index("category_name")] for r in rows} == {"화장품"}  # UI language (Korean by default)


def test_sale_line_exports_are_access_logged(users):
    start = len(log_rows(STORE1))
    users[STORE1].get("/sales/lines/export.csv?category=health", buffered=True)
    users[STORE1].get("/sales/lines/export.xlsx?category=health", buffered=True)
    new = log_rows(STORE1)[start:]
    expected = scalar("SELECT COUNT(*) FROM sale_line s JOIN org_unit o ON o.id = s.branch_id "
                      "JOIN category c ON c.id = s.category_id WHERE o.code = 'B001' AND c.code = 'health'")
    assert [r.action for r in new] == ["export", "export"]
    assert new[0].count == new[1].count == expected > 0
    assert new[0].detail.startswith("sale_lines.csv") and "health" in new[0].detail
    assert new[1].detail.startswith("sale_lines.xlsx")
    # Refused requests leave nothing.
    users[STORE1].get("/sales/lines/export.csv?date_from=bad", buffered=True)
    users[IBO1].get("/sales/lines/export.csv", buffered=True)
    assert len(log_rows(STORE1)) == start + 2


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_sale_line_export_bad_dates_answer_400(users, fmt):
    resp = users[STORE1].get(f"/sales/lines/export.{fmt}?date_from=2026-02-31", buffered=True)
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    assert "2026-02-31" in resp.get_data(as_text=True)


def test_sale_line_xlsx_too_large_is_refused_with_a_message(users, monkeypatch):
    import portal.exports

    monkeypatch.setattr(portal.exports, "XLSX_MAX_ROWS", 3)
    start = len(log_rows(STORE1))
    resp = users[STORE1].get("/sales/lines/export.xlsx?category=health")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/sales/lines?")
    body = users[STORE1].get(resp.headers["Location"]).get_data(as_text=True)
    assert "flash-error" in body and "Excel" in body
    assert [r.action for r in log_rows(STORE1)[start:]] == ["list"]


# -- sale lines: API ------------------------------------------------------------------------------


@pytest.mark.parametrize("email", [STORE1, IBO1])
def test_api_sale_lines_scoped_and_paginated(users, tokens, email):
    got = api_ids(users[email], tokens[email], f"{API}/sale-lines?per_page=200")
    assert len(got) == len(set(got))  # pages never overlap
    assert set(got) == ids(LINES_SQL[email])
    if email == STORE1:
        assert not set(got) & ids("SELECT s.id FROM sale_line s JOIN org_unit o ON o.id = s.branch_id "
                                  "WHERE o.code = 'B002'")


def test_api_sale_lines_items_and_filters(users, tokens, poisoned):
    client, token = users[HQ], tokens[HQ]
    resp = client.get(f"{API}/sale-lines?q=XF000000", headers=bearer(token))
    body = resp.get_json()
    assert resp.status_code == 200 and body["total"] == 1 and body["total_is_capped"] is False and "next" not in body
    item = body["items"][0]
    assert item["customer_code"] == "XF000000" and item["customer_name"] == FORMULAS[0]  # JSON is not a spreadsheet
    assert item["sold_at"] == "2026-01-15" and item["branch_code"] == "B001"
    assert all(isinstance(item[k], int) for k in ("id", "customer_id", "quantity", "unit_price", "amount"))
    assert body["amount_total"] == item["amount"]
    # A receipt number, a date range, a category: same rows as plain SQL.
    receipt = sql("SELECT receipt_no, id FROM sale_line WHERE receipt_no LIKE 'R%' ORDER BY id LIMIT 1")[0]
    body = client.get(f"{API}/sale-lines?q={receipt[0]}", headers=bearer(token)).get_json()
    assert [i["id"] for i in body["items"]] == [receipt[1]]
    got = api_ids(client, token, f"{API}/sale-lines?date_from=2025-03-01&date_to=2025-03-31&category=home&per_page=100")
    assert set(got) == ids("SELECT s.id FROM sale_line s JOIN category c ON c.id = s.category_id "
                           "WHERE c.code = 'home' AND s.sold_at BETWEEN '2025-03-01' AND '2025-03-31'")
    # Sort by amount, ascending; ties by id.
    items = client.get(f"{API}/sale-lines?sort=amount&per_page=50", headers=bearer(token)).get_json()["items"]
    assert [(i["amount"], i["id"]) for i in items] == sorted((i["amount"], i["id"]) for i in items)
    # The totals match SQL for a customer's lines.
    code = sql("SELECT c.code FROM customer c JOIN sale_line s ON s.customer_id = c.id "
               "GROUP BY c.code HAVING COUNT(*) > 2 ORDER BY c.code LIMIT 1")[0][0]
    body = client.get(f"{API}/sale-lines?q={code.lower()}&per_page=2", headers=bearer(token)).get_json()
    count, amount = sql("SELECT COUNT(*), SUM(s.amount) FROM sale_line s JOIN customer c ON c.id = s.customer_id "
                        "WHERE c.code = :c", c=code)[0]
    assert body["total"] == count and body["amount_total"] == amount and "next" in body
    assert "per_page=2" in body["next"] and "page=2" in body["next"]


@pytest.mark.parametrize("query,field", [
    ("date_from=2026-13-01", "date_from"), ("date_to=tomorrow", "date_to"),
    ("date_from=2026-03-01&date_to=2026-01-01", "date_to"), ("per_page=0", None), ("page=abc", None),
    ("page=1.5", None),
])
def test_api_sale_lines_bad_params_answer_400(users, tokens, query, field):
    resp = users[STORE1].get(f"{API}/sale-lines?{query}", headers=bearer(tokens[STORE1]))
    assert resp.status_code == 400 and resp.is_json
    body = resp.get_json()
    assert body["error"] == "bad_request" and body["message"]
    if field:
        assert field in body["fields"] and field in body["message"]


def test_api_sale_lines_permissions_and_log(users, tokens):
    assert users[REVIEWER].get(f"{API}/sale-lines", headers=bearer(tokens[REVIEWER])).status_code == 403
    assert users[STORE1].get(f"{API}/sale-lines").status_code == 401  # the session cookie does not count
    start = len(log_rows(STORE1))
    body = users[STORE1].get(f"{API}/sale-lines?per_page=7&category=beauty",
                             headers=bearer(tokens[STORE1])).get_json()
    users[STORE1].get(f"{API}/sale-lines?date_from=x", headers=bearer(tokens[STORE1]))  # refused: not logged
    new = log_rows(STORE1)[start:]
    assert [(r.action, r.count) for r in new] == [("api_list", len(body["items"]))]
    assert "sale_lines" in new[0].detail and "beauty" in new[0].detail


def test_sale_line_page_and_api_agree(users, tokens):
    """The page and the API list the same lines in the same order for the same filters."""
    query = "date_from=2025-01-01&date_to=2025-06-30&category=health&per_page=200"
    shown = page_ids(users[STORE1], f"/sales/lines?{query}")
    assert shown and shown == api_ids(users[STORE1], tokens[STORE1], f"{API}/sale-lines?{query}")


def test_sale_lines_service_without_http(app, monkeypatch):
    """The service answers without a request: scope from the user, capped totals, filter errors."""
    import portal.sales.lines as lines
    from portal.auth.service import find_user
    from portal.sales.lines import SaleLineFilterError, SaleLineFilters, lines_page, sale_line_query

    store1 = find_user(STORE1)
    result = lines_page(sale_line_query(store1, SaleLineFilters()), 1, 10)
    count, amount = sql("SELECT COUNT(*), SUM(s.amount) FROM sale_line s JOIN org_unit o ON o.id = s.branch_id "
                        "WHERE o.code = 'B001'")[0]
    assert result.page.total == count and result.amount == amount and len(result.page.items) == 10
    assert {r.branch_code for r in result.page.items} == {"B001"}
    with pytest.raises(SaleLineFilterError) as exc:
        sale_line_query(store1, SaleLineFilters(date_from="2026-01-32"))
    assert set(exc.value.errors) == {"date_from"}
    # Past the count cap the amount is left out instead of adding up millions of lines.
    assert scalar("SELECT COUNT(*) FROM sale_line") > 10
    monkeypatch.setattr(lines, "COUNT_CAP", 10)
    result = lines_page(sale_line_query(find_user(HQ), SaleLineFilters()), 1, 5)
    assert result.page.total == 10 and result.page.total_is_capped and result.amount is None
    assert result.page.has_next and len(result.page.items) == 5


def test_sale_line_search_finds_a_customer_by_the_given_name(users):
    """"지호" finds 김지호's lines, as the customer list does (issue 13 item 24), within scope."""
    given = sql("SELECT c.name FROM customer c JOIN sale_line s ON s.customer_id = c.id "
                "JOIN org_unit o ON o.id = s.branch_id WHERE o.code = 'B001' AND length(c.name) = 3 "
                "ORDER BY c.id LIMIT 1")[0][0]
    part = given[1:]
    expected = ids("SELECT s.id FROM sale_line s JOIN customer c ON c.id = s.customer_id "
                   "JOIN org_unit o ON o.id = s.branch_id JOIN org_unit oc ON oc.id = c.branch_id "
                   f"WHERE o.code = 'B001' AND oc.code = 'B001' AND c.name LIKE '%{part}%'")
    shown = page_ids(users[STORE1], f"/sales/lines?per_page=200&q={part}")
    assert expected and set(shown) == expected
