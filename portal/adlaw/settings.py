"""The portal's legal settings (sender, contact, 080 number ...) applied to ``law.compose_marketing``."""

from __future__ import annotations

from typing import Any

from flask import current_app

from .law import Composed, compose_marketing
from .links import unsubscribe_url


def legal_settings() -> dict[str, Any]:
    """Sender name, contact, postal address, 080 number, mailto and the night-rule switch from config."""
    cfg = current_app.config
    return {
        "sender_name": cfg.get("PORTAL_SENDER_NAME") or "",
        "sender_contact": cfg.get("PORTAL_SENDER_CONTACT") or "",
        "sender_address": cfg.get("PORTAL_SENDER_ADDRESS") or None,
        "optout_number": cfg.get("PORTAL_OPTOUT_080") or None,
        "unsubscribe_mailto": _mailto(cfg.get("PORTAL_UNSUBSCRIBE_MAILTO")),
        "night_rule_email": bool(cfg.get("PORTAL_NIGHT_RULE_EMAIL", False)),
    }


def _mailto(value: str | None) -> str | None:
    if not value:
        return None
    return value if value.startswith("mailto:") else f"mailto:{value}"


def compose_for(channel: str, customer_id: int, *, subject: str | None, body: str, html: str | None = None,
                message_id: int | None = None, **overrides: Any) -> Composed:
    """``compose_marketing`` for one customer with the portal's settings: sender, contact, address,
    080 number, and (e-mail, postal DM) the customer's own unsubscribe link. ``overrides`` replace
    any of ``compose_marketing``'s keyword arguments (an add-on's own sender, say). Raises
    ``LawViolation`` like ``compose_marketing`` — e.g. ``contact_missing`` while
    ``PORTAL_SENDER_CONTACT`` is unset, ``optout_missing`` for SMS while ``PORTAL_OPTOUT_080`` is.
    """
    settings = legal_settings()
    kwargs: dict[str, Any] = {
        "sender_name": settings["sender_name"], "sender_contact": settings["sender_contact"],
        "sender_address": settings["sender_address"], "optout_number": settings["optout_number"],
    }
    if channel in ("email", "dm"):
        kwargs["unsubscribe_url"] = unsubscribe_url(customer_id, channel, message_id=message_id)
    if channel == "email":
        kwargs["unsubscribe_mailto"] = settings["unsubscribe_mailto"]
    kwargs.update(overrides)
    return compose_marketing(channel, subject=subject, body=body, html=html, **kwargs)
