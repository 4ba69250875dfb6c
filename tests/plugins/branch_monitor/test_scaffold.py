"""The add-on installs on the seeded template, its tables exist and its pages are wired."""

from __future__ import annotations

from sqlalchemy import inspect


def test_installed_with_its_tables(app):
    from portal.toolkit import db

    with app.app_context():
        names = set(inspect(db.engine).get_table_names())
    assert {"mon_branch", "mon_branch_day", "mon_branch_month", "mon_kpi", "mon_state", "mon_alert"} <= names
