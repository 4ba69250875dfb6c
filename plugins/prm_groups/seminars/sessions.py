"""Seminar sessions of a programme's series: validation (shared with the programme's create
endpoint, so ``sessions[0].starts_at`` errors come back with the programme's other field errors),
creation, edit and cancellation.

Times are entered and shown in Asia/Seoul and stored as naive UTC (the core's convention). A
session needs somewhere to happen: a venue branch (its code), a postal address or an ``https``
online link. Capacity ``None`` is unlimited; 0 or less is refused (a blank capacity that silently
closed registration is a known failure of other event tools).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.toolkit import OrgUnit, db, queue_many, utcnow

from ..models import PrmProgramme, PrmStep
from ..programmes import ProgrammeError
from ..seminar_models import OFFERED, REGISTERED, WAITLISTED, PrmInvitation, PrmRegistration, PrmSession

SEOUL = ZoneInfo("Asia/Seoul")
MAX_SESSIONS = 50
MAX_CAPACITY = 100_000
#: Fields a session accepts (anything else is refused: no mass assignment).
FIELDS = ("title", "starts_at", "ends_at", "venue_branch", "address", "online_url", "capacity",
          "registration_deadline")


def to_utc(value: datetime) -> datetime:
    """A Seoul (naive) or aware datetime as naive UTC, the stored form."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SEOUL)
    return value.astimezone(UTC).replace(tzinfo=None)


def to_seoul(value: datetime | None) -> datetime | None:
    """A stored naive-UTC datetime as an aware Asia/Seoul datetime (for pages, .ics and messages)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(SEOUL)


def _parse_time(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        return raw
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 40:
        return None
    text = raw.strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _https_url(raw: str) -> bool:
    try:
        parts = urlsplit(raw)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.netloc) and " " not in raw


def clean_session(item: Any, path: str, now: datetime | None = None,
                  branches: dict[str, int] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """One session (see :func:`clean_sessions`)."""
    errors: dict[str, str] = {}
    if not isinstance(item, dict):
        return {}, {path: str(_l("Expected a session object."))}
    for key in sorted(set(item) - set(FIELDS), key=str):
        errors[f"{path}.{str(key)[:40]}"] = str(_l("Unknown field."))
    now = now or utcnow()
    out: dict[str, Any] = {}
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        errors[f"{path}.title"] = str(_l("Enter a title."))
    elif len(title.strip()) > 200:
        errors[f"{path}.title"] = str(_l("At most 200 characters."))
    else:
        out["title"] = title.strip()
    for key in ("starts_at", "ends_at"):
        parsed = _parse_time(item.get(key))
        if parsed is None:
            errors[f"{path}.{key}"] = str(_l("Expected a date and time such as 2027-03-04T19:00 (Asia/Seoul)."))
        else:
            try:
                out[key] = to_utc(parsed)
            except (OverflowError, ValueError):
                errors[f"{path}.{key}"] = str(_l("Expected a date and time such as 2027-03-04T19:00 (Asia/Seoul)."))
    if "starts_at" in out and out["starts_at"] <= now:
        errors[f"{path}.starts_at"] = str(_l("The session cannot start in the past."))
    if "starts_at" in out and "ends_at" in out and out["ends_at"] <= out["starts_at"]:
        errors[f"{path}.ends_at"] = str(_l("The end must be after the start."))
    raw_deadline = item.get("registration_deadline")
    if raw_deadline in (None, ""):
        out["registration_deadline"] = None
    else:
        parsed = _parse_time(raw_deadline)
        if parsed is None:
            errors[f"{path}.registration_deadline"] = str(
                _l("Expected a date and time such as 2027-03-04T19:00 (Asia/Seoul)."))
        else:
            deadline = to_utc(parsed)
            if "starts_at" in out and deadline > out["starts_at"]:
                errors[f"{path}.registration_deadline"] = str(_l("The registration deadline must not be after the start."))
            out["registration_deadline"] = deadline
    capacity = item.get("capacity")
    if capacity in (None, ""):
        out["capacity"] = None
    elif isinstance(capacity, bool) or not isinstance(capacity, int | str):
        errors[f"{path}.capacity"] = str(_l("Expected a whole number of seats (1 or more), or nothing for unlimited."))
    else:
        try:
            number = int(capacity)
        except ValueError:
            number = None
        if number is None or not 1 <= number <= MAX_CAPACITY:
            errors[f"{path}.capacity"] = str(_l("Expected a whole number of seats (1 or more), or nothing for unlimited."))
        else:
            out["capacity"] = number
    branch = item.get("venue_branch")
    out["venue_branch_id"] = None
    if branch not in (None, ""):
        code = str(branch).strip()[:20]
        found = (branches or {}).get(code) if branches is not None else db.session.scalar(
            select(OrgUnit.id).where(OrgUnit.code == code, OrgUnit.kind == "branch"))
        if found is None:
            errors[f"{path}.venue_branch"] = str(_l("Unknown branch code."))
        else:
            out["venue_branch_id"] = found
    address = item.get("address")
    if address not in (None, "") and (not isinstance(address, str) or len(address.strip()) > 255):
        errors[f"{path}.address"] = str(_l("At most 255 characters."))
    out["address"] = address.strip() or None if isinstance(address, str) else None
    url = item.get("online_url")
    out["online_url"] = None
    if url not in (None, ""):
        if not isinstance(url, str) or len(url) > 500 or not _https_url(url.strip()):
            errors[f"{path}.online_url"] = str(_l("Expected an https:// link."))
        else:
            out["online_url"] = url.strip()
    if not (branch not in (None, "") or out.get("address") or url not in (None, "")):
        errors[f"{path}.venue_branch"] = str(_l("Give a venue branch, an address or an online link."))
    return out, errors


def clean_sessions(raw: Any, path: str = "sessions", now: datetime | None = None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Validate a list of sessions: ``(cleaned, errors)``, errors keyed by field path
    (``sessions[0].starts_at``). Times: ISO 8601, naive = Asia/Seoul. ``now`` (naive UTC) pins
    "not in the past" for tests."""
    if raw is None:
        return [], {}
    if not isinstance(raw, list):
        return [], {path: str(_l("Expected a list of sessions."))}
    if len(raw) > MAX_SESSIONS:
        return [], {path: str(_l("At most %(n)d sessions.", n=MAX_SESSIONS))}
    codes = {str(i.get("venue_branch")).strip()[:20] for i in raw
             if isinstance(i, dict) and i.get("venue_branch") not in (None, "")}
    branches = dict(db.session.execute(select(OrgUnit.code, OrgUnit.id).where(
        OrgUnit.code.in_(codes), OrgUnit.kind == "branch")).all()) if codes else {}
    cleaned: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for i, item in enumerate(raw):
        out, errs = clean_session(item, f"{path}[{i}]", now, branches)
        cleaned.append(out)
        errors.update(errs)
    return (cleaned if not errors else []), errors


