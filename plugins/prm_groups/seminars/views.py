"""Staff pages of a programme's seminar series (``/prm/programmes/<id>/seminars``): the sessions
with their seats, a session's registrations and waiting list, session create/edit/cancel and
"invite by conditions". Everything is reached through the programme's scope (another group's
programme or session answers 404); changes need ``prm.manage``. Customer names appear only for
customers in the viewer's own customer scope — a leader never gets a customer list beyond it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal.toolkit import (
    Customer,
    OrgUnit,
    audit,
    db,
    has_permission,
    paginate,
    parse_page_args,
    permission_required,
    register_labels,
    scope_filter,
)

from ..models import FINAL, RUNNING, PrmProgramme
from ..permissions import MANAGE, VIEW
from ..programmes import ProgrammeError
from ..seminar_models import REGISTRATION_STATUSES, WAITLISTED, PrmInvitation, PrmRegistration, PrmSession
from .invitations import invite
from .sessions import (
    cancel_session,
    clean_sessions,
    create_sessions,
    edit_session,
    programme_or_404,
    seats_left,
    series_step,
    sessions_of,
    taken_seats,
    to_seoul,
)

bp = Blueprint("prm_seminars", __name__, url_prefix="/prm/programmes")
register_labels("prm_registration_status", {
    "registered": _l("Registered"), "waitlisted": _l("Waiting"), "offered": _l("Seat offered"),
    "cancelled": _l("Cancelled"), "declined": _l("Declined"), "expired": _l("Offer expired")})
FORM_FIELDS = ("title", "starts_at", "ends_at", "venue_branch", "address", "online_url", "capacity",
               "registration_deadline")


def _session(programme: PrmProgramme, session_id: int) -> PrmSession:
    s = db.session.get(PrmSession, session_id)
    if s is None or s.programme_id != programme.id:
        abort(404)
    return s


@bp.get("/<int:programme_id>/seminars", endpoint="index")
@permission_required(VIEW)
def index(programme_id: int):
    """The series' sessions with seats taken, waiting and left; invitation counts."""
    programme = programme_or_404(programme_id, current_user, VIEW)
    step = series_step(programme)
    sessions = sessions_of(programme)
    counts = taken_seats([s.id for s in sessions])
    rows = [{"s": s, "c": counts[s.id], "left": seats_left(s, counts[s.id]), "starts": to_seoul(s.starts_at),
             "ends": to_seoul(s.ends_at)} for s in sessions]
    invitations = dict(db.session.execute(select(PrmInvitation.status, func.count())
                                          .where(PrmInvitation.programme_id == programme.id)
                                          .group_by(PrmInvitation.status)).all())
    return render_template("prm/seminar_index.html", programme=programme, step=step, rows=rows,
                           invitations=invitations, invited=sum(invitations.values()),
                           can_manage=has_permission(current_user, MANAGE), running=programme.state == RUNNING,
                           final=programme.state in FINAL)


@bp.post("/<int:programme_id>/seminars/invite", endpoint="invite")
@permission_required(MANAGE)
def invite_view(programme_id: int):
    """Invite the series step's audience now (idempotent: only new matches are added)."""
    programme = programme_or_404(programme_id, current_user, MANAGE)
    step = series_step(programme)
    if step is None:
        abort(404)
    try:
        n = invite(programme, step, current_user)
        db.session.commit()
    except ProgrammeError as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
        return redirect(url_for("prm_seminars.index", programme_id=programme.id))
    flash(_("%(n)s new invitations sent.", n=n) if n else _("Nobody new matches the conditions; no invitation sent."),
          "success" if n else "info")
    return redirect(url_for("prm_seminars.index", programme_id=programme.id))


def _form_values(s: PrmSession | None) -> dict[str, Any]:
    if s is None:
        return {k: "" for k in FORM_FIELDS}
    fmt = (lambda v: to_seoul(v).strftime("%Y-%m-%dT%H:%M") if v is not None else "")  # noqa: E731
    return {"title": s.title, "starts_at": fmt(s.starts_at), "ends_at": fmt(s.ends_at),
            "venue_branch": s.venue.code if s.venue is not None else "", "address": s.address or "",
            "online_url": s.online_url or "", "capacity": "" if s.capacity is None else str(s.capacity),
            "registration_deadline": fmt(s.registration_deadline)}


def _render_form(programme: PrmProgramme, s: PrmSession | None, values: dict[str, Any], errors: dict[str, str],
                 status: int = 200):
    branches = db.session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.kind == "branch",
                                                                         OrgUnit.active.is_(True))
                                  .order_by(OrgUnit.code)).all()
    return render_template("prm/seminar_form.html", programme=programme, session=s, values=values,
                           errors={k.split(".", 1)[-1]: v for k, v in errors.items()}, branches=branches), status


