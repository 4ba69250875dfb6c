"""Notification kinds of the add-on (``portal_notification_kinds``); each area appends its own."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

KINDS: list[dict[str, Any]] = [
    # programmes: the group's leaders hear when their programme starts and when it closes
    {"kind": "prm.programme_started", "label": _l("Group programme started"), "email_default": False},
    {"kind": "prm.programme_closed", "label": _l("Group programme closed with its result"), "email_default": False},
]
