"""knowledge_share's hook implementations. Each area (stories, search, results, reuse, social,
sessions) keeps its code in its own package; only thin ``@hookimpl`` functions live here."""

from __future__ import annotations

from portal.toolkit import hookimpl

from . import models  # noqa: F401  (put the ks_ tables on the metadata)


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
def portal_workflows():
    from .workflow import WORKFLOWS

    return WORKFLOWS


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
def portal_uninstall(app, purge):
    if purge:
        from .stories.attachments import purge_files
        from .workflow import purge as purge_workflow

        purge_files()  # the attachments' bytes live in the core file store, not in a ks_ table
        purge_workflow()


@hookimpl
def portal_cli(cli):
    from .cli import register

    register(cli)


@hookimpl
def portal_seed(profile):
    from .seed import seed

    seed(profile)


# --- the add-on's own hooks (hookspecs.py)


@hookimpl
def ks_overdue_action_items(on, unit_ids):
    from .sessions.actions import overdue_items

    return overdue_items(on, unit_ids)


# --- prm_groups' hook: a closed programme with its frozen result (optional add-on)


@hookimpl
def prm_programme_closed(programme, result, actor):
    from .results.handoff import on_programme_closed

    on_programme_closed(programme, result, actor)


@hookimpl
def portal_settings_schema():
    from .settings import settings_schema

    return settings_schema()
