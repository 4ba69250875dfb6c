"""Channels, consent and contact history: the channel registry, may_contact, record_consent and
record_contact (docs/platform/contact.md).

The names are loaded on first use (PEP 562): ``portal.models`` reads the channel registry, so this
package must not import the models while they are being defined.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Channel": ".registry", "UnknownChannel": ".registry", "channels": ".registry", "channel": ".registry",
    "channel_codes": ".registry", "channel_choices": ".registry", "require_channel": ".registry",
    "Verdict": ".service", "ContactError": ".service", "may_contact": ".service", "may_contact_many": ".service",
    "record_consent": ".service", "record_consents": ".service", "record_contact": ".service", "record_contacts": ".service",
    "Contact": ".models", "timeline": ".history", "bp": ".views",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)


def init_app(app: Any) -> None:
    """The API endpoints, ``flask portal contact``, and labels for the pages (channel names from the
    registry, the consent notices' audit entries)."""
    from flask_babel import lazy_gettext as _l

    from ..cli import portal_cli
    from ..customers.labels import register, register_resolver, register_summary
    from .cli import contact_group
    from .registry import channel_label

    portal_cli.add_command(contact_group)
    from ..extensions import csrf
    from .api import api_bp

    csrf.exempt(api_bp)  # bearer tokens only, no cookies: as /api/v1 itself
    app.register_blueprint(api_bp)

    def resolve(code: str) -> str | None:
        try:
            return channel_label(code)
        except RuntimeError:  # outside an application context: the static labels
            return None

    register_resolver("channel", resolve)
    register("method", {"message": _l("By a message we sent")})
    register("consent_kind", {"consent": _l("Consent"), "reconfirmation_notice": _l("Re-confirmation notice"),
                              "optout_notice": _l("Opt-out result notice"),
                              "optin_notice": _l("Opt-in result notice")})
    register("contact_source", {"extraction": _l("Target list"), "messaging": _l("Message"),
                                "phone_call": _l("Phone call"), "staff": _l("Staff"), "import": _l("Import"),
                                "api": _l("API"), "unsubscribe_link": _l("Unsubscribe link")})
    register("audit_action", {"customer.consent_notice": _l("Consent notice sent")})
    register("customer_tab", {"contacts": _l("Contact history")})
    register("contact_outcome", {"answered": _l("Answered"), "no_answer": _l("No answer"),
                                 "left_message": _l("Left a message"), "mailed": _l("Mailed"), "visited": _l("Visited"),
                                 "declined": _l("Declined"), "sent": _l("Sent")})
    register("contact_reason", {"unknown_customer": _l("Unknown customer"), "erased": _l("Erased customer"),
                                "no_address": _l("No address for the channel"), "no_consent": _l("No marketing consent"),
                                "opted_out": _l("Opted out"), "consent_expired": _l("Consent older than 2 years"),
                                "complaint": _l("Open complaint"), "night_window": _l("Night hours (21:00–08:00)")})
    register("timeline_status", {"queued": _l("Queued"), "claimed": _l("Being sent"), "sending": _l("Being sent"),
                                 "failed_temporary": _l("Will be retried"), "failed_permanent": _l("Failed"),
                                 "suppressed_at_send": _l("Not sent"), "expired": _l("Expired (too late)"),
                                 "cancelled": _l("Cancelled")})
    register_summary("customer.consent_notice",
                     r"(?P<channel>\w+)/(?P<purpose>\w+) (?P<consent_kind>\w+) via (?P<method>\w+) \((?P<source>[^)]*)\)",
                     _l("%(channel)s · %(purpose)s: %(consent_kind)s (%(method)s)"))
