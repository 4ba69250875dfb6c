"""Registration for a session: seats, the waiting list and time-limited seat offers.

Every change of a session's seats happens under a row lock on the session
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time), and the seat count is
read after the lock, so two invitees registering at once for the last seat never both get it, and
two job consumers expiring the same offer never offer the seat twice.

``register`` is idempotent per (session, invitation): a second call returns the live
registration. A seat freed by a cancellation, a declined or expired offer or a raised capacity is
offered to the waiting list in position order for :data:`OFFER_HOURS` hours (never past the
registration deadline); the :mod:`.jobs` job expires unanswered offers and offers the seat on.
Functions flush and leave the commit to the caller.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.toolkit import db, queue_many, utcnow

from ..programmes import ProgrammeError
from ..seminar_models import (
    CANCELLED,
    DECLINED,
    EXPIRED,
    OFFER_HOURS,
    OFFERED,
    REGISTERED,
    WAITLISTED,
    PrmInvitation,
    PrmRegistration,
    PrmSession,
)

PUBLIC_PREFIX = "/prm/r"
LIVE = (REGISTERED, WAITLISTED, OFFERED)


def public_url(token: str) -> str:
    """The invitee's page (no login) under ``PORTAL_BASE_URL``: links in messages."""
    base = (current_app.config.get("PORTAL_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    return f"{base}{PUBLIC_PREFIX}/{token}"


def service_rows(customer_id: int, key: str, token: str, *, subject: str, text: str,
                 programme_id: int) -> list[dict[str, Any]]:
    """The e-mail telling an invitee about their seat (a service message: it concerns a
    registration they made, no advertising), with the link to their page."""
    body = f"{text}\n\n{public_url(token)}"
    return [{"channel": "email", "purpose": "service", "customer_id": customer_id, "subject": subject[:200],
             "body": body, "idempotency_key": key[:200], "source": "prm_groups",
             "source_object": f"programme:{programme_id}"}]


def registration_deadline(session: PrmSession) -> datetime:
    """Until when one may register (or accept an offer): the deadline, else the start."""
    return session.registration_deadline or session.starts_at


def _lock(session: PrmSession) -> PrmSession:
    locked = db.session.scalar(select(PrmSession).where(PrmSession.id == session.id)
                               .with_for_update().execution_options(populate_existing=True))
    if locked is None:
        raise ProgrammeError({"session": str(_l("No such session."))}, 404)
    return locked


def _counts(session_id: int) -> dict[str, int]:
    rows = db.session.execute(select(PrmRegistration.status, func.count())
                              .where(PrmRegistration.session_id == session_id, PrmRegistration.status.in_(LIVE))
                              .group_by(PrmRegistration.status)).all()
    out = {REGISTERED: 0, WAITLISTED: 0, OFFERED: 0}
    out.update({s: n for s, n in rows})
    return out


def _check_open(session: PrmSession, now: datetime) -> None:
    if session.cancelled_at is not None:
        raise ProgrammeError({"session": str(_l("This seminar was cancelled."))}, 409)
    if now >= registration_deadline(session):
        raise ProgrammeError({"session": str(_l("Registration for this seminar has closed."))}, 409)


def existing(invitation: PrmInvitation, session: PrmSession) -> PrmRegistration | None:
    return db.session.scalar(select(PrmRegistration).where(PrmRegistration.session_id == session.id,
                                                           PrmRegistration.invitation_id == invitation.id))


def register(invitation: PrmInvitation, session: PrmSession, *, now: datetime | None = None) -> PrmRegistration:
    """Give the invitee a seat, or a place at the end of the waiting list when the session is
    full. Idempotent: a live registration (registered, waitlisted, offered) is returned as it is;
    a cancelled, declined or expired one is re-opened through the same seat rule. Refused (409)
    for a cancelled session or after the registration deadline; 404 when the session is not part
    of the invitation's series."""
    now = now or utcnow()
    if session.step_id != invitation.step_id:
        raise ProgrammeError({"session": str(_l("No such session."))}, 404)
    reg = existing(invitation, session)
    if reg is not None and reg.status in LIVE:
        return reg
    _check_open(session, now)
    session = _lock(session)
    _check_open(session, now)
    counts = _counts(session.id)
    full = session.capacity is not None and counts[REGISTERED] + counts[OFFERED] >= session.capacity
    # Someone already waiting keeps their place: a new registrant never jumps the queue.
    if session.capacity is not None and counts[WAITLISTED]:
        full = True
    position = None
    if full:
        position = (db.session.scalar(select(func.max(PrmRegistration.waitlist_position))
                                      .where(PrmRegistration.session_id == session.id,
                                             PrmRegistration.status == WAITLISTED)) or 0) + 1
    status = WAITLISTED if full else REGISTERED
    if reg is None:
        reg = PrmRegistration(session_id=session.id, invitation_id=invitation.id, customer_id=invitation.customer_id,
                              status=status, waitlist_position=position, checkin_token=secrets.token_urlsafe(24),
                              created_at=now, updated_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(reg)
        except IntegrityError:  # the same invitee at the same moment: theirs won
            found = existing(invitation, session)
            if found is None:
                raise
            return found
    else:
        reg.status, reg.waitlist_position = status, position
        reg.offered_at = reg.offer_expires_at = None
        reg.updated_at = now
    invitation.status = REGISTERED
    invitation.responded_at = now
    db.session.flush()
    return reg


def cancel(registration: PrmRegistration, *, now: datetime | None = None) -> PrmRegistration:
    """The invitee (or staff) gives up a seat, an offer or a place on the waiting list; a freed
    seat is offered to the next on the waiting list. Cancelling twice is a no-op; after the
    session started it is refused (409)."""
    now = now or utcnow()
    if registration.status not in LIVE:
        return registration
    session = _lock(registration.session)
    if now >= session.starts_at:
        raise ProgrammeError({"registration": str(_l("The seminar has started; the registration can no longer be cancelled."))}, 409)
    held_seat = registration.status in (REGISTERED, OFFERED)
    registration.status = CANCELLED
    registration.waitlist_position = None
    registration.offer_expires_at = None
    registration.updated_at = now
    db.session.flush()
    if held_seat:
        fill_free_seats(session, now=now, locked=True)
    return registration


def accept_offer(registration: PrmRegistration, *, now: datetime | None = None) -> PrmRegistration:
    """Take the offered seat while the offer runs (409 once it expired or was withdrawn)."""
    now = now or utcnow()
    if registration.status == REGISTERED:
        return registration
    if registration.status != OFFERED:
        raise ProgrammeError({"registration": str(_l("There is no seat on offer for you."))}, 409)
    if registration.offer_expires_at is None or now >= registration.offer_expires_at:
        raise ProgrammeError({"registration": str(_l("The seat offer has expired."))}, 409)
    n = db.session.execute(PrmRegistration.__table__.update()
                           .where(PrmRegistration.id == registration.id, PrmRegistration.status == OFFERED)
                           .values(status=REGISTERED, waitlist_position=None, updated_at=now)).rowcount
    if n != 1:
        raise ProgrammeError({"registration": str(_l("The seat offer has expired."))}, 409)
    db.session.refresh(registration)
    return registration


def decline_offer(registration: PrmRegistration, *, now: datetime | None = None) -> PrmRegistration:
    """Refuse the offered seat: it goes to the next on the waiting list."""
    now = now or utcnow()
    if registration.status != OFFERED:
        raise ProgrammeError({"registration": str(_l("There is no seat on offer for you."))}, 409)
    session = _lock(registration.session)
    registration.status = DECLINED
    registration.waitlist_position = None
    registration.offer_expires_at = None
    registration.updated_at = now
    db.session.flush()
    fill_free_seats(session, now=now, locked=True)
    return registration


def decline_invitation(invitation: PrmInvitation, *, now: datetime | None = None) -> PrmInvitation:
    """The invitee declines the whole series: their live seats and places are cancelled (freed
    seats go to the waiting lists) and the invitation is ``declined``."""
    now = now or utcnow()
    live = list(db.session.scalars(select(PrmRegistration).where(PrmRegistration.invitation_id == invitation.id,
                                                                 PrmRegistration.status.in_(LIVE))))
    for reg in live:
        if now < reg.session.starts_at:
            cancel(reg, now=now)
    invitation.status = DECLINED
    invitation.responded_at = now
    db.session.flush()
    return invitation


def fill_free_seats(session: PrmSession, *, now: datetime | None = None, locked: bool = False) -> int:
    """Offer the session's free seats to the waiting list in position order (48 h each, never past
    the registration deadline) and tell each one by e-mail; returns the number of offers. No
    offers for a cancelled session or once registration has closed."""
    now = now or utcnow()
    if not locked:
        session = _lock(session)
    deadline = registration_deadline(session)
    if session.cancelled_at is not None or now >= deadline or session.capacity is None:
        if session.capacity is None and session.cancelled_at is None and now < deadline:
            return _offer(session, _waiting(session.id, None), now, deadline)
        return 0
    counts = _counts(session.id)
    free = session.capacity - counts[REGISTERED] - counts[OFFERED]
    if free <= 0:
        return 0
    return _offer(session, _waiting(session.id, free), now, deadline)


def _waiting(session_id: int, limit: int | None) -> list[int]:
    q = (select(PrmRegistration.id).where(PrmRegistration.session_id == session_id, PrmRegistration.status == WAITLISTED)
         .order_by(PrmRegistration.waitlist_position, PrmRegistration.id))
    if limit is not None:
        q = q.limit(limit)
    return list(db.session.scalars(q))


def _offer(session: PrmSession, ids: list[int], now: datetime, deadline: datetime) -> int:
    if not ids:
        return 0
    expires = min(now + timedelta(hours=OFFER_HOURS), deadline)
    db.session.execute(PrmRegistration.__table__.update()
                       .where(PrmRegistration.id.in_(ids), PrmRegistration.status == WAITLISTED)
                       .values(status=OFFERED, offered_at=now, offer_expires_at=expires, updated_at=now))
    from .sessions import to_seoul

    until = to_seoul(expires)
    rows = []
    for reg_id, customer_id, token in db.session.execute(
            select(PrmRegistration.id, PrmRegistration.customer_id, PrmInvitation.token)
            .join(PrmInvitation, PrmInvitation.id == PrmRegistration.invitation_id)
            .where(PrmRegistration.id.in_(ids))):
        if customer_id is None:
            continue
        rows += service_rows(customer_id, f"prm:offer:{reg_id}:{now:%Y%m%d%H%M%S}", token,
                             subject=str(_l("A seat is free for you: %(title)s", title=session.title)),
                             text=str(_l("A seat at “%(title)s” is free. It is held for you until %(until)s; "
                                         "accept it on your invitation page.", title=session.title,
                                         until=f"{until:%Y-%m-%d %H:%M}")),
                             programme_id=session.programme_id)
    if rows:
        queue_many(rows)
    db.session.expire_all()
    return len(ids)


def expire_offers(*, now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Expire the seat offers whose time ran out and offer each seat to the next on the waiting
    list. Safe to run twice at once: the expiry is a conditional UPDATE under the session's lock,
    so each offer expires once and each seat is offered once; then the waiting lists of sessions
    whose registration has closed end (:func:`close_waiting_lists`). Returns ``{"expired",
    "offered", "closed"}``."""
    now = now or utcnow()
    due = list(db.session.execute(select(PrmRegistration.session_id).where(
        PrmRegistration.status == OFFERED, PrmRegistration.offer_expires_at <= now)
        .group_by(PrmRegistration.session_id).limit(limit)).scalars())
    expired = offered = 0
    for session_id in due:
        session = db.session.get(PrmSession, session_id)
        if session is None:
            continue
        session = _lock(session)
        expired += db.session.execute(PrmRegistration.__table__.update()
                                      .where(PrmRegistration.session_id == session_id, PrmRegistration.status == OFFERED,
                                             PrmRegistration.offer_expires_at <= now)
                                      .values(status=EXPIRED, waitlist_position=None, updated_at=now)).rowcount or 0
        offered += fill_free_seats(session, now=now, locked=True)
        db.session.commit()
    return {"expired": expired, "offered": offered, "closed": close_waiting_lists(now=now)}


def close_waiting_lists(*, now: datetime | None = None) -> int:
    """Once registration has closed (the deadline, else the start), nobody can be offered a seat
    any more: the places still waiting end as ``expired`` instead of waiting for ever. One UPDATE;
    returns how many. Commits."""
    now = now or utcnow()
    closed = select(PrmSession.id).where(func.coalesce(PrmSession.registration_deadline, PrmSession.starts_at) <= now)
    n = db.session.execute(PrmRegistration.__table__.update()
                           .where(PrmRegistration.status == WAITLISTED, PrmRegistration.session_id.in_(closed))
                           .values(status=EXPIRED, waitlist_position=None, updated_at=now)).rowcount or 0
    db.session.commit()
    return n


def registrations_of(invitation: PrmInvitation) -> dict[int, PrmRegistration]:
    """``session id → registration`` of one invitee."""
    return {r.session_id: r for r in db.session.scalars(
        select(PrmRegistration).where(PrmRegistration.invitation_id == invitation.id))}


def waitlist_rank(registration: PrmRegistration) -> int | None:
    """The registration's place in the queue now (1 = next), counting only those still waiting."""
    if registration.status != WAITLISTED or registration.waitlist_position is None:
        return None
    ahead = db.session.scalar(select(func.count()).where(
        PrmRegistration.session_id == registration.session_id, PrmRegistration.status == WAITLISTED,
        PrmRegistration.waitlist_position < registration.waitlist_position)) or 0
    return ahead + 1
