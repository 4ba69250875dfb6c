"""JSON API of seminar series under ``/api/v1/prm`` (docs/api.md).

Staff endpoints take a bearer token (the core API's rule); the invitee's endpoints
``/r/<token>/…`` take the invitation token instead and no login. Refusals are
``{"error", "message", "errors": {path: message}}``: 404 for another group's programme or
session (the same answer as for a missing one), 403 for a missing permission, 409 for a state
that does not allow the action, 422 for bad input — with nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.toolkit import (
    Customer,
    audit,
    authenticate_bearer,
    db,
    error,
    paginate,
    parse_page_args,
    require,
    scope_filter,
)

from ..api_support import english as to_english
from ..api_support import http_error, json_object, refused
from ..models import FINAL, PrmProgramme
from ..permissions import MANAGE, VIEW
from ..programmes import ProgrammeError
from ..seminar_models import REGISTRATION_STATUSES, PrmInvitation, PrmRegistration, PrmSession
from . import registration as reg_service
from .invitations import invitation_by_token, invite
from .sessions import (
    FIELDS,
    clean_sessions,
    create_sessions,
    edit_session,
    programme_or_404,
    series_step,
    session_json,
    session_or_404,
    sessions_of,
    taken_seats,
    to_seoul,
)

bp = Blueprint("prm_seminars_api", __name__, url_prefix="/api/v1/prm")
PUBLIC = ("prm_seminars_api.public_act",)


@bp.before_request
def _auth():
    """Bearer token for staff endpoints; the invitee's endpoints are authenticated by their token."""
    if request.endpoint in PUBLIC:
        return None
    return authenticate_bearer()


bp.register_error_handler(HTTPException, http_error)


def english(view: Callable[..., Any]) -> Callable[..., Any]:
    """English messages (``api_support.english``), a ``ProgrammeError`` answered in the API's shape."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return to_english(view)(*args, **kwargs)
        except ProgrammeError as exc:
            return refused(exc)

    return wrapper


def _body() -> dict[str, Any]:
    return json_object(empty_ok=True)


def _series(programme: PrmProgramme):
    step = series_step(programme)
    if step is None:
        raise ProgrammeError({"programme": "This programme has no seminar series step."}, 409)
    return step


def registration_json(r: PrmRegistration, customer: dict[str, Any] | None = None) -> dict[str, Any]:
    iso = (lambda v: to_seoul(v).isoformat() if v is not None else None)  # noqa: E731
    out = {"id": r.id, "session": r.session_id, "invitation": r.invitation_id, "status": r.status,
           "waitlist_position": r.waitlist_position, "offer_expires_at": iso(r.offer_expires_at),
           "attendance": r.attendance, "created_at": iso(r.created_at)}
    if customer is not None:
        out["customer"] = customer
    return out


@bp.get("/programmes/<programme_id>/sessions")
@english
def list_sessions(programme_id: str):
    require(VIEW)
    programme = programme_or_404(programme_id, current_user, VIEW)
    sessions = sessions_of(programme)
    counts = taken_seats([s.id for s in sessions])
    return jsonify({"items": [session_json(s, counts[s.id]) for s in sessions]})


@bp.post("/programmes/<programme_id>/sessions")
@english
def create(programme_id: str):
    """One session (the object) or several (``{"sessions": [...]}``) added to the series."""
    require(MANAGE)
    programme = programme_or_404(programme_id, current_user, MANAGE)
    if programme.state in FINAL:
        raise ProgrammeError({"state": "The programme is closed or cancelled."}, 409)
    step = _series(programme)
    body = _body()
    raw = body.get("sessions") if "sessions" in body and len(body) == 1 else [body]
    path = "sessions" if "sessions" in body and len(body) == 1 else "session"
    cleaned, errors = clean_sessions(raw, path)
    if path == "session":
        errors = {k.replace("session[0]", "session"): v for k, v in errors.items()}
    if errors:
        raise ProgrammeError(errors)
    made = create_sessions(programme, step, cleaned)
    db.session.commit()
    return jsonify({"items": [session_json(s) for s in made]}), 201


@bp.get("/sessions/<session_id>")
@english
def get_session(session_id: str):
    require(VIEW)
    s, _programme = session_or_404(session_id, current_user, VIEW)
    return jsonify(session_json(s))


@bp.route("/sessions/<session_id>", methods=["PATCH", "PUT"])
@english
def update_session(session_id: str):
    """Replace the session's fields (send the whole session, as when creating it)."""
    require(MANAGE)
    s, _programme = session_or_404(session_id, current_user, MANAGE)
    body = _body()
    current = session_json(s)
    merged = {k: current.get(k) for k in FIELDS} | body if request.method == "PATCH" else body
    s = edit_session(s, merged)
    db.session.commit()
    return jsonify(session_json(s))