def create_sessions(programme: PrmProgramme, step: PrmStep, cleaned: list[dict[str, Any]]) -> list[PrmSession]:
    """Add the cleaned sessions to the series (positions after the existing ones, in start order);
    flushes, never commits."""
    start = db.session.scalar(select(func.coalesce(func.max(PrmSession.position), 0))
                              .where(PrmSession.step_id == step.id)) or 0
    out = []
    for n, data in enumerate(sorted(cleaned, key=lambda d: d["starts_at"]), start=1):
        s = PrmSession(programme_id=programme.id, step_id=step.id, position=start + n, title=data["title"],
                       starts_at=data["starts_at"], ends_at=data["ends_at"],
                       venue_branch_id=data.get("venue_branch_id"), address=data.get("address"),
                       online_url=data.get("online_url"), capacity=data.get("capacity"),
                       registration_deadline=data.get("registration_deadline"))
        db.session.add(s)
        out.append(s)
    db.session.flush()
    return out


def series_step(programme: PrmProgramme) -> PrmStep | None:
    """The programme's seminar-series step (the first one), or None."""
    return next((s for s in programme.steps if s.kind == "seminar_series"), None)


def sessions_of(programme_or_step: Any) -> list[PrmSession]:
    """Sessions of a programme (or of one step), in start order, cancelled ones included."""
    col = PrmSession.step_id if isinstance(programme_or_step, PrmStep) else PrmSession.programme_id
    return list(db.session.scalars(select(PrmSession).where(col == programme_or_step.id)
                                   .order_by(PrmSession.starts_at, PrmSession.id)))


def taken_seats(session_ids: list[int]) -> dict[int, dict[str, int]]:
    """``session id → {"registered", "waitlisted", "offered"}`` in one grouped query."""
    out: dict[int, dict[str, int]] = {i: {REGISTERED: 0, WAITLISTED: 0, OFFERED: 0} for i in session_ids}
    if not session_ids:
        return out
    rows = db.session.execute(select(PrmRegistration.session_id, PrmRegistration.status, func.count())
                              .where(PrmRegistration.session_id.in_(session_ids),
                                     PrmRegistration.status.in_((REGISTERED, WAITLISTED, OFFERED)))
                              .group_by(PrmRegistration.session_id, PrmRegistration.status))
    for sid, status, n in rows:
        out[sid][status] = n
    return out


def seats_left(session: PrmSession, counts: dict[str, int] | None = None) -> int | None:
    """Free seats (None = unlimited): capacity less registered and outstanding offers."""
    if session.capacity is None:
        return None
    counts = counts if counts is not None else taken_seats([session.id])[session.id]
    return max(0, session.capacity - counts[REGISTERED] - counts[OFFERED])


