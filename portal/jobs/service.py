"""The public face of the jobs service: enqueue, run now, retry, and what the jobs page shows."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from ..extensions import db
from ..models.base import utcnow
from ..pagination import Page, paginate
from .models import STATUSES, JobRun
from .queue import caller_holds_sqlite_write, check_kwargs, execute, get_state, job_specs, spec_for, submit
from .registry import JobError, JobSpec


def enqueue(name: str, /, *, delay: float | None = None, eta: datetime | None = None, **kwargs: Any) -> str:
    """Queue one run of job ``name`` with JSON ``kwargs``; returns its task id.

    ``delay`` seconds or ``eta`` (aware, or naive UTC) schedule it for later. Enqueue after
    committing the data the job needs: a consumer may start it at once. Under ``TESTING`` (no
    ``PORTAL_JOBS_URL``) it runs here and now in a fresh app context — or, when the caller's
    session is inside a transaction, as soon as that transaction ends.
    """
    state = get_state()
    return submit(state, spec_for(state.specs, name), kwargs, trigger="enqueue", delay=delay, eta=eta)


def run_now(name: str, /, **kwargs: Any) -> Any:
    """Run job ``name`` synchronously in a fresh app context (its own session and commit) and
    return its result; recorded in ``job_run`` as a ``manual`` run. Exceptions propagate, without
    retries. On SQLite, commit (or roll back) first: the run needs the write lock."""
    spec = spec_for(job_specs(), name)
    check_kwargs(name, kwargs)
    if caller_holds_sqlite_write():
        raise JobError(f"run_now({name!r}): commit or roll back first — the run writes in its own "
                       "transaction and would wait for the write lock your session holds")
    return execute(current_app._get_current_object(), spec, kwargs,  # type: ignore[attr-defined]
                   {"trigger": "manual", "task_id": str(uuid.uuid4())}, None)


def retry_run(run_id: int) -> str:
    """Queue a failed run again with the same arguments; returns the new task id. The failed row
    keeps its status and remembers the new run (``retried_as``), so it is retried once. The
    caller commits."""
    state = get_state()
    run = db.session.get(JobRun, run_id)
    if run is None:
        raise JobError(f"No job run {run_id}")
    if run.status != "failed":
        raise JobError(f"Run {run_id} is {run.status}; only failed runs can be retried")
    if run.retried_as:
        raise JobError(f"Run {run_id} was retried already")
    spec = spec_for(state.specs, run.name)
    new_id = str(uuid.uuid4())
    claimed = db.session.execute(update(JobRun).where(JobRun.id == run_id, JobRun.retried_as.is_(None),
                                                      JobRun.status == "failed").values(retried_as=new_id))
    if claimed.rowcount != 1:
        raise JobError(f"Run {run_id} was retried already")
    return submit(state, spec, dict(run.kwargs or {}), trigger="retry", task_id=new_id)


def specs() -> dict[str, JobSpec]:
    """Every registered job (core and add-ons'), by name."""
    return dict(job_specs())


def status_counts() -> dict[str, int]:
    rows = db.session.execute(select(JobRun.status, func.count()).group_by(JobRun.status)).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: n for status, n in rows})
    return counts


def list_runs(status: str | None = None, name: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """Runs, newest first, optionally of one status and/or job name."""
    stmt = select(JobRun).order_by(JobRun.id.desc())
    if status:
        if status not in STATUSES:
            raise JobError(f"status must be one of {', '.join(STATUSES)}")
        stmt = stmt.where(JobRun.status == status)
    if name:
        stmt = stmt.where(JobRun.name == name)
    return paginate(stmt, page, per_page, key=JobRun.id)


def queue_sizes() -> dict[str, int]:
    """Tasks waiting in Huey's storage now (``queued``) and scheduled for later (``scheduled``)."""
    huey = get_state().huey
    return {"queued": huey.pending_count(), "scheduled": huey.scheduled_count()}


def next_run(spec: JobSpec, after: datetime | None = None, horizon_days: int = 8) -> datetime | None:
    """The next minute (naive UTC) at which a periodic job is due, within ``horizon_days``."""
    if spec.validate is None:
        return None
    t = (after or utcnow()).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(horizon_days * 24 * 60):
        if spec.validate(t):
            return t
        t += timedelta(minutes=1)
    return None


def periodic_overview() -> list[dict[str, Any]]:
    """Each periodic job with its schedule, last run and next run."""
    periodic = [s for s in job_specs().values() if s.periodic]
    last: dict[str, JobRun] = {}
    if periodic:
        newest = (select(func.max(JobRun.id)).where(JobRun.name.in_([s.name for s in periodic]))
                  .group_by(JobRun.name))
        for run in db.session.execute(select(JobRun).where(JobRun.id.in_(newest))).scalars():
            last[run.name] = run
    return [{"spec": s, "schedule": s.describe_schedule(), "last": last.get(s.name), "next": next_run(s)}
            for s in sorted(periodic, key=lambda s: s.name)]


def prune_runs(keep_days: int | None = None) -> dict[str, int]:
    """Delete finished runs (done, skipped, and failed ones already retried) older than
    ``keep_days`` (``PORTAL_JOBS_KEEP_DAYS``, default 30) and expired periodic locks; mark runs
    whose consumer died as failed. Failed runs not yet retried stay until someone looks at them.
    Runs daily as ``jobs.prune``."""
    from .models import JobLock

    days = keep_days if keep_days is not None else int(current_app.config.get("PORTAL_JOBS_KEEP_DAYS") or 30)
    cutoff = utcnow() - timedelta(days=max(days, 1))
    finished = (JobRun.status.in_(("done", "skipped")) | ((JobRun.status == "failed") & JobRun.retried_as.isnot(None)))
    runs = db.session.execute(JobRun.__table__.delete().where(finished, JobRun.enqueued_at < cutoff)).rowcount
    locks = db.session.execute(JobLock.__table__.delete().where(JobLock.expires_at < utcnow())).rowcount
    # A run still "running" long past its time limit (a day without one) lost its consumer (kill -9,
    # a crashed host): its transaction was rolled back; mark it failed so it can be retried.
    now = utcnow()
    lost = 0
    for spec in job_specs().values():
        limit = timedelta(seconds=(spec.time_limit or 86400) + 300)
        n = db.session.execute(
            update(JobRun).where(JobRun.name == spec.name, JobRun.status == "running", JobRun.started_at < now - limit)
            .values(status="failed", finished_at=now, error="interrupted: its consumer stopped during the run")
        ).rowcount
        if n:  # failed for good as well: nobody retries it unless told
            from .alerts import job_interrupted

            job_interrupted(spec.name)
        lost += n
    return {"runs": runs, "locks": locks, "lost": lost}
