"""A run whose process died does not stay "running" for ever: the next run of its kind closes it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select


def test_a_dead_rebuild_is_closed_by_the_next_one(app):
    from plugins.branch_monitor.aggregates.service import rebuild
    from plugins.branch_monitor.models import MonRun
    from portal.toolkit import db, utcnow

    dead = MonRun(kind="rebuild", status="running", started_at=utcnow() - timedelta(hours=3))
    young = MonRun(kind="rebuild", status="running", started_at=utcnow() - timedelta(minutes=5))
    other = MonRun(kind="kpis", status="running", started_at=utcnow() - timedelta(hours=3))
    db.session.add_all([dead, young, other])
    db.session.commit()
    ids = dead.id, young.id, other.id
    rebuild()
    status = dict(db.session.execute(select(MonRun.id, MonRun.status).where(MonRun.id.in_(ids))).all())
    assert status == {ids[0]: "failed", ids[1]: "running", ids[2]: "running"}
    assert db.session.get(MonRun, ids[0]).message.startswith("Abandoned")
