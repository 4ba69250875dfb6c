"""Each contribution hook returns one good entry and several malformed ones."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from portal.toolkit import hookimpl

FAIL_CUSTOMER_CHANGED = {"on": False}
RAISE_IN_MENU = {"on": False}
TABS_NOT_A_LIST = {"on": False}
bp = Blueprint("faulty", __name__, template_folder="templates")  # templates only, no routes


@hookimpl
def portal_blueprints() -> list[Blueprint]:
    return [bp]


@hookimpl
def portal_menu_items(user: Any) -> list[Any]:
    if RAISE_IN_MENU["on"]:
        raise KeyError("faulty menu lookup")
    return [
        {"label": "Faulty good", "endpoint": "dashboard.index", "order": 70},
        {"label": "No endpoint", "order": 71},                      # endpoint missing
        {"label": "Unknown endpoint", "endpoint": "faulty.nowhere"},  # url_for would raise
        {"label": "Bad order", "endpoint": "dashboard.index", "order": "first"},  # breaks sorting
        "not a dict",
        {"endpoint": "dashboard.index"},                           # label missing
        {"label": "Bad match", "endpoint": "dashboard.index", "match": 5},
    ]


@hookimpl
def portal_portlets(manager: str, user: Any) -> Any:
    if manager != "dashboard":
        return []
    return [
        {"title": "Faulty portlet", "template": "dashboard/portlet_welcome.html", "context": {}, "order": 98},
        {"title": "No template"},
        {"template": "dashboard/portlet_welcome.html", "order": None},  # title missing, order None
        {"title": "Missing template", "template": "faulty/none.html"},
        {"title": "Bad context", "template": "dashboard/portlet_welcome.html", "context": "x"},
        {"title": "Fails to render", "template": "faulty/broken.html", "context": {}},
    ]


@hookimpl
def portal_customer_tabs(customer: Any, user: Any) -> Any:
    if TABS_NOT_A_LIST["on"]:
        return {"id": "not-a-list"}  # a dict instead of a list of dicts
    return [
        {"id": "faulty-ctx", "label": "Faulty context", "template": "faulty/broken.html", "order": 95,
         "context_factory": _raise},
        {"id": "faulty-render", "label": "Faulty render", "template": "faulty/broken.html", "order": 96},
        {"id": "bad id!", "label": "Bad id", "template": "faulty/broken.html"},
        {"id": "overview", "label": "Second overview", "template": "faulty/broken.html"},  # id taken by the core
    ]


def _raise() -> dict[str, Any]:
    raise LookupError("faulty tab context")


@hookimpl
def portal_customer_changed(customer: Any, changes: dict[str, Any]) -> None:
    if FAIL_CUSTOMER_CHANGED["on"]:
        raise RuntimeError("faulty add-on refuses the change")
