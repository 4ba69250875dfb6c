"""``.ics`` calendar files of a seminar series (RFC 5545, the ``icalendar`` package).

One ``VEVENT`` per session that is not cancelled, times in Asia/Seoul with its ``VTIMEZONE``,
a UID that stays the same for the session (``prm-session-<id>@<portal host>``, so re-importing an
updated file moves the event instead of adding another), the venue or online link as LOCATION,
the company as ORGANIZER (the legal sender settings: the company sends, never a leader) and
``METHOD:PUBLISH`` (a calendar to add, not a meeting request expecting replies).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from portal.toolkit import legal_settings

from ..seminar_models import PrmSession
from .sessions import SEOUL, to_seoul


def _host() -> str:
    base = current_app.config.get("PORTAL_BASE_URL") or "http://127.0.0.1:5000"
    return urlsplit(base).hostname or "portal"


def session_uid(session: PrmSession) -> str:
    """Stable per session, whatever is edited."""
    return f"prm-session-{session.id}@{_host()}"


def location(session: PrmSession) -> str:
    """Venue branch name and address, the address, or the online link — what the invitee needs."""
    parts: list[str] = []
    if session.venue is not None:
        parts.append(session.venue.name)
        if session.venue.address and not session.address:
            parts.append(session.venue.address)
    if session.address:
        parts.append(session.address)
    if session.online_url:
        parts.append(session.online_url)
    return ", ".join(parts)


def calendar(sessions: list[PrmSession], *, name: str, url: str | None = None) -> bytes:
    """The ``.ics`` bytes for ``sessions`` (cancelled ones are left out)."""
    settings = legal_settings()
    cal = Calendar()
    cal.add("prodid", "-//Partner Portal//prm_groups seminars//KO")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Seoul")
    cal.add_component(Timezone.from_tzinfo(SEOUL))
    organizer = None
    sender = settings.get("sender_name") or ""
    mailto = current_app.config.get("PORTAL_MAIL_FROM") or ""
    if "<" in mailto:
        mailto = mailto.split("<", 1)[1].rstrip(">")
    if mailto:
        organizer = vCalAddress(f"mailto:{mailto.strip()}")
        if sender:
            organizer.params["cn"] = vText(sender)
    for s in sessions:
        if s.cancelled_at is not None:
            continue
        ev = Event()
        ev.add("uid", session_uid(s))
        ev.add("summary", s.title)
        ev.add("dtstart", to_seoul(s.starts_at))
        ev.add("dtend", to_seoul(s.ends_at))
        ev.add("dtstamp", to_seoul(s.created_at))
        where = location(s)
        if where:
            ev.add("location", where)
        if s.online_url:
            ev.add("url", s.online_url)
        elif url:
            ev.add("url", url)
        description = [name]
        if sender:
            description.append(sender)
        if url:
            description.append(url)
        ev.add("description", "\n".join(description))
        if organizer is not None:
            ev.add("organizer", organizer)
        ev.add("sequence", 0)
        cal.add_component(ev)
    return cal.to_ical()
