"""Menu entries (``portal_menu_items``); an entry whose page is not registered yet is left out."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from .permissions import ACK, COMPLIANCE, MONITOR, SCORECARD


def menu_items(user: Any) -> list[dict[str, Any]]:
    items = [
        {"label": _l("Branch monitor"), "endpoint": "bm_monitor.index", "permission": MONITOR, "order": 60,
         "match": ("bm_monitor.", "bm_calendar.")},
        {"label": _l("My branch scorecard"), "endpoint": "bm_monitor.mine", "permission": SCORECARD, "order": 61,
         "match": ("bm_monitor.mine",)},
        {"label": _l("Report filing"), "endpoint": "bm_compliance.index", "permission": COMPLIANCE, "order": 62,
         "match": ("bm_compliance.",)},
        {"label": _l("Branch alerts"), "endpoint": "bm_alerts.index", "permission": ACK, "order": 63,
         "match": ("bm_alerts.",)},
    ]
    return [i for i in items if i["endpoint"] in current_app.view_functions]
