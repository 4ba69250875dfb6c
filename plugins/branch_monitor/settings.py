"""The add-on's settings (``portal_settings_schema``), edited on the add-ons control panel.

PLACEHOLDER (area B owns it): the report deadline and the baseline's threshold."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l


def settings_schema() -> list[dict[str, Any]]:
    return [
        {"name": "deadline_days", "label": _l("Daily report due after (days)"), "type": "int", "default": 1,
         "min": 0, "max": 7},
        {"name": "deadline_hour", "label": _l("Daily report due at (hour, KST)"), "type": "int", "default": 10,
         "min": 0, "max": 23},
        {"name": "deadline_minute", "label": _l("Daily report due at (minute)"), "type": "int", "default": 0,
         "min": 0, "max": 59},
    ]
