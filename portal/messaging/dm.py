"""Postal DM: the print-file channel.

Due DM messages are not sent by the dispatcher (their adapter is ``manual``). A user with
``customer.export`` takes the due ones *within their customer scope* into a print file: each is
re-checked like any send (expiry, address, every send-time policy), the rest are claimed under
the file's token (``claimed_by = "dm:<token>"``) and exported through ``logged_export`` (CSV or
XLSX, formula cells neutralised, the access log written). Marking the file "mailed on <date>"
records them ``sent`` and in the contact history. A file never mailed can be re-printed by
nobody else: its rows stay claimed under its token until marked.
"""

from __future__ import annotations

import secrets
from datetime import date, time
from typing import Any

from sqlalchemy import func, select, update

from ..bounds import kst_to_utc, kst_today
from ..extensions import db
from ..models import Customer
from ..models.base import utcnow
from ..security import scope_filter
from .dispatch import _after, _check, _contact_row, _Run, _summary, held_condition, settings
from .models import CLAIMED, QUEUED, SENT, Message
from .service import MessagingError, paused_condition, personalize

HEADER = ["message", "customer_code", "name", "postal_code", "address", "subject", "text"]
MAX_FILE = 20_000


def _due(user: Any):
    scope = select(Customer.id).where(scope_filter(user, "customer.export", Customer))
    return (Message.channel == "dm", Message.status == QUEUED, Message.not_before <= utcnow(),
            Message.customer_id.in_(scope), ~paused_condition(), ~held_condition())


def due_count(user: Any) -> int:
    return db.session.execute(select(func.count()).select_from(Message).where(*_due(user))).scalar_one()


def print_files(user: Any) -> list[dict[str, Any]]:
    """Print files not yet marked mailed, with their size (only the user's scope counts)."""
    scope = select(Customer.id).where(scope_filter(user, "customer.export", Customer))
    rows = db.session.execute(
        select(Message.claimed_by, func.count(), func.min(Message.claimed_at))
        .where(Message.channel == "dm", Message.status == CLAIMED, Message.claimed_by.like("dm:%"),
               Message.customer_id.in_(scope))
        .group_by(Message.claimed_by).order_by(func.min(Message.claimed_at))).all()
    return [{"token": token[3:], "count": n, "since": since} for token, n, since in rows]


def take_print_file(user: Any, limit: int = MAX_FILE) -> tuple[str, list[list[Any]]]:
    """Claim the user's due DM messages into a new print file; returns its token and rows.

    The caller commits (``logged_export`` does, with the access-log row)."""
    token = secrets.token_hex(6)
    run = _Run(f"dm:{token}", utcnow(), settings())
    ids = db.session.execute(select(Message.id).where(*_due(user)).order_by(Message.id).limit(limit)).scalars().all()
    if not ids:
        return token, []
    db.session.execute(update(Message).where(Message.id.in_(ids), Message.status == QUEUED).values(
        status=CLAIMED, claimed_by=run.token, claimed_at=run.now, updated_at=run.now)
        .execution_options(synchronize_session=False))
    messages = list(db.session.execute(select(Message).where(Message.claimed_by == run.token)).scalars())
    ready = _check(run, messages)  # expiry, address, consent and every policy; commits
    _after(run)
    return token, _rows(ready)


def _rows(messages: list[Message]) -> list[list[Any]]:
    people = {r.id: r for r in db.session.execute(select(Customer.id, Customer.code, Customer.name).where(
        Customer.id.in_([m.customer_id for m in messages])))} if messages else {}
    rows = []
    for m in messages:
        if m in db.session:
            db.session.expunge(m)  # the link is put into this copy only, never stored
        personalize(m)  # the letter carries the customer's own unsubscribe link
        person = people.get(m.customer_id)
        postal, _sep, address = (m.to_addr or "").partition(" ")
        rows.append([m.id, person.code if person else "", person.name if person else "", postal, address,
                     m.subject or "", m.body])
    return rows


def print_file_rows(user: Any, token: str) -> list[list[Any]]:
    """A print file not yet mailed, again (a lost download), within the user's scope."""
    if not token or len(token) > 40 or not token.isalnum():
        return []
    scope = select(Customer.id).where(scope_filter(user, "customer.export", Customer))
    return _rows(list(db.session.execute(select(Message).where(
        Message.claimed_by == f"dm:{token}", Message.status == CLAIMED, Message.customer_id.in_(scope))
        .order_by(Message.id)).scalars()))


def mark_mailed(user: Any, token: str, mailed_on: date) -> int:
    """Record a print file's letters as sent on ``mailed_on`` (a date in Korea, not in the future)."""
    if not token or len(token) > 40 or not token.isalnum():
        raise MessagingError("token", "unknown print file")
    today = kst_today()
    if mailed_on > today or (today - mailed_on).days > 365:
        raise MessagingError("mailed_on", "the mailing date must be within the last year and not in the future")
    at = kst_to_utc(mailed_on, time(12, 0))
    scope = select(Customer.id).where(scope_filter(user, "customer.export", Customer))
    messages = list(db.session.execute(select(Message).where(
        Message.claimed_by == f"dm:{token}", Message.status == CLAIMED, Message.customer_id.in_(scope))).scalars())
    if not messages:
        raise MessagingError("token", "unknown print file")
    run = _Run(f"dm:{token}", utcnow(), settings())
    for m in messages:
        m.status, m.sent_at, m.provider_id, m.attempts, m.updated_at = SENT, at, f"print:{token}", m.attempts + 1, run.now
        run.contacts.append(_contact_row(m, at))
        run.settled.append(_summary(m))
    run.stats[SENT] = len(messages)
    run.commit()
    _after(run)
    return len(messages)
