"""The provider's HTTP API: ``POST {url}/v1/{sms|kakao|push}`` with a JSON body, answered with
``{"id": "<provider id>"}``. Status classes: 2xx sent; 408, 425, 429 and 5xx temporary; other
4xx permanent; no answer (refused, timeout, reset) temporary."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from portal.toolkit import SendResult

SENT, TEMPORARY, PERMANENT = "sent", "failed_temporary", "failed_permanent"
RETRYABLE_4XX = {408, 425, 429}


@dataclass(frozen=True)
class ProviderAnswer:
    status: str
    provider_id: str | None = None
    error: str | None = None

    def result(self, prefix: str = "") -> SendResult:
        return SendResult(self.status, provider_id=(prefix + self.provider_id) if self.provider_id else None,
                          error=self.error)


class HttpProvider:
    """One provider account: base URL, API key (never logged or stored), timeout."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def post(self, path: str, payload: dict[str, Any]) -> ProviderAnswer:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(f"{self.url}/v1/{path}", data=data, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8",
                                                  "Idempotency-Key": str(payload.get("idempotency_key", ""))})
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http(s) only)
                body = response.read(65536)
        except urllib.error.HTTPError as exc:
            detail = _detail(exc.read(2000) if exc.fp else b"")
            status = TEMPORARY if exc.code >= 500 or exc.code in RETRYABLE_4XX else PERMANENT
            return ProviderAnswer(status, error=f"provider HTTP {exc.code}{': ' + detail if detail else ''}"[:500])
        except TimeoutError:
            return ProviderAnswer(TEMPORARY, error=f"provider timeout after {self.timeout:g} s")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                return ProviderAnswer(TEMPORARY, error=f"provider timeout after {self.timeout:g} s")
            return ProviderAnswer(TEMPORARY, error=f"provider unreachable: {type(reason).__name__}: {reason}"[:500])
        try:
            answer = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            answer = {}
        provider_id = answer.get("id") if isinstance(answer, dict) else None
        if not provider_id:
            # Accepted (2xx) without an id: sent, but say so — the delivery report cannot be matched.
            return ProviderAnswer(SENT, provider_id=None, error="provider answered without an id")
        return ProviderAnswer(SENT, provider_id=str(provider_id)[:200])


def _detail(raw: bytes) -> str:
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", "replace").strip()[:200]
    if isinstance(answer, dict):
        return str(answer.get("error") or answer.get("message") or "")[:200]
    return ""
