"""Queueing, cancelling and pausing messages: the public API of the outbox.

Every message is a ``message`` row written in the caller's transaction (so a rolled-back change
sends nothing) under a unique idempotency key (so a retried caller queues nothing twice).
Marketing messages are made lawful here, at queue time (``portal.adlaw.law.compose_marketing``):
a message that cannot comply raises ``LawViolation`` and nothing is written. Sending is the
dispatcher's (dispatch.py), triggered after the caller commits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from ..db_utils import chunked, dialect_insert, id_in, is_postgres
from ..extensions import db
from ..models import Customer, User
from ..models.base import utcnow
from .models import (
    CANCELLED,
    PENDING,
    PURPOSES,
    STATUSES,
    TERMINAL,
    Message,
    MessagePause,
)

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000  # characters of text (or HTML) in one message
MAX_KEY = 200
COPY_FROM = 200  # rows per chunk from which PostgreSQL loads by COPY
SOURCE_RE = re.compile(r"[a-z0-9_.:-]{1,40}")  # as the contact history's source (it is copied there)
HEADER_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,60}")  # caller headers: the adapters' options (sender, kakao_template)
_DISPATCH_FLAG = "portal_messaging_dispatch"


class MessagingError(ValueError):
    """A message the caller described wrongly; ``field`` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# -- helpers ----------------------------------------------------------------------------------

