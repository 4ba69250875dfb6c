"""Background jobs on Huey: tasks and periodic tasks from the core and add-ons, one queue shared by
every consumer. Public API (also in ``portal.toolkit``): :func:`job`, :func:`periodic_job`,
:func:`enqueue`, :func:`run_now`, :class:`JobError`. See docs/platform/jobs.md."""

from flask import Blueprint

bp = Blueprint("jobs", __name__, url_prefix="/manage/jobs", template_folder="templates")

from .registry import JobError, job, periodic_job  # noqa: E402
from .service import enqueue, retry_run, run_now  # noqa: E402

__all__ = ["JobError", "enqueue", "job", "periodic_job", "retry_run", "run_now"]

from . import views  # noqa: E402,F401
