"""Provider settings: the environment / app config (secrets) plus the add-on's settings."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import time
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

log = logging.getLogger(__name__)
DEFAULT_NIGHT_WINDOW = (time(20, 0), time(8, 0))  # 친구톡: no ads 20:00–08:00 KST, whatever the consent

SETTINGS_SCHEMA: list[dict[str, Any]] = [
    {"name": "sms_sender", "label": _l("SMS sender number"), "type": "str", "default": "",
     "help": _l("A caller number registered with the carrier; messages from any other number are refused.")},
    {"name": "kakao_night_window", "label": _l("KakaoTalk friend-talk night window (KST)"), "type": "str",
     "default": "20:00-08:00", "help": _l("No KakaoTalk advertising in this window, whatever the consent.")},
    {"name": "kakao_fallback_sms", "label": _l("Send by SMS when KakaoTalk fails"), "type": "bool", "default": True},
    # frequency caps across channels (campaigns/caps.py); a campaign's own caps take precedence
    {"name": "cap_per_day", "label": _l("Marketing messages per customer per 24 hours"), "type": "int",
     "default": None, "min": 1, "max": 1000, "help": _l("Across every channel; empty = no cap.")},
    {"name": "cap_per_7_days", "label": _l("Marketing messages per customer per 7 days"), "type": "int",
     "default": None, "min": 1, "max": 1000, "help": _l("Across every channel; empty = no cap.")},
]


def _conf(name: str) -> str | None:
    value = current_app.config.get(name) if current_app else None
    if value in (None, ""):
        value = os.environ.get(name)
    return str(value).strip() if value not in (None, "") else None


def parse_window(raw: str | None) -> tuple[time, time]:
    """"20:00-08:00" → (time(20), time(8)); raises ValueError with a clear message."""
    if not raw:
        return DEFAULT_NIGHT_WINDOW
    try:
        start, end = (part.strip() for part in raw.split("-"))
        return time.fromisoformat(start), time.fromisoformat(end)
    except ValueError:
        raise ValueError(f"night window must look like 20:00-08:00, not {raw!r}") from None


def _window(raw: str | None) -> tuple[time, time]:
    try:
        return parse_window(raw)
    except ValueError as exc:  # a typo must not stop sending: the legal default applies
        log.warning("cem_channels: %s; using 20:00-08:00", exc)
        return DEFAULT_NIGHT_WINDOW


@dataclass(frozen=True)
class ProviderConfig:
    url: str
    api_key: str | None = None
    rate_per_second: float | None = None
    timeout: float = 10.0
    sender: str | None = None  # default caller number for SMS/LMS
    night_window: tuple[time, time] = DEFAULT_NIGHT_WINDOW
    kakao_fallback_sms: bool = True
    # The provider answers a repeated Idempotency-Key with the first answer (PORTAL_CEM_PROVIDER_DEDUPLICATES):
    # in-doubt messages are sent again, and the dispatcher may mark a group of them ``sending`` at once.
    deduplicates: bool = False


def _float(name: str, raw: str | None, default: float | None) -> float | None:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {raw!r}")
    return value


def provider_config(settings: dict[str, Any] | None = None) -> ProviderConfig | None:
    """The configured provider, or None when ``PORTAL_CEM_PROVIDER_URL`` is not set.

    ``settings`` are the add-on's settings (``get_settings("cem_channels")``); they give the
    default sender number, the 친구톡 night window and the SMS fallback switch."""
    url = _conf("PORTAL_CEM_PROVIDER_URL")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"PORTAL_CEM_PROVIDER_URL must be an http(s) URL, not {url!r}")
    settings = settings or {}
    return ProviderConfig(
        url=url.rstrip("/"),
        api_key=_conf("PORTAL_CEM_PROVIDER_KEY"),
        rate_per_second=_float("PORTAL_CEM_RATE_PER_SECOND", _conf("PORTAL_CEM_RATE_PER_SECOND"), None),
        timeout=_float("PORTAL_CEM_PROVIDER_TIMEOUT", _conf("PORTAL_CEM_PROVIDER_TIMEOUT"), 10.0) or 10.0,
        sender=(settings.get("sms_sender") or _conf("PORTAL_CEM_SMS_SENDER") or None),
        night_window=_window(settings.get("kakao_night_window") or _conf("PORTAL_CEM_KAKAO_NIGHT_WINDOW")),
        kakao_fallback_sms=bool(settings.get("kakao_fallback_sms", True)),
        deduplicates=(_conf("PORTAL_CEM_PROVIDER_DEDUPLICATES") or "").lower() in {"1", "true", "yes", "on"},
    )
