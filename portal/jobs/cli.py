"""``flask --app wsgi portal jobs ...``: run a consumer, list runs, run / enqueue / retry a job."""

from __future__ import annotations

import json
import logging
from typing import Any

import click
from flask.cli import AppGroup

jobs_group = AppGroup("jobs", help="Background jobs (Huey): consumer, runs, manual runs.")


def _parse_args(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--arg customer_id=5 --arg ids=[1,2]``: JSON values where they parse, else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{pair!r}: write KEY=VALUE", param_hint="--arg")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


@jobs_group.command("consumer")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--worker-type", type=click.Choice(["thread", "process"]), default="thread", show_default=True)
@click.option("--no-periodic", is_flag=True, help="Do not enqueue periodic jobs from this consumer.")
@click.option("--scheduler-interval", default=1, show_default=True, type=click.IntRange(1, 60),
              help="Seconds between looks at the schedule (a factor of 60).")
@click.option("--max-delay", default=2.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Longest pause between polls of an empty queue (SQLite; Redis and PostgreSQL wake at once).")
@click.option("--shutdown-timeout", default=30.0, show_default=True, type=click.FloatRange(0, 3600),
              help="On Ctrl-C (SIGINT), seconds to let running jobs finish before interrupting them.")
def consumer(workers: int, worker_type: str, no_periodic: bool, scheduler_interval: int, max_delay: float,
             shutdown_timeout: float) -> None:
    """Run Huey's consumer with this app: SIGINT stops it after the running jobs (a second SIGINT,
    SIGTERM or the shutdown timeout interrupts them; their transactions roll back)."""
    from flask import current_app

    from .queue import get_state
    from .registry import JobError

    try:
        state = get_state()
    except JobError as exc:
        raise click.ClickException(str(exc)) from exc
    if state.huey.immediate:
        raise click.ClickException("Jobs run in immediate mode here (TESTING without PORTAL_JOBS_URL); "
                                   "there is no queue to consume.")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("huey").setLevel(logging.INFO)
    current_app.logger.info("jobs consumer on %s, %s %s worker(s)", state.storage, workers, worker_type)
    click.echo(f"Consuming jobs from {state.storage} with {workers} {worker_type} worker(s); "
               f"{len(state.specs)} job(s) registered.")
    from ..extensions import db

    db.session.remove()  # nothing of the CLI's own session is held while consuming
    state.huey.create_consumer(workers=workers, worker_type=worker_type, periodic=not no_periodic,
                               scheduler_interval=scheduler_interval, max_delay=max_delay,
                               shutdown_timeout=shutdown_timeout).run()


@jobs_group.command("list")
@click.option("--status", type=click.Choice(["queued", "scheduled", "running", "done", "failed", "retrying",
                                             "skipped"]))
@click.option("--name", help="Only runs of this job.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
def list_cmd(status: str | None, name: str | None, limit: int) -> None:
    """Recent runs, newest first."""
    from .service import list_runs, status_counts

    counts = status_counts()
    click.echo("  ".join(f"{k}: {v}" for k, v in counts.items()))
    for r in list_runs(status=status, name=name, page=1, per_page=limit).items:
        when = (r.finished_at or r.started_at or r.enqueued_at).strftime("%Y-%m-%d %H:%M:%S")
        tail = f"  {r.error}" if r.error else ""
        click.echo(f"#{r.id}  {r.status:<9} {r.name}  attempts {r.attempts}  {when} UTC  "
                   f"{r.args_summary or ''}{tail}")


@jobs_group.command("run")
@click.argument("name")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE", help="A keyword argument (repeatable).")
def run_cmd(name: str, args: tuple[str, ...]) -> None:
    """Run job NAME now, in this process (recorded as a manual run)."""
    from ..extensions import db
    from .registry import JobError
    from .service import run_now

    kwargs = _parse_args(args)
    db.session.remove()
    try:
        result = run_now(name, **kwargs)
    except JobError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001  (shown, and recorded as a failed run)
        raise click.ClickException(f"{name} failed: {type(exc).__name__}: {exc}") from exc
    click.echo(f"{name}: done" + (f" → {result!r}" if result is not None else ""))


@jobs_group.command("enqueue")
@click.argument("name")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE", help="A keyword argument (repeatable).")
@click.option("--delay", type=click.FloatRange(0, 7 * 24 * 3600), help="Seconds to wait before it runs.")
def enqueue_cmd(name: str, args: tuple[str, ...], delay: float | None) -> None:
    """Put one run of job NAME on the queue; prints its task id."""
    from ..extensions import db
    from .registry import JobError
    from .service import enqueue

    kwargs = _parse_args(args)
    db.session.remove()
    try:
        task_id = enqueue(name, delay=delay, **kwargs)
    except JobError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(task_id)


@jobs_group.command("retry")
@click.argument("run_id", type=int)
def retry_cmd(run_id: int) -> None:
    """Queue failed run RUN_ID again with the same arguments."""
    from ..extensions import db
    from .registry import JobError
    from .service import retry_run

    try:
        task_id = retry_run(run_id)
    except JobError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Run {run_id} queued again as {task_id}")


@jobs_group.command("periodic")
def periodic_cmd() -> None:
    """Periodic jobs: schedule (minute hour day month weekday, zone), last and next run (UTC)."""
    from .service import periodic_overview

    rows = periodic_overview()
    if not rows:
        click.echo("No periodic jobs registered.")
    for p in rows:
        last = p["last"]
        last_text = (f"{(last.started_at or last.enqueued_at):%Y-%m-%d %H:%M} {last.status}" if last else "never")
        next_text = f"{p['next']:%Y-%m-%d %H:%M}" if p["next"] else "-"
        click.echo(f"{p['spec'].name}  [{p['schedule']}]  plugin {p['spec'].plugin}  last {last_text}  next {next_text}")