def _naive_utc(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise MessagingError(field, f"{field} must be a datetime")
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def known_channels() -> set[str]:
    """Channels a message may be queued for: the channel registry's (portal.contact) and every
    channel an adapter sends."""
    from . import registry

    codes = set(registry.adapters())
    try:
        from ..contact import channels

        codes |= {c.code for c in channels()}
    except ImportError:  # the consent service is not there: adapters alone decide
        pass
    return codes


ADDRESS_FIELDS = {"email": ("email",), "sms": ("phone",), "kakao": ("phone",), "phone": ("phone",),
                  "dm": ("address", "postal_code")}


def _address_of(customer_row: Any, channel: str) -> str | None:
    fields = ADDRESS_FIELDS.get(channel)
    if not fields or customer_row is None:
        return None
    if channel == "dm":
        address, postal = customer_row.address, customer_row.postal_code
        return f"{postal} {address}".strip() if address else None
    return getattr(customer_row, fields[0]) or None


def _sender() -> dict[str, Any]:
    """compose_marketing's sender arguments from the portal's settings (portal.adlaw)."""
    from ..adlaw import legal_settings

    settings = dict(legal_settings())
    settings.pop("night_rule_email", None)
    return settings


def _validate(spec: dict[str, Any], channels: set[str], now: datetime) -> dict[str, Any]:
    allowed = {"channel", "purpose", "body", "idempotency_key", "source", "customer_id", "user_id", "to", "subject",
               "html", "source_object", "step", "variant", "not_before", "expires_at", "headers"}
    unknown = set(spec) - allowed
    if unknown:
        raise MessagingError(sorted(unknown)[0], f"unknown field {sorted(unknown)[0]!r}")
    channel = spec.get("channel")
    if channel not in channels:
        raise MessagingError("channel", f"unknown channel {channel!r}")
    purpose = spec.get("purpose")
    if purpose not in PURPOSES:
        raise MessagingError("purpose", "purpose must be 'service' or 'marketing'")
    key = spec.get("idempotency_key")
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
        raise MessagingError("idempotency_key", f"idempotency_key must be 1–{MAX_KEY} characters")
    source = spec.get("source")
    if not isinstance(source, str) or not SOURCE_RE.fullmatch(source):
        raise MessagingError("source", "source must be 1–40 lower-case letters, digits or _ . : - (an add-on's name or 'core')")
    body = spec.get("body")
    if not isinstance(body, str) or not body.strip():
        raise MessagingError("body", "body must not be empty")
    for field in ("body", "html"):
        if spec.get(field) is not None and len(spec[field]) > MAX_BODY:
            raise MessagingError(field, f"{field} is longer than {MAX_BODY} characters")
    for field, limit in (("subject", 255), ("source_object", 120), ("step", 60), ("variant", 30), ("to", 500)):
        value = spec.get(field)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise MessagingError(field, f"{field} must be text of at most {limit} characters")
    customer_id, user_id = spec.get("customer_id"), spec.get("user_id")
    for field, value in (("customer_id", customer_id), ("user_id", user_id)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31):
            raise MessagingError(field, f"{field} must be a positive id")
    if customer_id is None and user_id is None and not spec.get("to"):
        raise MessagingError("to", "a message needs a customer, a user or an address")
    if purpose == "marketing" and customer_id is None:
        raise MessagingError("customer_id", "marketing goes to customers only (consent is per customer)")
    not_before = _naive_utc(spec.get("not_before"), "not_before") or now
    expires_at = _naive_utc(spec.get("expires_at"), "expires_at")
    if expires_at is not None and expires_at <= not_before:
        raise MessagingError("expires_at", "expires_at must be after not_before")
    if channel == "email" and spec.get("subject") is None and purpose == "service":
        raise MessagingError("subject", "an e-mail needs a subject")
    headers = spec.get("headers")
    if headers is not None and (not isinstance(headers, dict) or len(headers) > 20 or not all(
            isinstance(k, str) and HEADER_NAME_RE.fullmatch(k) and isinstance(v, str) and len(v) <= 500
            and "\n" not in v and "\r" not in v for k, v in headers.items())):
        raise MessagingError("headers", "headers must be at most 20 names (letters, digits, - and _) with "
                                        "one-line texts of at most 500 characters")
    return {
        "channel": channel, "purpose": purpose, "customer_id": customer_id, "user_id": user_id,
        "to_addr": spec.get("to"), "subject": spec.get("subject"), "body": body, "html": spec.get("html"),
        "headers": dict(headers) if headers else None, "source": source, "source_object": spec.get("source_object"),
        "step": spec.get("step"), "variant": spec.get("variant"), "idempotency_key": key,
        "not_before": not_before, "expires_at": expires_at, "status": "queued", "attempts": 0,
        "created_at": now, "updated_at": now,
    }


def _fill(rows: list[dict[str, Any]]) -> None:
    """Addresses (from the customer or user, when not given) and the lawful marketing wrapper,
    for a chunk of validated rows: two queries per chunk, whatever its size."""
    customer_ids = {r["customer_id"] for r in rows if r["customer_id"] is not None and r["to_addr"] is None}
    user_ids = {r["user_id"] for r in rows if r["user_id"] is not None and r["customer_id"] is None and r["to_addr"] is None}
    customers: dict[int, Any] = {}
    if customer_ids:
        for ids in chunked(sorted(customer_ids), 10000):
            for row in db.session.execute(select(Customer.id, Customer.email, Customer.phone, Customer.address,
                                                 Customer.postal_code).where(id_in(Customer.id, ids))):
                customers[row.id] = row
    users: dict[int, str] = {}
    if user_ids:
        users = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(sorted(user_ids)))).all())
    sender = _sender()
    cache: dict[tuple, tuple] = {}
    for r in rows:
        if r["to_addr"] is None:
            if r["customer_id"] is not None:
                r["to_addr"] = _address_of(customers.get(r["customer_id"]), r["channel"])
            elif r["channel"] == "email":
                r["to_addr"] = users.get(r["user_id"])
        if r["purpose"] == "marketing":
            own = r["headers"]
            r["subject"], r["body"], r["html"], r["headers"] = _compose_cached(cache, r, sender)
            if own:  # the caller's (a caller number, a 알림톡 template) beside the law's, the law's win
                r["headers"] = {**own, **(r["headers"] or {})}


# The customer's unsubscribe link is minted when the message is sent (``personalize``), not when
# it is queued: its lifetime (PORTAL_UNSUBSCRIBE_DAYS) then starts when the customer gets it, it
# names the message that carried it, and queueing a million messages signs no million tokens.
# Until then the stored text holds this marker, which compose_marketing checked as a valid URL.
UNSUBSCRIBE_MARK = "https://unsubscribe.invalid/portal-unsubscribe-link"


