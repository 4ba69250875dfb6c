"""branch_monitor's hook implementations. Each area (aggregates, calendar, compliance, kpis,
comparison, alerts, monitor) keeps its code in its own package; only thin ``@hookimpl`` functions
live here."""

from __future__ import annotations

from portal.toolkit import hookimpl

from . import models  # noqa: F401  (put the mon_ tables on the metadata)


@hookimpl
def portal_init_app(app):
    from .setup import init_app

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
def portal_notification_kinds():
    from .notifications import KINDS

    return KINDS


@hookimpl
def portal_jobs():
    from .jobs import jobs

    return jobs()


@hookimpl
def portal_portlets(manager, user):
    from .portlets import portlets

    return portlets(manager, user)


@hookimpl
def portal_cli(cli):
    from .cli import register

    register(cli)


@hookimpl
def portal_seed(profile):
    from .seed import seed

    seed(profile)


@hookimpl
def portal_settings_schema():
    from .settings import settings_schema

    return settings_schema()


@hookimpl
def portal_install(app):
    from .install import on_install

    on_install()


# --- core events


@hookimpl
def portal_sales_imported(report):
    from .aggregates.service import apply_report

    apply_report(report)


@hookimpl
def portal_customer_changed(customer, changes):
    from .kpis.complaints import on_customer_changed

    on_customer_changed(customer, changes)


@hookimpl
def portal_customers_merged(survivor, merged_id):
    from .kpis.complaints import on_customers_merged

    on_customers_merged(survivor, merged_id)


@hookimpl
def portal_personal_data(customer):
    from .kpis.privacy import export_customer

    return export_customer(customer)
