"""친구톡 night rule: KakaoTalk advertising waits outside 20:00–08:00 KST whatever the consent
(a provider rule, CE-8). A ``portal_message_policies`` check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from portal.toolkit import Verdict, get_settings, night_deferral

from .config import provider_config


def kakao_night_check(messages: list[Any], now: datetime) -> dict[int, Any]:
    """Defer marketing KakaoTalk messages inside the provider profile's night window."""
    kakao = [m for m in messages if m.channel == "kakao" and m.purpose == "marketing"]
    if not kakao:
        return {}
    config = provider_config(get_settings("cem_channels"))
    window = config.night_window if config else None
    at = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    kwargs = {"night_window": window} if window else {}
    until = night_deferral(at, "kakao", night_consent=False, **kwargs)
    if until is None:
        return {}
    until = until.astimezone(UTC).replace(tzinfo=None)
    return {m.id: Verdict(allowed=False, reason="deferred:night_window", deferred_until=until) for m in kakao}


# Order 30: after the core's consent check and the 080 list (20); a deferral, not a suppression.
POLICIES = [{"name": "cem.kakao_night", "order": 30, "check": kakao_night_check}]
