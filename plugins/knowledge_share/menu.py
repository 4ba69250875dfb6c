"""Menu entries (``portal_menu_items``); an entry whose page is not registered yet is left out."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from .permissions import REVIEW, VIEW, WRITE


def menu_items(user: Any) -> list[dict[str, Any]]:
    items = [
        {"label": _l("Success stories"), "endpoint": "ks_stories.index", "permission": VIEW, "order": 50,
         "match": ("ks_stories.index", "ks_stories.detail", "ks_stories.history", "ks_reuse.", "ks_social.")},
        {"label": _l("My stories"), "endpoint": "ks_stories.mine", "permission": WRITE, "order": 51,
         "match": ("ks_stories.mine", "ks_stories.new", "ks_stories.edit")},
        {"label": _l("Stories to review"), "endpoint": "ks_stories.review_queue", "permission": REVIEW, "order": 52,
         "match": ("ks_stories.review_queue",)},
        {"label": _l("Knowledge-sharing sessions"), "endpoint": "ks_sessions.index", "permission": VIEW,
         "order": 53, "match": ("ks_sessions.",)},
    ]
    return [i for i in items if i["endpoint"] in current_app.view_functions]