def _posted() -> dict[str, Any]:
    return {k: (request.form.get(k) or "").strip()[:600] for k in FORM_FIELDS}


@bp.route("/<int:programme_id>/seminars/new", methods=["GET", "POST"], endpoint="create")
@permission_required(MANAGE)
def create(programme_id: int):
    programme = programme_or_404(programme_id, current_user, MANAGE)
    step = series_step(programme)
    if step is None:
        flash(_("Add a seminar series step to the programme first."), "error")
        return redirect(url_for("prm_seminars.index", programme_id=programme.id))
    if programme.state in FINAL:
        abort(409)
    if request.method == "GET":
        return _render_form(programme, None, _form_values(None), {})
    values = _posted()
    cleaned, errors = clean_sessions([values], path="session")
    errors = {k.replace("session[0]", "session"): v for k, v in errors.items()}
    if errors:
        return _render_form(programme, None, values, errors, 422)
    made = create_sessions(programme, step, cleaned)
    db.session.commit()
    flash(_("Session added."), "success")
    return redirect(url_for("prm_seminars.detail", programme_id=programme.id, session_id=made[0].id))


@bp.route("/<int:programme_id>/seminars/<int:session_id>/edit", methods=["GET", "POST"], endpoint="edit")
@permission_required(MANAGE)
def edit(programme_id: int, session_id: int):
    programme = programme_or_404(programme_id, current_user, MANAGE)
    s = _session(programme, session_id)
    if request.method == "GET":
        return _render_form(programme, s, _form_values(s), {})
    values = _posted()
    try:
        edit_session(s, values)
        db.session.commit()
    except ProgrammeError as exc:
        db.session.rollback()
        if exc.status == 422:
            return _render_form(programme, db.session.get(PrmSession, session_id), values, exc.errors, 422)
        for message in exc.errors.values():
            flash(message, "error")
        return redirect(url_for("prm_seminars.detail", programme_id=programme.id, session_id=session_id))
    flash(_("Session saved."), "success")
    return redirect(url_for("prm_seminars.detail", programme_id=programme.id, session_id=session_id))


@bp.post("/<int:programme_id>/seminars/<int:session_id>/cancel", endpoint="cancel")
@permission_required(MANAGE)
def cancel(programme_id: int, session_id: int):
    """Cancel the session; the registered, offered and waiting invitees get an e-mail."""
    programme = programme_or_404(programme_id, current_user, MANAGE)
    s = _session(programme, session_id)
    told = cancel_session(s)
    db.session.commit()
    flash(_("Session cancelled; %(n)s invitees were told.", n=told), "success")
    return redirect(url_for("prm_seminars.detail", programme_id=programme.id, session_id=session_id))


@bp.get("/<int:programme_id>/seminars/<int:session_id>", endpoint="detail")
@permission_required(VIEW)
def detail(programme_id: int, session_id: int):
    """The session, its registrations (filter by status, search by name or code within the
    viewer's customers) and its waiting list in order."""
    programme = programme_or_404(programme_id, current_user, VIEW)
    s = _session(programme, session_id)
    counts = taken_seats([s.id])[s.id]
    status = request.args.get("status", "")
    status = status if status in REGISTRATION_STATUSES else ""
    q = (request.args.get("q") or "").strip()[:60]
    page_no, per_page = parse_page_args(request.args, default_size=50)
    visible = scope_filter(current_user, "customer.view", Customer)
    stmt = (select(PrmRegistration, Customer.code, Customer.name)
            .outerjoin(Customer, (Customer.id == PrmRegistration.customer_id) & visible)
            .where(PrmRegistration.session_id == s.id))
    if status:
        stmt = stmt.where(PrmRegistration.status == status)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Customer.name.like(like), Customer.code.like(like)))
    stmt = stmt.order_by(PrmRegistration.status == WAITLISTED, PrmRegistration.waitlist_position,
                         PrmRegistration.id)
    page = paginate(stmt, page_no, per_page, scalars=False)
    # Registrants' names and codes are personal data: who saw them is in the access log.
    audit.log_access("view", object_id=s.id, count=sum(1 for _r, code, _n in page.items if code is not None),
                     object_type="prm_session", detail="seminar registrations")
    db.session.commit()
    args = {"programme_id": programme.id, "session_id": s.id, "status": status, "q": q}
    return render_template("prm/seminar_detail.html", programme=programme, s=s, counts=counts,
                           left=seats_left(s, counts), starts=to_seoul(s.starts_at), ends=to_seoul(s.ends_at),
                           page=page, args=args, status=status, q=q, statuses=REGISTRATION_STATUSES,
                           can_manage=has_permission(current_user, MANAGE), to_seoul=to_seoul)
