"""Issue 13: numbers and dates from outside are bounded, and import messages speak the user's terms
(the file's own column names, Seoul time, the way in's own words) — through the service, the
pages, the API and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta

import pytest

from portal.bounds import INT64_MAX, MAX_LINE_AMOUNT, MAX_QUANTITY, MAX_UNIT_PRICE, SCALE_LINES, local_today
from tests.conftest import api_token_for, bearer, csrf_token, login, scalar, sql
from tests.test_sales_import import HEADER_EN, csv_bytes, execute, lines_of, run_import
from tests.test_sales_import import row as sales_row

HUGE = '"99,999,999,999,999,999,999"'
DAY = "2021-06-15"  # before the demo data's three years of reports: no branch has filed it


def row(**kw) -> str:
    kw.setdefault("day", DAY)
    return sales_row(**kw)


def errors_by_row(result) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for e in result.errors:
        out.setdefault(e["row"], []).append(e)
    return out


# -- numbers ------------------------------------------------------------------------------------------


def test_the_maxima_keep_every_sum_inside_64_bits():
    """The documented decision: a sum over the portal's whole target scale cannot overflow."""
    assert MAX_LINE_AMOUNT * SCALE_LINES * 100 < INT64_MAX
    assert MAX_QUANTITY * MAX_UNIT_PRICE < INT64_MAX


def test_oversized_numbers_are_refused_row_by_row_and_nothing_is_stored(app):
    rows = [
        row(code="C0000001"),                                                    # row 2: fine
        row(code="C0000002", qty=1, price=HUGE, amount=HUGE),                    # row 3: was stored as 0
        row(code="C0000003", qty=2**32, price=2**32, amount=0),                  # row 4: 2^64 wrapped to 0
        row(code="C0000004", qty=MAX_QUANTITY + 1, price=1),                     # row 5
        row(code="C0000005", qty=1, price=MAX_UNIT_PRICE + 1),                   # row 6
        row(code="C0000006", qty=20, price=MAX_UNIT_PRICE),                      # row 7: amount 2 × 10^9
        row(code="C0000007", qty=1, price=10**18, amount=10**18),                # row 8
        row(code="C0000008", qty="12345678901234567890123", price=1, amount=1),  # row 9: no commas, 23 digits
    ]
    with app.app_context():
        before = scalar("SELECT COUNT(*) FROM sale_line")
        result = run_import(csv_bytes(rows), mode="strict")
        assert result.status == "rejected" and result.rejected == 7
        by_row = errors_by_row(result)
        assert set(by_row) == {3, 4, 5, 6, 7, 8, 9}
        assert {e["field"] for e in by_row[3]} >= {"unit_price", "amount"}
        assert {e["field"] for e in by_row[4]} >= {"quantity", "unit_price"}
        assert [e["field"] for e in by_row[7]] == ["amount"]
        assert any("1,000,000,000" in e["message"] for e in by_row[7])  # the maximum is named
        assert any("100,000" in e["message"] for e in by_row[5])
        assert any(e["field"] == "quantity" for e in by_row[9])
        assert scalar("SELECT COUNT(*) FROM sale_line") == before


def test_the_maxima_themselves_are_accepted(app):
    with app.app_context():
        result = run_import(csv_bytes([row(code="C0000001", qty=MAX_QUANTITY, price=MAX_LINE_AMOUNT // MAX_QUANTITY),
                                       row(code="C0000002", qty=1, price=MAX_UNIT_PRICE)]))
        assert result.status == "committed", (result.message, result.errors)
        assert scalar("SELECT SUM(amount) FROM sale_line WHERE report_id = :r", r=result.report_id) == \
            MAX_LINE_AMOUNT + MAX_UNIT_PRICE


def test_huge_lines_cannot_reach_the_pages_that_sum_them(app, client):
    """Ten lines of 10^18 KRW used to be accepted and then make every page that sums sales a 500."""
    token = api_token_for("hq@example.com")
    e18 = '"1,000,000,000,000,000,000"'  # 10^18 fits an int64; ten of them summed do not
    data = csv_bytes([row(code=f"C000000{i}", qty=1, price=e18, amount=e18) for i in range(10)], header=HEADER_EN)
    resp = client.post("/api/v1/sales-reports", headers=bearer(token), content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), "r.csv"), "mode": "lenient"})
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["rejected"] == 10 and {e["column"] for e in body["errors"]} >= {"unit_price", "amount"}
    assert scalar("SELECT COUNT(*) FROM sale_line WHERE amount > :m", m=MAX_LINE_AMOUNT) == 0
    login(client, "hq@example.com")
    for url in ("/dashboard", "/sales/reports", "/sales/lines"):
        assert client.get(url).status_code == 200, url


def test_cli_names_the_row_of_an_oversized_number(app, tmp_path):
    path = tmp_path / "day.csv"
    path.write_bytes(csv_bytes([row(code="C0000001"), row(code="C0000002", qty=1, price=HUGE, amount=HUGE)]))
    out = app.test_cli_runner().invoke(args=["portal", "sales", "import", str(path)])
    assert out.exit_code == 1
    assert "row 3" in out.output and "Traceback" not in out.output


