"""QR check-in at a seminar's door (PG-18).

A registration's ``checkin_token`` (random, opaque, set by ``seminars.registration`` when the seat
is created) is the ticket: the QR code carries the URL ``/prm/checkin/t/<token>`` so that a phone's
ordinary camera app opens the staff page, and the staff page's scanner (or a typed code) reads
the same thing. It holds no personal data and nothing guessable.

Who may check in at a session (:func:`may_checkin`): HQ (global ``prm.checkin``), a leader of the
programme's group, and branch staff of the session's venue branch — nobody else, and for anyone
else the session does not exist (404). Refusals name the problem in words staff can act on, but
an unknown token and a token of a session the scanner cannot see get the same "unknown ticket":
the scanner learns nothing about other groups' seminars.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import has_request_context, url_for
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, false, or_, select, true, update

from portal.toolkit import (
    OrgUnit,
    db,
    has_global_permission,
    has_permission,
    scope_filter,
    utcnow,
)

from ..models import CANCELLED as PROGRAMME_CANCELLED
from ..models import PrmProgramme
from ..permissions import CHECKIN
from ..programmes import ProgrammeError
from ..seminar_models import ATTENDED, EDIT_DAYS, REGISTERED, WAITLISTED, PrmRegistration, PrmSession

KST = ZoneInfo("Asia/Seoul")
#: Doors open: a ticket may be scanned from this long before the session starts.
OPENS_BEFORE = timedelta(hours=2)
#: A token as the registration service makes it (URL-safe base64 / hex), never longer than the column.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_IN_URL = re.compile(r"/t/([A-Za-z0-9_-]{8,64})/?(?:[?#].*)?$")


class CheckinError(ProgrammeError):
    """A refused scan or mark: ``reason`` is a stable code for API clients and the page
    (``unknown_ticket``, ``wrong_session``, ``already_checked_in``, ``not_registered``,
    ``not_open``, ``session_cancelled``, ``too_early``, ``locked``, ``reason_required``)."""

    def __init__(self, reason: str, message: str, status: int = 422, field: str = "token"):
        super().__init__({field: message}, status)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ScanResult:
    """A successful check-in: the registration and the time shown to staff (KST)."""

    registration: PrmRegistration
    checked_in_at: datetime
    name: str

    @property
    def local_time(self) -> str:
        return kst(self.checked_in_at).strftime("%H:%M")


def kst(at: datetime) -> datetime:
    """A stored (naive UTC) time in Asia/Seoul."""
    return at.replace(tzinfo=UTC).astimezone(KST)


def as_utc(at: datetime) -> datetime:
    """Naive UTC, whatever was given (aware times are converted; naive ones are taken as UTC)."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


# -- who may check in ---------------------------------------------------------------------------


def may_checkin(user: Any, session: PrmSession) -> bool:
    """HQ, a leader of the programme's group, or staff of the venue branch (its subtree)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if has_global_permission(user, CHECKIN):
        return True
    programme = db.session.get(PrmProgramme, session.programme_id)
    if programme is not None and has_permission(user, CHECKIN, programme):
        return True
    if session.venue_branch_id is not None:
        venue = db.session.get(OrgUnit, session.venue_branch_id)
        return venue is not None and has_permission(user, CHECKIN, venue)
    return False


def session_scope(user: Any) -> ColumnElement[bool]:
    """SQL condition on ``prm_session``: the sessions ``user`` may check in at (see :func:`may_checkin`)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return false()
    if has_global_permission(user, CHECKIN):
        return true()
    conds: list[ColumnElement[bool]] = [
        PrmSession.programme_id.in_(select(PrmProgramme.id).where(scope_filter(user, CHECKIN, PrmProgramme)))]
    units = [lr.org_unit for lr in user.local_roles
             if lr.org_unit is not None and has_permission(user, CHECKIN, lr.org_unit)]
    if units:
        conds.append(PrmSession.venue_branch_id.in_(
            select(OrgUnit.id).where(or_(*[OrgUnit.path.startswith(u.path, autoescape=True) for u in units]))))
    return or_(*conds)


def session_or_none(user: Any, session_id: Any) -> PrmSession | None:
    """The session when ``user`` may check in there; ``None`` (→ 404) otherwise or when unknown."""
    try:
        ident = int(session_id)
    except (TypeError, ValueError):
        return None
    if not 0 < ident < 2**31:
        return None
    return db.session.scalar(select(PrmSession).where(PrmSession.id == ident, session_scope(user)))


# -- tickets ------------------------------------------------------------------------------------


def clean_token(raw: Any) -> str | None:
    """The token from what a scanner or a person typed: the bare token or the ticket URL."""
    if not isinstance(raw, str):
        return None
    raw = raw.strip()
    if len(raw) > 500:
        return None
    if _TOKEN.match(raw):
        return raw
    found = _IN_URL.search(raw)
    return found.group(1) if found else None


def ticket_url(registration: PrmRegistration) -> str:
    """What the QR code says: the ticket URL (absolute inside a request, else the bare token)."""
    if has_request_context():
        return url_for("prm_checkin.ticket", token=registration.checkin_token, _external=True)
    return registration.checkin_token