def _compose_cached(cache: dict[tuple, tuple], r: dict[str, Any], sender: dict[str, Any]) -> tuple:
    """compose_marketing, once per distinct (channel, subject, body, html) in a chunk."""
    from ..adlaw.law import compose_marketing

    channel = r["channel"]
    key = (channel, r["subject"], r["body"], r["html"])
    hit = cache.get(key)
    if hit is None:
        link = UNSUBSCRIBE_MARK if channel in ("email", "dm") else None
        composed = compose_marketing(channel, subject=r["subject"], body=r["body"], html=r["html"],
                                     unsubscribe_url=link, unsubscribe_post_url=link, **sender)
        hit = (composed.subject, composed.body, composed.html, dict(composed.headers or {}) or None)
        if len(cache) < 1000:
            cache[key] = hit
    return hit


def personalize(message: Message) -> Message:
    """Put the customer's own unsubscribe link in place of the marker, after the add-ons'
    ``portal_message_personalize`` (the dispatcher calls this on its detached copy right before
    handing the message to an adapter; nothing is stored)."""
    from ..plugins import hook

    hook("portal_message_personalize")(message=message)  # add-ons' send-time parts (tracking links)
    mark = UNSUBSCRIBE_MARK
    if message.customer_id is None or not (mark in (message.body or "") or mark in (message.html or "")
                                           or any(mark in v for v in (message.headers or {}).values())):
        return message
    from ..adlaw import unsubscribe_url

    url = unsubscribe_url(message.customer_id, message.channel, message_id=message.id)
    message.body = message.body.replace(mark, url)
    message.html = message.html.replace(mark, url) if message.html else message.html
    message.headers = {k: v.replace(mark, url) for k, v in (message.headers or {}).items()}
    return message


def _insert_ignore(rows: list[dict[str, Any]]) -> int:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING; the number of new rows.

    PostgreSQL takes big chunks by COPY (bulk.py); both paths give the same rows."""
    if not rows:
        return 0
    if is_postgres() and len(rows) >= COPY_FROM:
        from .bulk import copy_insert

        return copy_insert(db.session, rows)
    stmt = (dialect_insert(Message.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Message.__table__.c.id))
    # RETURNING, not rowcount: a driver's executemany rowcount is not reliable (-1, or one page's).
    return len(db.session.connection().execute(stmt, rows).all())


def _request_dispatch() -> None:
    """Ask for a dispatch once the caller's transaction commits (see :func:`_after_commit`)."""
    db.session.info[_DISPATCH_FLAG] = True


# -- public API -------------------------------------------------------------------------------

def queue_message(*, channel: str, purpose: str, body: str, idempotency_key: str, source: str,
                  customer_id: int | None = None, user_id: int | None = None, to: str | None = None,
                  subject: str | None = None, html: str | None = None, source_object: str | None = None,
                  step: str | None = None, variant: str | None = None, not_before: datetime | None = None,
                  expires_at: datetime | None = None, headers: dict[str, str] | None = None) -> Message:
    """Queue one message in the caller's transaction; the existing row when the key was used before.

    Raises ``MessagingError`` (bad input) or ``LawViolation`` (marketing that cannot comply) with
    nothing written. ``to`` defaults to the customer's (or user's) address for the channel; a
    message without one is queued and suppressed at send time as ``no_address``.
    """
    existing = db.session.execute(select(Message).where(Message.idempotency_key == idempotency_key)).scalar_one_or_none()
    if existing is not None:
        return existing
    spec = {k: v for k, v in dict(
        channel=channel, purpose=purpose, body=body, idempotency_key=idempotency_key, source=source,
        customer_id=customer_id, user_id=user_id, to=to, subject=subject, html=html, source_object=source_object,
        step=step, variant=variant, not_before=not_before, expires_at=expires_at, headers=headers).items()
        if v is not None}
    row = _validate(spec, known_channels(), utcnow())
    _fill([row])
    _insert_ignore([row])
    _request_dispatch()
    return db.session.execute(select(Message).where(Message.idempotency_key == idempotency_key)).scalar_one()


