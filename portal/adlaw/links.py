"""Unsubscribe links that work without login: signed, expiring tokens and the opt-out they trigger.

The token (itsdangerous ``URLSafeTimedSerializer``, the app's ``SECRET_KEY`` and a salt of its own)
carries ``[customer_id, channel, message_id]`` and its signing time; it *is* the authorisation, so
the POST that unsubscribes needs no session and no CSRF token (RFC 8058 one-click posts come from
mail providers with neither). Nothing is stored per link: a link is valid until
``PORTAL_UNSUBSCRIBE_DAYS`` after it was made, and rotating ``SECRET_KEY`` voids all of them.

Links are absolute and built from ``PORTAL_BASE_URL`` (the public https address of the portal), never
from the request's host: a job outside any request builds the same link as a page does, and a
forged ``Host`` header cannot point a link elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from ..extensions import db
from ..models import Consent, Customer

SALT = "portal.adlaw.unsubscribe"
#: Longer tokens than this are refused before any signature check (ours are ~60 characters).
MAX_TOKEN_LENGTH = 400
ENDPOINT = "adlaw.unsubscribe"


class BadToken(ValueError):
    """A token that is not ours or was altered (``expired`` False) or is too old (``expired`` True)."""

    def __init__(self, expired: bool) -> None:
        self.expired = expired
        super().__init__("expired" if expired else "invalid")


def _serializer() -> URLSafeTimedSerializer:
    key = current_app.config["SECRET_KEY"]
    cache = current_app.extensions.setdefault("portal.adlaw", {})
    if cache.get("key") != key:  # tests swap keys; the derived key is made once per secret
        cache["key"] = key
        cache["serializer"] = URLSafeTimedSerializer(key, salt=SALT)
    return cache["serializer"]


def max_age_seconds() -> int:
    """How long a link works (``PORTAL_UNSUBSCRIBE_DAYS``, at least one day)."""
    return max(1, int(current_app.config.get("PORTAL_UNSUBSCRIBE_DAYS", 180))) * 86400


def make_token(customer_id: int, channel: str, message_id: int | None = None) -> str:
    """The signed token for one customer and channel (and the message that carried it, for the record)."""
    if not isinstance(customer_id, int) or isinstance(customer_id, bool) or customer_id <= 0:
        raise ValueError("customer_id must be a positive integer")
    if not isinstance(channel, str) or not channel or len(channel) > 20:
        raise ValueError("channel must be a channel code")
    if message_id is not None and (not isinstance(message_id, int) or isinstance(message_id, bool) or message_id <= 0):
        raise ValueError("message_id must be a positive integer or None")
    payload: list[Any] = [customer_id, channel] + ([message_id] if message_id is not None else [])
    return _serializer().dumps(payload)


def read_token(token: str) -> tuple[int, str, int | None]:
    """``(customer_id, channel, message_id)`` from a token, or :class:`BadToken`."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise BadToken(expired=False)
    try:
        payload = _serializer().loads(token, max_age=max_age_seconds())
    except SignatureExpired:
        raise BadToken(expired=True) from None
    except (BadData, ValueError, TypeError):
        raise BadToken(expired=False) from None
    if (not isinstance(payload, list) or len(payload) not in (2, 3) or not isinstance(payload[0], int)
            or not isinstance(payload[1], str) or (len(payload) == 3 and not isinstance(payload[2], int))):
        raise BadToken(expired=False)
    return payload[0], payload[1], payload[2] if len(payload) == 3 else None


def _url_prefix() -> str:
    """``PORTAL_BASE_URL`` + the route's path up to the token (built once per app)."""
    cache = current_app.extensions.setdefault("portal.adlaw", {})
    base = current_app.config.get("PORTAL_BASE_URL") or "http://127.0.0.1:5000"
    if cache.get("base") != base:
        path = current_app.url_map.bind("localhost").build(ENDPOINT, {"token": "TOKEN"})
        cache["base"] = base
        cache["prefix"] = base.rstrip("/") + path[: -len("TOKEN")]
    return cache["prefix"]


def unsubscribe_url(customer_id: int, channel: str, *, message_id: int | None = None) -> str:
    """The absolute unsubscribe link for ``customer_id`` on ``channel`` (works without login).

    GET shows a confirmation page and changes nothing; POST (also RFC 8058 one-click) withdraws the
    customer's marketing consent for that channel. Needs an app context, not a request.
    """
    return _url_prefix() + make_token(customer_id, channel, message_id)


def unsubscribe_urls(customer_ids: Iterable[int], channel: str) -> dict[int, str]:
    """:func:`unsubscribe_url` for many customers at once (bulk queueing, notices)."""
    prefix = _url_prefix()
    return {cid: prefix + make_token(cid, channel) for cid in customer_ids}


# --- the opt-out itself -------------------------------------------------------------------------

UNSUBSCRIBED = "unsubscribed"
ALREADY = "already"
GONE = "gone"  # no such customer any more, or erased: nothing to withdraw, nothing recorded


def current_marketing_consent(customer_id: int, channel: str) -> Consent | None:
    """The newest marketing consent row of the customer on ``channel`` (the current state)."""
    return db.session.execute(
        select(Consent).where(Consent.customer_id == customer_id, Consent.channel == channel,
                              Consent.purpose == "marketing")
        .order_by(Consent.recorded_at.desc(), Consent.id.desc()).limit(1)).scalar_one_or_none()


def unsubscribe_state(customer_id: int, channel: str) -> tuple[str, Customer | None]:
    """What a POST would do now: ``unsubscribed`` (it would withdraw), ``already`` or ``gone``."""
    customer = db.session.get(Customer, customer_id) if 0 < customer_id < 2**63 else None
    if customer is None or customer.pseudonymized_at is not None:
        return GONE, None
    row = current_marketing_consent(customer_id, channel)
    if row is not None and not row.granted:
        return ALREADY, customer
    return UNSUBSCRIBED, customer


def unsubscribe(customer_id: int, channel: str, *, message_id: int | None = None) -> str:
    """Withdraw the customer's marketing consent on ``channel`` (method ``web``, source
    ``unsubscribe_link``, no actor) unless already withdrawn; returns ``unsubscribed``, ``already``
    or ``gone``. Does not commit: the caller commits the consent row together with what
    ``portal_consent_changed`` does in the same transaction (messaging cancels queued marketing).

    The customer row is locked first (PostgreSQL) so two simultaneous POSTs — a mail provider's
    one-click and the customer's own — record one withdrawal, not two.
    """
    from ..contact import record_consent

    if not 0 < customer_id < 2**63:
        return GONE
    locked = db.session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update()).first()
    if locked is None:
        return GONE
    state, customer = unsubscribe_state(customer_id, channel)
    if state != UNSUBSCRIBED:
        return state
    record_consent(customer_id, channel, "marketing", False, method="web", source="unsubscribe_link", actor=None,
                   note=f"message {message_id}" if message_id else None)
    return UNSUBSCRIBED
