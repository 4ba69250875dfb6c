"""One contact timeline per customer: contacts, consent events and messages, newest first.

The customer page's "Contact history" tab reads it. Three sources in one ``UNION ALL`` (one page
query, one count): ``contact`` rows (messages sent, calls, lists used …), ``consent`` rows (grants,
withdrawals, notices) and — when the messaging service's ``message`` table is there — messages not
(yet) sent: queued, deferred, suppressed at send, failed, cancelled, expired. A sent message is
already a contact row (``ref = message:<id>``), so it is not listed twice.

The caller has scoped the customer (``get_scoped_or_404``); every row here belongs to that customer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, String, cast, func, literal, null, select, union_all

from ..extensions import db
from ..models import Consent, User
from ..pagination import Page, fixed
from .models import Contact

PER_PAGE = 25
MAX_ROWS = 10_000  # the count stops here ("10,000+"): a customer page, not an export


def _s(value: Any, length: int = 60) -> Any:
    return cast(value, String(length))


def _message_rows(customer_id: int) -> Any | None:
    """Unsent messages of the customer, or None when the messaging service has no message table."""
    try:
        from ..messaging.models import Message
    except ImportError:  # pragma: no cover  (the messaging service is part of the core)
        return None
    needed = ("id", "customer_id", "channel", "purpose", "status", "status_reason", "subject", "source", "created_at")
    if not all(hasattr(Message, a) for a in needed):  # pragma: no cover
        return None
    at = func.coalesce(getattr(Message, "updated_at", Message.created_at), Message.created_at)
    return (select(at.label("at"), _s(literal("message"), 10).label("kind"), _s(Message.channel, 20).label("channel"),
                   _s(Message.purpose, 20).label("purpose"), _s(Message.status).label("what"),
                   _s(Message.status_reason).label("detail"), _s(Message.subject, 255).label("note"),
                   _s(Message.source).label("source"), cast(null(), BigInteger).label("actor_id"),
                   cast(null(), Boolean).label("granted"), cast(Message.id, BigInteger).label("row_id"))
            .where(Message.customer_id == customer_id, Message.status != "sent"))


def timeline_statement(customer_id: int) -> Any:
    """The customer's timeline as one ``UNION ALL`` select (columns: at, kind, channel, purpose, what,
    detail, note, source, actor_id, granted, row_id)."""
    contacts = select(
        Contact.at.label("at"), _s(literal("contact"), 10).label("kind"), _s(Contact.channel, 20).label("channel"),
        _s(Contact.purpose, 20).label("purpose"), _s(Contact.outcome).label("what"), _s(Contact.ref, 80).label("detail"),
        _s(Contact.note, 255).label("note"), _s(Contact.source).label("source"),
        cast(Contact.actor_id, BigInteger).label("actor_id"), cast(null(), Boolean).label("granted"),
        cast(Contact.id, BigInteger).label("row_id"),
    ).where(Contact.customer_id == customer_id)
    consents = select(
        Consent.recorded_at.label("at"), _s(literal("consent"), 10).label("kind"), _s(Consent.channel, 20).label("channel"),
        _s(Consent.purpose, 20).label("purpose"), _s(Consent.kind).label("what"), _s(Consent.method, 80).label("detail"),
        _s(Consent.note, 255).label("note"), _s(Consent.source).label("source"),
        cast(Consent.recorded_by_id, BigInteger).label("actor_id"), Consent.granted.label("granted"),
        cast(Consent.id, BigInteger).label("row_id"),
    ).where(Consent.customer_id == customer_id)
    parts = [contacts, consents]
    messages = _message_rows(customer_id)
    if messages is not None:
        parts.append(messages)
    return union_all(*parts).subquery("timeline")


def timeline(customer_id: int, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of the customer's timeline, newest first; items are dicts with the actor's e-mail
    (``actor``, None for the system) resolved in one query."""
    sub = timeline_statement(customer_id)
    total = db.session.execute(select(func.count()).select_from(select(sub.c.row_id).limit(fixed(MAX_ROWS + 1))
                                                                 .subquery())).scalar_one()
    page = max(1, min(int(page), max(1, -(-min(total, MAX_ROWS) // per_page))))
    rows = db.session.execute(
        select(sub).order_by(sub.c.at.desc(), sub.c.kind, sub.c.row_id.desc())
        .limit(fixed(per_page)).offset(fixed((page - 1) * per_page))).mappings().all()
    actor_ids = {r["actor_id"] for r in rows if r["actor_id"] is not None}
    actors = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(actor_ids))).all()) if actor_ids else {}
    items = [{**r, "actor": actors.get(r["actor_id"])} for r in rows]
    return Page(items=items, page=page, per_page=per_page, total=min(total, MAX_ROWS), total_is_capped=total > MAX_ROWS)
