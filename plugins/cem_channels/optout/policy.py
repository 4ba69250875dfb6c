"""The send-time policy of the suppression list: marketing SMS/LMS/Kakao to a listed number is
``suppressed_at_send`` with reason ``optout_080`` (re-checked by the dispatcher at claim time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.toolkit import Verdict, normalize_phone

from .suppression import suppressed

#: Channels addressed by phone number that the list covers (an 080 refusal is a refusal of
#: advertising to that number, whatever the channel carrying it).
SUPPRESSED_CHANNELS = frozenset({"sms", "lms", "mms", "kakao", "kakao_alimtalk", "kakao_friendtalk"})
REASON = "optout_080"


def _covered(channel: str) -> bool:
    return channel in SUPPRESSED_CHANNELS or channel.startswith("kakao")


def suppression_check(messages: list[Any], now: datetime) -> dict[int, Verdict]:
    """Verdicts for marketing messages to listed numbers (missing = allowed); one query a batch.

    Service messages (an order notice, a password reset) still go: the 080 line refuses advertising.
    """
    numbers: dict[int, str] = {}
    for m in messages:
        if m.purpose == "marketing" and _covered(m.channel or ""):
            number = normalize_phone(m.to_addr)
            if number:
                numbers[m.id] = number
    if not numbers:
        return {}
    listed = suppressed(numbers.values())
    return {mid: Verdict(False, REASON) for mid, number in numbers.items() if number in listed}


POLICIES = [{"name": "cem.suppression", "order": 20, "check": suppression_check}]
