"""Runs of the monitoring jobs (``mon_run``): a run whose process died (killed worker, server
restart) would stay ``running`` for ever and the monitor page would show it in progress; each new
run of a kind first marks those older than any run can last as ``failed``."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from portal.toolkit import db, utcnow

from .models import MonRun

#: Longer than the longest job's time limit (the rebuild's 1,800 s) with room to spare.
ABANDONED_AFTER = timedelta(hours=2)


def abandon_stale(kind: str) -> int:
    """Mark ``kind``'s runs still ``running`` after :data:`ABANDONED_AFTER` as failed; no commit."""
    now = utcnow()
    result = db.session.execute(
        update(MonRun).where(MonRun.kind == kind, MonRun.status == "running",
                             MonRun.started_at < now - ABANDONED_AFTER)
        .values(status="failed", finished_at=now, message="Abandoned: the run's process stopped before it finished.")
        .execution_options(synchronize_session=False))
    return result.rowcount or 0
