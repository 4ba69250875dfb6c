"""JSON API of check-in and attendance under ``/api/v1/prm`` (docs/api.md): bearer tokens only.

``POST /sessions/<id>/checkin {"token"}`` checks a ticket in; ``PATCH /registrations/<id>/attendance
{"attendance", "reason"}`` marks one registrant; ``POST /sessions/<id>/no-shows {"reason"}`` marks
the rest no-show after the session; ``GET /sessions/<id>/attendance`` lists the sheet with counts.
A session or registration the caller may not check in at answers 404 (as if it did not exist);
refusals are ``{"error", "message", "reason", "errors": {path: message}}`` with 422 (bad input,
unknown ticket, wrong session), 409 (state: already checked in, not open yet, cancelled) or 403
(a late edit by someone who is not HQ). Messages are English, like the core API's.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import (
    audit,
    authenticate_bearer,
    db,
    error,
    json_payload,
    paginate,
    parse_page_args,
    require,
)

from ..api_support import english, http_error, refused
from ..permissions import CHECKIN
from ..seminar_models import ATTENDANCE, PrmRegistration
from . import attendance as att
from .checkin import CheckinError, kst, scan, session_or_none

bp = Blueprint("prm_checkin_api", __name__, url_prefix="/api/v1/prm")
bp.before_request(authenticate_bearer)

bp.register_error_handler(HTTPException, http_error)


def _refused(exc: CheckinError):
    return refused(exc, message=exc.message, reason=exc.reason)


def _body(allowed: tuple[str, ...]) -> dict[str, Any]:
    data = json_payload()
    if data is None and not request.get_data(cache=True):
        data = {}
    if not isinstance(data, dict):
        raise CheckinError("invalid", "Send a JSON object with Content-Type: application/json.", 422, "")
    unknown = sorted(str(k)[:60] for k in set(data) - set(allowed))
    if unknown:
        raise CheckinError("invalid", f"Unknown field; use: {', '.join(allowed)}.", 422, unknown[0])
    return data


def _not_found():
    return error(404, "not_found", "No such session or registration.", errors={})


def _registration_json(reg: PrmRegistration) -> dict[str, Any]:
    return {"id": reg.id, "session_id": reg.session_id, "status": reg.status, "attendance": reg.attendance,
            "checked_in_at": kst(reg.checked_in_at).isoformat() if reg.checked_in_at else None,
            "marked_at": kst(reg.marked_at).isoformat() if reg.marked_at else None,
            "reason": reg.mark_reason}


@bp.post("/sessions/<session_id>/checkin")
@english
def checkin(session_id: str):
    require(CHECKIN)
    session = session_or_none(current_user, session_id)
    if session is None:
        return _not_found()
    try:
        body = _body(("token",))
        result = scan(session, body.get("token"), current_user)
    except CheckinError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify({"registration": _registration_json(result.registration), "name": result.name,
                    "checked_in_at": kst(result.checked_in_at).isoformat(), "time": result.local_time})


@bp.patch("/registrations/<registration_id>/attendance")
@english
def set_attendance(registration_id: str):
    require(CHECKIN)
    reg = _registration_or_none(registration_id)
    if reg is None:
        return _not_found()
    try:
        body = _body(("attendance", "reason"))
        changed = att.mark(reg, body.get("attendance"), current_user, body.get("reason"))
    except CheckinError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify({"registration": _registration_json(reg), "changed": changed})


@bp.post("/sessions/<session_id>/no-shows")
@english
def rest_no_show(session_id: str):
    require(CHECKIN)
    session = session_or_none(current_user, session_id)
    if session is None:
        return _not_found()
    try:
        body = _body(("reason",))
        count = att.mark_rest_no_show(session, current_user, body.get("reason"))
    except CheckinError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify({"marked_no_show": count, "counts": att.session_counts([session.id])[session.id]})


@bp.get("/sessions/<session_id>/attendance")
@english
def sheet(session_id: str):
    require(CHECKIN)
    session = session_or_none(current_user, session_id)
    if session is None:
        return _not_found()
    wanted = request.args.get("attendance")
    if wanted is not None and wanted not in ATTENDANCE:
        return error(422, "validation_failed", f"attendance must be one of {', '.join(ATTENDANCE)}.",
                     errors={"attendance": "unknown value"})
    page, per_page = parse_page_args(request.args, default_size=100)
    result = paginate(att.sheet_statement(session, current_user, attendance=wanted, q=request.args.get("q")), page,
                      per_page, scalars=False)
    rows = [att.present(r) for r in result.items]
    items = [{"registration_id": r.id, "name": r.name, "code": r.code or None, "masked": r.masked,
              "attendance": r.attendance,
              "checked_in_at": kst(r.checked_in_at).isoformat() if r.checked_in_at else None,
              "marked_at": kst(r.marked_at).isoformat() if r.marked_at else None, "reason": r.mark_reason}
             for r in rows]
    audit.log_access("view", object_id=session.id, count=len(items), object_type="prm_session",
                     detail="attendance sheet (API)")
    db.session.commit()
    return jsonify({"session": {"id": session.id, "title": session.title,
                                "starts_at": kst(session.starts_at).isoformat(),
                                "ends_at": kst(session.ends_at).isoformat()},
                    "counts": att.session_counts([session.id])[session.id],
                    "items": items, "page": result.page, "pages": result.pages, "total": result.total})


def _registration_or_none(registration_id: str) -> PrmRegistration | None:
    try:
        ident = int(registration_id)
    except ValueError:
        return None
    if not 0 < ident < 2**31:
        return None
    reg = db.session.get(PrmRegistration, ident)
    if reg is None or session_or_none(current_user, reg.session_id) is None:
        return None
    return reg
