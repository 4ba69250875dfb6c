from __future__ import annotations

from typing import Any

import click
from flask import Blueprint, render_template

from portal.toolkit import db, hookimpl, permission_required

from .models import SampleNote

bp = Blueprint("sample", __name__, url_prefix="/sample", template_folder="templates")
CALLS: list[tuple[str, Any]] = []


@bp.get("/")
@permission_required("sample.view")
def index():
    notes = db.session.execute(db.select(SampleNote).order_by(SampleNote.id)).scalars().all()
    return render_template("sample_plugin/index.html", notes=notes)


@hookimpl
def portal_blueprints():
    return [bp]


@hookimpl
def portal_permissions():
    return [{"name": "sample.view", "title": "View sample notes", "roles": ["Site Administrator", "HQ Staff"]}]


@hookimpl
def portal_menu_items(user):
    return [{"label": "Sample notes", "endpoint": "sample.index", "permission": "sample.view", "order": 50}]


@hookimpl
def portal_portlets(manager, user):
    if manager != "dashboard":
        return []
    count = db.session.execute(db.select(db.func.count(SampleNote.id))).scalar_one()
    return [{"title": "Sample portlet", "template": "sample_plugin/portlet.html", "context": {"count": count},
             "order": 99, "permission": "sample.view"}]


@hookimpl
def portal_customer_changed(customer, changes):
    CALLS.append(("customer_changed", customer.id))


@hookimpl
def portal_household_changed(customer, old_household_id, new_household_id):
    CALLS.append(("household_changed", (customer.id, old_household_id, new_household_id)))


@hookimpl
def portal_install(app):
    CALLS.append(("install", None))


@hookimpl
def portal_uninstall(app, purge):
    CALLS.append(("uninstall", purge))


@hookimpl
def portal_seed(profile):
    db.session.add(SampleNote(text=f"seeded ({profile})"))


@hookimpl
def portal_cli(cli):
    @cli.command("count")
    def count() -> None:
        """Print how many sample notes exist."""
        click.echo(db.session.execute(db.select(db.func.count(SampleNote.id))).scalar_one())


@hookimpl
def portal_settings_schema():
    return [
        {"name": "greeting", "label": "Greeting", "type": "str", "default": "Hello"},
        {"name": "max_notes", "label": "Maximum notes", "type": "int", "default": 10, "min": 1, "max": 100},
        {"name": "public", "label": "Show to everyone", "type": "bool", "default": False},
        {"name": "colour", "label": "Colour", "type": "choice", "default": "blue",
         "choices": [("blue", "Blue"), ("green", "Green")]},
    ]


@hookimpl
def portal_roles():
    return [{"name": "Note Taker", "title": "Note Taker", "local": True}]
