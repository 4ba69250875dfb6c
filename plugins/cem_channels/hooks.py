"""cem_channels' hook implementations. Each area (providers, one voice, consent lifecycle,
campaigns, pages) keeps its code in its own module; only thin ``@hookimpl`` functions live here."""

from __future__ import annotations

from portal.toolkit import hookimpl

from . import campaign_models, optout_models, voice_models  # noqa: F401  (put the cem_ tables on the metadata)


@hookimpl
def portal_add_hookspecs(pm):
    from . import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def portal_init_app(app):
    from .campaigns.workflow import register
    from .setup import init_app

    register()
    init_app(app)


@hookimpl
def portal_blueprints():
    from .web import blueprints

    return blueprints()


@hookimpl
def portal_permissions():
    from .permissions import permissions

    return permissions()


@hookimpl
def portal_menu_items(user):
    from .menu import menu_items

    return menu_items(user)


@hookimpl
def portal_workflows():
    from .campaigns.workflow import WORKFLOWS

    return WORKFLOWS


@hookimpl
def portal_jobs():
    from .campaigns.jobs import JOBS

    return JOBS  # the 14-day opt-out result notices are the core's jobs (portal/adlaw/notices.py)


@hookimpl
def portal_channel_adapters():
    from .providers import adapters_from_config

    return adapters_from_config()


@hookimpl
def portal_settings_schema():
    from .providers.config import SETTINGS_SCHEMA

    return SETTINGS_SCHEMA


@hookimpl
def portal_cli(cli):
    from .cli import register

    register(cli)


@hookimpl
def portal_message_policies():
    from .campaigns.caps import POLICIES as CAPS
    from .optout.policy import POLICIES as OPTOUT
    from .providers.policy import POLICIES as KAKAO

    return [*OPTOUT, *KAKAO, *CAPS]


@hookimpl
def portal_workflow_transitioned(obj, transition, actor, comment):
    from .campaigns.steps import on_workflow_transitioned

    on_workflow_transitioned(obj, transition, actor, comment)


@hookimpl
def portal_message_personalize(message):
    from .campaigns.tracking import personalize

    personalize(message)


@hookimpl
def portal_personal_data(customer):
    from .optout.privacy import export_customer

    return export_customer(customer)


@hookimpl
def portal_personal_data_erased(customer, actor):
    from .optout.privacy import erase_customer

    erase_customer(customer)


# --- the add-on's own hooks (hookspecs.py): other add-ons create campaigns and read results this way


@hookimpl
def cem_create_campaign(draft, actor):
    from .campaigns.service import create_from_hook

    return create_from_hook(draft, actor)


@hookimpl
def cem_campaign_result(ref):
    from .campaigns.results import result_for_ref

    return result_for_ref(ref)


@hookimpl
def portal_seed(profile):
    from .seed import seed

    seed(profile)


@hookimpl
def cem_preview_message_set(data):
    from .voice.bridge import preview_message_set

    return preview_message_set(data)


@hookimpl
def cem_create_message_set(data, actor):
    from .campaigns.bridge import create_message_set

    return create_message_set(data, actor)


@hookimpl
def portal_segment_fields():
    from .campaigns.segment_fields import segment_fields

    return segment_fields()


@hookimpl
def cem_cancel_campaign(ref, actor, comment):
    from .campaigns.bridge import cancel_from_hook

    return cancel_from_hook(ref, actor, comment)


@hookimpl
def cem_demo_send_in_the_past(ref, at):
    from .campaigns.demo import send_ref_in_the_past

    return send_ref_in_the_past(ref, at)


@hookimpl
def cem_campaign_summary(ref, actor):
    from .campaigns.share import campaign_summary

    return campaign_summary(ref, actor)


@hookimpl
def cem_copy_message_set(set_id, actor):
    from .campaigns.share import copy_message_set

    return copy_message_set(set_id, actor)


@hookimpl
def cem_campaigns_for(actor, states, limit):
    from .campaigns.measured import campaigns_for

    return campaigns_for(actor, states, limit)
