"""The nightly KPI job (03:00 KST, after the aggregates' rebuild): the current and the previous
Korean month, and on the first of a month the RFM snapshot of the month that just ended, taken
before the previous month is computed so its RFM moves are written."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from portal.toolkit import db, utcnow

from ..models import MonRun
from ..months import kst_today, month_label, month_start, prev_month


def run_kpis(months: list[date], *, snapshot: date | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Compute ``months`` (and first take the RFM snapshot of ``snapshot``'s end), recorded as a
    ``mon_run`` of kind ``kpis``; commits. A failure rolls the KPIs back and records the run failed."""
    from ..runs import abandon_stale
    from .rfm import snapshot_rfm
    from .service import compute_month

    abandon_stale("kpis")
    run = MonRun(kind="kpis", status="running", started_at=utcnow(),
                 detail={"months": [month_label(m) for m in months]})
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    try:
        detail: dict[str, Any] = {"months": {}}
        if snapshot is not None:
            detail["rfm_snapshot"] = {"month": month_label(snapshot), **snapshot_rfm(snapshot)}
        rows = 0
        for month in months:
            n = compute_month(month, now=now)
            detail["months"][month_label(month)] = n
            rows += n
        run = db.session.get(MonRun, run_id)
        run.status, run.finished_at, run.rows, run.detail = "done", utcnow(), rows, detail
        db.session.commit()
        return {"rows": rows, **detail}
    except Exception as exc:
        db.session.rollback()
        run = db.session.get(MonRun, run_id)
        if run is not None:
            run.status, run.finished_at, run.message = "failed", utcnow(), str(exc)[:500]
            db.session.commit()
        raise


def nightly_kpis(day: str | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    """The periodic job: ``day`` (``YYYY-MM-DD``, a Korean day; default today) decides the months;
    ``now`` (tests) caps the running month's "as at" figures."""
    today = date.fromisoformat(day) if day else kst_today()
    current = month_start(today)
    previous = prev_month(current)
    return run_kpis([previous, current], snapshot=previous if today.day == 1 else None, now=now)


JOBS: list[dict[str, Any]] = [
    {"name": "bm.kpis.nightly", "func": nightly_kpis,
     "schedule": {"minute": "0", "hour": "3", "tz": "Asia/Seoul"}, "retries": 1, "time_limit": 1800},
]
