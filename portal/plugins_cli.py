"""``flask --app wsgi portal plugins list|install|uninstall|enable|disable``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

plugins_group = AppGroup("plugins", help="Add-ons: list, install, uninstall, enable, disable.")


def _run(fn, *args, **kwargs) -> None:
    from .plugins_lifecycle import PluginError

    try:
        fn(*args, **kwargs)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc


@plugins_group.command("list")
def list_plugins() -> None:
    from .plugins_lifecycle import states

    rows = states()
    if not rows:
        click.echo("No add-ons are available.")
    for s in rows:
        status = "enabled" if s["enabled"] else ("disabled" if s["installed"] else "not installed")
        click.echo(f"{s['name']:<20} {s['version']:<8} {status:<14} {s['title']}")


@plugins_group.command("install")
@click.argument("name")
def install_plugin(name: str) -> None:
    from .plugins_lifecycle import install

    _run(install, name)
    click.echo(f"Installed {name}")


@plugins_group.command("uninstall")
@click.argument("name")
@click.option("--purge", is_flag=True, help="Also drop the add-on's tables and data.")
def uninstall_plugin(name: str, purge: bool) -> None:
    from .plugins_lifecycle import uninstall

    _run(uninstall, name, purge=purge)
    click.echo(f"Uninstalled {name}{' and purged its data' if purge else ''}")


@plugins_group.command("enable")
@click.argument("name")
def enable_plugin(name: str) -> None:
    from .plugins_lifecycle import set_enabled

    _run(set_enabled, name, True)
    click.echo(f"Enabled {name}")


@plugins_group.command("disable")
@click.argument("name")
def disable_plugin(name: str) -> None:
    from .plugins_lifecycle import set_enabled

    _run(set_enabled, name, False)
    click.echo(f"Disabled {name}")
