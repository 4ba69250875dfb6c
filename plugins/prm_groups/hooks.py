"""prm_groups' hook implementations. Each area (radar, programmes, content and launch, seminars,
check-in, measurement, partner view) keeps its code in its own module; only thin ``@hookimpl``
functions live here."""

from __future__ import annotations

from portal.toolkit import hookimpl

from . import models, seminar_models  # noqa: F401  (put the prm_ tables on the metadata)


@hookimpl
def portal_add_hookspecs(pm):
    from . import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def portal_init_app(app):
    from .setup import init_app
    from .workflow import register

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
def portal_portlets(manager, user):
    from .partner.portlets import portlets

    return portlets(manager, user)


@hookimpl
def portal_partner_group_tabs(group, user):
    from .partner.portlets import group_tabs

    return group_tabs(group, user)


@hookimpl
def portal_workflows():
    from .workflow import WORKFLOWS

    return WORKFLOWS


@hookimpl
def portal_workflow_transitioned(obj, transition, actor, comment):
    from .programmes.service import on_workflow_transitioned

    on_workflow_transitioned(obj, transition, actor, comment)


@hookimpl
def portal_jobs():
    from .programmes.jobs import JOBS as PROGRAMMES
    from .seminars.jobs import JOBS as SEMINARS

    return [*PROGRAMMES, *SEMINARS]


@hookimpl
def portal_segment_fields():
    from .seminars.segment_fields import segment_fields

    return segment_fields()


@hookimpl
def portal_notification_kinds():
    from .notifications import KINDS

    return KINDS


@hookimpl
def portal_customers_merged(survivor, merged_id):
    from .seminars.privacy import on_customers_merged

    on_customers_merged(survivor, merged_id)


@hookimpl
def portal_personal_data(customer):
    from .seminars.privacy import export_customer

    return export_customer(customer)


@hookimpl
def portal_personal_data_erased(customer, actor):
    from .seminars.privacy import erase_customer

    erase_customer(customer)


@hookimpl
def portal_uninstall(app, purge):
    if purge:
        from .workflow import purge as purge_workflow

        purge_workflow()


@hookimpl
def portal_cli(cli):
    from .cli import register

    register(cli)


@hookimpl
def portal_seed(profile):
    from .seed import seed

    seed(profile)


# --- the add-on's own hooks (hookspecs.py): other add-ons read a programme's results this way


@hookimpl
def prm_programme_result(programme_id):
    from .measurement.hooks_impl import programme_result

    return programme_result(programme_id)


@hookimpl
def prm_programme_summary(programme_id, actor):
    from .measurement.hooks_impl import programme_summary

    return programme_summary(programme_id, actor)
