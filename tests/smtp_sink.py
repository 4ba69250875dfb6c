"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, recording what it accepts.

``SmtpSink`` answers chosen recipients with a fixed reply (``sink.reply_for["bad@x"] = "550 5.1.1
No such user"``, or ``"451 4.3.0 Try later"``), can offer STARTTLS with a throw-away self-signed
certificate (``SmtpSink(starttls=True)``) and records every accepted message (envelope, parsed
headers, Message-ID). Use the ``smtp_sink`` fixture, or the class directly in a benchmark.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One accepted message. Parsed lazily: a benchmark's sink only counts Message-IDs."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float = 0.0  # time.monotonic() when accepted

    @cached_property
    def message(self) -> Any:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @cached_property
    def message_id(self) -> str:
        head = self.data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        return str(BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)["Message-ID"]).strip()

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else None


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd API)
        reply = self.sink.reply_for.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode()
        with self.sink.lock:
            self.sink.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), data, time.monotonic()))
            self.sink.tls_used.append(session.ssl is not None)
        return "250 Message accepted for delivery"


class SmtpSink:
    """A running SMTP server; ``host``/``port``/``url`` to point PORTAL_SMTP_URL at it."""

    def __init__(self, starttls: bool = False, cert_dir: Path | None = None) -> None:
        self.received: list[Received] = []
        self.tls_used: list[bool] = []
        self.reply_for: dict[str, str] = {}
        self.lock = threading.Lock()
        self.starttls = starttls
        tls_context = None
        if starttls:
            tls_context = _self_signed_context(cert_dir or Path("/tmp"))
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=_free_port(), decode_data=False, tls_context=tls_context,
            require_starttls=starttls, enable_SMTPUTF8=True, data_size_limit=10_000_000,
        )

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def url(self) -> str:
        tls = "?starttls=1&verify=0" if self.starttls else ""
        return f"smtp://{self.host}:{self.port}{tls}"

    def message_ids(self) -> Counter:
        with self.lock:
            return Counter(r.message_id for r in self.received)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.tls_used.clear()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed_context(directory: Path) -> ssl.SSLContext:
    key, cert = directory / "smtp_sink_key.pem", directory / "smtp_sink_cert.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                        "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


@pytest.fixture
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


__all__ = ["Received", "SmtpSink", "smtp_sink"]
