"""A fast fake SMS/KakaoTalk/push provider for the sending benchmark, in its own process.

The API of ``tests/plugins/cem_channels/fake_provider.py`` (what ``plugins/cem_channels/providers/
http.py`` speaks): ``POST /v1/sms``, ``/v1/kakao``, ``/v1/push`` with a JSON body carrying
``idempotency_key``, answered ``200 {"id": "fp-<n>"}``. Unlike the tests' thread-per-connection
``http.server`` (a few hundred requests/s), this is an asyncio protocol parsing HTTP/1.1 itself
(keep-alive, ``Content-Length`` bodies), so one core answers well above the provider rate it
imitates.

A token bucket (``--rate`` per second, ``--burst`` tokens) answers ``429`` beyond the rate, as a
real provider does; ``--rate 0`` is unlimited (the ceiling measurement). Every accepted request's
idempotency key is counted: ``GET /_stats`` gives requests, accepted, distinct keys, duplicates
(a key accepted twice), 429s and this process's CPU seconds; ``POST /_reset`` clears them.

Run alone: ``.venv/bin/python bench/fake_sms_provider.py --rate 2000`` (prints ``port <n>``), or
from a script through :class:`ProviderProcess`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATHS = (b"/v1/sms", b"/v1/kakao", b"/v1/push")


class Bucket:
    """Token bucket: ``rate`` tokens per second, at most ``burst`` saved up; rate 0 = no limit."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        if not self.rate:
            return True
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class State:
    def __init__(self, rate: float, burst: float) -> None:
        self.bucket = Bucket(rate, burst)
        self.reset()

    def reset(self) -> None:
        self.keys: set[str] = set()
        self.requests = self.accepted = self.duplicates = self.limited = self.bad = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.seq = 0

    def stats(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"requests": self.requests, "accepted": self.accepted, "distinct_keys": len(self.keys),
                "duplicates": self.duplicates, "rate_limited": self.limited, "bad": self.bad,
                "first_at": self.first_at, "last_at": self.last_at, "cpu": usage.ru_utime + usage.ru_stime,
                "rate": self.bucket.rate}


def _response(status: int, reason: bytes, body: bytes, close: bool) -> bytes:
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (status, reason, len(body), b"Connection: close\r\n" if close else b"")) + body


class Http(asyncio.Protocol):
    """One connection: requests parsed from the buffer as they complete, answered in order."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            lines = head.split(b"\r\n")
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip() or 0)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4:end + 4 + length]
            self.buf = self.buf[end + 4 + length:]
            method, _, rest = lines[0].partition(b" ")
            path = rest.partition(b" ")[0]
            self.transport.write(self.answer(method, path, body, close))  # type: ignore[attr-defined]
            if close:
                self.transport.close()
                return

    def answer(self, method: bytes, path: bytes, body: bytes, close: bool) -> bytes:
        st = self.state
        if method == b"GET" and path == b"/_stats":
            return _response(200, b"OK", json.dumps(st.stats()).encode(), close)
        if method == b"POST" and path == b"/_reset":
            st.reset()
            return _response(200, b"OK", b"{}", close)
        if method != b"POST" or path not in PATHS:
            return _response(404, b"Not Found", b'{"error": "no such endpoint"}', close)
        now = time.monotonic()
        st.requests += 1
        st.first_at = st.first_at or now
        st.last_at = now
        if not st.bucket.take():
            st.limited += 1
            return _response(429, b"Too Many Requests", b'{"error": "rate limit"}', close)
        try:
            key = json.loads(body)["idempotency_key"]
        except (ValueError, KeyError, TypeError):
            st.bad += 1
            return _response(400, b"Bad Request", b'{"error": "no idempotency_key"}', close)
        st.accepted += 1
        if key in st.keys:
            st.duplicates += 1  # a provider that de-duplicates answers with the first id; counted here
        else:
            st.keys.add(key)
        st.seq += 1
        return _response(200, b"OK", b'{"id": "fp-%d"}' % st.seq, close)


async def serve(port: int, rate: float, burst: float) -> None:
    state = State(rate, burst)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Http(state), "127.0.0.1", port, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class ProviderProcess:
    """The provider as a child process: ``url``, ``stats()``, ``reset()``, ``stop()``."""

    def __init__(self, rate: float = 2000.0, burst: float | None = None) -> None:
        burst = rate / 10 if burst is None and rate else (burst or 1.0)
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--rate", str(rate),
                                      "--burst", str(burst)], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("port "):
            self.proc.kill()
            raise RuntimeError(f"fake provider did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def _call(self, method: str, path: str) -> dict[str, Any]:
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as answer:  # noqa: S310 (our own 127.0.0.1 server)
            return json.loads(answer.read())

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_stats")

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def stop(self) -> dict[str, Any]:
        stats = self.stats()
        self.proc.terminate()
        self.proc.wait(10)
        return stats

    def __enter__(self) -> ProviderProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=float, default=2000.0, help="accepted messages per second; 0 = unlimited")
    ap.add_argument("--burst", type=float, default=200.0, help="tokens saved up (requests at once)")
    args = ap.parse_args()
    try:
        asyncio.run(serve(args.port, args.rate, args.burst))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
