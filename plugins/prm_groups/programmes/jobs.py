"""The daily job ``prm.programmes.run_ended`` (00:10 Asia/Seoul): a running programme whose run
window ended (its last day is before today in Seoul) moves to ``measuring`` through the
workflow's system transition ``run_ended`` — no actor, history and audit as for any transition.

Each programme commits on its own: one that fails is rolled back and logged, the others go on.
The workflow's compare-and-set makes a second run (or two consumers at once) harmless: a
programme already moved answers 409, which is skipped.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal.toolkit import WorkflowError, db, system_transition, utcnow

from ..models import RUNNING, PrmProgramme

log = logging.getLogger(__name__)
SEOUL = ZoneInfo("Asia/Seoul")


def today_in_seoul() -> date:
    return (utcnow().replace(tzinfo=ZoneInfo("UTC")).astimezone(SEOUL)).date()


def end_runs(today: date | str | None = None) -> dict[str, int]:
    """Move every running programme whose run window ended before ``today`` (Seoul) to measuring;
    returns ``{"moved", "skipped", "failed"}``."""
    day = date.fromisoformat(today) if isinstance(today, str) else (today or today_in_seoul())
    ids = list(db.session.scalars(select(PrmProgramme.id).where(PrmProgramme.state == RUNNING,
                                                                PrmProgramme.run_end < day)
                                  .order_by(PrmProgramme.id)))
    db.session.rollback()
    stats = {"moved": 0, "skipped": 0, "failed": 0}
    for programme_id in ids:
        try:
            programme = db.session.get(PrmProgramme, programme_id)
            if programme is None or programme.state != RUNNING:
                stats["skipped"] += 1
                continue
            system_transition(programme, "run_ended")
            programme.updated_at = utcnow()
            db.session.commit()
            stats["moved"] += 1
        except WorkflowError:
            db.session.rollback()
            stats["skipped"] += 1
        except Exception:  # noqa: BLE001 - one programme's failure must not stop the others
            db.session.rollback()
            stats["failed"] += 1
            log.exception("prm.programmes.run_ended: programme %s failed", programme_id)
    return stats


JOBS: list[dict[str, Any]] = [
    {"name": "prm.programmes.run_ended", "func": end_runs,
     "schedule": {"minute": "10", "hour": "0", "tz": "Asia/Seoul"}, "retries": 2, "time_limit": 600},
]
