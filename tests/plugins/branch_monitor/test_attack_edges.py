"""Months, days and ranges at their edges on every page and API that takes them: ``0001-01`` and
``9999-12`` (outside the documented 2000–2100: a 422 at the field, never a 500 from a date
overflow), the first and last allowed months (2000-01, 2100-12: the trend's twelve months before
and the month after must not overflow either), 2026-02-29 (no such day) against 2024-02-29, and the
compliance API's range of 92 days (allowed) against 93 (a 422 at ``to``). Korean time has no
daylight saving: a day's and a month's boundary is 15:00 UTC all year."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.plugins.branch_monitor.attack_fixtures import client_of, headers

BAD_MONTHS = ["0001-01", "9999-12", "1999-12", "2101-01", "2026-00", "2026-13", "2026-1", "26-01", "2026-01-01",
              "-2026-01", "2026-01 ", "+2026-01"]
GOOD_MONTHS = ["2000-01", "2100-12", "2026-02", "2024-02"]


@pytest.mark.parametrize("month", BAD_MONTHS)
def test_a_month_outside_the_bounds_is_a_422_at_month(app, month):
    client = client_of(app, "hq")
    hdrs = headers(app, "hq")
    for url in ("/monitor/", "/monitor/region/R01", "/monitor/branches/B001", "/monitor/compliance/"):
        resp = client.get(url, query_string={"month": month})
        assert resp.status_code == 422, (url, month, resp.status_code)
    export = client.get("/monitor/export", query_string={"month": month, "format": "csv"})
    assert export.status_code in (400, 422), (month, export.status_code)
    for url in ("/api/v1/monitor/branches", "/api/v1/monitor/branches/B001"):
        resp = app.test_client().get(url, query_string={"month": month}, headers=hdrs)
        assert resp.status_code == 422 and "month" in resp.get_json()["errors"], (url, month, resp.get_json())


def test_a_month_in_fullwidth_digits_is_a_422(app):
    resp = client_of(app, "hq").get("/monitor/", query_string={"month": "２０２６-01"})
    assert resp.status_code == 422


@pytest.mark.parametrize("month", GOOD_MONTHS)
def test_the_first_and_last_allowed_months_open(app, month):
    client = client_of(app, "hq")
    store = client_of(app, "store1")
    hdrs = headers(app, "hq")
    for url in ("/monitor/", "/monitor/region/R01", "/monitor/branches/B001", "/monitor/compliance/"):
        resp = client.get(url, query_string={"month": month})
        assert resp.status_code == 200, (url, month, resp.status_code)
    assert store.get("/monitor/my", query_string={"month": month}).status_code == 200
    assert client.get("/monitor/export", query_string={"month": month, "format": "xlsx"}).status_code == 200
    for url in ("/api/v1/monitor/branches", "/api/v1/monitor/branches/B001"):
        resp = app.test_client().get(url, query_string={"month": month}, headers=hdrs)
        assert resp.status_code == 200, (url, month, resp.get_json())


@pytest.mark.parametrize(("start", "end", "status", "field"), [
    ("2026-01-01", "2026-04-02", 200, None),  # 31 + 28 + 31 + 2 = 92 days
    ("2026-01-01", "2026-04-03", 422, "to"),  # 93
    ("2024-02-29", "2024-02-29", 200, None),  # a leap day
    ("2026-02-29", "2026-03-01", 422, "from"),
    ("2026-03-01", "2026-02-29", 422, "to"),
    ("2000-01-01", "2000-01-01", 200, None),
    ("2100-10-01", "2100-12-31", 200, None),  # 92 days ending on the last allowed day
    ("1999-12-31", "2000-01-01", 422, "from"),
    ("2100-12-31", "2101-01-01", 422, "to"),
    ("0001-01-01", "0001-01-02", 422, "from"),
    ("9999-12-30", "9999-12-31", 422, "from"),
    ("2026-03-02", "2026-03-01", 422, "to"),
])
def test_compliance_ranges_at_the_edges(app, start, end, status, field):
    resp = app.test_client().get("/api/v1/monitor/compliance", query_string={"from": start, "to": end},
                                 headers=headers(app, "hq"))
    assert resp.status_code == status, resp.get_json()
    if field:
        assert field in resp.get_json()["errors"], resp.get_json()


@pytest.mark.parametrize(("year", "status"), [("2000", 200), ("2100", 200), ("1999", 422), ("2101", 422),
                                              ("0001", 422), ("9999", 422), ("-1", 422), ("20 26", 422)])
def test_calendar_years_at_the_edges(app, year, status):
    resp = app.test_client().get("/api/v1/monitor/calendar/B001", query_string={"year": year},
                                 headers=headers(app, "hq"))
    assert resp.status_code == status, (year, resp.status_code)
    page = client_of(app, "hq").get("/monitor/calendar/B001", query_string={"year": year})
    assert page.status_code == status, (year, page.status_code)


def test_overrides_on_the_first_and_last_allowed_days(app):
    hdrs = headers(app, "hq")
    client = app.test_client()
    for day in ("2000-01-01", "2100-12-31", "2024-02-29"):
        resp = client.put("/api/v1/monitor/calendar/B001", json={"overrides": [{"date": day, "open": False}]},
                          headers=hdrs)
        assert resp.status_code == 200, (day, resp.get_json())
        assert {"date": day, "open": False, "note": None} in resp.get_json()["overrides"], resp.get_json()["overrides"]


@pytest.mark.parametrize(("utc", "kst_day"), [
    (datetime(2026, 3, 31, 14, 59, 59), date(2026, 3, 31)),
    (datetime(2026, 3, 31, 15, 0, 0), date(2026, 4, 1)),
    (datetime(2026, 12, 31, 14, 59, 59), date(2026, 12, 31)),
    (datetime(2026, 12, 31, 15, 0, 0), date(2027, 1, 1)),
    (datetime(2026, 6, 30, 15, 0, 0), date(2026, 7, 1)),  # summer: no daylight saving in Korea
    (datetime(2026, 2, 28, 15, 0, 0), date(2026, 3, 1)),
])
def test_korean_day_boundaries_are_15_utc_all_year(app, utc, kst_day):
    from plugins.branch_monitor.months import kst_to_utc_naive, month_start, to_kst

    assert to_kst(utc).date() == kst_day
    assert to_kst(utc.replace(tzinfo=UTC)).date() == kst_day
    midnight = kst_to_utc_naive(datetime(kst_day.year, kst_day.month, kst_day.day))
    assert (midnight.date(), midnight.time()) == (kst_day - timedelta(days=1), time(15))
    assert month_start(to_kst(utc).date()) == kst_day.replace(day=1)


def test_bm2_deadline_boundary_is_inclusive_at_10_kst(app):
    """BM-2 at the second: the report of 2026-03-03 filed 2026-03-04 10:00:00 KST is on time,
    10:00:01 late — 01:00:00 and 01:00:01 UTC."""
    from plugins.branch_monitor.compliance.service import deadline_rule

    rule = deadline_rule()
    due = rule.of(date(2026, 3, 3))
    assert due.astimezone(UTC).replace(tzinfo=None) == datetime(2026, 3, 4, 1, 0, 0)


@pytest.mark.parametrize(("command", "args"), [
    ("kpis", ["--month", "0001-01"]), ("kpis", ["--month", "9999-12"]), ("evaluate", ["--day", "2026-02-29"]),
    ("evaluate", ["--day", "9999-12-31"]), ("refresh", ["--from", "abc"]),
    ("refresh", ["--from", "2026-03-05", "--to", "2026-03-01"]),
])
def test_the_commands_refuse_dates_out_of_bounds_as_usage_errors(app, command, args):
    result = app.test_cli_runner().invoke(args=["portal", "branch_monitor", command, *args])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)


@pytest.mark.parametrize("args", [["--to", "9999-12-31"], ["--from", "2026-01-01", "--to", "9999-12-31"]])
def test_refresh_to_the_end_of_time_is_a_usage_error(app, args):
    from sqlalchemy import text

    from portal.toolkit import db

    result = app.test_cli_runner().invoke(args=["portal", "branch_monitor", "refresh", *args])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert db.session.execute(text("SELECT count(*) FROM mon_run WHERE status = 'running'")).scalar() == 0


def _words(html: str) -> set[str]:
    import re

    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S))
    return {w.lower() for w in re.findall(r"(?i)(?<![\w.])(?:-?inf(?:inity)?|nan)(?![\w])", text)}


def test_a_non_finite_kpi_is_never_shown_as_inf(app):
    import csv
    import io

    from portal.toolkit import db
    from tests.plugins.branch_monitor.monitor_fixtures import MONTH, put_kpi, seed_kpis

    seed_kpis()
    put_kpi("B001", MONTH, "sales", float("inf"))
    put_kpi("B003", MONTH, "at_risk_contact_rate", float("-inf"), 5, 0)
    db.session.commit()
    client = client_of(app, "hq")
    shown = {}
    for url in ("/monitor/?month=2026-03", "/monitor/branches/B001?month=2026-03", "/monitor/branches/B003?month=2026-03"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        shown[url] = _words(resp.get_data(as_text=True))
    export = client.get("/monitor/export?format=csv&month=2026-03").get_data(as_text=True)
    shown["csv"] = {c.lower() for row in csv.reader(io.StringIO(export)) for c in row
                    if c.strip().lower().lstrip("'-") in ("inf", "infinity", "nan")}
    assert not any(shown.values()), shown