def queue_many(rows: Iterable[dict[str, Any]], *, chunk: int = 10000) -> int:
    """Queue many messages (a campaign's frozen audience) set-based, in the caller's transaction.

    Same rules as :func:`queue_message`, checked for every row before its chunk is written; rows
    whose key exists already are skipped. Returns the number of new rows. A ``MessagingError`` or
    ``LawViolation`` names the row (``row`` attribute, 0-based) and the caller should roll back.
    """
    if not 1 <= chunk <= 100_000:
        raise MessagingError("chunk", "chunk must be between 1 and 100000")
    channels = known_channels()
    now = utcnow()
    total = 0
    batch: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, spec in enumerate(rows):
        try:
            row = _validate(dict(spec), channels, now)
        except MessagingError as exc:
            exc.row = index  # type: ignore[attr-defined]
            raise
        if row["idempotency_key"] in seen:
            continue  # the same key twice in one call: one row, as with two calls
        seen.add(row["idempotency_key"])
        batch.append(row)
        if len(batch) >= chunk:
            total += _write_chunk(batch, index)
            batch = []
    if batch:
        total += _write_chunk(batch, None)
    if total:
        _request_dispatch()
    return total


def _write_chunk(batch: list[dict[str, Any]], last_index: int | None) -> int:
    from ..adlaw.law import LawViolation

    try:
        _fill(batch)
    except LawViolation as exc:
        exc.row = last_index  # type: ignore[attr-defined]
        raise
    return _insert_ignore(batch)


