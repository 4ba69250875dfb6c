"""cem_channels' hook implementations. Each area (providers, one voice, consent lifecycle) keeps
its code in its own module; only the thin ``@hookimpl`` functions live here."""

from __future__ import annotations

from portal.toolkit import hookimpl  # noqa: F401

from . import voice_models  # noqa: F401  (puts the one-voice cem_ tables on the shared metadata)


@hookimpl
def portal_channel_adapters():
    from .providers import adapters_from_config

    return adapters_from_config()


@hookimpl
def portal_settings_schema():
    from .providers.config import SETTINGS_SCHEMA

    return SETTINGS_SCHEMA


# --- consent lifecycle (080 opt-out file, suppression list, inbound replies): plugins/cem_channels/optout/


@hookimpl
def portal_cli(cli):
    from .cli import register

    register(cli)


@hookimpl
def portal_message_policies():
    from .optout.policy import POLICIES

    return POLICIES


@hookimpl
def portal_personal_data(customer):
    from .optout.privacy import export_customer

    return export_customer(customer)


@hookimpl
def portal_personal_data_erased(customer, actor):
    from .optout.privacy import erase_customer

    erase_customer(customer)
