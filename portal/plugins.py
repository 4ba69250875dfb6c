"""Plugin registry on top of pluggy: discovery, per-request active set, lifecycle.

``PORTAL_PLUGINS`` (or, when unset, every package under ``plugins/`` plus the
``portal.plugins`` entry points) says what is *available*; the ``plugin_state`` table says what
is *installed* and *enabled*. Disabled plugins stay registered, but hooks are called through
``pm.subset_hook_caller`` without them and their routes answer 404 — so enabling or disabling
takes effect on the next request in every worker, without a restart.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from flask import Flask, current_app, g, has_app_context
from flask_babel import LazyString

from . import hookspecs

ENTRY_POINT_GROUP = "portal.plugins"
CORE = "core"


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin package declares as ``PLUGIN`` in its ``__init__``."""

    name: str
    title: str
    version: str
    description: str = ""
    requires: tuple[str, ...] = ()
    table_prefix: str | None = None  # its tables' prefix, e.g. "loy_"; its migrations own them
    #: Optional add-ons this one uses when they are there (through their hooks): it is ordered after
    #: them, so the demo installs and seeds them first (knowledge_share cites prm_groups' programmes).
    after: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "requires", tuple(self.requires))
        object.__setattr__(self, "after", tuple(self.after))


@dataclass
class LoadedPlugin:
    info: PluginInfo
    package: ModuleType
    hooks: ModuleType
    blueprints: list[Any] = field(default_factory=list)

    @property
    def migrations_dir(self) -> Path | None:
        path = Path(self.package.__file__).parent / "migrations"
        return path if (path / "env.py").exists() else None


class PluginRegistry:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("portal")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, LoadedPlugin] = {}
        self.blueprint_owner: dict[str, str] = {}
        self._callers: dict[tuple[str, frozenset[str]], Any] = {}
        self._derived: dict[tuple[str, frozenset[str]], Any] = {}
        self.reported: set[tuple[str, str, str]] = set()  # skipped contributions already logged

    # -- discovery ---------------------------------------------------------------------
    def load(self, names: list[str] | None) -> None:
        for module_name in self._discover(names):
            package = importlib.import_module(module_name)
            info: PluginInfo = package.PLUGIN
            try:
                hooks = importlib.import_module(f"{module_name}.hooks")
            except ModuleNotFoundError as exc:
                if exc.name != f"{module_name}.hooks":
                    raise
                hooks = package
            self.pm.register(hooks, name=info.name)
            self.plugins[info.name] = LoadedPlugin(info=info, package=package, hooks=hooks)

    @staticmethod
    def _discover(names: list[str] | None) -> list[str]:
        import plugins as builtin_pkg  # the folder of built-in plugins, not portal code

        builtin = sorted(m.name for m in pkgutil.iter_modules(builtin_pkg.__path__) if m.ispkg)
        entry_points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
        if not names:
            return [f"plugins.{n}" for n in builtin] + sorted(entry_points.values())
        found = []
        for name in names:
            if name in entry_points:
                found.append(entry_points[name])
            elif name in builtin:
                found.append(f"plugins.{name}")
            elif "." in name:
                found.append(name)  # a dotted module path, e.g. a test plugin
            else:
                raise RuntimeError(f"PORTAL_PLUGINS names {name!r}, but no such plugin is available")
        return found

    def ordered_names(self) -> list[str]:
        """Plugins with each one after the plugins it requires (and those it names in ``after``)."""
        done: list[str] = []

        def visit(name: str, trail: tuple[str, ...] = ()) -> None:
            if name in done or name not in self.plugins:
                return
            if name in trail:
                raise RuntimeError(f"Plugin requirement cycle: {' → '.join((*trail, name))}")
            info = self.plugins[name].info
            for req in (*info.requires, *info.after):
                visit(req, (*trail, name))
            done.append(name)

        for name in sorted(self.plugins):
            visit(name)
        return done

    # -- active set ------------------------------------------------------------------------
    def inactive_names(self) -> frozenset[str]:
        active = active_plugin_names()
        return frozenset(n for n in self.plugins if n not in active)

    def hook(self, name: str):
        """The hook caller for ``name`` with disabled/uninstalled plugins left out."""
        inactive = self.inactive_names()
        key = (name, inactive)
        caller = self._callers.get(key)
        if caller is None:
            remove = [self.plugins[n].hooks for n in inactive]
            caller = self.pm.subset_hook_caller(name, remove_plugins=remove)
            self._callers[key] = caller
        return caller

    def derived(self, name: str, build):
        """``build()``'s result, computed once per set of active plugins (e.g. the role map).

        Only for values that depend on nothing but the active plugins' static hook results: the
        key is the current active set (read per request), so enabling or disabling a plugin
        gives a new key on the next request in every worker — no restart, no stale entry.
        """
        key = (name, self.inactive_names())
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = build()
            return value

    def only(self, plugin_name: str, hook_name: str):
        """Call a lifecycle hook on one plugin only."""
        others = [p for n, p in self.pm.list_name_plugin() if n != plugin_name]
        return self.pm.subset_hook_caller(hook_name, remove_plugins=others)


