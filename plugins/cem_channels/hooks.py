"""cem_channels' hook implementations. Each area (providers, one voice, consent lifecycle) keeps
its code in its own module; only the thin ``@hookimpl`` functions live here."""

from __future__ import annotations

from portal.toolkit import hookimpl  # noqa: F401


@hookimpl
def portal_channel_adapters():
    from .providers import adapters_from_config

    return adapters_from_config()


@hookimpl
def portal_settings_schema():
    from .providers.config import SETTINGS_SCHEMA

    return SETTINGS_SCHEMA
