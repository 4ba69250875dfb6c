"""Settle a message that a person worked by hand (a phone call of a campaign's call list).

The dispatcher never claims a ``phone`` message (no adapter sends it): staff call the customer and
record what happened. :func:`record_manual_outcome` is the one way such a row reaches a terminal
state, with the same side effects a send has — contact history for a reached customer, a data
quality issue for a wrong number, ``portal_messages_settled`` for the add-ons — so results and the
customer's timeline treat a call like any other message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ..extensions import db
from ..models import QualityIssue
from ..models.base import utcnow
from .dispatch import _after, _contact_row, _Run, _summary, settings
from .models import FAILED_PERMANENT, FAILED_TEMPORARY, QUEUED, SENT, Message
from .service import MessagingError, _naive_utc

MANUAL_STATUSES = (SENT, FAILED_PERMANENT)
#: The customer field a failed manual contact flags (``quality_issue=True``).
QUALITY_FIELD = {"phone": "phone", "sms": "phone", "kakao": "phone", "email": "email", "dm": "address"}


def _automatic(channel: str) -> bool:
    from . import registry

    adapter = registry.adapters().get(channel)
    return adapter is not None and not getattr(adapter, "manual", False)


def record_manual_outcome(message_id: int, *, status: str, reason: str, actor: Any = None,
                          at: datetime | None = None, outcome: str | None = None, note: str | None = None,
                          quality_issue: bool = False) -> dict[str, Any]:
    """Settle a queued message worked by hand as ``sent`` or ``failed_permanent`` with ``reason``.

    ``sent`` writes ``sent_at`` (``at``, default now) and a contact-history row (``outcome``,
    default ``sent``; ``note``; the actor), as a send would. ``failed_permanent`` stores ``note`` as
    the error and, with ``quality_issue``, opens a data-quality issue on the channel's field (a
    wrong number → ``phone``). Only a ``queued`` / ``failed_temporary`` row of a channel no
    automatic adapter sends can be settled; the update is conditional on that state, so two people
    recording the same call cannot both win. Raises ``MessagingError`` (``field`` ``message``:
    unknown or not manual; ``status``/``reason``: bad input; ``state``: already settled) before
    writing. **Commits** — together with whatever the caller added to the session first (its own
    record of the call) — then fires the events; returns the settled message's summary.
    """
    if status not in MANUAL_STATUSES:
        raise MessagingError("status", f"status must be one of {', '.join(MANUAL_STATUSES)}")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 60:
        raise MessagingError("reason", "reason must be 1–60 characters")
    if isinstance(message_id, bool) or not isinstance(message_id, int) or not 0 < message_id < 2**63:
        raise MessagingError("message", "unknown message")
    at = _naive_utc(at, "at") or utcnow()
    if at > utcnow():
        raise MessagingError("at", "the outcome cannot be in the future")
    m = db.session.get(Message, message_id)
    if m is None:
        raise MessagingError("message", "unknown message")
    if _automatic(m.channel):
        raise MessagingError("message", f"{m.channel} messages are sent by the dispatcher, not by hand")
    now = utcnow()
    values: dict[str, Any] = {"status": status, "status_reason": reason.strip(), "attempts": Message.attempts + 1,
                              "claimed_by": None, "updated_at": now}
    if status == SENT:
        actor_id = getattr(actor, "id", None)
        values.update(sent_at=at, provider_id=f"manual:{actor_id}" if actor_id else "manual")
    else:
        values.update(last_error=(note or reason)[:500])
    done = db.session.execute(update(Message).where(
        Message.id == message_id, Message.status.in_((QUEUED, FAILED_TEMPORARY))).values(**values)
        .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise MessagingError("state", "the message is no longer waiting (already settled or cancelled)")
    db.session.refresh(m)
    run = _Run(f"manual:{message_id}", now, settings())
    if status == SENT and m.customer_id is not None:
        row = _contact_row(m, at)
        row.update(outcome=(outcome or "sent")[:40], note=(note or None) and note[:255], actor=actor)
        run.contacts.append(row)
    run.settled.append(_summary(m))
    field = QUALITY_FIELD.get(m.channel)
    flagged: list[int] = []
    if status == FAILED_PERMANENT and quality_issue and m.customer_id is not None and field:
        from ..customers.service import flag_quality
        from ..models import Customer

        customer = db.session.get(Customer, m.customer_id)
        open_issue = db.session.execute(select(QualityIssue.id).where(
            QualityIssue.customer_id == m.customer_id, QualityIssue.field == field,
            QualityIssue.resolved_at.is_(None))).first()
        if customer is not None and open_issue is None:
            flag_quality(actor, customer, field, f"{reason.strip()} ({m.channel})", source="messaging", announce=False)
            flagged.append(m.customer_id)
    run.commit()
    _after(run)
    if flagged:
        from .dispatch import _fire

        _fire()("portal_quality_changed", customer_ids=flagged, field=field, opened=True, actor=actor,
                source="messaging")
    return run.settled[0]