def registry(app: Flask | None = None) -> PluginRegistry:
    return (app or current_app).extensions["portal_plugins"]


def active_plugin_names() -> frozenset[str]:
    """Installed-and-enabled plugins, once per request/app context: from the worker's copy while
    the security epoch (raised by every ``plugin_state`` change) is unchanged, else from
    ``plugin_state``."""
    if has_app_context() and "portal_active_plugins" in g:
        return g.portal_active_plugins
    from .auth.identity_cache import identity_cache, security_epoch
    from .extensions import db
    from .models import PluginState

    cache = identity_cache() if has_app_context() else None
    epoch = security_epoch() if cache is not None else None
    if cache is not None and cache.plugins is not None and cache.plugins[0] == epoch:
        active = cache.plugins[1]
    else:
        rows = db.session.execute(
            db.select(PluginState.name).where(PluginState.installed.is_(True), PluginState.enabled.is_(True))
        ).scalars()
        active = frozenset(rows) | {CORE}
        if cache is not None:
            cache.plugins = (epoch, active)
    if has_app_context():
        g.portal_active_plugins = active
    return active


def active_plugins_column():
    """The active set as one scalar column (names joined by ``,``) for piggy-backing on a query
    the request runs anyway (the identity load): same freshness, no extra round trip."""
    global _ACTIVE_COLUMN
    if _ACTIVE_COLUMN is None:  # a constant expression: built once
        from .extensions import db
        from .models import PluginState

        _ACTIVE_COLUMN = (
            db.select(db.func.aggregate_strings(PluginState.name, ","))
            .where(PluginState.installed.is_(True), PluginState.enabled.is_(True))
            .scalar_subquery()
        )
    return _ACTIVE_COLUMN


_ACTIVE_COLUMN = None


def remember_active_plugins(joined: str | None) -> None:
    """Take the value of :func:`active_plugins_column` as this request's active set (unless the
    request has read it already: one request, one view of the plugin state)."""
    if has_app_context() and "portal_active_plugins" not in g:
        g.portal_active_plugins = frozenset(n for n in (joined or "").split(",") if n) | {CORE}


def use_active_plugins(active: frozenset[str]) -> None:
    """Take ``active`` (a cached identity's view, same epoch) as this request's active set."""
    if has_app_context() and "portal_active_plugins" not in g:
        g.portal_active_plugins = active


def forget_active_plugins() -> None:
    """After this request changed the plugin state: the next read goes to the database."""
    from .auth.identity_cache import forget_epoch

    g.pop("portal_active_plugins", None)
    forget_epoch()


def hook(name: str):
    """``hook("portal_menu_items")(user=u)`` → list of results of active plugins."""
    return registry().hook(name)


