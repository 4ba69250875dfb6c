"""Menu entries (``portal_menu_items``); an entry whose page is not registered yet is left out."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from .permissions import APPROVE, CALL, COMPOSE, MANAGE, VIEW


def menu_items(user: Any) -> list[dict[str, Any]]:
    items = [
        {"label": _l("Campaigns"), "endpoint": "cem_campaigns.index", "permission": VIEW, "order": 45,
         "match": ("cem_campaigns.",)},
        {"label": _l("Message sets"), "endpoint": "cem_message_sets.index", "permission": COMPOSE, "order": 46,
         "match": ("cem_message_sets.",)},
        {"label": _l("Campaign approvals"), "endpoint": "cem_campaigns.approvals", "permission": APPROVE,
         "order": 47},
        {"label": _l("Call list"), "endpoint": "cem_campaigns.calls", "permission": CALL, "order": 48},
        {"label": _l("Channels"), "endpoint": "cem_admin.index", "permission": MANAGE, "order": 96,
         "section": "manage", "match": ("cem_admin.",)},
    ]
    return [i for i in items if i["endpoint"] in current_app.view_functions]
