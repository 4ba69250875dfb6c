"""Every blueprint of the add-on (``portal_blueprints``), one module per area. The JSON API
blueprints (bearer token, CSRF-exempt) are listed in :func:`api_blueprints`."""

from __future__ import annotations

from typing import Any


def api_blueprints() -> list[Any]:
    from .reuse.api import bp as reuse_api
    from .sessions.api import bp as sessions_api
    from .social.api import bp as social_api
    from .stories.api import bp as stories_api

    return [stories_api, reuse_api, social_api, sessions_api]


def blueprints() -> list[Any]:
    from .reuse.views import bp as reuse
    from .sessions.views import bp as sessions
    from .social.views import bp as social
    from .stories.attachment_views import bp as attachments
    from .stories.views import bp as stories

    return [*api_blueprints(), stories, attachments, social, reuse, sessions]
