"""Menu entries (``portal_menu_items``); an entry whose page is not registered yet is left out."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from .permissions import APPROVE, CHECKIN, INVITATIONS, MANAGE, VIEW


def menu_items(user: Any) -> list[dict[str, Any]]:
    items = [
        {"label": _l("Weak-category radar"), "endpoint": "prm_radar.index", "permission": MANAGE, "order": 40,
         "match": ("prm_radar.",)},
        {"label": _l("Group programmes"), "endpoint": "prm_programmes.index", "permission": VIEW, "order": 41,
         "match": ("prm_programmes.", "prm_content.", "prm_seminars.", "prm_checkin.", "prm_results.")},
        {"label": _l("My group's programmes"), "endpoint": "prm_partner.index", "permission": APPROVE, "order": 42,
         "match": ("prm_partner.index",)},
        {"label": _l("Seminar invitations"), "endpoint": "prm_partner.invitations", "permission": INVITATIONS,
         "order": 43, "match": ("prm_partner.invitations",)},
        {"label": _l("Seminar check-in"), "endpoint": "prm_checkin.index", "permission": CHECKIN, "order": 44,
         "match": ("prm_checkin.",)},
    ]
    return [i for i in items if i["endpoint"] in current_app.view_functions]
