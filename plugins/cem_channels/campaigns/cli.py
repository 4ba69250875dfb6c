"""``flask portal cem_channels campaigns-tick``: one run of the campaign tick by hand (the job
``cem.campaigns.tick`` does the same every minute). ``register(group)`` adds it to the add-on's
command group."""

from __future__ import annotations

from typing import Any

import click


def register(group: Any) -> None:
    @group.command("campaigns-tick")
    def campaigns_tick() -> None:
        """Start due campaigns, expire late ones, queue due steps, close finished ones."""
        from .jobs import tick

        stats = tick()
        click.echo(", ".join(f"{k}: {v}" for k, v in sorted(stats.items())) or "nothing to do")
