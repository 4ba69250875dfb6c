"""Channel adapters: how a message leaves the portal.

An adapter is any object with ``rate_per_second: float | None`` and ``send(message) -> SendResult``;
add-ons contribute theirs through ``portal_channel_adapters()`` (``{"channel", "adapter"}``). The
optional parts the dispatcher uses when present:

- ``open()`` / ``close()`` — around each batch (the SMTP adapter keeps one connection per batch);
- ``two_phase = True`` — ``send(message, commit_point=cb)`` calls ``cb()`` right before the step
  that makes the provider accept the message (SMTP: the final ``.`` of DATA) and gives up when it
  returns False. The dispatcher commits ``status = 'sending'`` inside ``cb``: see dispatch.py for
  why that gives exactly-once delivery under ``kill -9``;
- ``resend_in_doubt = True`` — the provider de-duplicates by our idempotency key, so a message
  whose sender died while handing it over may be sent again (default: it is recorded as sent).
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .models import Message

log = logging.getLogger(__name__)

SENT, TEMPORARY, PERMANENT = "sent", "failed_temporary", "failed_permanent"


@dataclass(frozen=True)
class SendResult:
    """What the provider said. ``bounce``: the address itself was refused (flag it as bad data)."""

    status: str
    provider_id: str | None = None
    error: str | None = None
    bounce: bool = False


class LocalOutboxAdapter:
    """E-mail when no SMTP server is configured (the demo): the message is "delivered" to the
    outbox page only, where an administrator reads it. Nothing leaves the machine."""

    rate_per_second: float | None = None

    def send(self, message: Message) -> SendResult:
        return SendResult(SENT, provider_id="local-outbox")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None
    timeout: float
    verify: bool

    def __repr__(self) -> str:  # never print the password (SECURITY.md: provider credentials)
        return f"SmtpSettings({self.host}:{self.port}, tls={self.implicit_tls}, starttls={self.starttls})"


def parse_smtp_url(url: str) -> SmtpSettings:
    """``smtp://user:pass@host:587?starttls=1`` or ``smtps://host`` (implicit TLS, port 465).

    Query options: ``starttls=1``, ``timeout=<seconds>`` (default 30), ``verify=0`` (accept any
    certificate — test relays only). Raises ValueError with a message that never repeats the password.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("PORTAL_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("PORTAL_SMTP_URL has no host")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 25)
        timeout = float(query.get("timeout", "30"))
    except ValueError:
        raise ValueError("PORTAL_SMTP_URL has an invalid port or timeout") from None
    if not 0 < timeout <= 600:
        raise ValueError("PORTAL_SMTP_URL timeout must be between 0 and 600 seconds")
    return SmtpSettings(
        host=parts.hostname, port=port, implicit_tls=implicit,
        starttls=query.get("starttls", "0").lower() in ("1", "true", "yes"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=timeout, verify=query.get("verify", "1").lower() not in ("0", "false", "no"),
    )


def message_id_for(message: Message, domain: str) -> str:
    """The RFC 5322 Message-ID of a message: derived from its row, so every attempt carries the
    same one (the receiver's de-duplication handle, and ours when tracing a delivery)."""
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:16]
    return f"<m{message.id}.{digest}@{domain}>"


def _one_line(value: str) -> str:
    """A header value on one line: CR/LF in a subject or address never start a new header."""
    return " ".join(str(value).splitlines()).strip()


def build_email(message: Message, mail_from: str) -> MIMEText | MIMEMultipart:
    """A MIME message: text, plus an HTML alternative when there is one, and compose's headers.

    The ``email`` package's classic (compat32) classes: a tenth of the CPU of ``EmailMessage``
    with the SMTP policy, which parsed every header back (4 ms a message, the dispatcher's
    largest cost). Non-ASCII subjects and names become RFC 2047 encoded words; bodies are
    base64 in UTF-8."""
    name, addr = parseaddr(mail_from)
    domain = addr.rpartition("@")[2] or "localhost"
    text = MIMEText(message.body, "plain", "utf-8")
    if message.html:
        msg: MIMEText | MIMEMultipart = MIMEMultipart("alternative")
        msg.attach(text)
        msg.attach(MIMEText(message.html, "html", "utf-8"))
    else:
        msg = text
    msg["From"] = formataddr((name, addr)) if name else addr
    msg["To"] = _one_line(message.to_addr or "")
    msg["Subject"] = Header(_one_line(message.subject or ""), "utf-8")
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id_for(message, domain)
    for key, value in (message.headers or {}).items():
        if key.lower() not in ("from", "to", "subject", "date", "message-id") and _HEADER_NAME.fullmatch(key):
            msg[key] = _one_line(value)
    return msg


_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,76}")


def _reply_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()[:500]


def _classify(code: int) -> str:
    return PERMANENT if 500 <= code < 600 else TEMPORARY


