"""Typed add-on settings declared through ``portal_settings_schema`` and stored in ``plugin_state``.

A schema entry: ``{"name", "label", "type": "str"|"int"|"float"|"bool"|"choice", "default",
"choices": [(value, label)], "min", "max", "min_exclusive", "max_exclusive", "help"}``. Values are validated here, so a plugin
reading :func:`get_setting` always gets the declared type.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from . import audit
from .extensions import db
from .models import PluginState
from .plugins import registry

TYPES = ("str", "int", "float", "bool", "choice")


def schema(plugin: str) -> list[dict[str, Any]]:
    reg = registry()
    if plugin not in reg.plugins:
        return []
    items: list[dict[str, Any]] = []
    for result in reg.only(plugin, "portal_settings_schema")():
        items.extend(result or [])
    return items


def get_settings(plugin: str) -> dict[str, Any]:
    state = db.session.get(PluginState, plugin)
    stored = (state.settings or {}) if state else {}
    return {item["name"]: stored.get(item["name"], item.get("default")) for item in schema(plugin)}


def get_setting(plugin: str, name: str) -> Any:
    return get_settings(plugin)[name]


def _coerce(item: dict[str, Any], raw: Any) -> Any:
    kind = item.get("type", "str")
    if kind == "bool":
        return raw in (True, "y", "on", "1", "true", "True")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if item.get("required"):
            raise ValueError(_("A value is required."))
        return item.get("default")
    if kind == "int":
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError(_("Enter a whole number.")) from None
        if "min" in item and value < item["min"]:
            raise ValueError(_("At least %(n)s.", n=item["min"]))
        if "max" in item and value > item["max"]:
            raise ValueError(_("At most %(n)s.", n=item["max"]))
        return value
    if kind == "float":
        return _coerce_float(item, raw)
    if kind == "choice":
        allowed = [str(c[0]) for c in item.get("choices", [])]
        if str(raw) not in allowed:
            raise ValueError(_("Choose one of the offered values."))
        return str(raw)
    value = str(raw).strip()
    if len(value) > item.get("max_length", 500):
        raise ValueError(_("At most %(n)s characters.", n=item.get("max_length", 500)))
    return value


def _coerce_float(item: dict[str, Any], raw: Any) -> float:
    """A finite decimal number within the bounds: ``min``/``max`` inclusive, ``min_exclusive``/
    ``max_exclusive`` strict (a threshold in sigma must be > 0, so 0 is refused)."""
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(str(raw).strip().replace(",", "."))
    except ValueError:
        raise ValueError(_("Enter a number, e.g. 2.5.")) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(_("Enter a number, e.g. 2.5."))
    if "min" in item and value < item["min"]:
        raise ValueError(_("At least %(n)s.", n=item["min"]))
    if "min_exclusive" in item and value <= item["min_exclusive"]:
        raise ValueError(_("More than %(n)s.", n=item["min_exclusive"]))
    if "max" in item and value > item["max"]:
        raise ValueError(_("At most %(n)s.", n=item["max"]))
    if "max_exclusive" in item and value >= item["max_exclusive"]:
        raise ValueError(_("Less than %(n)s.", n=item["max_exclusive"]))
    return value


def save_settings(plugin: str, data: dict[str, Any]) -> dict[str, str]:
    """Validate every field; save all of them or none. Returns field → error message."""
    items = schema(plugin)
    values, errors = {}, {}
    for item in items:
        try:
            values[item["name"]] = _coerce(item, data.get(item["name"]))
        except ValueError as exc:
            errors[item["name"]] = str(exc)
    if errors:
        return errors
    state = db.session.get(PluginState, plugin)
    if state is None or not state.installed:
        return {"": _("Install the add-on first.")}
    before = dict(state.settings or {})
    state.settings = {**before, **values}
    changes = {k: (before.get(k), v) for k, v in values.items() if before.get(k) != v}
    if changes:
        audit.record("addon.settings", state, summary=plugin, changes=changes)
    db.session.commit()
    return {}
