"""The ``.ics`` invitation of a knowledge-sharing session (RFC 5545/5546, ``icalendar``).

``METHOD:REQUEST`` (a meeting invitation; ``CANCEL`` once cancelled), times in Asia/Seoul with
its ``VTIMEZONE``, the session's stored UID (stable whatever is edited, so a calendar moves the
event instead of adding another) and its ``SEQUENCE`` (bumped on every change of time, place or
title). ORGANIZER is the host; ATTENDEE is only the invitee downloading it — the file never
lists the other invitees' addresses.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import current_app
from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from portal.toolkit import User, db, utcnow

from ..models import KsSession
from .service import SEOUL, session_url, to_seoul


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())


def calendar(s: KsSession, attendee: Any | None = None) -> bytes:
    """The invitation's bytes for ``attendee`` (a user, or None)."""
    base = (current_app.config.get("PORTAL_BASE_URL") or "").rstrip("/")
    url = f"{base}{session_url(s)}"
    cal = Calendar()
    cal.add("prodid", "-//Partner Portal//knowledge_share sessions//KO")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if s.cancelled else "REQUEST")
    cal.add_component(Timezone.from_tzinfo(SEOUL))
    ev = Event()
    ev.add("uid", s.uid)
    ev.add("sequence", s.sequence)
    ev.add("summary", _one_line(s.title))
    ev.add("dtstart", to_seoul(s.starts_at))
    ev.add("dtend", to_seoul(s.ends_at))
    ev.add("dtstamp", utcnow().replace(tzinfo=UTC))  # RFC 5545: DTSTAMP in UTC
    ev.add("status", "CANCELLED" if s.cancelled else "CONFIRMED")
    where = ", ".join(p for p in (_one_line(s.place), s.online_url or "") if p)
    if where:
        ev.add("location", where)
    ev.add("url", s.online_url or url)
    ev.add("description", "\n".join(p for p in ((s.description or "").strip()[:2000], url) if p))
    host = db.session.get(User, s.host_id) if s.host_id else None
    if host is not None:
        organizer = vCalAddress(f"mailto:{host.email}")
        organizer.params["cn"] = vText(_one_line(host.name))
        ev.add("organizer", organizer)
    if attendee is not None:
        who = vCalAddress(f"mailto:{attendee.email}")
        who.params["cn"] = vText(_one_line(attendee.name))
        who.params["role"] = vText("REQ-PARTICIPANT")
        who.params["partstat"] = vText("NEEDS-ACTION")
        ev.add("attendee", who)
    cal.add_component(ev)
    return cal.to_ical()


def filename(s: KsSession) -> str:
    return f"session-{s.id}.ics"
