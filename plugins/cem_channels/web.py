"""Every blueprint of the add-on (``portal_blueprints``), one module per area."""

from __future__ import annotations

from typing import Any


def blueprints() -> list[Any]:
    from .api import bp as campaigns_api
    from .campaigns.tracking import bp as tracking
    from .views.admin import bp as admin
    from .views.campaigns import bp as campaigns
    from .views.message_sets import bp as message_sets
    from .voice_api import bp as voice_api

    return [campaigns_api, voice_api, tracking, campaigns, message_sets, admin]
