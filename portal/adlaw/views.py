"""``/u/<token>``: the unsubscribe page, public by design (SECURITY.md "Messaging").

GET (and HEAD) only shows what a POST would do — link scanners and mail previews fetch links and
must never unsubscribe anyone. POST unsubscribes: the form on the page, or a mail provider's RFC
8058 one-click request (body ``List-Unsubscribe=One-Click``, no cookie, no CSRF token). The
signed token authorises the change, so the route is CSRF-exempt; it checks the signature before
touching the database, so junk requests cost almost nothing. Nothing personal is shown beyond a
masked address; the page is ``noindex`` and sends no referrer.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, render_template, request

from ..extensions import csrf, db
from . import bp
from .links import ALREADY, GONE, UNSUBSCRIBED, BadToken, read_token, unsubscribe, unsubscribe_state

log = logging.getLogger("portal.adlaw")


def _channel_label(code: str) -> str:
    try:
        from ..contact import channel

        ch = channel(code)
    except Exception:  # noqa: BLE001  (a label is cosmetic; the registry may be mid-change)
        ch = None
    return str(ch.label) if ch is not None else code


def _masked(customer: Any, channel: str) -> str:
    try:
        from ..analytics.extraction import masked_contact

        return masked_contact(customer, channel)
    except Exception:  # noqa: BLE001  (an unknown channel: show nothing rather than fail)
        return ""


def _page(state: str, status: int = 200, **context: Any) -> Response:
    response = current_app.make_response((render_template(
        "adlaw/unsubscribe.html", state=state, sender=current_app.config.get("PORTAL_SENDER_NAME") or "",
        sender_contact=current_app.config.get("PORTAL_SENDER_CONTACT") or "",
        optout_080=current_app.config.get("PORTAL_OPTOUT_080") or "", **context), status))
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/u/<token>", methods=["GET", "POST"], endpoint="unsubscribe")
def unsubscribe_page(token: str) -> Response:
    """Confirm (GET) or do (POST) the opt-out the token names."""
    try:
        customer_id, channel, message_id = read_token(token)
    except BadToken as exc:
        return _page("expired" if exc.expired else "invalid", 410 if exc.expired else 400)
    label = _channel_label(channel)
    if request.method != "POST":
        state, customer = unsubscribe_state(customer_id, channel)
        if state == UNSUBSCRIBED:
            return _page("confirm", channel=label, address=_masked(customer, channel))
        return _page(ALREADY if state == ALREADY else GONE, channel=label)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    from ..contact import ContactError

    try:
        outcome = unsubscribe(customer_id, channel, message_id=message_id)
        db.session.commit()
    except ContactError as exc:  # e.g. a channel an add-on contributed and no longer does
        db.session.rollback()
        log.warning("Unsubscribe link for customer %s on %s refused: %s", customer_id, channel, exc)
        return _page("invalid", 400)
    if outcome == UNSUBSCRIBED:
        log.info("Customer %s unsubscribed from %s marketing by link%s", customer_id, channel,
                 " (one-click)" if one_click else "")
        return _page("done", channel=label)
    return _page(ALREADY if outcome == ALREADY else GONE, channel=label)


csrf.exempt(unsubscribe_page)
