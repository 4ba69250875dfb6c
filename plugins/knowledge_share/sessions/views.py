"""Pages of knowledge-sharing sessions (``/stories/sessions``): the list (upcoming / past, paged),
a session (agenda with story links, invitees with attendance for organisers, minutes, action
items), create/edit forms, the organisers' forms on the session page and the ``.ics`` download.

Every page goes through the sessions' scope (``service.session_filter``): a session outside it
answers 404 like a missing one; a visible session that the user may not manage answers 403 to a
change. The service validates; a refusal is flashed (or the form shown again with its errors).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal.toolkit import (
    OrgUnit,
    User,
    db,
    has_permission,
    paginate,
    parse_page_args,
    permission_required,
    register_labels,
)

from ..errors import StoryError
from ..permissions import SESSIONS, VIEW
from . import actions as action_service
from . import service
from .ics import calendar, filename

bp = Blueprint("ks_sessions", __name__, url_prefix="/stories/sessions", template_folder="../templates")
register_labels("ks_action_status", {"open": _l("Still open"), "done": _l("Done"), "cancelled": _l("Cancelled")})
ROLE_LABELS = {"Branch Staff": _l("Branch staff"), "HQ Staff": _l("HQ staff"), "Group Leader": _l("Group leaders"),
               "Distributor": _l("Distributors"), "Reviewer": _l("Reviewers"), "Site Administrator": _l("Administrators")}
FORM_FIELDS = ("title", "starts_at", "ends_at", "place", "online_url", "host", "description", "org_unit")


def _session_or_404(session_id: int):
    try:
        return service.get_session_or_404(session_id, current_user)
    except StoryError:
        abort(404)


def _manageable(session_id: int):
    s = _session_or_404(session_id)
    if not service.may_manage(current_user, s):
        abort(403)
    return s


def _flash_errors(exc: StoryError) -> None:
    for message in dict.fromkeys(exc.errors.values()):  # the page names no field paths; each reason once
        flash(message, "error")


def _save(s: Any, change: Callable[[], Any], done: Callable[[Any], str]) -> Any:
    """An organiser's form on the session page: run the service call, commit and say ``done(result)``;
    a refusal is rolled back and flashed (a 403 answers 403). Back to the session page either way."""
    try:
        result = change()
        db.session.commit()
        flash(done(result), "success")
    except StoryError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        _flash_errors(exc)
    return _back(s)


def _back(s) -> Any:
    return redirect(url_for("ks_sessions.detail", session_id=s.id))


@bp.get("/", endpoint="index")
@permission_required(VIEW)
def index():
    """Upcoming (soonest first) or past (latest first) sessions the user sees, 20 a page."""
    when = request.args.get("when") if request.args.get("when") in ("upcoming", "past") else "upcoming"
    page_no, per_page = parse_page_args(request.args, default_size=20)
    page = paginate(service.list_query(current_user, when), page_no, per_page)
    counts = service.attendance_counts([s.id for s in page.items])
    rows = [{"s": s, "starts": service.to_seoul(s.starts_at), "ends": service.to_seoul(s.ends_at), "c": counts[s.id]}
            for s in page.items]
    return render_template("knowledge_share/sessions/index.html", rows=rows, page=page, when=when,
                           args={"when": when}, can_create=has_permission(current_user, SESSIONS))


def _form_values(s: Any | None) -> dict[str, Any]:
    if s is None:
        return {k: "" for k in FORM_FIELDS} | {"host": str(current_user.id)}
    fmt = (lambda v: service.to_seoul(v).strftime("%Y-%m-%dT%H:%M"))  # noqa: E731
    return {"title": s.title, "starts_at": fmt(s.starts_at), "ends_at": fmt(s.ends_at), "place": s.place or "",
            "online_url": s.online_url or "", "host": str(s.host_id or ""), "description": s.description or "",
            "org_unit": str(s.org_unit_id or "")}


def _render_form(s: Any | None, values: dict[str, Any], errors: dict[str, str], status: int = 200):
    units = service.organiser_units(current_user)
    hosts = db.session.execute(select(User.id, User.name, User.email).where(User.active.is_(True))
                               .order_by(User.name).limit(500)).all()
    return render_template("knowledge_share/sessions/form.html", session=s, values=values, errors=errors,
                           units=units, hosts=hosts), status


def _submitted() -> dict[str, Any]:
    return {k: request.form.get(k, "") for k in FORM_FIELDS}


@bp.route("/new", methods=["GET", "POST"], endpoint="new")
@permission_required(SESSIONS)
def new():
    if request.method == "GET":
        return _render_form(None, _form_values(None), {})
    values = _submitted()
    try:
        s = service.create_session(values, current_user)
        db.session.commit()
    except StoryError as exc:
        db.session.rollback()
        return _render_form(None, values, exc.errors, 422)
    flash(_("Session created. Add its agenda and invite the participants."), "success")
    return _back(s)


@bp.route("/<int:session_id>/edit", methods=["GET", "POST"], endpoint="edit")
@permission_required(SESSIONS)
def edit(session_id: int):
    s = _manageable(session_id)
    if s.cancelled:
        abort(404)
    if request.method == "GET":
        return _render_form(s, _form_values(s), {})
    values = _submitted()
    try:
        service.update_session(s, values, current_user)
        db.session.commit()
    except StoryError as exc:
        db.session.rollback()
        return _render_form(s, values, exc.errors, 422)
    flash(_("Knowledge-sharing session saved."), "success")
    return _back(s)


@bp.get("/<int:session_id>", endpoint="detail")
@permission_required(VIEW)
def detail(session_id: int):
    from ..stories.markdown import render

    s = _session_or_404(session_id)
    manage = service.may_manage(current_user, s)
    actions = action_service.action_rows(s)
    owner_of = {a["id"] for a in actions if any(lr.org_unit_id == a["owner_branch"] and lr.role == "Branch Staff"
                                                 for lr in current_user.local_roles)}
    host = db.session.get(User, s.host_id) if s.host_id else None
    unit = db.session.get(OrgUnit, s.org_unit_id) if s.org_unit_id else None
    rule = s.invite_rule or {}
    rule_units = db.session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name).where(
        OrgUnit.id.in_(list(rule.get("regions", [])) + list(rule.get("branches", []))))).all() if rule else []
    regions = branches = []
    if manage:
        units = db.session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.kind).where(
            OrgUnit.active.is_(True), OrgUnit.kind.in_(("region", "branch"))).order_by(OrgUnit.code)).all()
        regions = [u for u in units if u.kind == "region"]
        branches = [u for u in units if u.kind == "branch"]
    invitees = service.invitee_rows(s)
    return render_template(
        "knowledge_share/sessions/detail.html", s=s, starts=service.to_seoul(s.starts_at),
        ends=service.to_seoul(s.ends_at), host=host, unit=unit, manage=manage, started=s.starts_at <= service.utcnow(),
        agenda=service.agenda_rows(s, current_user), invitees=invitees, actions=actions, owner_of=owner_of,
        counts=service.attendance_counts([s.id])[s.id], minutes_html=render(s.minutes) if s.minutes else None,
        description_html=render(s.description) if s.description else None, rule=rule, rule_units=rule_units,
        regions=regions, branches=branches, roles=ROLE_LABELS, invited=service.is_invitee(s, current_user),
        today=service.seoul_today())


@bp.get("/<int:session_id>/session.ics", endpoint="ics")
@permission_required(VIEW)
def ics(session_id: int):
    """The invitation for the signed-in user (their own ATTENDEE line only)."""
    s = _session_or_404(session_id)
    me = current_user if service.is_invitee(s, current_user) else None
    return Response(calendar(s, me), mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="{filename(s)}"',
                             "Cache-Control": "no-store"})


@bp.post("/<int:session_id>/cancel", endpoint="cancel")
@permission_required(SESSIONS)
def cancel(session_id: int):
    s = _manageable(session_id)
    return _save(s, lambda: service.cancel_session(s, current_user),
                 lambda n: _("Knowledge-sharing session cancelled; %(n)s invitees were told.", n=n))


@bp.post("/<int:session_id>/agenda", endpoint="agenda")
@permission_required(SESSIONS)
def agenda(session_id: int):
    """Add a story (``story``, ``presenter``), or move/remove the item at ``position``."""
    s = _manageable(session_id)
    current = [{"story": a.story_id, "presenter": a.presenter_id, "note": a.minutes_note} for a in s.agenda]
    op = request.form.get("op", "add")
    pos = service._id(request.form.get("position"))
    index = pos - 1 if pos and pos <= len(current) else None
    if op == "add":
        current.append({"story": request.form.get("story", "").strip(), "presenter": request.form.get("presenter") or None})
    elif index is None:
        abort(400)
    elif op == "remove":
        current.pop(index)
    elif op in ("up", "down"):
        other = index - 1 if op == "up" else index + 1
        if 0 <= other < len(current):
            current[index], current[other] = current[other], current[index]
    else:
        abort(400)
    return _save(s, lambda: service.set_agenda(s, current, current_user), lambda _r: _("Agenda saved."))


@bp.post("/<int:session_id>/invitees", endpoint="invitees")
@permission_required(SESSIONS)
def invitees(session_id: int):
    s = _manageable(session_id)
    data = None if request.form.get("op") == "resolve" else {
        "regions": request.form.getlist("regions"), "branches": request.form.getlist("branches"),
        "roles": request.form.getlist("roles")}
    return _save(s, lambda: service.invite(s, data, current_user),
                 lambda counts: _("%(added)s invited, %(removed)s removed; %(total)s invitees in all.", **counts))


@bp.post("/<int:session_id>/attendance", endpoint="attendance")
@permission_required(SESSIONS)
def attendance(session_id: int):
    """``att-<user id>`` = ``yes`` | ``no`` | ``""`` (not marked) for each invitee on the form."""
    s = _manageable(session_id)
    marks = []
    for key, value in request.form.items():
        if key.startswith("att-"):
            marks.append({"user": key[4:], "attended": {"yes": True, "no": False}.get(value)})
    return _save(s, lambda: service.mark_attendance(s, marks, current_user), lambda _r: _("Attendance saved."))


@bp.post("/<int:session_id>/minutes", endpoint="minutes")
@permission_required(SESSIONS)
def minutes(session_id: int):
    s = _manageable(session_id)
    return _save(s, lambda: service.update_session(s, {"minutes": request.form.get("minutes", "")}, current_user),
                 lambda _r: _("Minutes saved."))


@bp.post("/<int:session_id>/actions", endpoint="add_action")
@permission_required(SESSIONS)
def add_action(session_id: int):
    s = _manageable(session_id)
    data = {k: request.form.get(k, "") for k in ("title", "owner_branch", "due_date")}
    return _save(s, lambda: action_service.add_action(s, data, current_user),
                 lambda _r: _("Action item added; the branch's staff were told."))


@bp.post("/actions/<int:action_id>/status", endpoint="action_status")
@permission_required(VIEW)
def action_status(action_id: int):
    """Organisers set any status; the owner branch's staff mark done (or open again)."""
    try:
        item, s = action_service.action_or_404(action_id, current_user)
    except StoryError:
        abort(404)
    return _save(s, lambda: action_service.update_action(item, s, {"status": request.form.get("status", "")},
                                                         current_user),
                 lambda _r: _("Action item updated."))

