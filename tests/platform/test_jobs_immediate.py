"""Jobs in immediate mode (TESTING without PORTAL_JOBS_URL): registry, enqueue in a fresh app
context, run_now, time limits, the disabled add-on's job, the per-name lock, the jobs page and CLI.

The real queues (SQLite file, Redis, PostgreSQL) with Huey's consumer: test_jobs_consumer.py.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from portal.jobs import JobError, enqueue, retry_run, run_now
from portal.jobs.models import JobLock, JobRun
from portal.models import User, utcnow
from tests.conftest import TEST_PLUGIN, _app_on_clone, csrf_token, make_app, scalar
from tests.platform import jobs_support
from tests.platform.jobs_support import CALLS, PLUGIN_MODULE


@pytest.fixture
def app(template_db):
    """The seeded app with the jobs test add-on available (so ``client`` and ``login_as`` use it)."""

    def factory(url):
        return make_app(url, PORTAL_PLUGINS=[TEST_PLUGIN, PLUGIN_MODULE])

    yield from _app_on_clone(template_db, factory)


@pytest.fixture
def japp(app):
    return app


@pytest.fixture
def jclient(client):
    return client


def _run(task_id: str) -> SimpleNamespace | None:
    """The run's row as plain values; the test's session is left without an open transaction
    (else the next immediate-mode enqueue would wait for it to end)."""
    db.session.expire_all()
    run = db.session.execute(select(JobRun).where(JobRun.task_id == task_id)).scalar_one_or_none()
    values = None if run is None else SimpleNamespace(**{c.key: getattr(run, c.key) for c in JobRun.__table__.columns})
    db.session.rollback()
    return values


def _user_ids(n: int = 2) -> list[int]:
    ids = list(db.session.execute(select(User.id).order_by(User.id).limit(n)).scalars())
    db.session.commit()
    return ids


def _name(user_id: int) -> str:
    return scalar("SELECT name FROM user_account WHERE id = :i", i=user_id)


def test_immediate_mode_runs_at_once_in_a_fresh_context(japp):
    from portal.jobs.queue import get_state

    assert get_state().huey.immediate
    uid = _user_ids(1)[0]
    task_id = enqueue("tests.rename", user_id=uid, name="Renamed by a job")
    run = _run(task_id)
    assert (run.status, run.attempts, run.trigger, run.plugin) == ("done", 1, "enqueue", "core")
    assert run.args_summary == f"user_id={uid}, name=<str>"  # text never shown: it may be personal
    assert run.started_at and run.finished_at and run.host and run.pid
    assert _name(uid) == "Renamed by a job"


def test_the_callers_session_is_untouched_and_the_run_waits_for_its_transaction(japp):
    uid, other = _user_ids(2)
    before = _name(other)
    user = db.session.get(User, other)
    user.name = "never committed"
    db.session.flush()  # the caller holds an open (write) transaction
    task_id = enqueue("tests.rename", user_id=uid, name="after the caller")
    assert db.session().in_transaction() and user.name == "never committed"  # nothing of ours was touched
    assert db.session.execute(select(JobRun.id).where(JobRun.task_id == task_id)).first() is None  # it waits
    assert db.session.execute(text("SELECT name FROM user_account WHERE id = :i"), {"i": uid}).scalar() != "after the caller"
    db.session.rollback()  # the caller gives up: its change goes, the job (its own transaction) runs
    assert _run(task_id).status == "done"
    assert _name(uid) == "after the caller"
    assert _name(other) == before


def test_enqueue_after_commit_sees_the_committed_data(japp):
    uid = _user_ids(1)[0]
    db.session.get(User, uid).name = "committed first"
    db.session.flush()
    task_id = enqueue("tests.rename", user_id=uid, name="then renamed")
    assert db.session.execute(select(JobRun.id).where(JobRun.task_id == task_id)).first() is None
    db.session.commit()  # our change is committed first, then the job runs and renames
    assert _run(task_id).status == "done" and _name(uid) == "then renamed"
    assert scalar("SELECT count(*) FROM user_account WHERE name = 'committed first'") == 0


def test_run_now_returns_the_result_and_records_a_manual_run(japp):
    token = uuid.uuid4().hex
    assert run_now("tests.flaky", token=token, fail_times=0) == 1
    with pytest.raises(RuntimeError, match="attempt 2 failed"):
        run_now("tests.flaky", token=token, fail_times=5)
    runs = db.session.execute(select(JobRun).where(JobRun.name == "tests.flaky").order_by(JobRun.id)).scalars().all()
    assert [(r.trigger, r.status) for r in runs[-2:]] == [("manual", "done"), ("manual", "failed")]
    assert "RuntimeError: attempt 2 failed" in runs[-1].error


def test_run_now_refuses_while_the_caller_holds_the_sqlite_write_lock(japp):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single writer only")
    db.session.execute(text("SELECT 1"))  # outside a GET request: BEGIN IMMEDIATE
    with pytest.raises(JobError, match="commit or roll back first"):
        run_now("tests.flaky", token="x", fail_times=0)
    db.session.rollback()


@pytest.mark.parametrize("call, message", [
    (lambda: enqueue("no.such.job"), "No job named"),
    (lambda: enqueue("tests.rename", user_id=object()), "JSON values"),
    (lambda: enqueue("tests.rename", delay=5, eta=datetime.now(UTC)), "not both"),
    (lambda: enqueue("tests.rename", delay=-1), "from 0 to"),
    (lambda: enqueue("tests.rename", delay=float("inf")), "from 0 to"),
    (lambda: enqueue("tests.rename", delay=float("nan")), "from 0 to"),
    (lambda: enqueue("tests.rename", eta="tomorrow"), "must be a datetime"),
    (lambda: run_now("no.such.job"), "No job named"),
])
def test_bad_calls_are_refused_with_a_clear_message_and_nothing_written(japp, call, message):
    count = scalar("SELECT count(*) FROM job_run")
    with pytest.raises(JobError, match=message):
        call()
    db.session.commit()
    assert scalar("SELECT count(*) FROM job_run") == count


def test_time_limit_rolls_back_the_runs_transaction(japp):
    uid = _user_ids(1)[0]
    before = _name(uid)
    started = datetime.now()
    with pytest.raises(Exception) as info:
        run_now("tests.slow", user_id=uid, seconds=5)
    assert type(info.value).__name__ == "JobTimeout"
    assert (datetime.now() - started).total_seconds() < 3
    assert _name(uid) == before  # its write was rolled back
    run = db.session.execute(select(JobRun).where(JobRun.name == "tests.slow")).scalar_one()
    assert run.status == "failed" and "time limit of 1 s exceeded" in run.error


def test_a_disabled_add_ons_job_is_skipped_and_recorded(japp):
    from portal.plugins_lifecycle import install, set_enabled

    token = uuid.uuid4().hex
    skipped = enqueue("jobs_addon.ping", token=token)
    run = _run(skipped)
    assert (run.status, run.plugin) == ("skipped", "jobs_addon") and "not enabled" in run.error
    assert CALLS[f"addon:{token}"] == 0
    install("jobs_addon")
    assert _run(enqueue("jobs_addon.ping", token=token)).status == "done"
    assert CALLS[f"addon:{token}"] == 1
    set_enabled("jobs_addon", False)
    assert _run(enqueue("jobs_addon.ping", token=token)).status == "skipped"
    assert CALLS[f"addon:{token}"] == 1


def test_a_periodic_job_does_not_overlap_its_running_predecessor(japp):
    db.session.add(JobLock(name="tests.tick", owner="elsewhere:1:1", expires_at=utcnow() + timedelta(minutes=5)))
    db.session.commit()
    calls = CALLS["tick"]
    assert _run(enqueue("tests.tick")).status == "skipped"
    assert CALLS["tick"] == calls
    db.session.commit()
    with pytest.raises(JobError, match="running now"):
        run_now("tests.tick")
    # an expired lock (its consumer was killed) is taken over
    db.session.execute(text("UPDATE job_lock SET expires_at = :t"), {"t": utcnow() - timedelta(seconds=1)})
    db.session.commit()
    assert _run(enqueue("tests.tick")).status == "done" and CALLS["tick"] == calls + 1
    assert scalar("SELECT count(*) FROM job_lock") == 0  # released after the run


def test_retry_run_queues_a_failed_run_once(japp):
    token = uuid.uuid4().hex
    with pytest.raises(RuntimeError):
        run_now("tests.flaky", token=token, fail_times=1)
    failed = db.session.execute(select(JobRun).where(JobRun.status == "failed")).scalar_one()
    new_id = retry_run(failed.id)
    db.session.commit()
    assert _run(new_id).status == "done" and _run(new_id).trigger == "retry"
    with pytest.raises(JobError, match="retried already"):
        retry_run(failed.id)
    with pytest.raises(JobError, match="only failed runs"):
        retry_run(_run(new_id).id)
    with pytest.raises(JobError, match="No job run"):
        retry_run(10**9)


# -- the jobs page -------------------------------------------------------------------------------

def _failed_run() -> JobRun:
    with pytest.raises(RuntimeError):
        run_now("tests.flaky", token=uuid.uuid4().hex, fail_times=1)
    return db.session.execute(select(JobRun).where(JobRun.status == "failed")).scalar_one()


@pytest.mark.parametrize("email", ["hq@example.com", "store1@example.com", "reviewer@example.com",
                                   "leader1@example.com"])
def test_the_jobs_page_is_for_site_administrators_only(japp, jclient, login_as, email):
    run = _failed_run()
    login_as(email)
    assert jclient.get("/manage/jobs").status_code == 403
    assert jclient.get("/manage/jobs/runs.json").status_code == 403
    token = csrf_token(jclient, "/dashboard")
    resp = jclient.post(f"/manage/jobs/{run.id}/retry", data={"csrf_token": token})
    assert resp.status_code == 403
    assert _run(run.task_id).retried_as is None


def test_anonymous_visitors_are_sent_to_the_login(jclient):
    assert jclient.get("/manage/jobs").status_code == 302


def test_admin_sees_runs_in_korean_and_retries_a_failed_one(japp, jclient, login_as):
    run = _failed_run()
    login_as("admin@example.com")
    html = jclient.get("/manage/jobs?status=failed").get_data(as_text=True)
    assert "백그라운드 작업" in html and "다시 실행" in html and "tests.flaky" in html
    assert f'data-id="{run.id}" data-status="failed"' in html
    assert 'data-testid="periodic-tests.kst_ten"' in html and "0 10 * * * (Asia/Seoul)" in html
    assert jclient.post(f"/manage/jobs/{run.id}/retry").status_code == 400  # no CSRF token
    token = csrf_token(jclient, "/manage/jobs")
    resp = jclient.post(f"/manage/jobs/{run.id}/retry", data={"csrf_token": token})
    assert resp.status_code == 302
    again = _run(run.task_id)
    assert again.retried_as and _run(again.retried_as).status == "done"
    resp = jclient.post(f"/manage/jobs/{run.id}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "실패한 실행만 한 번 다시 실행할 수 있습니다" in resp.get_data(as_text=True)
    assert scalar("SELECT count(*) FROM audit_event WHERE action = 'job.retried'") == 1
    assert jclient.post("/manage/jobs/999999999/retry", data={"csrf_token": token}).status_code == 404
    en = jclient.get("/manage/jobs?status=done", headers={"Accept-Language": "en"})
    assert en.status_code == 200
    data = jclient.get("/manage/jobs/runs.json?status=done").get_json()
    assert data["counts"]["done"] >= 1 and data["items"][0]["status"] == "done"
    assert jclient.get("/manage/jobs/runs.json?status=bogus").status_code == 400
    assert jclient.get("/manage/jobs?status=bogus&page=x").status_code == 200


# -- CLI -----------------------------------------------------------------------------------------

def test_cli_run_enqueue_list_retry_periodic(japp):
    runner = japp.test_cli_runner()
    db.session.commit()
    result = runner.invoke(args=["portal", "jobs", "run", "tests.flaky", "--arg", "token=cli1", "--arg", "fail_times=0"])
    assert result.exit_code == 0, result.output
    assert "tests.flaky: done → 1" in result.output
    result = runner.invoke(args=["portal", "jobs", "run", "tests.flaky", "--arg", "token=cli2", "--arg", "fail_times=1"])
    assert result.exit_code != 0 and "RuntimeError: attempt 1 failed" in result.output
    result = runner.invoke(args=["portal", "jobs", "run", "no.such"])
    assert result.exit_code != 0 and "No job named 'no.such'" in result.output
    result = runner.invoke(args=["portal", "jobs", "run", "tests.flaky", "--arg", "oops"])
    assert result.exit_code != 0 and "KEY=VALUE" in result.output
    result = runner.invoke(args=["portal", "jobs", "enqueue", "tests.flaky", "--arg", "token=cli3", "--arg", "fail_times=0"])
    assert result.exit_code == 0, result.output
    assert _run(result.output.strip()).status == "done"
    result = runner.invoke(args=["portal", "jobs", "list", "--status", "failed"])
    assert result.exit_code == 0 and "failed: 1" in result.output and "tests.flaky" in result.output
    failed = db.session.execute(select(JobRun).where(JobRun.status == "failed")).scalar_one()
    db.session.commit()
    result = runner.invoke(args=["portal", "jobs", "retry", str(failed.id)])
    assert result.exit_code == 0 and "queued again" in result.output, result.output
    result = runner.invoke(args=["portal", "jobs", "retry", str(failed.id)])
    assert result.exit_code != 0 and "retried already" in result.output
    result = runner.invoke(args=["portal", "jobs", "periodic"])
    assert result.exit_code == 0 and "tests.tick  [* * * * * (UTC)]" in result.output
    assert "tests.kst_ten  [0 10 * * * (Asia/Seoul)]" in result.output
    result = runner.invoke(args=["portal", "jobs", "consumer"])
    assert result.exit_code != 0 and "immediate mode" in result.output


def test_registry_and_schedules(japp):
    from portal.jobs.registry import make_spec, schedule_validator
    from portal.jobs.service import next_run, specs

    assert {"tests.rename", "tests.tick", "jobs_addon.ping"} <= set(specs())
    assert specs()["jobs_addon.ping"].plugin == "jobs_addon"
    kst = schedule_validator({"minute": "0", "hour": "10", "tz": "Asia/Seoul"})
    assert kst(datetime(2026, 1, 5, 1, 0)) and not kst(datetime(2026, 1, 5, 10, 0))
    assert next_run(specs()["tests.kst_ten"], after=datetime(2026, 1, 5, 1, 0)) == datetime(2026, 1, 6, 1, 0)
    for bad in ({}, {"minute": "61"}, {"minutes": "*"}, {"minute": "*", "tz": "Mars/Base"}):
        with pytest.raises(JobError):
            schedule_validator(bad)
    for kwargs, message in (({"name": "Bad Name"}, "lower-case"), ({"retries": -1}, "retries"),
                            ({"retry_delay": "30"}, "retry_delay"), ({"time_limit": 0}, "time_limit")):
        args = {"name": "ok.name", **kwargs}
        with pytest.raises(JobError, match=message):
            make_spec(args.pop("name"), print, **args)
    with pytest.raises(JobError, match="registered already"):
        jobs_support.job("tests.rename")(lambda: None)


def test_prune_keeps_recent_and_unretried_failed_runs(japp):
    from portal.jobs.service import specs

    assert specs()["jobs.prune"].periodic and specs()["jobs.prune"].plugin == "core"
    old = utcnow() - timedelta(days=40)
    for i, (status, retried) in enumerate((("done", None), ("skipped", None), ("failed", "x"), ("failed", None))):
        db.session.add(JobRun(name="tests.flaky", task_id=f"old-{i}", status=status, retried_as=retried,
                              enqueued_at=old))
    db.session.add(JobRun(name="tests.flaky", task_id="new", status="done", enqueued_at=utcnow()))
    db.session.add(JobLock(name="gone", owner="x", expires_at=utcnow() - timedelta(minutes=1)))
    # tests.slow has a 1 s limit: 10 minutes "running" means its consumer died; a fresh one is alive
    db.session.add(JobRun(name="tests.slow", task_id="lost", status="running", started_at=utcnow() - timedelta(minutes=10)))
    db.session.add(JobRun(name="tests.slow", task_id="alive", status="running", started_at=utcnow()))
    db.session.commit()
    assert run_now("jobs.prune") == {"runs": 3, "locks": 1, "lost": 1}
    left = set(db.session.execute(select(JobRun.task_id).where(JobRun.name == "tests.flaky")).scalars())
    assert left == {"old-3", "new"}
    assert (_run("lost").status, _run("alive").status) == ("failed", "running")
    assert "consumer stopped" in _run("lost").error


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "postgresql://postgres@127.0.0.1:1/none"])
def test_an_unreachable_queue_is_a_clear_error_and_nothing_is_recorded(template_db, url, login_as):
    from portal.jobs import QueueUnavailable

    def factory(db_url):
        return make_app(db_url, PORTAL_PLUGINS=[TEST_PLUGIN, PLUGIN_MODULE], PORTAL_JOBS_URL=url)

    for app in _app_on_clone(template_db, factory):
        count = scalar("SELECT count(*) FROM job_run")
        with pytest.raises(QueueUnavailable, match="cannot be reached"):
            enqueue("tests.flaky", token="x")
        db.session.commit()
        assert scalar("SELECT count(*) FROM job_run") == count
        client = app.test_client()
        from tests.conftest import login

        assert login(client, "admin@example.com").status_code == 302
        html = client.get("/manage/jobs").get_data(as_text=True)
        assert 'data-testid="queue-down"' in html and "tests.tick" in html


def test_the_audit_log_shows_a_retry_in_korean(japp, jclient, login_as):
    run = _failed_run()
    login_as("admin@example.com")
    token = csrf_token(jclient, "/manage/jobs")
    assert jclient.post(f"/manage/jobs/{run.id}/retry", data={"csrf_token": token}).status_code == 302
    html = jclient.get("/manage/audit").get_data(as_text=True)
    assert "백그라운드 작업 다시 실행" in html and f"tests.flaky: 실행 {run.id} 다시 대기열에 넣음" in html


def test_a_lock_left_by_a_dead_consumer_of_this_host_is_taken_over(japp):
    import socket
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid is free now: a consumer killed with kill -9
    owner = f"{socket.gethostname()[:60]}:{gone.pid}:1"
    db.session.add(JobLock(name="tests.tick", owner=owner, expires_at=utcnow() + timedelta(minutes=5)))
    db.session.add(JobLock(name="tests.kst_ten", owner=f"other-host:{gone.pid}:1",
                           expires_at=utcnow() + timedelta(minutes=5)))
    db.session.commit()
    assert _run(enqueue("tests.tick")).status == "done"  # taken over at once
    assert _run(enqueue("tests.kst_ten")).status == "skipped"  # another host's: wait for its expiry
    from portal.jobs.queue import _dead_local_owner

    assert not _dead_local_owner(f"{socket.gethostname()[:60]}:{os.getpid()}:1")  # ourselves
    assert not _dead_local_owner("garbage")
