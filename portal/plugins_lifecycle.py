"""Install, uninstall, enable and disable add-ons (Plone's add-on control panel, as services)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from . import audit
from .extensions import db
from .migrations_support import downgrade_plugin, upgrade_plugin
from .models import PluginState, utcnow
from .plugins import active_plugin_names, forget_active_plugins, registry


class PluginError(Exception):
    """A lifecycle step refused, with a message for the administrator."""


def _state(name: str) -> PluginState:
    reg = registry()
    if name not in reg.plugins:
        raise PluginError(f"No add-on named {name!r} is available.")
    state = db.session.get(PluginState, name)
    if state is None:
        state = PluginState(name=name, installed=False, enabled=False)
        db.session.add(state)
    return state


def states() -> list[dict]:
    """Every available add-on with its state, for the control panel and ``plugins list``."""
    reg = registry()
    rows = {s.name: s for s in db.session.execute(select(PluginState)).scalars()}
    out = []
    for name in reg.ordered_names():
        info = reg.plugins[name].info
        s = rows.get(name)
        out.append({
            "name": name, "title": info.title, "version": info.version, "description": info.description,
            "requires": list(info.requires), "installed": bool(s and s.installed), "enabled": bool(s and s.enabled),
            "installed_version": s.version if s else None,
        })
    return out


def _installed_names() -> set[str]:
    return set(db.session.execute(select(PluginState.name).where(PluginState.installed.is_(True))).scalars())


def install(name: str, profile: str = "default") -> None:
    reg = registry()
    state = _state(name)
    if state.installed:
        raise PluginError(f"{name} is already installed.")
    missing = [r for r in reg.plugins[name].info.requires if r not in _installed_names()]
    if missing:
        raise PluginError(f"{name} needs {', '.join(missing)} installed first.")
    db.session.commit()
    upgrade_plugin(name)  # its own Alembic environment and version table
    state = _state(name)
    state.installed, state.enabled = True, True
    state.version = reg.plugins[name].info.version
    state.installed_at = utcnow()
    db.session.flush()
    forget_active_plugins()
    reg.only(name, "portal_install")(app=current_app._get_current_object())
    reg.only(name, "portal_seed")(profile=profile)
    audit.record("addon.installed", state, summary=f"{name} {state.version}")
    db.session.commit()


def uninstall(name: str, purge: bool = False) -> None:
    reg = registry()
    state = _state(name)
    if not state.installed:
        raise PluginError(f"{name} is not installed.")
    dependants = [n for n in _installed_names() if n in reg.plugins and name in reg.plugins[n].info.requires]
    if dependants:
        raise PluginError(f"{', '.join(sorted(dependants))} need {name}; uninstall them first.")
    reg.only(name, "portal_uninstall")(app=current_app._get_current_object(), purge=purge)
    state.installed, state.enabled = False, False
    audit.record("addon.uninstalled", state, summary=f"{name} purge={purge}")
    db.session.commit()
    if purge:
        downgrade_plugin(name)  # drops its tables; data is gone
        db.session.remove()
        state = db.session.get(PluginState, name)
        state.version = None
        state.settings = None
        db.session.commit()
    forget_active_plugins()


def set_enabled(name: str, enabled: bool) -> None:
    state = _state(name)
    if not state.installed:
        raise PluginError(f"{name} is not installed.")
    if not enabled:
        reg = registry()
        active = active_plugin_names()
        dependants = [n for n in active if n in reg.plugins and name in reg.plugins[n].info.requires]
        if dependants:
            raise PluginError(f"{', '.join(sorted(dependants))} need {name}; disable them first.")
    state.enabled = enabled
    audit.record("addon.enabled" if enabled else "addon.disabled", state, summary=name)
    db.session.commit()
    forget_active_plugins()


def upgrade_installed() -> list[str]:
    """Run ``portal_upgrade`` for installed add-ons whose code version moved on."""
    reg = registry()
    done = []
    for name in reg.ordered_names():
        state = db.session.get(PluginState, name)
        version = reg.plugins[name].info.version
        if state and state.installed and state.version != version:
            upgrade_plugin(name)
            reg.only(name, "portal_upgrade")(app=current_app._get_current_object(), from_version=state.version or "")
            state.version = version
            done.append(name)
    db.session.commit()
    return done