@bp.delete("/sessions/<session_id>")
@english
def cancel_session_api(session_id: str):
    """Cancel the session (registered, offered and waiting invitees are told)."""
    from .sessions import cancel_session

    require(MANAGE)
    s, _programme = session_or_404(session_id, current_user, MANAGE)
    told = cancel_session(s)
    db.session.commit()
    return jsonify({"id": s.id, "cancelled": True, "notified": told})


@bp.post("/programmes/<programme_id>/invitations")
@english
def invite_api(programme_id: str):
    """Invite the series step's audience (its rules, the treatment arm, contactable); idempotent."""
    require(MANAGE)
    programme = programme_or_404(programme_id, current_user, MANAGE)
    step = _series(programme)
    n = invite(programme, step, current_user)
    db.session.commit()
    total = db.session.scalar(select(db.func.count()).where(PrmInvitation.step_id == step.id))
    return jsonify({"invited": n, "total": total})


@bp.get("/programmes/<programme_id>/registrations")
@english
def registrations(programme_id: str):
    """Registrations of the programme's sessions (filter ``session``, ``status``), paginated. The
    customer's code and name appear only for customers in the caller's own customer scope."""
    require(VIEW)
    programme = programme_or_404(programme_id, current_user, VIEW)
    try:
        page, per_page = parse_page_args(request.args, strict=True)
    except ValueError as exc:  # page 0, 99999999999999999999, "abc": the client's mistake, not a 500
        raise ProgrammeError({"page": str(exc)}) from None
    q = (select(PrmRegistration).join(PrmSession, PrmSession.id == PrmRegistration.session_id)
         .where(PrmSession.programme_id == programme.id))
    status = request.args.get("status")
    if status:
        if status not in REGISTRATION_STATUSES:
            raise ProgrammeError({"status": f"One of {', '.join(REGISTRATION_STATUSES)}."})
        q = q.where(PrmRegistration.status == status)
    session = request.args.get("session")
    if session:
        if not session.isdigit() or len(session) > 12:
            raise ProgrammeError({"session": "Expected a session id."})
        q = q.where(PrmRegistration.session_id == int(session))
    result = paginate(q.order_by(PrmRegistration.session_id, PrmRegistration.id), page, per_page)
    ids = [r.customer_id for r in result.items if r.customer_id]
    visible = {c.id: {"id": c.id, "code": c.code, "name": c.name} for c in db.session.execute(
        select(Customer.id, Customer.code, Customer.name).where(
            Customer.id.in_(ids), scope_filter(current_user, "customer.view", Customer)))} if ids else {}
    audit.log_access("view", object_id=programme.id, count=len(visible), object_type="prm_programme",
                     detail="seminar registrations (API)")
    db.session.commit()
    return jsonify({"items": [registration_json(r, visible.get(r.customer_id)) for r in result.items],
                    "page": result.page, "per_page": result.per_page, "total": result.total})


@bp.post("/sessions/<session_id>/registrations")
@english
def staff_register(session_id: str):
    """Staff register an invitee (``{"invitation": id}`` or ``{"customer": id}``) for a session;
    idempotent like the invitee's own registration."""
    require(MANAGE)
    s, programme = session_or_404(session_id, current_user, MANAGE)
    body = _body()
    unknown = sorted(set(body) - {"invitation", "customer"}, key=str)
    if unknown:
        raise ProgrammeError({str(k)[:40]: "Unknown field." for k in unknown})
    inv = None
    for key, col in (("invitation", PrmInvitation.id), ("customer", PrmInvitation.customer_id)):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**62:
            raise ProgrammeError({key: "Expected an id."})
        inv = db.session.scalar(select(PrmInvitation).where(col == value, PrmInvitation.step_id == s.step_id))
        if inv is None:
            raise ProgrammeError({key: "Not invited to this seminar series."})
        break
    if inv is None:
        raise ProgrammeError({"invitation": "Give an invitation or a customer id."})
    before = reg_service.existing(inv, s)
    was_live = before is not None and before.status in reg_service.LIVE
    r = reg_service.register(inv, s)
    db.session.commit()
    return jsonify(registration_json(r)), 200 if was_live else 201


@bp.post("/r/<token>/<any(register, cancel, decline, accept, decline_offer):action>", endpoint="public_act")
@english
def public_act(token: str, action: str):
    """The invitee's own actions, authenticated by the invitation token (no login):
    ``{"session": id}`` for register, cancel, accept and decline_offer; decline takes none."""
    from .public import act

    if invitation_by_token(token) is None:
        return error(404, "not_found", "No invitation with this token.", errors={})
    body = _body()
    session_id = body.get("session")
    if action != "decline" and (isinstance(session_id, bool) or not isinstance(session_id, int)
                                or not 0 < session_id < 2**62):
        raise ProgrammeError({"session": "Expected a session id."})
    result = act(token, action, session_id if action != "decline" else None)
    db.session.commit()
    if isinstance(result, PrmRegistration):
        return jsonify(registration_json(result))
    return jsonify({"invitation": result.id, "status": result.status})
