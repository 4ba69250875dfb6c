"""Uninstall through the core's lifecycle (``portal.plugins_lifecycle.uninstall``), with and without
purge. Without purge the ``mon_`` tables and their rows stay and come back on reinstall; the
pages and the API answer 404 meanwhile, the dashboard and a daily-report import keep working.
With purge no ``mon_`` table (nor its migration version) is left, the settings are cleared, the
core's tables are intact (same rows), an import works and a reinstall starts from a working,
empty add-on (its install step rebuilds the aggregates from the warehouse)."""

from __future__ import annotations

import sqlalchemy as sa

from portal.plugins_lifecycle import install, uninstall
from portal.toolkit import db
from tests.conftest import scalar
from tests.plugins.branch_monitor.aggregates_fixtures import OLD, import_csv, report_csv
from tests.plugins.branch_monitor.attack_fixtures import client_of, headers
from tests.plugins.branch_monitor.monitor_fixtures import put_alert, put_state, seed_kpis

CORE = ("org_unit", "user_account", "sales_report", "sale_line", "customer", "notification", "local_role",
        "plugin_state")


def _tables() -> set[str]:
    db.session.commit()
    return set(sa.inspect(db.session.connection()).get_table_names())


def _mon() -> set[str]:
    return {t for t in _tables() if t.startswith("mon_")}


def _core_counts() -> dict[str, int]:
    return {t: scalar(f"SELECT count(*) FROM {t}") for t in CORE}  # noqa: S608 - fixed names


def _world() -> None:
    from portal.plugin_settings import save_settings

    seed_kpis()
    put_state("B001", "at_risk_contact_rate", "alarm")
    put_alert("B001", "at_risk_contact_rate", "alarm")
    assert save_settings("branch_monitor", {"deadline_days": 1, "deadline_hour": 18, "deadline_minute": 0,
                                            "baseline_z_alert": 2.0, "baseline_z_alarm": 3.0}) == {}


def _closed(app, hq, hq_headers) -> None:
    for url in ("/monitor/", "/monitor/branches/B001", "/monitor/compliance/", "/monitor/calendar/",
                "/monitor/alerts/", "/monitor/export?format=csv"):
        assert hq.get(url).status_code == 404, url
    for url in ("/api/v1/monitor/branches", "/api/v1/monitor/alerts/", "/api/v1/monitor/settings"):
        assert app.test_client().get(url, headers=hq_headers).status_code == 404, url
    dash = hq.get("/dashboard")
    assert dash.status_code == 200


def test_uninstall_without_purge_keeps_the_rows_and_reinstall_shows_them(app):
    _world()
    tables, kpis = _mon(), scalar("SELECT count(*) FROM mon_kpi")
    assert {"mon_kpi", "mon_alert", "mon_branch_day", "mon_subscription"} <= tables
    hq, hq_headers = client_of(app, "hq"), headers(app, "hq")
    uninstall("branch_monitor")
    db.session.remove()
    assert _mon() == tables
    _closed(app, hq, hq_headers)
    # a daily report imported while the add-on is away: the core does not stumble on its hook
    import_csv(report_csv(OLD, "B003", [("LIFE1", 1000)]), "while-away.csv")
    install("branch_monitor")
    db.session.remove()
    assert scalar("SELECT count(*) FROM mon_kpi") == kpis
    page = hq.get("/monitor/branches/B001?month=2026-03")
    assert page.status_code == 200
    alerts = app.test_client().get("/api/v1/monitor/alerts/", headers=hq_headers).get_json()
    assert alerts["total"] == 1
    assert app.test_client().get("/api/v1/monitor/settings", headers=hq_headers).get_json()["deadline_hour"] == 18


def test_uninstall_with_purge_leaves_no_mon_table_and_the_core_intact(app):
    _world()
    hq, hq_headers = client_of(app, "hq"), headers(app, "hq")
    core = _core_counts()
    uninstall("branch_monitor", purge=True)
    db.session.remove()
    left = _mon()
    assert left == set(), left
    versions = {t for t in _tables() if "branch_monitor" in t}
    for t in versions:
        assert scalar(f"SELECT count(*) FROM {t}") == 0, t  # noqa: S608 - a name from the inspector
    if db.engine.dialect.name == "postgresql":
        idx = db.session.execute(sa.text("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%mon\\_%'")).all()
        assert idx == [], idx
    else:
        names = db.session.execute(sa.text("SELECT name FROM sqlite_master WHERE name LIKE 'mon\\_%' ESCAPE '\\' "
                                           "OR tbl_name LIKE 'mon\\_%' ESCAPE '\\'")).all()
        assert names == [], names
    assert scalar("SELECT settings FROM plugin_state WHERE name = 'branch_monitor'") in (None, "null")
    assert _core_counts() == core
    _closed(app, hq, hq_headers)
    import_csv(report_csv(OLD, "B003", [("LIFE2", 2000)]), "after-purge.csv")
    # reinstalled: empty of the old KPIs and alerts, aggregates rebuilt from the warehouse, working
    install("branch_monitor")
    db.session.remove()
    assert scalar("SELECT count(*) FROM mon_kpi") == 0
    assert scalar("SELECT count(*) FROM mon_alert") == 0
    b003 = scalar("SELECT id FROM org_unit WHERE code = 'B003'")
    assert scalar("SELECT sales FROM mon_branch_day WHERE branch_id = :b AND day = :d", b=b003, d=OLD) == 2000
    assert hq.get("/monitor/?month=2026-03").status_code == 200
    resp = app.test_client().get("/api/v1/monitor/settings", headers=hq_headers)
    assert resp.status_code == 200 and resp.get_json()["deadline_hour"] == 10  # the default again
    assert hq.get("/dashboard").status_code == 200
