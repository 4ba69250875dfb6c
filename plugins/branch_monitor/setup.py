"""App set-up of the add-on (``portal_init_app``): CSRF exemptions of the bearer-token API blueprints."""

from __future__ import annotations

from typing import Any

from portal.toolkit import csrf


def init_app(app: Any) -> None:
    from .web import api_blueprints

    for bp in api_blueprints():
        csrf.exempt(bp)
