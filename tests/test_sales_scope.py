"""One rule for sales (issue 13, item 5): the dashboard's sales figures, the sale-line page, its
CSV export and the API all count the same sales for every role — where the sale happened, or the
distributor line it was sold under — never the sales of customers a branch owns but did not sell to."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import pytest

from portal.sales.lines import EXPORT_COLUMNS
from tests.conftest import api_token_for, bearer, login, scalar
from tests.scope_oracle import HQ, IBO1, LEADER1, SALE_LINE_IDS, STORE1, STORE2
from tests.test_sales_import import csv_bytes, row, run_import

BIG = 7_777_777
ROLES = (STORE1, STORE2, LEADER1, IBO1, HQ)
ORACLE = {**SALE_LINE_IDS,
          STORE2: "SELECT s.id FROM sale_line s JOIN org_unit o ON o.id = s.branch_id WHERE o.code = 'B002'"}


def _month_bounds(label: str) -> tuple[date, date]:
    """First and last day of the month ``YYYY-MM``."""
    y, m = (int(p) for p in label.split("-"))
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return date(y, m, 1), nxt - timedelta(days=1)


def _chart(html: str, chart_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html, re.S)
    assert match, f"no chart {chart_id}"
    return json.loads(match.group(1))


def _lines_total(user, start: date, end: date) -> int:
    """The sale-line service's amount for a date range (the page and the API use it)."""
    from portal.sales.lines import SaleLineFilters, lines_page, sale_line_query

    result = lines_page(sale_line_query(user, SaleLineFilters(date_from=start.isoformat(), date_to=end.isoformat())),
                        1, 1, user)
    assert result.amount is not None
    return result.amount


@pytest.fixture
def foreign_sale(app):
    """A 7,777,777 KRW sale made at B001, last month, to a customer owned by B002."""
    last_month = date.today().replace(day=1) - timedelta(days=1)
    day = last_month.replace(day=15)
    code = scalar("SELECT c.code FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B002' "
                  "AND c.pseudonymized_at IS NULL ORDER BY c.id LIMIT 1")
    # replace: the demo's own report of that day, if B001 filed one, gives way to this file.
    result = run_import(csv_bytes([row(code=code, price=BIG, day=day.isoformat(), receipt="BIG-1")]), replace=True)
    assert result.status == "committed", result.errors or result.message
    return day


def test_store_charts_never_count_a_sale_its_list_does_not_show(app, foreign_sale):
    """The attack: store2 owns the customer, the sale happened at B001. Store2's chart used to
    include it; now neither store2's chart nor its list does, and store1's both do."""
    label = f"{foreign_sale:%Y-%m}"
    for email, sees in ((STORE1, True), (STORE2, False)):
        client = app.test_client()
        login(client, email)
        trend = _chart(client.get("/dashboard").get_data(as_text=True), "chart-trend")
        amount = trend["data"]["datasets"][0]["data"][trend["data"]["labels"].index(label)]
        lines = client.get(f"/sales/lines?date_from={foreign_sale}&date_to={foreign_sale}").get_data(as_text=True)
        assert ("BIG-1" in lines) is sees
        start, end = _month_bounds(label)
        without = scalar("SELECT COALESCE(SUM(s.amount), 0) FROM sale_line s JOIN org_unit o ON o.id = s.branch_id "
                         "WHERE o.code = :b AND s.sold_at BETWEEN :a AND :z AND COALESCE(s.receipt_no, '') <> 'BIG-1'",
                         b="B001" if email == STORE1 else "B002", a=start, z=end)
        assert amount == without + (BIG if sees else 0)


@pytest.mark.parametrize("email", ROLES)
def test_portlets_sale_lines_api_and_export_agree(app, foreign_sale, email):
    """Every sales figure a role sees is the sum of the sale lines it can list, month by month,
    through the service, the API and the CSV export; and those lines are the scope oracle's."""
    from portal.auth.service import find_user
    from portal.dashboard.portlets import _branch_overview, _downline, _monthly_sales, _sales_by_category

    user = find_user(email)
    with app.test_request_context():  # the portlets build links
        trend = _monthly_sales(user)
        by_category = sum(int(r[3]) for r in _sales_by_category(user)["rows"])
        branches = _branch_overview(user)["rows"]
        downline = _downline(user)["top"]
    for label, amount in zip(trend["labels"], trend["amounts"], strict=True):
        start, end = _month_bounds(label)
        assert amount == _lines_total(user, start, end), (email, label)
    first, last = _month_bounds(trend["labels"][0])[0], _month_bounds(trend["labels"][-1])[1]
    total = _lines_total(user, first, last)
    assert total == trend["total"]
    # The lines themselves are the plain-SQL oracle's (where sold, or the line's distributor).
    oracle = ORACLE[email]
    expected = scalar(f"SELECT COALESCE(SUM(amount), 0) FROM sale_line WHERE sold_at BETWEEN :a AND :z "  # noqa: S608
                      f"AND id IN ({oracle})", a=first, z=last)
    assert total == expected

    # The API and the CSV export add up to the same amount.
    token = api_token_for(email)
    client = app.test_client()
    body = client.get(f"/api/v1/sale-lines?date_from={first}&date_to={last}&per_page=1",
                      headers=bearer(token)).get_json()
    assert body["amount_total"] == total
    login(client, email)
    resp = client.get(f"/sales/lines/export.csv?date_from={first}&date_to={last}")
    if resp.status_code == 200:  # distributors may view but not export
        rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
        col = EXPORT_COLUMNS.index("amount")  # headers are in the user's language; the order is fixed
        assert sum(int(r[col]) for r in rows[1:]) == total
    else:
        assert resp.status_code == 403 and email == IBO1

    # Sales by category (last 365 days) and the 90-day branch and downline figures: same rule.
    since = date.today() - timedelta(days=365)
    assert by_category == scalar(f"SELECT COALESCE(SUM(amount), 0) FROM sale_line WHERE sold_at >= :a "  # noqa: S608
                                 f"AND category_id IS NOT NULL AND id IN ({oracle})", a=since)
    since90 = date.today() - timedelta(days=90)
    for r in branches:
        assert int(r[4]) == scalar(f"SELECT COALESCE(SUM(amount), 0) FROM sale_line WHERE branch_id = :b "  # noqa: S608
                                   f"AND sold_at >= :a AND id IN ({oracle})", b=r[0], a=since90)
    for r in downline:
        assert int(r.amount) == scalar(f"SELECT COALESCE(SUM(amount), 0) FROM sale_line WHERE partner_id = :p "  # noqa: S608
                                       f"AND sold_at >= :a AND id IN ({oracle})", p=r.id, a=since90)
