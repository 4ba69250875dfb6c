"""``/manage/events``: add-on reactions that failed — open (retried with back-off), given up, or
resolved — and a retry by hand once the add-on is fixed."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from .. import audit
from ..bounds import one_of
from ..customers.labels import register as register_labels
from ..extensions import db
from ..pagination import paginate, parse_page_args
from ..security import permission_required
from . import bp
from .models import EventFailure

STATUSES = ("open", "given_up", "resolved")
register_labels("audit_action", {"events.retried": _l("Add-on reaction retried")})


def _where(status: str):
    if status == "resolved":
        return EventFailure.resolved_at.is_not(None)
    if status == "given_up":
        return EventFailure.resolved_at.is_(None) & EventFailure.next_try_at.is_(None)
    return EventFailure.resolved_at.is_(None) & EventFailure.next_try_at.is_not(None)


def status_counts() -> dict[str, int]:
    return {s: db.session.execute(select(func.count()).select_from(EventFailure).where(_where(s))).scalar_one()
            for s in STATUSES}


@bp.get("")
@permission_required("events.manage")
def failures():
    status = one_of(request.args.get("status"), STATUSES, "open")
    page, per_page = parse_page_args(request.args, default_size=50)
    rows = paginate(select(EventFailure).where(_where(status)).order_by(EventFailure.id.desc()), page, per_page)
    return render_template("events/failures.html", status=status, statuses=STATUSES, counts=status_counts(),
                           rows=rows, form=FlaskForm(), args={"status": status})


@bp.post("/<int:failure_id>/retry")
@permission_required("events.manage")
def retry(failure_id: int):
    from .retry import retry_one

    if not FlaskForm().validate_on_submit():
        abort(400)
    failure = db.get_or_404(EventFailure, failure_id)
    if failure.resolved_at is not None:
        flash(_("This reaction has succeeded already."), "info")
        return redirect(url_for("events.failures", status="resolved"))
    hook, plugin = failure.hook, failure.plugin
    db.session.rollback()
    outcome = retry_one(failure_id, force=True)  # commits
    audit.record("events.retried", summary=f"{plugin} {hook} #{failure_id}: {outcome or 'busy'}")
    db.session.commit()
    if outcome == "resolved":
        flash(_("The add-on's reaction succeeded."), "success")
    elif outcome is None:
        flash(_("Another worker is retrying this reaction right now."), "info")
    else:
        flash(_("The add-on's reaction failed again; see the error below."), "error")
    return redirect(url_for("events.failures", status=one_of(request.args.get("status"), STATUSES, "open")))
