"""Every blueprint of the add-on (``portal_blueprints``), one module per area. The JSON API
blueprints (bearer token, CSRF-exempt) are listed in :func:`api_blueprints`."""

from __future__ import annotations

from typing import Any


def api_blueprints() -> list[Any]:
    from .measurement.api import bp as results_api
    from .programmes.api import bp as programmes_api
    from .programmes.content_api import bp as content_api
    from .radar.api import bp as radar_api
    from .seminars.api import bp as seminars_api
    from .seminars.checkin_api import bp as checkin_api

    return [radar_api, programmes_api, content_api, seminars_api, checkin_api, results_api]


def blueprints() -> list[Any]:
    from .measurement.views import bp as results
    from .partner.views import bp as partner
    from .programmes.content_views import bp as content
    from .programmes.views import bp as programmes
    from .radar.views import bp as radar
    from .seminars.checkin_views import bp as checkin
    from .seminars.public import bp as public
    from .seminars.views import bp as seminars

    return [*api_blueprints(), radar, programmes, content, seminars, checkin, public, results, partner]
