"""The add-on's settings (``portal_settings_schema``), edited on the add-ons control panel: the
review interval (stories) and the digest frequency (social)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l


def settings_schema() -> list[dict[str, Any]]:
    from .social.service import SETTINGS_SCHEMA as SOCIAL

    return [
        {"name": "review_months", "label": _l("A published story needs a new review after (months)"), "type": "int",
         "default": 12, "min": 1, "max": 60,
         "help": _l("Counted from the last review; the story is flagged \"needs review\", never hidden.")},
        *SOCIAL,
    ]
