"""The platform services (issue 14), wired into the app in one place.

Each service is a package ``portal/<name>/`` with ``models.py`` (its tables), ``hooks.py`` (its own
hook implementations, registered with pluggy as ``core.<name>`` and so always active) and, when it
has pages, a blueprint ``bp`` in its ``__init__``; an optional ``init_app(app)`` runs at start-up.
"""

from __future__ import annotations

import importlib

from flask import Flask

SERVICES = ("jobs", "contact", "messaging", "adlaw", "workflow", "notify", "experiments", "events", "files")


def import_models() -> None:
    for name in SERVICES:
        importlib.import_module(f"portal.{name}.models")


def register_hooks(pm) -> None:
    for name in SERVICES:
        pm.register(importlib.import_module(f"portal.{name}.hooks"), name=f"core.{name}")


def init_platform(app: Flask) -> None:
    """Blueprints and start-up of every service (after the plugins are loaded)."""
    for name in SERVICES:
        package = importlib.import_module(f"portal.{name}")
        bp = getattr(package, "bp", None)
        if bp is not None:
            app.register_blueprint(bp)
        init = getattr(package, "init_app", None)
        if init is not None:
            init(app)
