"""The invitee's page without login (``/prm/r/<token>``): the token from the invitation e-mail is
the only key. It shows the series' sessions with the seats left and lets the invitee register,
cancel, accept or decline a seat offer, decline the series and download the ``.ics``; once
registered, the QR check-in code.

It shows nothing about the customer but their own given name, answers 404 for an unknown or
erased token (the same as for a token that never existed), never changes anything on GET, and
its forms carry the CSRF token (the session cookie works without login). Pages are
``no-store``, ``noindex`` and send no referrer, so the token does not leak into logs of others.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal.toolkit import Customer, db, utcnow

from ..models import CANCELLED as PROGRAMME_CANCELLED
from ..models import CLOSED, PrmProgramme, PrmStep
from ..programmes import ProgrammeError
from ..seminar_models import OFFERED, REGISTERED, PrmInvitation, PrmRegistration, PrmSession
from . import registration as reg_service
from .ics import calendar
from .invitations import invitation_by_token
from .sessions import seats_left, sessions_of, taken_seats, to_seoul

bp = Blueprint("prm_public", __name__, url_prefix="/prm/r")


#: Korean two-syllable family names: 남궁민수 is greeted as 민수, not 궁민수 (half the family name).
TWO_SYLLABLE_SURNAMES = frozenset({"남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방", "어금", "망절", "장곡",
                                   "강전", "소봉"})


def given_name(full: str | None) -> str:
    """The part of a name a greeting uses: a Korean name's given name (김한빛 → 한빛), else the
    first word. Nothing else about the customer is shown on the page."""
    name = (full or "").strip()
    if not name:
        return ""
    if " " not in name and 2 <= len(name) <= 4 and all("\uac00" <= ch <= "\ud7a3" for ch in name):
        return name[2:] if len(name) == 4 and name[:2] in TWO_SYLLABLE_SURNAMES else name[1:]
    return name.split()[0]


def load(token: str) -> tuple[PrmInvitation, PrmProgramme, PrmStep]:
    """The invitation, programme and series of a token, or 404."""
    inv = invitation_by_token(token)
    if inv is None:
        abort(404)
    programme = db.session.get(PrmProgramme, inv.programme_id)
    step = db.session.get(PrmStep, inv.step_id)
    if programme is None or step is None:
        abort(404)
    return inv, programme, step


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _qr(registration: PrmRegistration) -> str | None:
    """The check-in helper's QR SVG, or None (the page then shows the token as text)."""
    try:
        from .checkin import qr_svg  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        return str(qr_svg(registration))
    except Exception:  # noqa: BLE001 — a QR image is a convenience; the token text still checks in
        current_app.logger.warning("QR image for registration %s failed", registration.id, exc_info=True)
        return None


def page_context(inv: PrmInvitation, programme: PrmProgramme, step: PrmStep) -> dict[str, Any]:
    sessions = sessions_of(step)
    counts = taken_seats([s.id for s in sessions])
    mine = reg_service.registrations_of(inv)
    rows = []
    now = utcnow()
    for s in sessions:
        r = mine.get(s.id)
        rows.append({"session": s, "closed": now >= reg_service.registration_deadline(s),
                     "started": now >= s.starts_at, "starts": to_seoul(s.starts_at), "ends": to_seoul(s.ends_at),
                     "deadline": to_seoul(reg_service.registration_deadline(s)),
                     "seats_left": seats_left(s, counts[s.id]), "reg": r,
                     "rank": reg_service.waitlist_rank(r) if r is not None else None,
                     "offer_until": to_seoul(r.offer_expires_at) if r is not None and r.status == OFFERED else None,
                     "qr": _qr(r) if r is not None and r.status == REGISTERED else None})
    name = db.session.scalar(select(Customer.name).where(Customer.id == inv.customer_id)) if inv.customer_id else None
    return {"inv": inv, "programme_open": programme.state not in (CLOSED, PROGRAMME_CANCELLED), "step": step,
            "series_title": step.title or programme.name, "rows": rows, "first_name": given_name(name),
            "sender": current_app.config.get("PORTAL_SENDER_NAME") or ""}


@bp.route("/<token>", endpoint="page")
def page(token: str) -> Response:
    inv, programme, step = load(token)
    return _private(current_app.make_response(render_template("prm/public_invitation.html",
                                                              **page_context(inv, programme, step))))


def _session_of(step: PrmStep) -> PrmSession:
    raw = request.form.get("session", "")
    if not raw.isdigit() or len(raw) > 12:
        abort(404)
    s = db.session.get(PrmSession, int(raw))
    if s is None or s.step_id != step.id:
        abort(404)
    return s


def act(token: str, action: str, session_id: int | None) -> PrmRegistration | PrmInvitation:
    """One invitee action, shared by this page and the public JSON API; raises ProgrammeError."""
    inv, programme, step = load(token)
    if programme.state in (CLOSED, PROGRAMME_CANCELLED):
        raise ProgrammeError({"programme": _("This programme has ended.")}, 409)
    if action == "decline":
        return reg_service.decline_invitation(inv)
    s = db.session.get(PrmSession, session_id) if session_id is not None else None
    if s is None or s.step_id != step.id:
        raise ProgrammeError({"session": _("No such session.")}, 404)
    if action == "register":
        return reg_service.register(inv, s)
    r = reg_service.existing(inv, s)
    if r is None:
        raise ProgrammeError({"session": _("You are not registered for this session.")}, 409)
    if action == "cancel":
        return reg_service.cancel(r)
    if action == "accept":
        return reg_service.accept_offer(r)
    if action == "decline_offer":
        return reg_service.decline_offer(r)
    raise ProgrammeError({"action": _("Unknown action.")}, 404)


DONE = {"register": "registered", "cancel": "cancelled", "accept": "accepted", "decline_offer": "offer_declined",
        "decline": "declined"}


@bp.route("/<token>/<any(register, cancel, accept, decline_offer, decline):action>", methods=["POST"],
          endpoint="act")
def act_view(token: str, action: str) -> Response:
    inv, _programme, step = load(token)
    session_id = _session_of(step).id if action != "decline" else None
    try:
        result = act(token, action, session_id)
        db.session.commit()
    except ProgrammeError as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
        return redirect(url_for("prm_public.page", token=token))
    if action == "register" and isinstance(result, PrmRegistration) and result.status != REGISTERED:
        flash(_("The seminar is full: you are on the waiting list. We will e-mail you if a seat becomes free."), "info")
    else:
        flash({"registered": _("You are registered. See you there!"),
               "cancelled": _("Your registration is cancelled."),
               "accepted": _("The seat is yours. See you there!"),
               "offer_declined": _("You declined the seat; it goes to the next person waiting."),
               "declined": _("You declined the invitation. Thank you for letting us know.")}[DONE[action]], "success")
    return redirect(url_for("prm_public.page", token=token))


@bp.route("/<token>/calendar.ics", endpoint="ics")
def ics(token: str) -> Response:
    """The series' sessions as a calendar file."""
    inv, programme, step = load(token)
    body = calendar(sessions_of(step), name=step.title or programme.name,
                    url=reg_service.public_url(inv.token))
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="seminars-{programme.id}.ics"'
    return _private(response)
