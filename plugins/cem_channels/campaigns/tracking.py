"""E-mail open pixel, click redirect and the provider's delivery reports (blueprint ``cem_tracking``, ``/c``).

Campaign e-mails are rewritten once, when they are queued (:func:`track_html`): the message id is
not known then, so every token names the message's idempotency key (unique in the core ``message``
table). Tokens and redirect targets are signed with the app's ``SECRET_KEY`` (itsdangerous, a salt
per purpose): nobody can make the portal redirect to a URL it did not sign (no open redirect), and a
forged pixel records nothing. What is recorded is the *first* open and the *first* click of a
message, and the provider's delivery report of an SMS/KakaoTalk/push message, in
``cem_message_event`` (at most one row per message and kind, ``ON CONFLICT DO NOTHING``).

The pixel always answers the GIF, whatever the token (a mail client must never see an error, and a
stranger learns nothing from it). Links work without login and carry no personal data.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape, unescape
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, request
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from portal.toolkit import Message, db, utcnow

from ..campaign_models import CemMessageEvent

bp = Blueprint("cem_tracking", __name__, url_prefix="/c")

OPEN_SALT, CLICK_SALT, URL_SALT = "cem.track.open", "cem.track.click", "cem.track.url"
MAX_TOKEN = 600
MAX_URL = 2000  # longer links are left as they are (not tracked)
MAX_REPORTS = 10_000  # rows in one delivery-report request
#: A transparent 1×1 GIF (43 bytes).
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
#: The core's placeholder for the customer's own unsubscribe link (replaced at send time).
_UNSUBSCRIBE_MARK = "https://unsubscribe.invalid/"


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _base() -> str:
    """``PORTAL_BASE_URL`` + this blueprint's prefix (absolute: the links leave in e-mails)."""
    base = current_app.config.get("PORTAL_BASE_URL") or "http://127.0.0.1:5000"
    return base.rstrip("/") + (bp.url_prefix or "/c")


def open_token(idempotency_key: str) -> str:
    return _serializer(OPEN_SALT).dumps(idempotency_key)


def click_token(idempotency_key: str) -> str:
    return _serializer(CLICK_SALT).dumps(idempotency_key)


def sign_url(url: str) -> str:
    return _serializer(URL_SALT).dumps(url)


def _read(token: str, salt: str) -> Any:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        return None
    try:
        return _serializer(salt).loads(token)
    except (BadData, ValueError, TypeError):
        return None


def _trackable(url: str) -> bool:
    """Only absolute http(s) links; never the unsubscribe link (ours or the core's placeholder)."""
    low = url.strip().lower()
    if not low.startswith(("http://", "https://")) or len(url) > MAX_URL:
        return False
    if low.startswith(_UNSUBSCRIBE_MARK) or "unsubscribe" in low:
        return False
    return not low.startswith(_base().lower())  # our own links (tracking, unsubscribe) stay as they are


def track_html(html: str | None, idempotency_key: str) -> str | None:
    """``html`` with its http(s) links sent through the click redirect and a 1×1 open pixel at the
    end of the body. ``mailto:``, ``tel:``, anchors and unsubscribe links are left alone. Called at
    send time by :func:`personalize` (per message: the tokens name its idempotency key); None or
    empty HTML is returned as it is."""
    if not html:
        return html
    if not isinstance(idempotency_key, str) or not idempotency_key:
        raise ValueError("idempotency_key must be a non-empty string")
    base = _base()
    ctoken = click_token(idempotency_key)

    def rewrite(match: re.Match[str]) -> str:
        url = unescape(match.group(3)).strip()
        if not _trackable(url):
            return match.group(0)
        tracked = f"{base}/c/{ctoken}?u={quote(sign_url(url), safe='')}"
        return f"{match.group(1)}{match.group(2)}{escape(tracked, quote=True)}{match.group(2)}"

    out = _HREF.sub(rewrite, html)
    pixel = (f'<img src="{escape(base)}/o/{open_token(idempotency_key)}.gif" width="1" height="1" alt="" '
             'style="display:block;width:1px;height:1px;border:0">')
    ends = list(_BODY_END.finditer(out))
    if ends:
        at = ends[-1].start()
        return out[:at] + pixel + out[at:]
    return out + pixel


