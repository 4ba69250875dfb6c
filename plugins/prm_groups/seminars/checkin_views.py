"""Staff pages for seminar check-in (``/prm/checkin``), made for a phone at the door.

The session list shows the sessions the user may check in at (HQ all; a leader their group's;
branch staff those at their branch) with counts; a session's page has the ticket field (a phone's
QR scanner or keyboard fills it; the camera button uses the browser's BarcodeDetector when there
is one — no external script), and the attendance sheet with tri-state marks, a reason field when
the 7-day staff window has passed (HQ only), "mark the rest no-show" and a logged CSV export.
Every rule lives in :mod:`.checkin` and :mod:`.attendance`; these handlers only translate.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from portal.toolkit import (
    ExportTooLarge,
    OrgUnit,
    audit,
    db,
    logged_export,
    paginate,
    parse_page_args,
    permission_required,
    register_labels,
    utcnow,
)

from ..models import PrmProgramme, PrmStep
from ..permissions import CHECKIN
from ..seminar_models import ATTENDANCE, ATTENDED, EDIT_DAYS, NO_SHOW, NOT_MARKED, PrmRegistration, PrmSession
from . import attendance as att
from .checkin import CheckinError, clean_token, kst, may_checkin, scan, session_or_none, session_scope

bp = Blueprint("prm_checkin", __name__, url_prefix="/prm/checkin", template_folder="../templates",
               static_folder="../static", static_url_path="/static")

WHEN = ("today", "upcoming", "recent", "all")
SORTS = ("name", "-name", "checked_in", "attendance")
#: The check-in page may open the camera (the portal's default Permissions-Policy forbids it).
CAMERA_POLICY = "camera=(self), microphone=(), geolocation=()"

register_labels("prm_attendance", {ATTENDED: _l("Attended"), NO_SHOW: _l("No-show"), NOT_MARKED: _l("Not marked")})
register_labels("audit_action", {"prm.attendance": _l("Seminar attendance marked"),
                                 "prm.attendance.rest_no_show": _l("Seminar: the rest marked as no-show")})


def _session_or_404(session_id: Any) -> PrmSession:
    session = session_or_none(current_user, session_id)
    if session is None:
        abort(404, description=_("No such session."))
    return session


@bp.get("/")
@permission_required(CHECKIN)
def index():
    """The sessions the user may check in at: today's first, then upcoming or recent ones."""
    when = request.args.get("when") if request.args.get("when") in WHEN else "today"
    q = (request.args.get("q") or "").strip()[:80]
    now = utcnow()
    today = kst(now).replace(hour=0, minute=0, second=0, microsecond=0)  # the day in Seoul
    start_utc = today.astimezone(UTC).replace(tzinfo=None)
    end_utc = start_utc + timedelta(days=1)
    stmt = (select(PrmSession, PrmProgramme.name).join(PrmProgramme, PrmProgramme.id == PrmSession.programme_id)
            .where(session_scope(current_user)))
    if when == "today":
        stmt = stmt.where(PrmSession.starts_at < end_utc, PrmSession.ends_at >= start_utc).order_by(
            PrmSession.starts_at, PrmSession.id)
    elif when == "upcoming":
        stmt = stmt.where(PrmSession.starts_at >= now).order_by(PrmSession.starts_at, PrmSession.id)
    elif when == "recent":
        stmt = stmt.where(PrmSession.ends_at < now, PrmSession.ends_at >= now - timedelta(days=EDIT_DAYS + 23)
                          ).order_by(PrmSession.starts_at.desc(), PrmSession.id.desc())
    else:
        stmt = stmt.order_by(PrmSession.starts_at.desc(), PrmSession.id.desc())
    if q:
        stmt = stmt.where(func.lower(PrmSession.title).contains(q.lower(), autoescape=True)
                          | func.lower(PrmProgramme.name).contains(q.lower(), autoescape=True))
    page_no, per_page = parse_page_args(request.args, default_size=25)
    page = paginate(stmt, page_no, per_page, scalars=False)
    counts = att.session_counts([s.id for s, _name in page.items])
    return render_template("prm/checkin_index.html", page=page, counts=counts, when=when, q=q, kst=kst, now=now)


@bp.get("/<session_id>")
@permission_required(CHECKIN)
def session_page(session_id: str):
    session = _session_or_404(session_id)
    return _render_session(session)


