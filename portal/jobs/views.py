"""``/manage/jobs``: queued, scheduled, running, failed and retrying runs, periodic jobs, retry."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from .. import audit
from ..bounds import one_of
from ..extensions import db
from ..pagination import parse_page_args
from ..security import permission_required
from . import bp
from .models import STATUSES, JobRun
from .registry import JobError
from .service import list_runs, periodic_overview, queue_sizes, retry_run, status_counts

TABS = ("queued", "scheduled", "running", "retrying", "failed", "done", "skipped")


@bp.get("")
@permission_required("jobs.manage")
def index():
    status = one_of(request.args.get("status"), STATUSES, "failed")
    page, per_page = parse_page_args(request.args, default_size=50)
    runs = list_runs(status=status, page=page, per_page=per_page)
    try:
        sizes = queue_sizes()
    except Exception:  # noqa: BLE001  (the queue's storage is down: say so, keep the page)
        sizes = None
    return render_template("jobs/index.html", status=status, tabs=TABS, counts=status_counts(), runs=runs,
                           sizes=sizes, periodic=periodic_overview(), form=FlaskForm(),
                           args={"status": status})


@bp.post("/<int:run_id>/retry")
@permission_required("jobs.manage")
def retry(run_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    run = db.get_or_404(JobRun, run_id)
    if run.status != "failed" or run.retried_as:
        flash(_("Only a failed run can be retried, and only once."), "error")
    else:
        try:
            task_id = retry_run(run_id)
        except JobError:
            db.session.rollback()
            flash(_("This run cannot be retried."), "error")
        else:
            audit.record("job.retried", run, summary=f"{run.name}: run {run_id} → {task_id}")
            db.session.commit()
            flash(_("The job was queued again."), "success")
    return redirect(url_for("jobs.index", status=one_of(request.args.get("status"), STATUSES, "failed")))


@bp.get("/runs.json")
@permission_required("jobs.manage")
def runs_json():
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        return jsonify({"error": f"status must be one of {', '.join(STATUSES)}"}), 400
    page, per_page = parse_page_args(request.args, default_size=50)
    runs = list_runs(status=status, page=page, per_page=per_page)
    return jsonify({"counts": status_counts(), "page": runs.page, "per_page": runs.per_page, "total": runs.total,
                    "items": [{"id": r.id, "name": r.name, "task_id": r.task_id, "plugin": r.plugin,
                               "trigger": r.trigger, "status": r.status, "attempts": r.attempts,
                               "args": r.args_summary, "error": r.error, "host": r.host, "pid": r.pid,
                               "enqueued_at": _iso(r.enqueued_at), "started_at": _iso(r.started_at),
                               "finished_at": _iso(r.finished_at), "next_attempt_at": _iso(r.next_attempt_at)}
                              for r in runs.items]})


def _iso(value):
    return value.isoformat() + "Z" if value else None