def personalize(message: Any) -> None:
    """``portal_message_personalize``: a campaign e-mail's pixel and click links, added to the
    dispatcher's copy right before it is sent — like the core's unsubscribe link. Queued rows keep
    one HTML per step and variant, so queueing a million stays one legal wrapper per text (and
    signs no million tokens for messages that may never be sent)."""
    if message.source != "cem_channels" or message.channel != "email" or not message.html:
        return
    message.html = track_html(message.html, message.idempotency_key)


# --- recording ---------------------------------------------------------------------------------


def _insert_events(rows: list[dict[str, Any]]) -> int:
    """INSERT … ON CONFLICT (message_id, kind) DO NOTHING; how many rows were new."""
    if not rows:
        return 0
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    table = CemMessageEvent.__table__
    new = 0
    for start in range(0, len(rows), 500):  # one multi-row statement per chunk; RETURNING counts the new rows
        stmt = (dialect.insert(table).values(rows[start:start + 500])
                .on_conflict_do_nothing(index_elements=["message_id", "kind"]).returning(table.c.id))
        new += len(db.session.execute(stmt).all())
    return new


def _campaign_id(source_object: str | None) -> int | None:
    if source_object and source_object.startswith("campaign:"):
        tail = source_object[len("campaign:"):]
        return int(tail) if tail.isdigit() else None
    return None


def _message_by_key(key: str) -> Any:
    return db.session.execute(
        select(Message.id, Message.customer_id, Message.source_object)
        .where(Message.idempotency_key == key, Message.source == "cem_channels")).first()


def record_event(key: str, kinds: Iterable[str], *, url: str | None = None, at: datetime | None = None) -> int:
    """Record the first ``kinds`` (``open``, ``click``) of the message with idempotency key ``key``;
    commits; the number of new rows (0 for an unknown key or a repeat)."""
    row = _message_by_key(key)
    if row is None:
        return 0
    at = at or utcnow()
    new = _insert_events([{"message_id": row.id, "campaign_id": _campaign_id(row.source_object),
                           "customer_id": row.customer_id, "kind": kind,
                           "url": (url[:500] if url and kind == "click" else None), "at": at} for kind in kinds])
    db.session.commit()
    return new


@bp.get("/o/<token>.gif")
def pixel(token: str) -> Response:
    """The open pixel: always the GIF, never cached; the first open recorded."""
    key = _read(token, OPEN_SALT)
    if isinstance(key, str):
        try:
            record_event(key, ["open"])
        except Exception:  # noqa: BLE001 - a pixel never fails; the row is retried on the next open
            db.session.rollback()
            current_app.logger.exception("cem open pixel: recording failed")
    resp = Response(PIXEL, mimetype="image/gif")
    resp.headers["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
    return resp


@bp.get("/c/<token>")
def click(token: str) -> Any:
    """The click redirect: 302 to the signed URL only (a tampered one is a 400 page)."""
    url = _read(request.args.get("u", ""), URL_SALT)
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        abort(400, description=_("This link is damaged. Please use the link in the original message."))
    key = _read(token, CLICK_SALT)
    if isinstance(key, str):
        try:
            record_event(key, ["open", "click"], url=url)  # a click proves the open (images off)
        except Exception:  # noqa: BLE001 - the reader still gets where they wanted to go
            db.session.rollback()
            current_app.logger.exception("cem click redirect: recording failed")
    resp = redirect(url, code=302)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


# --- provider delivery reports -----------------------------------------------------------------

REPORT_STATUSES = {"delivered": "delivered", "undelivered": "undelivered"}


def _authorized() -> bool | None:
    """None: no key configured (the webhook is off); else whether the bearer token matches."""
    from ..providers.config import _conf

    key = _conf("PORTAL_CEM_PROVIDER_KEY")
    if not key:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _sep, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key.encode())


def _parse_at(raw: Any) -> datetime | None:
    """ISO 8601; an offset is converted to UTC, a naive time is taken as UTC. None when bad."""
    if raw in (None, ""):
        return utcnow()
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    except (ValueError, OverflowError):  # year 1 at +14:00 leaves the calendar: a bad row, not a 503
        return None


