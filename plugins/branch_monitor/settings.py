"""The add-on's settings (``portal_settings_schema``), edited on the add-ons control panel and
through ``/api/v1/monitor/settings``: the daily report's deadline (D + days at hour:minute KST;
compliance and reminders read it) and the own-baseline thresholds in sigma (comparison reads them;
both must be > 0)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

#: Setting names in the order the API and the form show them.
NAMES = ("deadline_days", "deadline_hour", "deadline_minute", "baseline_z_alert", "baseline_z_alarm")


def settings_schema() -> list[dict[str, Any]]:
    return [
        {"name": "deadline_days", "label": _l("Daily report due after (days)"), "type": "int", "default": 1,
         "min": 0, "max": 7},
        {"name": "deadline_hour", "label": _l("Daily report due at (hour, KST)"), "type": "int", "default": 10,
         "min": 0, "max": 23},
        {"name": "deadline_minute", "label": _l("Daily report due at (minute)"), "type": "int", "default": 0,
         "min": 0, "max": 59},
        {"name": "baseline_z_alert", "label": _l("Own-baseline alert at (robust z, sigma)"), "type": "float",
         "default": 2.0, "min_exclusive": 0, "max": 20,
         "help": _l("A day's sales this many robust standard deviations from the branch's usual level raise an alert.")},
        {"name": "baseline_z_alarm", "label": _l("Own-baseline alarm at (robust z, sigma)"), "type": "float",
         "default": 3.0, "min_exclusive": 0, "max": 20,
         "help": _l("Further out than this is an alarm; keep it above the alert threshold.")},
    ]