def cancel_queued(customer_id: int, *, channel: str | None = None, purpose: str = "marketing", reason: str) -> int:
    """Cancel a customer's messages that have not been handed to a provider yet (in the caller's
    transaction — an opt-out cancels with the consent record it writes). Returns how many."""
    if not reason or len(reason) > 60:
        raise MessagingError("reason", "reason must be 1–60 characters")
    if purpose not in PURPOSES:
        raise MessagingError("purpose", "purpose must be 'service' or 'marketing'")
    conds = [Message.customer_id == customer_id, Message.status.in_(PENDING), Message.purpose == purpose]
    if channel is not None:
        conds.append(Message.channel == channel)
    now = utcnow()
    result = db.session.execute(
        update(Message).where(*conds).values(status=CANCELLED, status_reason=reason, claimed_by=None, updated_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def cancel_source(source: str, source_object: str | None, *, reason: str) -> int:
    """Cancel every message of ``source`` (and ``source_object``: one campaign) not handed to a
    provider yet — one UPDATE in the caller's transaction, so a cancelled campaign and its
    pending messages change together. Returns how many; sent rows are never touched."""
    if not source or not reason or len(reason) > 60:
        raise MessagingError("reason" if source else "source", "source and a reason of 1–60 characters are required")
    conds = [Message.source == source, Message.status.in_(PENDING)]
    if source_object is not None:
        conds.append(Message.source_object == source_object)
    result = db.session.execute(
        update(Message).where(*conds).values(status=CANCELLED, status_reason=reason, claimed_by=None,
                                             updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def postpone_expiry(source: str, source_object: str | None, *, seconds: int) -> int:
    """Push the ``expires_at`` of a source's (object's) messages not handed to a provider yet by
    ``seconds`` — a campaign resumed after a pause keeps its lateness budget. One UPDATE in the
    caller's transaction; rows without an expiry and sent rows are left alone. Returns how many."""
    if not source or not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 < seconds <= 366 * 86400:
        raise MessagingError("seconds" if source else "source", "a source and 1 s to 366 days are required")
    conds = [Message.source == source, Message.status.in_(PENDING), Message.expires_at.is_not(None)]
    if source_object is not None:
        conds.append(Message.source_object == source_object)
    if is_postgres():
        moved = Message.expires_at + timedelta(seconds=seconds)
    else:  # SQLite keeps datetimes as text: shift it in the same format
        moved = func.strftime("%Y-%m-%d %H:%M:%f000", Message.expires_at, f"+{seconds} seconds")
    result = db.session.execute(update(Message).where(*conds).values(expires_at=moved, updated_at=utcnow())
                                .execution_options(synchronize_session=False))
    return result.rowcount or 0


def pause(source: str, source_object: str | None = None, *, actor: Any = None) -> bool:
    """Stop the dispatcher claiming this source's (or this object's) messages; a batch being
    sent stops before its next message. False when it was paused already."""
    obj = source_object or ""
    if db.session.execute(select(MessagePause.id).where(MessagePause.source == source,
                                                        MessagePause.source_object == obj)).first():
        return False
    db.session.add(MessagePause(source=source, source_object=obj, paused_by_id=getattr(actor, "id", None)))
    db.session.flush()
    return True


def resume(source: str, source_object: str | None = None) -> bool:
    """Undo :func:`pause`; the next dispatch picks up where it stopped (terminal rows stay so)."""
    result = db.session.execute(delete(MessagePause).where(MessagePause.source == source,
                                                           MessagePause.source_object == (source_object or "")))
    if result.rowcount:
        _request_dispatch()
    return bool(result.rowcount)


def paused_condition():
    """SQL: this message's source or source object is paused."""
    return select(MessagePause.id).where(
        MessagePause.source == Message.source,
        or_(MessagePause.source_object == "", MessagePause.source_object == func.coalesce(Message.source_object, "")),
    ).exists()


def is_paused(source: str, source_object: str | None = None) -> bool:
    return db.session.execute(select(MessagePause.id).where(
        MessagePause.source == source,
        or_(MessagePause.source_object == "", MessagePause.source_object == (source_object or ""))).limit(1)).first() is not None


def progress(source: str, source_object: str | None = None) -> dict[str, Any]:
    """Counts by status for a source (object), and ``done``: every message terminal. A campaign
    is never reported done while a message is still queued, claimed, sending or to be retried."""
    conds = [Message.source == source]
    if source_object is not None:
        conds.append(Message.source_object == source_object)
    counts = {s: 0 for s in STATUSES}
    for status, n in db.session.execute(select(Message.status, func.count()).where(*conds).group_by(Message.status)):
        counts[status] = n
    total = sum(counts.values())
    terminal = sum(n for s, n in counts.items() if s in TERMINAL)
    return {"counts": counts, "total": total, "terminal": terminal, "done": total > 0 and terminal == total,
            "paused": is_paused(source, source_object)}


def erase_customer_messages(customer_id: int) -> int:
    """Data-subject erasure: cancel what is pending for the customer, and blank the stored
    addresses and texts of every message to them (statuses and counts stay for the reports)."""
    for purpose in PURPOSES:
        cancel_queued(customer_id, purpose=purpose, reason="erased")
    result = db.session.execute(
        update(Message).where(Message.customer_id == customer_id)
        .values(to_addr=None, subject=None, body="", html=None, headers=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def customer_messages_export(customer_id: int) -> list[dict[str, Any]]:
    """The customer's messages for the data-subject export: what was sent, when, on which channel."""
    rows = db.session.execute(select(
        Message.id, Message.channel, Message.purpose, Message.to_addr, Message.subject, Message.status,
        Message.status_reason, Message.created_at, Message.sent_at, Message.source)
        .where(Message.customer_id == customer_id).order_by(Message.id)).all()
    return [{"id": r.id, "channel": r.channel, "purpose": r.purpose, "to": r.to_addr, "subject": r.subject,
             "status": r.status, "reason": r.status_reason, "source": r.source,
             "queued_at": r.created_at.isoformat(), "sent_at": r.sent_at.isoformat() if r.sent_at else None}
            for r in rows]


# -- dispatch after commit --------------------------------------------------------------------

def _after_commit(session: Session) -> None:
    if not session.info.pop(_DISPATCH_FLAG, False):
        return
    try:
        from flask import current_app as app

        if not app.config.get("PORTAL_MESSAGES_DISPATCH_ON_QUEUE", True):
            return
        from ..jobs import enqueue

        enqueue("messaging.dispatch")
    except Exception:  # the periodic dispatch picks the messages up within a minute
        log.warning("could not enqueue messaging.dispatch after queueing", exc_info=True)


def _after_rollback(session: Session) -> None:
    session.info.pop(_DISPATCH_FLAG, None)


def install_session_events() -> None:
    from sqlalchemy import event

    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


__all__ = ["MessagingError", "cancel_queued", "pause", "progress", "queue_many", "queue_message", "resume"]