# -- dates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31"])
def test_report_dates_before_2000_are_refused(app, day):
    with app.app_context():
        result = run_import(csv_bytes([row(code="C0000001", day=day)]), mode="lenient")
        assert result.status == "rejected"
        assert [e["field"] for e in result.errors] == ["report_date"]
        assert "2000-01-01" in result.errors[0]["message"]
        assert scalar("SELECT COUNT(*) FROM sales_report WHERE status = 'committed' AND report_date < :d",
                      d=date(2000, 1, 1)) == 0


def test_report_dates_end_today_in_seoul(app):
    today = local_today()
    with app.app_context():
        tomorrow = run_import(csv_bytes([row(code="C0000001", day=(today + timedelta(days=1)).isoformat())]))
        assert tomorrow.status == "rejected" and tomorrow.errors[0]["field"] == "report_date"
        assert run_import(csv_bytes([row(code="C0000001", day=today.isoformat())])).status == "committed"
        assert run_import(csv_bytes([row(code="C0000001", day="2000-01-01")])).status == "committed"


def test_seoul_morning_report_is_not_in_the_future_on_a_utc_server(app, monkeypatch):
    """At 08:00 in Seoul it is still yesterday in UTC: Seoul's date is the one that counts."""
    import portal.bounds

    real_now = portal.bounds.local_now

    def seoul_ahead():  # Seoul's calendar one day ahead of the server's, as every night from 15:00 UTC
        return real_now() + timedelta(days=1)

    monkeypatch.setattr(portal.bounds, "local_now", seoul_ahead)
    seoul_today = seoul_ahead().date()
    with app.app_context():
        result = run_import(csv_bytes([row(code="C0000001", day=seoul_today.isoformat())]))
        assert result.status == "committed", result.errors


