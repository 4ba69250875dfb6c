"""Channel adapters for SMS/LMS, KakaoTalk and push over one HTTP provider API.

``adapters_from_config()`` builds them when ``PORTAL_CEM_PROVIDER_URL`` is configured; without it
no adapter is registered and those channels' messages stay ``queued``. See docs/cem_channels.md,
"Channels and providers"."""

from __future__ import annotations

from .adapters import KakaoAdapter, PushAdapter, SmsAdapter, adapters_from_config, normalise_number
from .config import ProviderConfig, provider_config
from .http import HttpProvider, ProviderAnswer
from .policy import kakao_night_check

__all__ = ["HttpProvider", "KakaoAdapter", "ProviderAnswer", "ProviderConfig", "PushAdapter", "SmsAdapter",
           "adapters_from_config", "kakao_night_check", "normalise_number", "provider_config"]