class SmtpAdapter:
    """E-mail over SMTP (stdlib smtplib), one connection per batch, STARTTLS or implicit TLS.

    A recipient refused with 5xx is a hard bounce (``failed_permanent``, the address is flagged);
    4xx and connection trouble are temporary (retried with back-off by the dispatcher).
    """

    two_phase = True
    resend_in_doubt = False

    def __init__(self, url: str, mail_from: str, rate_per_second: float | None = None,
                 local_hostname: str | None = None) -> None:
        self.settings = parse_smtp_url(url)
        self.mail_from = mail_from
        self.envelope_from = parseaddr(mail_from)[1] or mail_from
        self.rate_per_second = rate_per_second
        self.local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None
        self._in_transaction = False  # a MAIL FROM not yet ended by the reply to the final dot

    def provider_id_for(self, message: Message) -> str:
        """The id a message carries (its Message-ID): recorded for an in-doubt message too."""
        domain = parseaddr(self.mail_from)[1].rpartition("@")[2] or "localhost"
        return message_id_for(message, domain)

    # -- connection per batch ----------------------------------------------------------------
    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not self.settings.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def open(self) -> None:
        if self._conn is not None:
            return
        s = self.settings
        if s.implicit_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context(),
                                                  local_hostname=self.local_hostname)
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout, local_hostname=self.local_hostname)
        try:
            # The final dot goes out in its own write after the commit point: without NODELAY,
            # Nagle holds it until the server's delayed ACK (40 ms a message).
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo()
            if s.starttls:
                conn.starttls(context=self._context())
                conn.ehlo()
            if s.username:
                conn.login(s.username, s.password or "")
        except Exception:
            _close_quietly(conn)
            raise
        self._conn = conn
        self._in_transaction = False

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except Exception:  # already gone: nothing to tell
                _close_quietly(conn)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _close_quietly(conn)

    # -- one message -------------------------------------------------------------------------
    def send(self, message: Message, commit_point: Callable[[], bool] | None = None) -> SendResult:
        if not message.to_addr:
            return SendResult(PERMANENT, error="no address", bounce=True)
        try:
            email = build_email(message, self.mail_from)
        except (ValueError, TypeError) as exc:  # a header the e-mail package refuses
            return SendResult(PERMANENT, error=f"cannot build the e-mail: {exc}"[:500])
        message_id = email["Message-ID"]
        try:
            self.open()
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult(TEMPORARY, error=_safe_error(exc))
        conn = self._conn
        assert conn is not None
        handed_over = False
        try:
            if self._in_transaction:  # the previous message stopped half-way (refused recipient)
                conn.rset()
            self._in_transaction = True
            code, text = conn.mail(self.envelope_from, ["SMTPUTF8"] if _needs_utf8(email) and conn.has_extn("smtputf8") else [])
            if code != 250:
                return SendResult(_classify(code), error=_reply_text(code, text))
            code, text = conn.rcpt(message.to_addr)
            if code not in (250, 251):
                return SendResult(_classify(code), error=_reply_text(code, text), bounce=500 <= code < 600)
            code, text = conn.docmd("data")
            if code != 354:
                return SendResult(_classify(code), error=_reply_text(code, text))
            payload = _dot_quoted(email.as_bytes())
            conn.send(payload)
            if commit_point is not None and not commit_point():
                # Cancelled, paused or re-claimed meanwhile: end the transaction unsent. A connection
                # closed before the final dot never delivers, so drop it rather than risk a "." .
                self._drop()
                return SendResult("skipped")
            handed_over = True
            conn.send(b".\r\n")
            code, text = conn.getreply()
            self._in_transaction = False
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            if handed_over:
                # The final dot left: the server may have taken it. At-most-once: never resend.
                return SendResult(SENT, provider_id=message_id, error=f"in doubt: {_safe_error(exc)}"[:500])
            return SendResult(TEMPORARY, error=_safe_error(exc))
        if code == 250:
            return SendResult(SENT, provider_id=message_id)
        return SendResult(_classify(code), error=_reply_text(code, text))


def _needs_utf8(email: MIMEText | MIMEMultipart) -> bool:
    return any(ord(c) > 127 for c in str(email.get("To", "")))


def _dot_quoted(data: bytes) -> bytes:
    """DATA body with leading dots doubled and CRLF line ends, without the final ``.`` line."""
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def _safe_error(exc: BaseException) -> str:
    """An error text for the row and the page: never the SMTP password (login errors quote no
    password, but a URL in an exception might)."""
    text = f"{type(exc).__name__}: {exc}"
    return text[:500]


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # nothing useful to do with a failing close
        pass


def mail_from(config: dict[str, Any]) -> str:
    """``PORTAL_MAIL_FROM`` with the legal sender's name (``PORTAL_SENDER_NAME``) as its display
    name when it has none of its own: the inbox shows the company, as the ad law's sender line does."""
    configured = config.get("PORTAL_MAIL_FROM") or "no-reply@partner-portal.local"
    name, addr = parseaddr(configured)
    sender = (config.get("PORTAL_SENDER_NAME") or "").strip()
    return formataddr((sender, addr)) if addr and not name and sender else configured


def email_adapter(config: dict[str, Any]) -> Any:
    """The core's e-mail adapter from the settings: SMTP when ``PORTAL_SMTP_URL`` is set, else the
    local outbox (the demo)."""
    url = (config.get("PORTAL_SMTP_URL") or "").strip()
    if not url:
        return LocalOutboxAdapter()
    rate = config.get("PORTAL_SMTP_RATE_PER_SECOND") or None
    return SmtpAdapter(url, mail_from(config),
                       rate_per_second=float(rate) if rate else None,
                       local_hostname=config.get("PORTAL_SMTP_HELO") or socket.getfqdn())


class PrintFileAdapter:
    """Postal DM: nothing is sent by the dispatcher. Due DM messages wait (status ``queued``) until
    a user with ``customer.export`` takes them into a print file (``portal.messaging.dm``); marking
    that file "mailed on" records them sent. ``manual = True`` tells the dispatcher to leave them."""

    manual = True
    rate_per_second: float | None = None

    def send(self, message: Message) -> SendResult:  # pragma: no cover - never called by dispatch
        return SendResult(TEMPORARY, error="postal DM is sent through a print file")
