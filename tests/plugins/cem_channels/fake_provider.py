"""A fake SMS/KakaoTalk/push provider: a real HTTP server on 127.0.0.1 (free port) in a thread.

It records every request (path, headers, JSON body, monotonic time), answers ``200 {"id": …}``,
and fails on demand: ``fail_next(status)`` answers the next requests with that HTTP status,
``stall_next(seconds)`` sleeps before answering (a timeout for a client with a shorter timeout),
``fail_path(path, status)`` fails every request to one endpoint. ``delivery_report(id)`` gives
the delivery result of a provider id, as a provider's report would."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeProvider:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.reports: dict[str, str] = {}
        self._failures: list[int] = []
        self._stalls: list[float] = []
        self._path_failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self._seq = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                status, stall, provider_id = provider._answer(self.path, dict(self.headers), body)
                if stall:
                    time.sleep(stall)
                payload = {"id": provider_id} if status < 300 else {"error": f"fake failure {status}"}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, float, str | None]:
        with self._lock:
            self.requests.append(Request(path, headers, body))
            stall = self._stalls.pop(0) if self._stalls else 0.0
            status = self._failures.pop(0) if self._failures else self._path_failures.get(path, 200)
            if status >= 300:
                return status, stall, None
            self._seq += 1
            provider_id = f"fp-{self._seq}"
            self.reports[provider_id] = "delivered"
            return status, stall, provider_id

    # --- control ---------------------------------------------------------------------------
    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def stall_next(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._stalls.extend([seconds] * times)

    def fail_path(self, path: str, status: int) -> None:
        with self._lock:
            self._path_failures[path] = status

    def delivery_report(self, provider_id: str) -> str | None:
        return self.reports.get(provider_id)

    def report_payload(self, provider_ids: list[str], at: str = "2026-11-02T03:00:00Z") -> list[dict[str, Any]]:
        """The JSON body this provider POSTs to ``/c/delivery-reports`` for these ids (its webhook)."""
        return [{"provider_id": pid, "status": self.reports.get(pid, "undelivered"), "at": at} for pid in provider_ids]

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]
