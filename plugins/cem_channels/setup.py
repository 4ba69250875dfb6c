"""App set-up of the add-on (``portal_init_app``): CSRF exemptions of the bearer-token API and the
provider webhooks, template filters. Each area adds its lines here."""

from __future__ import annotations

from typing import Any

from portal.toolkit import csrf


def init_app(app: Any) -> None:
    from .api import bp as campaigns_api
    from .voice_api import bp as voice_api

    csrf.exempt(campaigns_api)
    csrf.exempt(voice_api)
    from .campaigns.tracking import delivery_reports

    csrf.exempt(delivery_reports)  # the provider's webhook: authenticated by the provider key
