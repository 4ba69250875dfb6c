"""Notification kinds of the add-on (``portal_notification_kinds``); each area appends its own."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

KINDS: list[dict[str, Any]] = [
    # compliance: once per branch, day and level (dedupe key ``bm.reminder:<branch>:<day>:<level>``)
    {"kind": "bm.report_reminder", "label": _l("Daily sales report not filed yet"), "email_default": True},
    {"kind": "bm.report_escalation", "label": _l("A branch has not filed its daily sales report"),
     "email_default": True},
    # alerts: a branch's state changed (worsened or recovered), and the weekly digest
    {"kind": "bm.alert", "label": _l("A branch's monitoring state changed"), "email_default": False},
    {"kind": "bm.digest", "label": _l("Weekly branch monitoring digest"), "email_default": True},
]
