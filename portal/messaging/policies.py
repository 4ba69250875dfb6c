"""The core's send-time policy: consent, opt-out, expiry of consent, erasure and the night rule,
all through ``portal.contact.may_contact_many`` (one or two queries per channel and purpose)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from .models import Message


def consent_check(messages: list[Message], now: datetime) -> dict[int, Any]:
    """Verdicts for the messages to customers that may not be contacted now (missing = allowed).

    Messages to staff (``user_id`` without a customer) are not the customer-consent rules' business.
    """
    from ..contact import may_contact_many

    at = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    groups: dict[tuple[str, str], list[Message]] = defaultdict(list)
    for m in messages:
        if m.customer_id is not None:
            groups[(m.channel, m.purpose)].append(m)
    verdicts: dict[int, Any] = {}
    for (channel, purpose), group in groups.items():
        answers = may_contact_many(sorted({m.customer_id for m in group}), channel, purpose, at)
        for m in group:
            verdict = answers.get(m.customer_id)
            if verdict is not None and not verdict.allowed:
                verdicts[m.id] = verdict
    return verdicts


CORE_POLICIES = [{"name": "consent", "order": 10, "check": consent_check}]