def collect(name: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Flatten list-returning hooks and sort by ``order`` (then label/name).

    The page contributions (menu items, portlets, customer tabs) are checked one by one as they
    are collected: a malformed one — or a hook that raises — is skipped and logged once with the
    add-on's name, so one broken add-on never turns every page into a 500 for every user.
    """
    check = CONTRIBUTION_CHECKS.get(name)
    if check is not None:
        return _collect_checked(name, check, kwargs)
    items: list[dict[str, Any]] = []
    for result in hook(name)(**kwargs):
        if result:
            items.extend(result)
    return sorted(items, key=_sort_key)


def _sort_key(item: dict[str, Any]) -> tuple[float, str]:
    return item.get("order", 100), str(item.get("label", item.get("name", "")))


# -- checked contributions ----------------------------------------------------------------

log = logging.getLogger("portal.plugins")


def _is_text(value: Any) -> bool:
    return isinstance(value, str | LazyString) and bool(str(value).strip())


def _optional(item: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> str | None:
    """``None`` when ``item[key]`` is absent (or ``None``, except for ``order``, which sorts) or
    of type ``kind``; else the problem."""
    value = item.get(key)
    if value is None and (key != "order" or key not in item):
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        return f"{key!r} must be {what}, not {value!r}"
    return None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p), None)


def _get_page(endpoint: Any) -> bool:
    """Does ``url_for(endpoint)`` build a GET page without URL arguments?"""
    if not isinstance(endpoint, str):
        return False
    try:
        rules = list(current_app.url_map.iter_rules(endpoint))
    except KeyError:
        return False
    return any("GET" in (r.methods or ()) and r.arguments <= set(r.defaults or ()) for r in rules)


def _template_loads(name: Any) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        current_app.jinja_env.get_template(name)  # cached by Jinja after the first load
    except Exception:  # noqa: BLE001  (not found, syntax error …: either way unusable)
        return False
    return True


def _check_menu_item(item: dict[str, Any]) -> str | None:
    match = item.get("match", ())
    return _first(
        None if _is_text(item.get("label")) else "'label' is missing or empty",
        None if _get_page(item.get("endpoint")) else
        f"'endpoint' {item.get('endpoint')!r} is not a page that url_for builds without arguments",
        _optional(item, "permission", str, "a permission name"),
        _optional(item, "section", str, "a section name"),
        _optional(item, "icon", str, "an icon name"),
        _optional(item, "order", int | float, "a number"),
        None if isinstance(match, tuple | list) and all(isinstance(m, str) for m in match)
        else f"'match' must be a tuple of endpoint prefixes, not {match!r}",
    )


def _check_portlet(item: dict[str, Any]) -> str | None:
    return _first(
        None if _is_text(item.get("title")) else "'title' is missing or empty",
        None if _template_loads(item.get("template")) else f"'template' {item.get('template')!r} does not load",
        _optional(item, "context", dict, "a dict"),
        _optional(item, "permission", str, "a permission name"),
        _optional(item, "order", int | float, "a number"),
    )


_TAB_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _check_tab(item: dict[str, Any]) -> str | None:
    tab_id = item.get("id")
    factory = item.get("context_factory")
    return _first(
        None if isinstance(tab_id, str) and _TAB_ID.fullmatch(tab_id) else
        f"'id' {tab_id!r} must be 1-40 letters, digits, '-' or '_'",
        None if _is_text(item.get("label")) else "'label' is missing or empty",
        None if _template_loads(item.get("template")) else f"'template' {item.get('template')!r} does not load",
        _optional(item, "context", dict, "a dict"),
        None if factory is None or callable(factory) else "'context_factory' must be callable",
        _optional(item, "order", int | float, "a number"),
    )


CONTRIBUTION_CHECKS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "portal_menu_items": _check_menu_item,
    "portal_portlets": _check_portlet,
    "portal_customer_tabs": _check_tab,
}
# A unique key per hook, e.g. two tabs with one ``id`` would show as one: the later is skipped.
UNIQUE_KEYS = {"portal_customer_tabs": "id"}


def report_skipped(plugin: str, hook_name: str, problem: str, detail: str = "",
                   exc: BaseException | None = None) -> None:
    """Log a skipped contribution once per worker (it would recur on every page)."""
    seen = registry().reported
    key = (plugin, hook_name, problem)
    if key in seen:
        return
    seen.add(key)
    log.error("Add-on %r: %s contribution skipped: %s%s", plugin, hook_name, problem,
              f" — {detail}" if detail else "", exc_info=exc)


def _collect_checked(name: str, check: Callable[[dict[str, Any]], str | None],
                     kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for impl in reversed(hook(name).get_hookimpls()):  # pluggy's own calling order
        plugin = impl.plugin_name
        if impl.hookwrapper or impl.wrapper:
            report_skipped(plugin, name, "a wrapper implementation is not called for a contribution hook")
            continue
        try:
            result = impl.function(*[kwargs[arg] for arg in impl.argnames])
        except Exception as exc:  # noqa: BLE001  (one add-on's bug must not break the page)
            report_skipped(plugin, name, f"the hook raised {type(exc).__name__}: {exc}", exc=exc)
            continue
        if not result:
            continue
        if not isinstance(result, list | tuple):
            report_skipped(plugin, name, f"the hook returned {type(result).__name__}, not a list")
            continue
        for item in result:
            problem = check(item) if isinstance(item, dict) else f"{type(item).__name__} is not a dict"
            if problem:
                report_skipped(plugin, name, problem, repr(item)[:200])
            else:
                items.append({**item, "plugin": plugin})
    items.sort(key=_sort_key)
    unique = UNIQUE_KEYS.get(name)
    if unique:
        seen: set[Any] = set()
        kept = []
        for item in items:
            if item[unique] in seen:
                report_skipped(item["plugin"], name, f"{unique} {item[unique]!r} is used by another contribution")
                continue
            seen.add(item[unique])
            kept.append(item)
        items = kept
    return items


def init_plugins(app: Flask) -> PluginRegistry:
    reg = PluginRegistry()
    app.extensions["portal_plugins"] = reg
    from . import core_hooks

    reg.pm.register(core_hooks, name=CORE)
    from .platform import register_hooks

    register_hooks(reg.pm)
    reg.load(app.config.get("PORTAL_PLUGINS"))
    reg.pm.hook.portal_add_hookspecs.call_historic(kwargs={"pm": reg.pm})
    for name, loaded in reg.plugins.items():
        caller = reg.only(name, "portal_blueprints")
        for result in caller():
            for bp in result or []:
                app.register_blueprint(bp)
                loaded.blueprints.append(bp)
                reg.blueprint_owner[bp.name] = name
    reg.pm.hook.portal_init_app(app=app)
    return reg
