"""The Huey instance of an app, and how one run of a job executes.

One Huey instance per app (built on first use): storage from ``PORTAL_JOBS_URL`` — empty: a
SQLite file ``instance/jobs.db`` (separate from the app database); ``sqlite:///path``: that file;
``redis://…``: Redis; ``postgresql://…``: Huey's own PostgreSQL storage (psycopg 3, ``FOR UPDATE
SKIP LOCKED`` dequeue, LISTEN/NOTIFY wake-ups). Under ``TESTING`` without a URL Huey runs in
immediate mode: an enqueued task runs at once, in the caller's process.

Every run pushes a fresh app context (its own database session), records itself in ``job_run``,
runs the function under its time limit, commits, and records the outcome. See
docs/platform/jobs.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, current_app, g, has_app_context, has_request_context
from huey import Huey
from huey.exceptions import TaskTimeout
from huey.storage import MemoryStorage, PostgresStorage, RedisStorage, SqliteStorage
from sqlalchemy import event, select, update

from ..db_utils import dialect_insert
from ..extensions import db
from ..models.base import utcnow
from .models import JobLock, JobRun
from .registry import JobError, JobSpec, QueueUnavailable, collect_specs

log = logging.getLogger("portal.jobs")

BACKOFF = 2  # each retry waits twice as long as the one before
ERROR_CHARS = 2000
DEFAULT_LOCK_SECONDS = 3600
MAX_DELAY_SECONDS = 366 * 24 * 3600  # enqueue(delay=...) at most a year ahead (inf/NaN refused too)  # a periodic job without a time limit holds its lock at most this long


class JobTimeout(TaskTimeout):
    """The run passed its ``time_limit``: its open transaction is rolled back."""


# -- storage ----------------------------------------------------------------------------------

def storage_for(app: Flask) -> tuple[type, dict[str, Any], str]:
    """(Huey storage class, its keyword arguments, a description without credentials)."""
    url = (app.config.get("PORTAL_JOBS_URL") or "").strip()
    if not url:
        path = os.path.join(app.instance_path, "jobs.db")
        os.makedirs(app.instance_path, exist_ok=True)
        return SqliteStorage, {"filename": path}, f"SQLite {path}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    safe = f"{parts.scheme}://{host}{parts.path}"  # never the password
    if scheme == "sqlite":
        path = url.split("sqlite:///", 1)[-1] if url.startswith("sqlite:///") else ""
        if not path:
            raise JobError("PORTAL_JOBS_URL: write a SQLite file as sqlite:///path/to/jobs.db")
        return SqliteStorage, {"filename": path}, f"SQLite {path}"
    if scheme in {"redis", "rediss", "unix"}:
        return RedisStorage, {"url": url}, f"Redis {safe}"
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))
        prefix = app.config.get("PORTAL_JOBS_TABLE_PREFIX") or "huey"
        return PostgresStorage, {"dsn": dsn, "table_prefix": prefix}, f"PostgreSQL {safe} (tables {prefix}_*)"
    raise JobError(f"PORTAL_JOBS_URL: unsupported scheme {parts.scheme!r} (use redis://, postgresql:// or sqlite:///)")


class PortalHuey(Huey):
    """Huey whose periodic tasks carry the minute they were scheduled for (their "tick"), so that
    when several consumers each enqueue the same tick only the first to claim it runs it."""

    def read_periodic(self, timestamp: datetime | None) -> list[Any]:
        if timestamp is None:
            timestamp = self._get_timestamp()
        tasks = super().read_periodic(timestamp)
        tick = timestamp.strftime("%Y-%m-%dT%H:%M")
        for task in tasks:
            task.kwargs = {"meta": {"trigger": "periodic", "tick": tick}}
        return tasks


@dataclass
class JobsState:
    app: Flask
    huey: PortalHuey
    specs: dict[str, JobSpec]
    tasks: dict[str, Any]
    storage: str
    built_pid: int


_build_lock = threading.Lock()


def immediate_mode(app: Flask) -> bool:
    configured = app.config.get("PORTAL_JOBS_IMMEDIATE")
    if configured is not None:
        return bool(configured)
    return bool(app.testing) and not app.config.get("PORTAL_JOBS_URL")


def get_state(app: Flask | None = None) -> JobsState:
    """The app's jobs set-up, built once (the storage is not touched before a job is used)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.get("portal_jobs")
    if state is None:
        with _build_lock:
            state = app.extensions.get("portal_jobs")
            if state is None:
                state = app.extensions["portal_jobs"] = _build(app)
    return state


