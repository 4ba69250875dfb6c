"""Migrations: upgrade from an empty database, models and migrations agree, downgrade works,
and the audit tables are append-only at the database level."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import db


def _include_core(obj, name, type_, reflected, compare_to):
    from portal.models.base import core_tables

    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table is None or table in core_tables()


def test_upgrade_from_empty_matches_models(empty_app):
    from portal.migrations_support import upgrade_core
    from portal.models.base import core_tables

    upgrade_core()
    tables = set(sa.inspect(db.engine).get_table_names())
    assert core_tables() <= tables and "smp_note" not in tables
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": _include_core, "compare_type": True})
        diff = compare_metadata(ctx, db.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_cli_upgrade_downgrade_upgrade(empty_app):
    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["portal", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "core: up to date" in result.output
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert "customer" not in sa.inspect(db.engine).get_table_names()
    result = runner.invoke(args=["portal", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "customer" in sa.inspect(db.engine).get_table_names()


def test_installed_plugin_is_migrated_by_portal_db_upgrade(empty_app):
    runner = empty_app.test_cli_runner()
    assert runner.invoke(args=["portal", "db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["portal", "plugins", "install", "sample"]).exit_code == 0
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE smp_note"))
        conn.execute(sa.text("DELETE FROM alembic_version_sample"))
    result = runner.invoke(args=["portal", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "sample: up to date" in result.output
    assert "smp_note" in sa.inspect(db.engine).get_table_names()


INSERTS = {
    "audit_event": "INSERT INTO audit_event (at, action, actor_label, summary) VALUES (:at, 'test', 'x', '')",
    "access_log": "INSERT INTO access_log (at, action, object_type, count) VALUES (:at, 'test', 'customer', 1)",
}


@pytest.mark.parametrize("table", sorted(INSERTS))
def test_logs_are_append_only_in_the_database(app, table):
    from portal.models import utcnow

    db.session.execute(sa.text(INSERTS[table]), {"at": utcnow()})
    db.session.commit()
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text(f"UPDATE {table} SET action = 'tampered'"))
        db.session.commit()
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text(f"DELETE FROM {table}"))
        db.session.commit()
    db.session.rollback()
    assert db.session.execute(sa.text(f"SELECT count(*) FROM {table} WHERE action = 'test'")).scalar_one() == 1