@pytest.mark.parametrize("end", ["0001-01-01", "9999-12-31", "1999-12-25", "abc"])
def test_board_dates_out_of_range_answer_a_page_with_a_notice(client, end):
    login(client, "hq@example.com")
    resp = client.get(f"/sales/board?end={end}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'data-testid="date-notice"' in html
    assert 'data-testid="status-board"' in html


def test_board_window_stays_inside_the_bounds(client):
    login(client, "hq@example.com")
    html = client.get("/sales/board?end=9999-12-31").get_data(as_text=True)
    today = local_today()
    assert f'value="{today.isoformat()}"' in html
    assert f'data-day="{(today + timedelta(days=1)).isoformat()}"' not in html
    early = client.get("/sales/board?end=2000-01-01").get_data(as_text=True)
    assert 'data-day="2000-01-01"' in early and 'data-day="1999-12-31"' not in early
    assert "end=1999-" not in early  # the "earlier" link does not leave the window either


@pytest.mark.parametrize("log", ["", "access"])
def test_audit_dates_out_of_range_answer_a_page_with_a_notice(client, log):
    login(client, "admin@example.com")
    for query in ("end=9999-12-31", "start=0001-01-01", "start=0001-01-01&end=9999-12-31", "end=2026-02-30"):
        resp = client.get(f"/manage/audit?log={log}&{query}")
        assert resp.status_code == 200, query
        assert 'data-testid="date-notice"' in resp.get_data(as_text=True), query


def test_audit_day_filter_follows_seoul_days(app, client):
    """An event at 16:00 UTC on 6 December happened at 01:00 on 7 December in Seoul, and the page
    shows it so: filtering on 7 December finds it, filtering on 6 December does not."""
    execute("INSERT INTO audit_event (at, actor_label, action, summary) VALUES (:at, 'system', 'test.seoul', '')",
            at=datetime(2026, 12, 6, 16, 0))
    login(client, "admin@example.com")
    on_7th = client.get("/manage/audit?action=test.seoul&start=2026-12-07&end=2026-12-07").get_data(as_text=True)
    on_6th = client.get("/manage/audit?action=test.seoul&start=2026-12-06&end=2026-12-06").get_data(as_text=True)
    assert "2026-12-07 01:00:00" in on_7th
    assert "2026-12-07 01:00:00" not in on_6th


# -- messages in the user's terms ---------------------------------------------------------------------


def test_row_messages_name_columns_as_the_file_does(app):
    with app.app_context():
        korean = run_import(csv_bytes([row(code="C0000001"), row(code="C0000002", qty=2, price=1000, amount=3000)]))
        assert [(e["row"], e["column"], e["field"]) for e in korean.errors] == [(3, "금액", "amount")]
        english = run_import(csv_bytes([row(code="C0000002", qty=2, price=1000, amount=3000)], header=HEADER_EN))
        assert [(e["column"], e["field"]) for e in english.errors] == [("amount", "amount")]
        # A column the file does not have is named in the file's language.
        no_code = "판매일자,지점코드,고객명,전화번호,상품코드,카테고리,수량,단가,금액\n" \
                  f"{DAY},B001,김하나,010-7000-0001,HEA-001,health,1,32000,32000\n" \
                  f"{DAY},B001,,,HEA-001,health,1,32000,32000\n"
        result = run_import(no_code.encode())
        assert [(e["row"], e["column"]) for e in result.errors] == [(3, "고객번호")]
        stored = sql("SELECT \"column\" FROM sales_report_rejection WHERE report_id = :r", r=result.report_id)
        assert stored == [("고객번호",)]


def _file_twice(app, imported_at: datetime) -> tuple[bytes, int]:
    with app.app_context():
        first = run_import(csv_bytes([row(code="C0000001")]))
        assert first.status == "committed"
        execute("UPDATE sales_report SET created_at = :at WHERE id = :r", at=imported_at, r=first.report_id)
    return csv_bytes([row(code="C0000002")]), first.report_id


def test_already_filed_message_in_seoul_time_without_cli_flags_on_the_page(app, client):
    other, first_id = _file_twice(app, datetime(2026, 11, 5, 6, 4))  # 15:04 in Seoul
    login(client, "store1@example.com")
    token = csrf_token(client, "/sales/upload")
    resp = client.post("/sales/upload", content_type="multipart/form-data",
                       data={"csrf_token": token, "mode": "strict", "file": (io.BytesIO(other), "day.csv")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert f"#{first_id}" in html and "15:04" in html and "06:04" not in html
    assert "--replace" not in html


def test_already_filed_message_speaks_each_way_in(app, client, tmp_path):
    other, _ = _file_twice(app, datetime(2026, 11, 5, 6, 4))
    api = client.post("/api/v1/sales-reports", headers=bearer(api_token_for("hq@example.com")),
                      content_type="multipart/form-data", data={"file": (io.BytesIO(other), "r.csv")})
    assert api.status_code == 409
    message = api.get_json()["message"]
    assert "15:04" in message and "replace=true" in message and "--replace" not in message
    path = tmp_path / "day.csv"
    path.write_bytes(other)
    out = app.test_cli_runner().invoke(args=["portal", "sales", "import", str(path), "--json"])
    assert out.exit_code == 1
    assert "--replace" in json.loads(out.stdout)["message"]


def test_rejected_rows_keep_nothing_partial(app):
    """A file mixing a good row and an oversized one, in lenient mode, stores exactly the good one."""
    with app.app_context():
        result = run_import(csv_bytes([row(code="C0000001"), row(code="C0000002", qty=1, price=HUGE, amount=HUGE)]),
                            mode="lenient")
        assert result.status == "committed" and (result.accepted, result.rejected) == (1, 1)
        assert lines_of(result.report_id) == 1


def test_report_list_filters_take_any_date_without_error(app, client):
    """The reports list compares dates in SQL only, so the extremes are plain filters, not 500s."""
    with app.app_context():
        assert run_import(csv_bytes([row(code="C0000001")])).status == "committed"
    query = "date_from=0001-01-01&date_to=9999-12-31&branch=B001"
    token = api_token_for("hq@example.com")
    assert client.get(f"/api/v1/sales-reports?{query}", headers=bearer(token)).status_code == 200
    oldest = client.get(f"/api/v1/sales-reports?date_from=0001-01-01&date_to={DAY}", headers=bearer(token))
    assert [r["report_date"] for r in oldest.get_json()["items"]] == [DAY]
    login(client, "hq@example.com")
    assert client.get(f"/sales/reports?{query}").status_code == 200


def test_a_malformed_csv_is_explained_in_the_users_terms_not_the_parsers(app, client):
    """pandas' refusal ("Error tokenizing data. C error: Expected 16 fields in line 3, saw 17") reached
    the Korean page as it was; the row and the cause are told in the user's language."""
    too_many = csv_bytes([row(code="C0000001"), row(code="C0000002") + ",extra"])  # row 3: an unquoted comma
    open_quote = csv_bytes([row(code="C0000001"), '"' + row(code="C0000002")])     # row 3: a quote never closed
    with app.app_context():
        result = run_import(too_many)
        assert result.status == "refused" or result.status == "rejected"
        assert "Row 3 has 17 columns but the header has 16" in result.message, result.message
        assert "Error tokenizing" not in result.message and "C error" not in result.message
        result = run_import(open_quote)
        assert "A quotation mark opened in row 3 is never closed." in result.message, result.message
    login(client, "store1@example.com")  # reads the portal in Korean
    for data, korean in ((too_many, "3행의 열이 17개인데 머리글은 16개입니다"), (open_quote, "3행에서 연 큰따옴표가 닫히지 않았습니다")):
        token = csrf_token(client, "/sales/upload")
        resp = client.post("/sales/upload", content_type="multipart/form-data",
                           data={"csrf_token": token, "mode": "strict", "file": (io.BytesIO(data), "day.csv")})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422 and korean in html, html[:2000]
        assert "Error tokenizing" not in html and "C error" not in html


def test_one_of_keeps_a_tab_name_to_its_set():
    from portal.bounds import one_of

    tabs = ("open", "given_up", "resolved")
    assert one_of("given_up", tabs, "open") == "given_up"
    for junk in (None, "", "OPEN", "open\r\n", ["open"], 7):
        assert one_of(junk, tabs, "open") == "open"