def job_specs(app: Flask | None = None) -> dict[str, JobSpec]:
    """Every registered job by name (collected once per app; needs no queue)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    specs = app.extensions.get("portal_job_specs")
    if specs is None:
        specs = app.extensions["portal_job_specs"] = collect_specs(app)
    return specs


def _build(app: Flask) -> JobsState:
    immediate = immediate_mode(app)
    if immediate:
        storage_class, kwargs, label = MemoryStorage, {}, "memory (immediate mode)"
    else:
        storage_class, kwargs, label = storage_for(app)
    try:
        huey = PortalHuey(app.config.get("PORTAL_JOBS_NAME") or "portal", results=False, utc=True,
                          immediate=immediate, storage_class=storage_class, **kwargs)
    except Exception as exc:  # noqa: BLE001  (PostgreSQL storage connects to create its tables)
        raise QueueUnavailable(f"the job queue ({label}) cannot be reached: {type(exc).__name__}: {exc}") from exc
    state = JobsState(app=app, huey=huey, specs=job_specs(app), tasks={}, storage=label, built_pid=os.getpid())
    for spec in state.specs.values():
        state.tasks[spec.name] = _huey_task(state, spec)

    @huey.on_startup("portal_fresh_connections")
    def _fresh_connections() -> None:
        # A forked worker ("process" workers) must not share the parent's pooled connections.
        if os.getpid() != state.built_pid:
            with app.app_context():
                db.engine.dispose(close=False)

    return state


def _huey_task(state: JobsState, spec: JobSpec) -> Any:
    def entry(kwargs: dict[str, Any] | None = None, meta: dict[str, Any] | None = None, task: Any = None) -> Any:
        return execute(state.app, spec, kwargs or {}, meta or {}, task)

    entry.__name__ = entry.__qualname__ = spec.name
    options = {"retries": spec.retries, "retry_delay": spec.retry_delay,
               "retry_backoff": BACKOFF if spec.retry_delay else 0, "context": True, "name": spec.name}
    if spec.periodic:
        return state.huey.periodic_task(spec.validate, **options)(entry)
    return state.huey.task(**options)(entry)


# -- enqueue ----------------------------------------------------------------------------------

def check_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    try:
        json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JobError(f"job {name}: arguments must be JSON values (ids, not objects): {exc}") from exc


def summarize(kwargs: dict[str, Any]) -> str | None:
    """``customer_id=5, email=<str>``: numbers and flags shown, text never (it may be personal)."""
    if not kwargs:
        return None
    parts = []
    for key, value in kwargs.items():
        if isinstance(value, bool | int) or value is None:
            parts.append(f"{key}={value}")
        elif isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
            parts.append(f"{key}=[{len(value)} ids]")
        else:
            parts.append(f"{key}=<{type(value).__name__}>")
    return ", ".join(parts)[:300]


def spec_for(specs: dict[str, JobSpec], name: str) -> JobSpec:
    spec = specs.get(name) if isinstance(name, str) else None
    if spec is None:
        raise JobError(f"No job named {name!r}")
    return spec


def submit(state: JobsState, spec: JobSpec, kwargs: dict[str, Any], *, trigger: str,
           delay: float | None = None, eta: datetime | None = None, task_id: str | None = None) -> str:
    """Put one run of ``spec`` on the queue; returns its task id."""
    check_kwargs(spec.name, kwargs)
    if delay is not None and eta is not None:
        raise JobError("give delay or eta, not both")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float)
                              or not 0 <= delay <= MAX_DELAY_SECONDS):
        raise JobError(f"delay must be a number of seconds from 0 to {MAX_DELAY_SECONDS}")
    if eta is not None and not isinstance(eta, datetime):
        raise JobError("eta must be a datetime")
    if eta is not None and eta.tzinfo is None:
        eta = eta.replace(tzinfo=UTC)  # the portal's naive datetimes are UTC (Huey would read local time)
    task_id = task_id or str(uuid.uuid4())
    scheduled = bool(delay) or eta is not None
    task = state.tasks[spec.name].s(kwargs=kwargs, meta={"trigger": trigger}, id=task_id,
                                    **({"delay": delay} if delay else {}), **({"eta": eta} if eta is not None else {}))
    row = {"name": spec.name, "task_id": task_id, "plugin": spec.plugin, "trigger": trigger,
           "status": "scheduled" if scheduled else "queued", "attempts": 0, "args_summary": summarize(kwargs),
           "kwargs": kwargs, "enqueued_at": utcnow(),
           "next_attempt_at": task.eta if scheduled else None}
    if state.huey.immediate:
        # Like a consumer would, run after the caller's transaction is over (a SQLite write lock
        # held by the caller would otherwise block the run's own transaction).
        after_caller_transaction(lambda: (_insert_run(row), state.huey.enqueue(task)))
    else:
        try:
            if scheduled:
                state.huey.add_schedule(task)  # straight into the schedule (Huey's enqueue would pass by the queue)
            else:
                state.huey.enqueue(task)
        except Exception as exc:  # noqa: BLE001  (the storage's driver error: Redis, psycopg, sqlite3)
            log.warning("jobs: could not queue %s on %s", spec.name, state.storage, exc_info=True)
            raise QueueUnavailable(f"the job queue ({state.storage}) cannot be reached: {type(exc).__name__}") from exc
        after_caller_transaction(lambda: _insert_run(row))
    return task_id


_PENDING = "portal_jobs_after_transaction"


def after_caller_transaction(fn: Callable[[], Any]) -> None:
    """Call ``fn`` now, or — when the caller's session is inside a transaction — once that
    transaction has ended (committed or rolled back), so ``fn``'s own connection never waits
    for a lock the caller holds."""
    if has_app_context():
        session = db.session()
        if session.in_transaction():
            session.info.setdefault(_PENDING, []).append(fn)
            return
    fn()


@event.listens_for(db.Session, "after_transaction_end")
def _run_pending(session: Any, transaction: Any) -> None:
    if transaction.parent is not None or not session.info.get(_PENDING):
        return
    pending = session.info.pop(_PENDING)
    for fn in pending:
        try:
            fn()
        except Exception:  # noqa: BLE001  (the caller's work is done; a queue hiccup is logged)
            log.exception("jobs: deferred enqueue failed")


def _insert_run(row: dict[str, Any]) -> None:
    with db.engine.begin() as conn:
        conn.execute(dialect_insert(JobRun.__table__).values(**row).on_conflict_do_nothing())


# -- one run ----------------------------------------------------------------------------------

def _worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{threading.get_ident()}"


def execute(app: Flask, spec: JobSpec, kwargs: dict[str, Any], meta: dict[str, Any], task: Any) -> Any:
    """Run ``spec`` once in a fresh app context; exceptions propagate (Huey retries them)."""
    with app.app_context():
        g.sqlite_write = True  # the run writes: SQLite transactions begin IMMEDIATE (portal.extensions)
        try:
            return _run(spec, kwargs, meta, task)
        finally:
            db.session.remove()


def _run(spec: JobSpec, kwargs: dict[str, Any], meta: dict[str, Any], task: Any) -> Any:
    task_id = task.id if task is not None else meta.get("task_id") or str(uuid.uuid4())
    attempt = spec.retries - task.retries + 1 if task is not None else 1
    tick = meta.get("tick")
    run_id = _start(spec, task_id, meta.get("trigger", "enqueue"), kwargs,
                    f"{spec.name}@{tick}" if tick else None, attempt)
    if run_id is None:
        log.info("jobs: %s tick %s was claimed by another consumer", spec.name, tick)
        return None
    if spec.plugin != "core":
        from ..plugins import active_plugin_names

        if spec.plugin not in active_plugin_names():
            _finish(run_id, "skipped", error=f"the add-on {spec.plugin!r} is not enabled")
            return None
    lock_owner = None
    if spec.periodic:
        lock_owner = _acquire_lock(spec)
        if lock_owner is None:
            _finish(run_id, "skipped", error="the previous run is still running")
            if task is None:
                raise JobError(f"{spec.name} is running now; try again when it has finished")
            return None
    try:
        try:
            with time_limit(spec.time_limit):
                result = spec.func(**kwargs)
                db.session.commit()
        except BaseException as exc:
            db.session.rollback()
            retry = task is not None and task.retries > 0 and isinstance(exc, Exception)
            delay = task.retry_delay if retry and task.retry_delay else None
            _finish(run_id, "retrying" if retry else "failed", error=_describe(exc, spec),
                    next_attempt_at=utcnow() + timedelta(seconds=delay) if delay else None)
            if not retry and task is not None:  # a queued run failed for good: nobody is watching it
                from .alerts import job_failed

                job_failed(spec.name, attempt)
            raise
        _finish(run_id, "done")
        return result
    finally:
        if lock_owner is not None:
            _release_lock(spec.name, lock_owner)


def _describe(exc: BaseException, spec: JobSpec) -> str:
    if isinstance(exc, JobTimeout):
        return f"time limit of {spec.time_limit:g} s exceeded; its open transaction was rolled back"
    return f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]


def _start(spec: JobSpec, task_id: str, trigger: str, kwargs: dict[str, Any], lock_key: str | None,
           attempt: int) -> int | None:
    """Mark the run ``running`` (insert or update its row); ``None`` when its tick is taken."""
    now = utcnow()
    host, pid = socket.gethostname()[:100], os.getpid()
    running = {"status": "running", "attempts": attempt, "started_at": now, "finished_at": None,
               "next_attempt_at": None, "error": None, "host": host, "pid": pid}
    session = db.session
    by_task = update(JobRun).where(JobRun.task_id == task_id).values(**running).returning(JobRun.id)
    run_id = session.execute(by_task).scalar()
    if run_id is None:
        row = {"name": spec.name, "task_id": task_id, "plugin": spec.plugin, "trigger": trigger,
               "args_summary": summarize(kwargs), "kwargs": kwargs or None, "lock_key": lock_key,
               "enqueued_at": now, **running}
        run_id = session.execute(dialect_insert(JobRun.__table__).values(**row).on_conflict_do_nothing()
                                 .returning(JobRun.__table__.c.id)).scalar()
        if run_id is None:  # the enqueue side's row arrived meanwhile, or the tick is claimed
            run_id = session.execute(by_task).scalar()
    session.commit()
    return run_id


def _finish(run_id: int, status: str, *, error: str | None = None, next_attempt_at: datetime | None = None) -> None:
    terminal = status in {"done", "failed", "skipped"}
    db.session.execute(update(JobRun).where(JobRun.id == run_id).values(
        status=status, error=error, next_attempt_at=next_attempt_at, finished_at=utcnow() if terminal else None))
    db.session.commit()


def _acquire_lock(spec: JobSpec) -> str | None:
    """Take the per-name lock of a periodic job (or an expired one); the owner id, or ``None``."""
    owner = _worker_id()
    now = utcnow()
    expires = now + timedelta(seconds=(spec.time_limit or DEFAULT_LOCK_SECONDS) + 60)
    table = JobLock.__table__
    stmt = dialect_insert(table).values(name=spec.name, owner=owner, acquired_at=now, expires_at=expires)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.name],
                                      set_={"owner": owner, "acquired_at": now, "expires_at": expires},
                                      where=table.c.expires_at < now).returning(table.c.owner)
    got = db.session.execute(stmt).scalar()
    if got != owner:
        # Held by a process of this host that is gone (a consumer killed with kill -9): take it over
        # now instead of waiting for the expiry. Another host's holder is only known by its expiry.
        held_by = db.session.execute(select(JobLock.owner).where(JobLock.name == spec.name)).scalar()
        if held_by and _dead_local_owner(held_by):
            taken = db.session.execute(update(JobLock).where(JobLock.name == spec.name, JobLock.owner == held_by)
                                       .values(owner=owner, acquired_at=now, expires_at=expires))
            got = owner if taken.rowcount == 1 else None
    db.session.commit()
    return owner if got == owner else None


def _dead_local_owner(held_by: str) -> bool:
    """Is ``held_by`` (``host:pid:thread``, see :func:`_worker_id`) a process of this host that no
    longer exists?"""
    rest, sep, _thread = held_by.rpartition(":")
    host, sep2, pid_text = rest.rpartition(":")
    if not sep or not sep2 or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if host != socket.gethostname()[:60] or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _release_lock(name: str, owner: str) -> None:
    try:
        db.session.execute(JobLock.__table__.delete().where(JobLock.name == name, JobLock.owner == owner))
        db.session.commit()
    except Exception:  # noqa: BLE001  (it expires by itself)
        db.session.rollback()
        log.exception("jobs: could not release the lock of %s", name)


# -- time limit -------------------------------------------------------------------------------

@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`JobTimeout` in the running code when ``seconds`` have passed, and refuse any
    commit of the run's session after that moment.

    In a process's main thread (process workers, ``run_now`` from the CLI) a ``SIGALRM``
    interrupts even a blocking call; in a worker thread the exception is delivered at the next
    Python instruction (a blocking C call finishes first). Either way the run's open transaction
    is rolled back, so nothing half-written is committed.
    """
    if not seconds:
        yield
        return
    deadline = time.monotonic() + seconds
    session = db.session()

    def refuse_late_commit(_session: Any) -> None:
        if time.monotonic() >= deadline:
            raise JobTimeout(f"timeout ({seconds:g}s)")

    event.listen(session, "before_commit", refuse_late_commit)
    try:
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            with _alarm(seconds):
                yield
        else:
            with _watchdog(seconds):
                yield
    finally:
        event.remove(session, "before_commit", refuse_late_commit)


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def _raise(_signum: int, _frame: Any) -> None:
        raise JobTimeout(f"timeout ({seconds:g}s)")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    target = threading.get_ident()
    guard = threading.Lock()
    state = {"done": False, "fired": False}
    finished = threading.Event()

    def watch() -> None:
        if finished.wait(seconds):
            return
        with guard:
            if not state["done"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(JobTimeout))
                state["fired"] = True

    watcher = threading.Thread(target=watch, name="job-time-limit", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        with guard:
            state["done"] = True
            if state["fired"]:  # fired as the run ended: drop it if still pending
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)
        finished.set()


def caller_holds_sqlite_write() -> bool:
    """Is the caller's session inside a SQLite transaction that may hold the write lock?"""
    if not has_app_context() or db.engine.dialect.name != "sqlite":
        return False
    if not db.session().in_transaction():
        return False
    if has_request_context():
        from flask import request

        return request.method not in {"GET", "HEAD", "OPTIONS"} or bool(g.get("sqlite_write"))
    return True
