"""Dashboard portlets follow the user's roles and scope."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.dashboard.portlets import last_full_months
from portal.extensions import db
from portal.models import Customer, OrgUnit, SaleLine
from tests.conftest import login


def _chart(html: str, chart_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html, re.S)
    assert match, f"no chart {chart_id}"
    return json.loads(match.group(1))


def test_store_dashboard_counts_only_its_branch(app, client):
    login(client, "store1@example.com")
    html = client.get("/dashboard").get_data(as_text=True)
    expected = db.session.execute(select(func.count()).select_from(Customer).join(OrgUnit, OrgUnit.id == Customer.branch_id)
                                  .where(OrgUnit.code == "B001")).scalar_one()
    assert re.search(rf'data-testid="stat-customers">{expected:,}<', html)
    assert "B001" in html and "B002" not in html  # branch portlet limited to own branch
    assert "chart-trend" in html


def test_hq_sees_every_branch_and_trend_totals_match_sql(app, client):
    login(client, "hq@example.com")
    html = client.get("/dashboard").get_data(as_text=True)
    for code in ("B001", "B006", "B012"):
        assert code in html
    trend = _chart(html, "chart-trend")
    assert len(trend["data"]["labels"]) == 12
    start, end = last_full_months(12)
    assert trend["data"]["labels"][0] == f"{start:%Y-%m}" and trend["data"]["labels"][-1] < f"{end:%Y-%m}"
    expected = db.session.execute(select(func.coalesce(func.sum(SaleLine.amount), 0))
                                  .where(SaleLine.sold_at >= start, SaleLine.sold_at < end)).scalar_one()
    assert expected > 0 and sum(trend["data"]["datasets"][0]["data"]) == expected


def test_leader_gets_downline_portlet(app, client):
    login(client, "leader1@example.com")
    html = client.get("/dashboard").get_data(as_text=True)
    codes = set(re.findall(r"G0\d-\d{4}", html))
    assert codes and all(c.startswith("G01-") for c in codes)


def test_reviewer_dashboard_has_no_customer_figures(app, client):
    login(client, "reviewer@example.com")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "stat-customers" not in html and "chart-trend" not in html


@pytest.mark.parametrize(("today", "start", "end"), [
    (date(2026, 11, 22), date(2025, 11, 1), date(2026, 11, 1)),
    (date(2026, 1, 1), date(2025, 1, 1), date(2026, 1, 1)),
    (date(2026, 12, 31), date(2025, 12, 1), date(2026, 12, 1)),
])
def test_last_full_months(today, start, end):
    assert last_full_months(12, today) == (start, end)