def record_reports(items: list[Any]) -> dict[str, Any]:
    """Store a provider's delivery reports (``provider_id`` or ``idempotency_key``, ``status``
    ``delivered``/``undelivered``, ``at``): bad rows are reported by index and skipped, repeats
    are counted, not stored twice. Set-based (one look-up per kind of reference); commits."""
    errors: list[dict[str, Any]] = []
    good: list[tuple[int, str | None, str | None, str, datetime]] = []
    for i, item in enumerate(items):
        problems: dict[str, str] = {}
        if not isinstance(item, dict):
            errors.append({"index": i, "errors": {"item": _("must be an object")}})
            continue
        pid, key = item.get("provider_id"), item.get("idempotency_key")
        if not ((isinstance(pid, str) and 0 < len(pid) <= 255) or (isinstance(key, str) and 0 < len(key) <= 200)):
            problems["provider_id"] = _("provider_id or idempotency_key is required")
        status = REPORT_STATUSES.get(item.get("status")) if isinstance(item.get("status"), str) else None
        if status is None:
            problems["status"] = _("must be delivered or undelivered")
        at = _parse_at(item.get("at"))
        if at is None:
            problems["at"] = _("must be an ISO 8601 date and time")
        if problems:
            errors.append({"index": i, "errors": problems})
        else:
            good.append((i, pid if isinstance(pid, str) else None, key if isinstance(key, str) else None, status, at))
    by_pid: dict[str, Any] = {}
    by_key: dict[str, Any] = {}
    pids = sorted({p for _i, p, k, _s, _a in good if p and not k})
    keys = sorted({k for _i, _p, k, _s, _a in good if k})
    cols = (Message.id, Message.customer_id, Message.source_object, Message.provider_id, Message.idempotency_key)
    for start in range(0, len(pids), 1000):
        chunk = pids[start:start + 1000]
        wanted = chunk + [f"sms:{p}" for p in chunk]  # a KakaoTalk message sent by its SMS fallback
        for row in db.session.execute(select(*cols).where(Message.provider_id.in_(wanted),
                                                          Message.source == "cem_channels")):
            by_pid[row.provider_id.removeprefix("sms:")] = row
    for start in range(0, len(keys), 1000):
        for row in db.session.execute(select(*cols).where(Message.idempotency_key.in_(keys[start:start + 1000]),
                                                          Message.source == "cem_channels")):
            by_key[row.idempotency_key] = row
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    matched = 0
    for i, pid, key, status, at in good:
        msg = by_key.get(key) if key else by_pid.get(pid or "")
        if msg is None:
            errors.append({"index": i, "errors": {"provider_id" if not key else "idempotency_key":
                                                  _("no campaign message has this reference")}})
            continue
        matched += 1
        rows.setdefault((msg.id, status), {"message_id": msg.id, "campaign_id": _campaign_id(msg.source_object),
                                           "customer_id": msg.customer_id, "kind": status, "url": None, "at": at})
    recorded = _insert_events(list(rows.values()))
    db.session.commit()
    return {"received": len(items), "recorded": recorded, "duplicates": matched - recorded, "errors": errors}


@bp.post("/delivery-reports")
def delivery_reports() -> Any:
    """The provider's webhook (``Authorization: Bearer <PORTAL_CEM_PROVIDER_KEY>``; CSRF-exempt)."""
    ok = _authorized()
    if ok is None:
        return jsonify({"error": "not_configured", "message": _("Delivery reports are not configured.")}), 404
    if not ok:
        return jsonify({"error": "unauthorized", "message": _("A valid provider key is required.")}), 401
    payload = request.get_json(silent=True)
    if isinstance(payload, dict) and isinstance(payload.get("reports"), list):
        payload = payload["reports"]
    if not isinstance(payload, list):
        return jsonify({"error": "invalid", "message": _("Send a JSON list of delivery reports."),
                        "errors": {"body": _("must be a JSON list")}}), 422
    if len(payload) > MAX_REPORTS:
        return jsonify({"error": "invalid", "message": _("At most %(n)s reports per request.", n=MAX_REPORTS),
                        "errors": {"body": _("too many reports")}}), 422
    try:
        result = record_reports(payload)
    except Exception:  # noqa: BLE001 - the provider retries a 503; nothing half-written stays
        db.session.rollback()
        current_app.logger.exception("cem delivery reports: recording failed")
        return jsonify({"error": "unavailable", "message": _("Try again later.")}), 503
    return jsonify(result), 200
