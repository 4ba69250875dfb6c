"""Background jobs on Huey: tasks and periodic tasks from the core and add-ons, one queue shared by
every consumer. Public API (also in ``portal.toolkit``): :func:`job`, :func:`periodic_job`,
:func:`enqueue`, :func:`run_now`, :class:`JobError`. See docs/platform/jobs.md."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("jobs", __name__, url_prefix="/manage/jobs", template_folder="templates")

from .registry import JobError, QueueUnavailable, job, periodic_job  # noqa: E402
from .service import enqueue, retry_run, run_now  # noqa: E402

__all__ = ["JobError", "QueueUnavailable", "enqueue", "job", "periodic_job", "retry_run", "run_now"]


def init_app(app: Flask) -> None:  # noqa: ARG001
    """The audit log shows the jobs page's "retry" in the reader's language."""
    from ..customers.labels import register, register_summary

    register("audit_action", {"job.retried": _l("Background job queued again")})
    register("record", {"job_run": _l("Background job run")})
    register_summary("job.retried", r"(?P<job>[\w.:-]+): run (?P<run>\d+) → (?P<task>[0-9a-f-]+)",
                     _l("%(job)s: run %(run)s queued again"))

from . import views  # noqa: E402,F401
