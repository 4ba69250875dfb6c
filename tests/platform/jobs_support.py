"""Jobs for the jobs tests, and a tiny add-on (``jobs_addon``) that contributes one through
``portal_jobs()``. Also: an in-process Huey consumer with a thread worker, and the storages."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from portal.hookspecs import hookimpl
from portal.jobs import job, periodic_job
from portal.plugins import PluginInfo

PLUGIN = PluginInfo(name="jobs_addon", title="Jobs test add-on", version="1.0.0",
                    description="Contributes a job through portal_jobs() (tests only).")
PLUGIN_MODULE = "tests.platform.jobs_support"

CALLS: Counter[str] = Counter()  # per token: how many attempts a job made (same process)
TIMES: dict[str, list[float]] = {}  # per token: when each attempt started (time.monotonic())


def _set_name(user_id: int, name: str) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(text("UPDATE user_account SET name = :n WHERE id = :i"), {"n": name, "i": user_id})


@job("tests.rename")
def rename(user_id: int, name: str) -> str:
    """Writes through the run's own session (committed by the wrapper)."""
    _set_name(user_id, name)
    return name


@job("tests.flaky", retries=2, retry_delay=1)
def flaky(token: str, fail_times: int = 99) -> int:
    CALLS[token] += 1
    TIMES.setdefault(token, []).append(time.monotonic())
    if CALLS[token] <= fail_times:
        raise RuntimeError(f"attempt {CALLS[token]} failed")
    return CALLS[token]


@job("tests.slow", retries=0, time_limit=1)
def slow(user_id: int, seconds: float = 5.0) -> None:
    """Writes, then outlives its time limit: the write must be rolled back."""
    _set_name(user_id, "written-by-slow-job")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.02)


@periodic_job("tests.tick", {"minute": "*"}, retries=0)
def tick() -> str:
    CALLS["tick"] += 1
    return "ticked"


@periodic_job("tests.kst_ten", {"minute": "0", "hour": "10", "tz": "Asia/Seoul"}, retries=0)
def kst_ten() -> None:
    """Due at 10:00 KST (01:00 UTC)."""


def addon_ping(token: str) -> str:
    CALLS[f"addon:{token}"] += 1
    return "pong"


@hookimpl
def portal_jobs() -> list[dict[str, Any]]:
    return [{"name": "jobs_addon.ping", "func": addon_ping, "retries": 0}]


# -- helpers for the tests ---------------------------------------------------------------------

def run_consumers_until(states: list[Any], done, timeout: float = 20.0, workers: int = 1,
                        periodic: bool = False) -> None:
    """Run Huey's own consumer (scheduler + thread workers) for each state in this process until
    ``done()`` or ``timeout``; several states on one storage are several consumers ("hosts")."""
    consumers = [state.huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic,
                                            initial_delay=0.05, max_delay=0.2, scheduler_interval=1,
                                            check_worker_health=False) for state in states]
    for consumer in consumers:  # Consumer.start() without its signal handlers (we are not __main__)
        consumer.scheduler.start()
        for _, worker in consumer.worker_threads:
            worker.start()
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if done():
                return
            time.sleep(0.05)
        raise AssertionError("the consumer did not finish in time")
    finally:
        for consumer in consumers:
            consumer.stop_flag.set()
        for consumer in consumers:
            for _, worker in consumer.worker_threads:
                worker.join(10)
            consumer.scheduler.join(5)


def run_consumer_until(state: Any, done, **kwargs: Any) -> None:
    run_consumers_until([state], done, **kwargs)


def redis_url() -> str:
    url = os.environ.get("PORTAL_TEST_REDIS_URL", "")
    if not url:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("CI=true but PORTAL_TEST_REDIS_URL is not set: .ci/run starts a Redis for the job tests")
        pytest.skip("PORTAL_TEST_REDIS_URL not set (e.g. redis-server --port 56379 --save '' --appendonly no "
                    "--daemonize yes; PORTAL_TEST_REDIS_URL=redis://127.0.0.1:56379/0)")
    return url


def postgres_url() -> str:
    url = os.environ.get("PORTAL_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("CI=true but PORTAL_TEST_POSTGRES_URL is not set")
        pytest.skip("PORTAL_TEST_POSTGRES_URL not set")
    return url


@contextmanager
def storage_config(kind: str, tmp_path) -> Iterator[dict[str, Any]]:
    """App config for a real queue on ``kind`` (sqlite | redis | postgres), isolated per test:
    its own queue name (Redis keys, PostgreSQL rows) or file, cleaned up afterwards."""
    name = f"t{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        yield {"PORTAL_JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}", "PORTAL_JOBS_NAME": name}
        return
    if kind == "redis":
        url = redis_url()
        yield {"PORTAL_JOBS_URL": url, "PORTAL_JOBS_NAME": name}
        import redis

        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(f"huey.*{name}*"))
        if keys:
            client.delete(*keys)
        return
    url = postgres_url()
    prefix = f"hj_{name}"
    yield {"PORTAL_JOBS_URL": url, "PORTAL_JOBS_NAME": name, "PORTAL_JOBS_TABLE_PREFIX": prefix}
    import psycopg

    from portal.jobs.queue import storage_for  # noqa: F401  (same URL handling as the app)

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("kv", "schedule", "task", "counter"):
            conn.execute(f'DROP TABLE IF EXISTS "{prefix}_{table}"')


def wait_threads_quiet() -> None:
    """Let time-limit watchdog threads finish (they exit at once when the run ended)."""
    for t in threading.enumerate():
        if t.name == "job-time-limit":
            t.join(2)
