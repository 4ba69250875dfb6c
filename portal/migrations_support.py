"""Alembic for the core and for each plugin's own migration environment.

The core's environment (``migrations/``, Flask-Migrate) owns the core tables only. A plugin
ships ``plugins/<name>/migrations/`` with an ``env.py`` of three lines that calls
:func:`run_plugin_env`; it keeps its own version table ``alembic_version_<name>`` and owns the
tables starting with its ``table_prefix``. See docs/plugins.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import current_app

from .extensions import db

CORE_VERSION_TABLE = "alembic_version"


def plugin_version_table(name: str) -> str:
    return f"alembic_version_{name}"


def plugin_alembic_config(name: str, directory: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(directory))
    cfg.attributes["plugin_name"] = name
    return cfg


def run_plugin_env(context: Any, plugin_name: str, table_prefix: str) -> None:
    """Body of a plugin's ``env.py``: migrate only its tables, in its own version table."""
    def include_object(obj: Any, name: str, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        table_name = name if type_ == "table" else getattr(table, "name", "")
        return bool(table_name and table_name.startswith(table_prefix))

    engine = db.engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            version_table=plugin_version_table(plugin_name),
            include_object=include_object,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


def upgrade_core() -> None:
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)


def upgrade_plugin(name: str, revision: str = "heads") -> bool:
    from .plugins import registry

    loaded = registry().plugins[name]
    directory = loaded.migrations_dir
    if directory is None:
        return False
    command.upgrade(plugin_alembic_config(name, directory), revision)
    return True


def downgrade_plugin(name: str) -> bool:
    from .plugins import registry

    directory = registry().plugins[name].migrations_dir
    if directory is None:
        return False
    command.downgrade(plugin_alembic_config(name, directory), "base")
    return True


def upgrade_all() -> list[str]:
    """Core first, then every installed plugin (in dependency order)."""
    from .models import PluginState
    from .plugins import registry

    upgrade_core()
    lines = ["core: up to date"]
    installed = set(db.session.execute(db.select(PluginState.name).where(PluginState.installed.is_(True))).scalars())
    db.session.remove()
    for name in registry().ordered_names():
        if name in installed and upgrade_plugin(name):
            lines.append(f"{name}: up to date")
    return lines
