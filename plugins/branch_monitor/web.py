"""Every blueprint of the add-on (``portal_blueprints``), one module per area. The JSON API
blueprints (bearer token, CSRF-exempt) are listed in :func:`api_blueprints`."""

from __future__ import annotations

from typing import Any


def api_blueprints() -> list[Any]:
    from .alerts.api import bp as alerts_api
    from .compliance.api import bp as compliance_api
    from .monitor.api import bp as monitor_api

    return [monitor_api, compliance_api, alerts_api]


def blueprints() -> list[Any]:
    from .alerts.views import bp as alerts
    from .calendar.views import bp as calendar
    from .compliance.views import bp as compliance
    from .monitor.views import bp as monitor

    return [*api_blueprints(), monitor, compliance, calendar, alerts]
