"""The SMS/LMS, KakaoTalk and push adapters (protocol: docs/platform/messaging.md).

Each adapter has ``rate_per_second`` and ``send(message) -> SendResult``; ``open()`` loads the
registered sender numbers and approved 알림톡 templates once per batch and keeps one connection to
the provider until ``close()``."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from portal.toolkit import SendResult, db, get_settings, sms_class

from .config import ProviderConfig, provider_config
from .http import PERMANENT, SENT, HttpProvider

PLUGIN = "cem_channels"
#: Messages the dispatcher marks ``sending`` per commit when the provider de-duplicates by our key
#: (one commit per SMS otherwise cost more than the send; a crash re-sends at most this many, and
#: a provider that de-duplicates accepts each once).
MARK_GROUP = 50


def normalise_number(raw: str | None) -> str:
    """Digits of a Korean phone number: "+82 10-1234-5678", "010-1234-5678" → "01012345678"."""
    digits = re.sub(r"\D", "", raw or "")
    if digits.startswith("82") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return digits


def verified_senders() -> set[str]:
    from ..models import SenderNumber

    rows = db.session.execute(select(SenderNumber.number).where(SenderNumber.verified_at.is_not(None))).scalars()
    return {normalise_number(n) for n in rows}


def approved_templates() -> set[str]:
    from ..models import KakaoTemplate

    return set(db.session.execute(select(KakaoTemplate.code).where(KakaoTemplate.approved_at.is_not(None))).scalars())


def _in_doubt_policy(config: ProviderConfig) -> tuple[bool, int]:
    """``resend_in_doubt`` and ``mark_group`` (docs/platform/messaging.md): only a provider that
    de-duplicates by our key gets in-doubt messages again, and so may have them marked in groups."""
    return (True, MARK_GROUP) if config.deduplicates else (False, 1)


def _header(message: Any, name: str) -> str | None:
    headers = getattr(message, "headers", None) or {}
    value = headers.get(name) if isinstance(headers, dict) else None
    return str(value) if value else None


class SmsAdapter:
    """SMS (≤ 90 bytes CP949) or LMS (≤ 2,000 bytes), from a registered caller number only."""

    resend_in_doubt = False

    def __init__(self, provider: HttpProvider, config: ProviderConfig) -> None:
        self.provider = provider
        self.config = config
        self.rate_per_second = config.rate_per_second
        self._senders: set[str] | None = None
        self.resend_in_doubt, self.mark_group = _in_doubt_policy(config)

    def open(self) -> None:
        self._senders = verified_senders()
        self.provider.open()

    def close(self) -> None:
        self._senders = None
        self.provider.close()

    def senders(self) -> set[str]:
        if self._senders is None:
            self._senders = verified_senders()
        return self._senders

    def check(self, message: Any) -> tuple[dict[str, Any] | None, str | None]:
        """The provider payload, or None with the reason the message can never be sent."""
        sender = normalise_number(_header(message, "sender") or self.config.sender)
        if not sender:
            return None, "no SMS sender number configured (setting sms_sender)"
        if sender not in self.senders():
            return None, f"sender number {sender} is not a registered, verified caller number"
        to = normalise_number(message.to_addr)
        if not to:
            return None, "recipient is not a phone number"
        if to == sender:
            return None, "sender and recipient numbers are the same"
        text = message.body or ""
        try:
            kind = sms_class(text)
        except ValueError as exc:  # LawViolation: characters outside CP949
            return None, f"text not encodable in CP949: {exc}"[:500]
        if kind is None:
            return None, "text longer than 2,000 bytes (LMS limit)"
        payload = {"idempotency_key": message.idempotency_key, "type": kind, "from": sender, "to": to,
                   "text": text}
        if kind == "lms" and message.subject:
            payload["subject"] = message.subject
        return payload, None

    def send(self, message: Any) -> SendResult:
        payload, refused = self.check(message)
        if payload is None:
            return SendResult(PERMANENT, error=refused)
        return self.provider.post("sms", payload).result()


class KakaoAdapter:
    """알림톡 (service, approved template only) and 친구톡 (marketing); SMS fallback on failure."""

    resend_in_doubt = False

    def __init__(self, provider: HttpProvider, config: ProviderConfig, sms: SmsAdapter) -> None:
        self.provider = provider
        self.config = config
        self.sms = sms
        self.rate_per_second = config.rate_per_second
        self._templates: set[str] | None = None
        self.resend_in_doubt, self.mark_group = _in_doubt_policy(config)

    def open(self) -> None:
        self._templates = approved_templates()
        self.sms.open()

    def close(self) -> None:
        self._templates = None
        self.sms.close()

    def templates(self) -> set[str]:
        if self._templates is None:
            self._templates = approved_templates()
        return self._templates

    def send(self, message: Any) -> SendResult:
        to = normalise_number(message.to_addr)
        if not to:
            return SendResult(PERMANENT, error="recipient is not a phone number")
        payload: dict[str, Any] = {"idempotency_key": message.idempotency_key, "to": to, "text": message.body or ""}
        if message.purpose == "marketing":
            payload["type"] = "friendtalk"  # 알림톡 may never carry advertising
        else:
            code = _header(message, "kakao_template")
            if not code or code not in self.templates():
                why = f"알림톡 template {code!r} is not approved" if code else "no 알림톡 template given"
                return self._fallback(message, why)
            payload.update(type="alimtalk", template_code=code)
        answer = self.provider.post("kakao", payload)
        if answer.status == SENT:
            return answer.result()
        return self._fallback(message, f"kakao failed: {answer.error}", kakao=answer.result())

    def _fallback(self, message: Any, why: str, kakao: SendResult | None = None) -> SendResult:
        if not self.config.kakao_fallback_sms:
            return kakao or SendResult(PERMANENT, error=why[:500])
        result = self.sms.send(message)
        if result.status == SENT:
            return SendResult(SENT, provider_id=f"sms:{result.provider_id}" if result.provider_id else "sms:",
                              error=f"fallback to SMS: {why}"[:500])
        status = result.status if kakao is None else (
            kakao.status if kakao.status == result.status else "failed_temporary")
        return SendResult(status, error=f"{why}; SMS fallback: {result.error}"[:500])


class PushAdapter:
    """App push through the provider, addressed by the message's ``to`` (a device token, or
    ``customer:<id>`` — the core stores no device tokens; the provider resolves the customer)."""

    resend_in_doubt = False

    def __init__(self, provider: HttpProvider, config: ProviderConfig) -> None:
        self.provider = provider
        self.rate_per_second = config.rate_per_second
        self.resend_in_doubt, self.mark_group = _in_doubt_policy(config)

    def open(self) -> None:
        self.provider.open()

    def close(self) -> None:
        self.provider.close()

    def send(self, message: Any) -> SendResult:
        payload = {"idempotency_key": message.idempotency_key, "to": message.to_addr,
                   "customer_id": message.customer_id, "title": message.subject or "", "text": message.body or ""}
        return self.provider.post("push", payload).result()


def adapters_from_config() -> list[dict[str, Any]]:
    """The ``portal_channel_adapters`` contribution: nothing without a configured provider."""
    config = provider_config(get_settings(PLUGIN))
    if config is None:
        return []
    provider = HttpProvider(config.url, config.api_key, config.timeout)
    sms = SmsAdapter(provider, config)
    return [{"channel": "sms", "adapter": sms, "order": 10},
            {"channel": "kakao", "adapter": KakaoAdapter(provider, config, SmsAdapter(provider, config)), "order": 10},
            {"channel": "push", "adapter": PushAdapter(provider, config), "order": 10}]
