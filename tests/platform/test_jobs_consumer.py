"""Jobs on a real queue with Huey's consumer, on each storage: a SQLite file, Redis
(``PORTAL_TEST_REDIS_URL``) and PostgreSQL (``PORTAL_TEST_POSTGRES_URL``, Huey's PostgresStorage).

Enqueue → a consumer runs it; retries with exponential back-off, then failed; the time limit in a
thread worker; a periodic job with two consumers on one storage runs exactly once per tick; the
CLI consumer as a process. Redis and PostgreSQL tests skip locally without their URL and fail in
CI (``CI=true``) instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from portal.jobs import enqueue
from portal.jobs.models import JobRun
from portal.jobs.queue import get_state
from portal.models import User
from tests.conftest import ROOT, TEST_PLUGIN, _app_on_clone, make_app
from tests.platform.jobs_support import (
    CALLS,
    PLUGIN_MODULE,
    TIMES,
    run_consumer_until,
    run_consumers_until,
    storage_config,
)

STORAGES = ["sqlite", "redis", "postgres"]


@pytest.fixture(params=STORAGES)
def qapp(template_db, request, tmp_path):
    with storage_config(request.param, tmp_path) as cfg:
        def factory(url):
            return make_app(url, PORTAL_PLUGINS=[TEST_PLUGIN, PLUGIN_MODULE], **cfg)

        for app in _app_on_clone(template_db, factory):
            app.config["JOBS_TEST_CFG"] = cfg
            yield app
            get_state(app).huey.storage.close()


def _row(task_id: str) -> dict | None:
    """Read with a short connection of its own: the test's session must not hold SQLite's lock
    while the consumer writes."""
    with db.engine.connect() as conn:
        table = JobRun.__table__
        row = conn.execute(select(table).where(table.c.task_id == task_id)).mappings().first()
        conn.rollback()
    return dict(row) if row else None


def _status(task_id: str) -> str | None:
    row = _row(task_id)
    return row["status"] if row else None


def _uid() -> int:
    uid = db.session.execute(select(User.id).order_by(User.id).limit(1)).scalar_one()
    db.session.commit()
    return uid


def _name(uid: int) -> str:
    with db.engine.connect() as conn:
        name = conn.execute(text("SELECT name FROM user_account WHERE id = :i"), {"i": uid}).scalar()
        conn.rollback()
    return name


def test_an_enqueued_job_runs_on_the_consumer(qapp):
    state = get_state()
    assert not state.huey.immediate
    uid = _uid()
    now_id = enqueue("tests.rename", user_id=uid, name="set by the consumer")
    later_id = enqueue("tests.flaky", delay=1, token=uuid.uuid4().hex, fail_times=0)
    assert (_status(now_id), _status(later_id)) == ("queued", "scheduled")
    assert state.huey.pending_count() == 1 and state.huey.scheduled_count() == 1
    run_consumer_until(state, lambda: _status(now_id) == "done" and _status(later_id) == "done")
    assert _name(uid) == "set by the consumer"
    later = _row(later_id)
    assert (later["started_at"] - later["enqueued_at"]).total_seconds() >= 0.9


def test_retries_back_off_exponentially_then_fail(qapp):
    token = uuid.uuid4().hex
    task_id = enqueue("tests.flaky", token=token, fail_times=99)  # retries=2, retry_delay=1
    seen = set()

    def finished() -> bool:
        row = _row(task_id)
        if row and row["status"] == "retrying":
            seen.add((row["attempts"], row["next_attempt_at"] is not None))
        return bool(row) and row["status"] == "failed"

    run_consumer_until(get_state(), finished, timeout=30)
    row = _row(task_id)
    assert row["attempts"] == 3 and "RuntimeError: attempt 3 failed" in row["error"]
    assert CALLS[token] == 3
    first_gap, second_gap = (b - a for a, b in zip(TIMES[token], TIMES[token][1:], strict=False))
    assert first_gap >= 0.95 and second_gap >= 1.95  # retry_delay 1 s, then twice that
    assert seen <= {(1, True), (2, True)} and seen  # "retrying" with its next attempt time on the way


def test_time_limit_in_a_thread_worker_rolls_back(qapp):
    uid = _uid()
    before = _name(uid)
    task_id = enqueue("tests.slow", user_id=uid, seconds=10)
    started = time.monotonic()
    run_consumer_until(get_state(), lambda: _status(task_id) == "failed", timeout=15)
    assert time.monotonic() - started < 6
    assert "time limit of 1 s exceeded" in _row(task_id)["error"]
    assert _name(uid) == before


def test_a_periodic_job_runs_once_per_tick_across_two_consumers(qapp):
    first = get_state()
    second_app = make_app(qapp.config["SQLALCHEMY_DATABASE_URI"], PORTAL_PLUGINS=[TEST_PLUGIN, PLUGIN_MODULE],
                          **qapp.config["JOBS_TEST_CFG"])
    second = get_state(second_app)
    assert first.huey is not second.huey
    ticks = CALLS["tick"]
    try:
        for minute, due in ((datetime(2026, 1, 5, 1, 0, 20), 4), (datetime(2026, 1, 5, 1, 1, 40), 2)):
            for state in (first, second):
                # what each consumer's scheduler does every minute (Scheduler.enqueue_periodic_tasks),
                # limited to this test's jobs: other services' periodic jobs are not ours to run here
                for task in state.huey.read_periodic(minute):
                    if task.name.startswith("tests."):
                        state.huey.enqueue(task)
            assert first.huey.pending_count() == due  # tick twice (+ kst_ten twice at 01:00 UTC)

            def drained() -> bool:
                with db.engine.connect() as conn:
                    busy = conn.execute(text("SELECT count(*) FROM job_run WHERE status = 'running'")).scalar()
                    conn.rollback()
                return first.huey.pending_count() == 0 and busy == 0

            run_consumers_until([first, second], drained, workers=2)
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT name, lock_key, status FROM job_run WHERE trigger = 'periodic' "
                                     "ORDER BY name, lock_key")).all()
        assert [tuple(r) for r in rows] == [
            ("tests.kst_ten", "tests.kst_ten@2026-01-05T01:00", "done"),
            ("tests.tick", "tests.tick@2026-01-05T01:00", "done"),
            ("tests.tick", "tests.tick@2026-01-05T01:01", "done"),
        ]
        assert CALLS["tick"] == ticks + 2
    finally:
        get_state(second_app).huey.storage.close()
        with second_app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_the_cli_consumer_runs_jobs_and_stops_on_ctrl_c(template_db, tmp_path, worker_type):
    """``flask portal jobs consumer`` as its own process; with forked process workers the time
    limit is a SIGALRM and each worker opens its own database connections."""
    with storage_config("sqlite", tmp_path) as cfg:
        def factory(url):
            return make_app(url, PORTAL_PLUGINS=[TEST_PLUGIN, PLUGIN_MODULE], **cfg)

        for app in _app_on_clone(template_db, factory):
            env = {**os.environ, "PORTAL_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                   "PORTAL_JOBS_URL": cfg["PORTAL_JOBS_URL"], "PORTAL_JOBS_NAME": cfg["PORTAL_JOBS_NAME"],
                   "PORTAL_PLUGINS": f"{TEST_PLUGIN},{PLUGIN_MODULE}", "PORTAL_SECRET_KEY": "x" * 32,
                   "PORTAL_INSTANCE_PATH": str(tmp_path / "instance")}
            uid = _uid()
            before = _name(uid)
            slow_id = enqueue("tests.slow", user_id=uid, seconds=30)
            task_id = enqueue("tests.rename", user_id=uid, name=f"set by a {worker_type} worker")
            proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "portal", "jobs", "consumer",
                                     "--workers", "1", "--worker-type", worker_type, "--max-delay", "0.2"],
                                    cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                end = time.monotonic() + 40
                while _status(slow_id) != "failed" and time.monotonic() < end and proc.poll() is None:
                    time.sleep(0.1)
                assert "time limit of 1 s exceeded" in (_row(slow_id) or {}).get("error", ""), proc.poll()
                assert _name(uid) in {before, f"set by a {worker_type} worker"}  # the slow job's write rolled back
                while _status(task_id) != "done" and time.monotonic() < end and proc.poll() is None:
                    time.sleep(0.1)
                assert _status(task_id) == "done", proc.poll()
                assert _name(uid) == f"set by a {worker_type} worker"
            finally:
                proc.send_signal(signal.SIGINT)
                out, _ = proc.communicate(timeout=30)
            assert proc.returncode == 0, out
            assert "Consuming jobs from SQLite" in out and f"1 {worker_type} worker(s)" in out
