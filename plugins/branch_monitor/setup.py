"""App set-up of the add-on (``portal_init_app``): CSRF exemptions of the bearer-token API blueprints."""

from __future__ import annotations

from typing import Any

from portal.toolkit import csrf


def init_app(app: Any) -> None:
    from .web import api_blueprints

    for bp in api_blueprints():
        csrf.exempt(bp)
    from .kpis.service import format_change

    app.add_template_filter(format_change, "bm_change")  # {{ change|bm_change }}: "+12.5%" or "N/A" (BM-6)