def edit_session(session: PrmSession, raw: dict[str, Any], *, now: datetime | None = None) -> PrmSession:
    """Replace a session's fields with ``raw`` (validated like a new one, same field paths without
    the list index). A cancelled or past session is refused (409); a capacity below the seats
    already taken is refused (422). A raised capacity offers the new seats to the waiting list."""
    now = now or utcnow()
    if session.cancelled_at is not None:
        raise ProgrammeError({"session": str(_l("The session was cancelled."))}, 409)
    if session.starts_at <= now:
        raise ProgrammeError({"session": str(_l("The session has started; it can no longer be changed."))}, 409)
    out, errors = clean_session(raw, "session", now)
    if errors:
        raise ProgrammeError(errors, 422)
    locked = db.session.scalar(select(PrmSession).where(PrmSession.id == session.id).with_for_update())
    counts = taken_seats([session.id])[session.id]
    if out.get("capacity") is not None and out["capacity"] < counts[REGISTERED] + counts[OFFERED]:
        raise ProgrammeError({"session.capacity": str(_l(
            "%(n)d seats are already taken; the capacity cannot be lower.", n=counts[REGISTERED] + counts[OFFERED]))}, 422)
    for key in ("title", "starts_at", "ends_at", "venue_branch_id", "address", "online_url", "capacity",
                "registration_deadline"):
        setattr(locked, key, out.get(key))
    db.session.flush()
    from .registration import fill_free_seats

    fill_free_seats(locked, now=now)
    return locked


def cancel_session(session: PrmSession, *, now: datetime | None = None) -> int:
    """Cancel a session: every seat and offer becomes ``cancelled`` and the registered and offered
    invitees get a service message; returns how many were told. Cancelling twice is a no-op."""
    now = now or utcnow()
    if session.cancelled_at is not None:
        return 0
    session.cancelled_at = now
    told = list(db.session.execute(
        select(PrmRegistration.id, PrmRegistration.customer_id, PrmInvitation.token)
        .join(PrmInvitation, PrmInvitation.id == PrmRegistration.invitation_id)
        .where(PrmRegistration.session_id == session.id,
               PrmRegistration.status.in_((REGISTERED, OFFERED, WAITLISTED)))))
    db.session.execute(PrmRegistration.__table__.update()
                       .where(PrmRegistration.session_id == session.id,
                              PrmRegistration.status.in_((REGISTERED, OFFERED, WAITLISTED)))
                       .values(status="cancelled", waitlist_position=None, offer_expires_at=None, updated_at=now))
    from .registration import service_rows

    when = to_seoul(session.starts_at)
    rows = [r for reg_id, customer_id, token in told if customer_id is not None
            for r in service_rows(customer_id, f"prm:session-cancelled:{reg_id}", token,
                                  subject=str(_l("Seminar cancelled: %(title)s", title=session.title)),
                                  text=str(_l("The seminar “%(title)s” on %(when)s has been cancelled. We are sorry.",
                                              title=session.title, when=f"{when:%Y-%m-%d %H:%M}")),
                                  programme_id=session.programme_id)]
    if rows:
        queue_many(rows)
    return len(told)


def programme_or_404(programme_id: Any, user: Any, permission: str) -> PrmProgramme:
    """The programme through the scope filter (404 when out of scope or missing)."""
    from portal.toolkit import get_scoped_or_404

    return get_scoped_or_404(PrmProgramme, programme_id, user, permission)


def session_or_404(session_id: Any, user: Any, permission: str) -> tuple[PrmSession, PrmProgramme]:
    """A session and its programme, scoped through the programme (404 for another group's)."""
    from flask import abort

    from portal.toolkit import id_or_404

    s = db.session.get(PrmSession, id_or_404(PrmSession, session_id))
    if s is None:
        abort(404)
    return s, programme_or_404(s.programme_id, user, permission)


def session_json(s: PrmSession, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """A session as the API shows it (times in Asia/Seoul, ISO 8601 with offset)."""
    counts = counts if counts is not None else taken_seats([s.id])[s.id]
    iso = (lambda v: to_seoul(v).isoformat() if v is not None else None)  # noqa: E731
    return {"id": s.id, "programme": s.programme_id, "step": s.step_id, "position": s.position, "title": s.title,
            "starts_at": iso(s.starts_at), "ends_at": iso(s.ends_at),
            "venue_branch": s.venue.code if s.venue is not None else None, "address": s.address,
            "online_url": s.online_url, "capacity": s.capacity, "registration_deadline": iso(s.registration_deadline),
            "cancelled": s.cancelled_at is not None, "registered": counts[REGISTERED],
            "waitlisted": counts[WAITLISTED], "offered": counts[OFFERED], "seats_left": seats_left(s, counts)}
