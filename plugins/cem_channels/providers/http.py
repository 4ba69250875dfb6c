"""The provider's HTTP API: ``POST {url}/v1/{sms|kakao|push}`` with a JSON body, answered with
``{"id": "<provider id>"}``. Status classes: 2xx sent; 408, 425, 429 and 5xx temporary; other
4xx (and 3xx) permanent; no answer (refused, timeout, reset) temporary.

Between the adapter's ``open()`` and ``close()`` (one dispatcher batch) the requests share one
keep-alive connection per thread: a new TCP (and TLS) connection per message cost more CPU than
the rest of the send (bench/cem_dispatch.py). A connection the provider closed while idle is
noticed on the next request (reset, or closed before any byte of an answer) and that request is
sent once more on a new connection, with the same idempotency key — what a ``failed_temporary``
retry would do a minute later. Through an HTTP(S) proxy from the environment the requests go by
``urllib`` as before, one connection each."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.error
import urllib.parse
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
        parts = urllib.parse.urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host, self._port, self._path = parts.hostname or "", parts.port, parts.path
        proxies = urllib.request.getproxies()
        self._proxied = bool(proxies.get(parts.scheme)) and not urllib.request.proxy_bypass(parts.netloc)
        self._local = threading.local()

    # --- one connection per batch ---------------------------------------------------------------
    def open(self) -> None:
        """Keep the connection between requests until :meth:`close` (one dispatcher batch)."""
        self._local.keep = True

    def close(self) -> None:
        self._local.keep = False
        self._drop()

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """The thread's connection and whether it carried a request before."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        self._local.conn = conn
        return conn, False

    def post(self, path: str, payload: dict[str, Any]) -> ProviderAnswer:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Idempotency-Key": str(payload.get("idempotency_key", ""))}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self._proxied:
            return self._post_urllib(path, data, headers)
        try:
            status, body = self._exchange(f"{self._path}/v1/{path}", data, headers)
        except TimeoutError:
            self._drop()
            return ProviderAnswer(TEMPORARY, error=f"provider timeout after {self.timeout:g} s")
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            return ProviderAnswer(TEMPORARY, error=f"provider unreachable: {type(exc).__name__}: {exc}"[:500])
        finally:
            if not getattr(self._local, "keep", False):
                self._drop()
        return _answer(status, body)

    def _exchange(self, target: str, data: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Status and body of one POST; a reused connection found closed is replaced once."""
        conn, reused = self._connection()
        try:
            conn.request("POST", target, body=data, headers=headers)
            response = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self._drop()
            if not reused:
                raise
            conn, _ = self._connection()
            conn.request("POST", target, body=data, headers=headers)
            response = conn.getresponse()
        body = response.read()
        if response.will_close:
            self._drop()
        return response.status, body

    def _post_urllib(self, path: str, data: bytes, headers: dict[str, str]) -> ProviderAnswer:
        request = urllib.request.Request(f"{self.url}/v1/{path}", data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http(s) only)
                return _answer(response.status, response.read(65536))
        except urllib.error.HTTPError as exc:
            return _answer(exc.code, exc.read(2000) if exc.fp else b"")
        except TimeoutError:
            return ProviderAnswer(TEMPORARY, error=f"provider timeout after {self.timeout:g} s")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                return ProviderAnswer(TEMPORARY, error=f"provider timeout after {self.timeout:g} s")
            return ProviderAnswer(TEMPORARY, error=f"provider unreachable: {type(reason).__name__}: {reason}"[:500])


def _answer(status: int, body: bytes) -> ProviderAnswer:
    """The provider's answer by its HTTP status (see the module docstring) and JSON body."""
    if not 200 <= status < 300:
        detail = _detail(body[:2000])
        kind = TEMPORARY if status >= 500 or status in RETRYABLE_4XX else PERMANENT
        return ProviderAnswer(kind, error=f"provider HTTP {status}{': ' + detail if detail else ''}"[:500])
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