def qr_svg(registration: PrmRegistration, *, scale: int = 6) -> str:
    """The ticket as an inline SVG QR code (``segno``, pure Python). Error correction M: a phone
    screen with a crack or glare still scans. No personal data inside, only the opaque token."""
    import io

    import segno

    code = segno.make(ticket_url(registration), error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True, title=_("Seminar ticket"),
              dark="#000", light="#fff", encoding="utf-8")
    return out.getvalue().decode("utf-8")


# -- scanning -----------------------------------------------------------------------------------


def registrant_name(registration: PrmRegistration, viewer: Any = None) -> str:
    """The name staff see after a scan (customer, or an invited distributor); masked (``김*훈``)
    when the customer is outside the viewer's customer scope."""
    from portal.toolkit import Customer, Partner

    from ..seminar_models import PrmInvitation
    from .attendance import CUSTOMER_VIEW, mask_name

    if registration.customer_id is not None:
        stmt = select(Customer.name, scope_filter(viewer, CUSTOMER_VIEW, Customer) if viewer is not None else true()
                      ).where(Customer.id == registration.customer_id)
        row = db.session.execute(stmt).first()
        if row is not None and row[0]:
            return row[0] if row[1] else mask_name(row[0])
    inv = db.session.get(PrmInvitation, registration.invitation_id)
    if inv is not None and inv.partner_invitee_id is not None:
        return db.session.scalar(select(Partner.name).where(Partner.id == inv.partner_invitee_id)) or ""
    return ""


def check_open(session: PrmSession, now: datetime, *, early: timedelta = OPENS_BEFORE) -> None:
    """Refuse a session that is cancelled, not open yet, or past the staff edit window."""
    programme = db.session.get(PrmProgramme, session.programme_id)
    if session.cancelled_at is not None or (programme is not None and programme.state == PROGRAMME_CANCELLED):
        raise CheckinError("session_cancelled", _("This session was cancelled."), 409, "session")
    if now < session.starts_at - early:
        raise CheckinError("too_early", _("Check-in opens at %(time)s.",
                                           time=kst(session.starts_at - early).strftime("%Y-%m-%d %H:%M")),
                           409, "session")
    if now > session.ends_at + timedelta(days=EDIT_DAYS):
        raise CheckinError("not_open", _("Check-in closed %(days)d days after the session; HQ can still correct "
                                         "attendance with a reason.", days=EDIT_DAYS), 409, "session")


def scan(session: PrmSession, token: Any, actor: Any, *, now: datetime | None = None) -> ScanResult:
    """Check a ticket in at ``session``: attendance = attended, ``checked_in_at``, ``marked_by``.

    Refused (:class:`CheckinError`, nothing written): an unknown ticket, or one of a session the
    of another programme ("unknown ticket", the same words); a ticket of another session of the
    same programme ("wrong session", naming it); a seat that is not confirmed (waiting list, cancelled,
    offer not taken); a ticket already checked in ("already checked in at 19:02", KST time of the
    first scan). The update is conditional, so two phones scanning the same ticket at once check
    it in once. The caller commits."""
    now = as_utc(now) if now is not None else utcnow()
    if not may_checkin(actor, session):
        raise CheckinError("not_found", _("No such session."), 404, "session")
    value = clean_token(token)
    unknown = CheckinError("unknown_ticket", _("Unknown ticket."), 422)
    if value is None:
        raise unknown
    reg = db.session.scalar(select(PrmRegistration).where(PrmRegistration.checkin_token == value))
    if reg is None:
        raise unknown
    if reg.session_id != session.id:
        other = db.session.get(PrmSession, reg.session_id)
        if other is None or other.programme_id != session.programme_id:
            raise unknown  # another programme's ticket: said like an unknown one (nothing leaks)
        raise CheckinError("wrong_session", _("Wrong session: this ticket is for “%(title)s” on %(when)s.",
                                               title=other.title,
                                               when=kst(other.starts_at).strftime("%Y-%m-%d %H:%M")), 422)
    check_open(session, now)
    if reg.status != REGISTERED:
        message = (_("Not a confirmed seat: this person is on the waiting list.") if reg.status == WAITLISTED
                   else _("Not a confirmed seat (the registration is no longer valid)."))
        raise CheckinError("not_registered", message, 409)
    if reg.attendance == ATTENDED:
        raise _already(reg)
    done = db.session.execute(
        update(PrmRegistration)
        .where(PrmRegistration.id == reg.id, PrmRegistration.attendance != ATTENDED,
               PrmRegistration.status == REGISTERED)
        .values(attendance=ATTENDED, checked_in_at=now, marked_by_id=getattr(actor, "id", None), marked_at=now,
                mark_reason=None, updated_at=now)
        .execution_options(synchronize_session=False))
    db.session.refresh(reg)
    if done.rowcount != 1:
        raise _already(reg)
    return ScanResult(reg, now, registrant_name(reg, actor))


def _already(reg: PrmRegistration) -> CheckinError:
    at = reg.checked_in_at or reg.marked_at
    if at is None:
        return CheckinError("already_checked_in", _("Already checked in."), 409)
    return CheckinError("already_checked_in", _("Already checked in at %(time)s.", time=kst(at).strftime("%H:%M")), 409)