def _render_session(session: PrmSession, status: int = 200, token: str = "", result: dict | None = None):
    now = utcnow()
    wanted = request.args.get("attendance")
    wanted = wanted if wanted in ATTENDANCE else None
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "name"
    q = (request.args.get("q") or "").strip()[:60]
    page_no, per_page = parse_page_args(request.args, default_size=50)
    page = paginate(att.sheet_statement(session, current_user, q=q, attendance=wanted, sort=sort), page_no,
                    per_page, scalars=False)
    page.items = [att.present(r) for r in page.items]
    audit.log_access("view", object_id=session.id, count=len(page.items), object_type="prm_session",
                     detail="attendance sheet")
    db.session.commit()
    programme = db.session.get(PrmProgramme, session.programme_id)
    step = db.session.get(PrmStep, session.step_id)
    venue = db.session.get(OrgUnit, session.venue_branch_id) if session.venue_branch_id else None
    late = now > session.ends_at + timedelta(days=EDIT_DAYS)
    started = now >= session.starts_at
    ended = now >= session.ends_at
    resp = render_template(
        "prm/checkin_session.html", session=session, programme=programme, venue=venue,
        counts=att.session_counts([session.id])[session.id], page=page, attendance=wanted, sort=sort, q=q,
        late=late, started=started, ended=ended, token=token or (clean_token(request.args.get("token")) or ""),
        result=result, kst=kst, completion=att.completion(step) if step is not None else None, edit_days=EDIT_DAYS, values=ATTENDANCE,
        args={"attendance": wanted or "", "sort": sort, "q": q})
    return resp, status, {"Permissions-Policy": CAMERA_POLICY}


@bp.post("/<session_id>/scan")
@permission_required(CHECKIN)
def do_scan(session_id: str):
    session = _session_or_404(session_id)
    raw = request.form.get("token", "")
    try:
        result = scan(session, raw, current_user)
    except CheckinError as exc:
        db.session.rollback()
        return _render_session(session, exc.status if exc.status in (404, 409, 422) else 422,
                               token=clean_token(raw) or "",
                               result={"ok": False, "message": exc.message, "reason": exc.reason})
    db.session.commit()
    flash(_("Checked in: %(name)s at %(time)s.", name=result.name or _("(no name)"), time=result.local_time),
          "success")
    return redirect(url_for(".session_page", session_id=session.id))


@bp.post("/<session_id>/mark/<registration_id>")
@permission_required(CHECKIN)
def do_mark(session_id: str, registration_id: str):
    session = _session_or_404(session_id)
    reg = _registration_or_404(session, registration_id)
    try:
        changed = att.mark(reg, request.form.get("attendance"), current_user, request.form.get("reason") or None)
    except CheckinError as exc:
        db.session.rollback()
        return _render_session(session, exc.status if exc.status in (403, 404, 409, 422) else 422,
                               result={"ok": False, "message": exc.message, "reason": exc.reason})
    db.session.commit()
    if changed:
        flash(_("Attendance saved."), "success")
    return redirect(url_for(".session_page", session_id=session.id, **_keep_args()))


@bp.post("/<session_id>/no-shows")
@permission_required(CHECKIN)
def do_rest_no_show(session_id: str):
    session = _session_or_404(session_id)
    try:
        count = att.mark_rest_no_show(session, current_user, request.form.get("reason") or None)
    except CheckinError as exc:
        db.session.rollback()
        return _render_session(session, exc.status if exc.status in (403, 404, 409, 422) else 422,
                               result={"ok": False, "message": exc.message, "reason": exc.reason})
    db.session.commit()
    flash(_("%(n)d registrants not marked are now no-shows.", n=count), "success")
    return redirect(url_for(".session_page", session_id=session.id))


@bp.get("/<session_id>/export.csv")
@permission_required(CHECKIN)
def export(session_id: str):
    """The attendance sheet as CSV (formula cells neutralised; the export is access-logged)."""
    session = _session_or_404(session_id)
    stmt = att.sheet_statement(session, current_user)
    count = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0

    def rows():
        for row in db.session.execute(stmt):
            r = att.present(row)
            yield [r.code, r.name, r.attendance, kst(r.checked_in_at) if r.checked_in_at else None,
                   kst(r.marked_at) if r.marked_at else None, r.mark_reason or ""]

    try:
        return logged_export("csv", f"attendance-session-{session.id}.csv",
                             ["code", "name", _("Attendance"), _("Checked in"), _("Marked at"), _("Reason")], rows,
                             sheet_title="attendance", count=count, object_id=session.id,
                             object_type="prm_session", detail="attendance sheet export")
    except ExportTooLarge:  # pragma: no cover - CSV has no row limit
        abort(413)


@bp.get("/t/<token>")
def ticket(token: str):
    """Where a ticket's QR code leads. Staff who may check in at its session land on that
    session's page with the ticket filled in (checking in is a POST); anyone else sees a plain
    "show this at the door" page that reveals nothing about the ticket."""
    value = clean_token(token)
    if value is not None and getattr(current_user, "is_authenticated", False):
        reg = db.session.scalar(select(PrmRegistration).where(PrmRegistration.checkin_token == value))
        session = db.session.get(PrmSession, reg.session_id) if reg is not None else None
        if session is not None and may_checkin(current_user, session):
            return redirect(url_for(".session_page", session_id=session.id, token=value))
    return render_template("prm/checkin_ticket.html")


def _registration_or_404(session: PrmSession, registration_id: str) -> PrmRegistration:
    try:
        ident = int(registration_id)
    except ValueError:
        abort(404)
    reg = db.session.get(PrmRegistration, ident) if 0 < ident < 2**31 else None
    if reg is None or reg.session_id != session.id or not may_checkin(current_user, session):
        abort(404)
    return reg


def _keep_args() -> dict[str, str]:
    return {k: v for k in ("attendance", "sort", "q", "page") if (v := request.form.get("keep_" + k))}
