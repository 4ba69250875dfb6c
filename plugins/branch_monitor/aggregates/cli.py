"""``flask portal branch_monitor refresh [--if-stale] [--from YYYY-MM-DD --to YYYY-MM-DD]``: the
aggregates' rebuild by hand or from cron (the nightly job does the same ``--if-stale``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from .service import FIRST_DAY, LAST_DAY


def _day(_ctx: Any, param: Any, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD).", param=param) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise click.BadParameter(f"{value} is outside {FIRST_DAY}..{LAST_DAY}.", param=param)
    return day


def register(cli: Any) -> None:
    """Add ``refresh`` to the add-on's command group."""

    @cli.command("refresh")
    @click.option("--if-stale", "if_stale", is_flag=True,
                  help="Only when a report was committed since the last rebuild, from the first month it "
                       "touched (everything once a week).")
    @click.option("--from", "start", callback=_day, help="First day (widened to its month's first day).")
    @click.option("--to", "end", callback=_day, help="Last day (widened to its month's last day).")
    def refresh(if_stale: bool, start: date | None, end: date | None) -> None:
        """Rebuild the day and month sales aggregates from the sale lines (one transaction)."""
        from .service import last_rebuild, rebuild, refresh_if_stale

        if if_stale and (start or end):
            raise click.UsageError("--if-stale rebuilds everything; leave out --from/--to.")
        if start and end and start > end:
            raise click.UsageError(f"--from {start} is after --to {end}.")
        if if_stale:
            done = refresh_if_stale()
            if done is None:
                last = last_rebuild()
                click.echo(f"Aggregates are fresh (last rebuild started {last.started_at:%Y-%m-%d %H:%M} UTC); "
                           "nothing to do." if last else "No reports yet; nothing to do.")
                return
        else:
            done = rebuild(start, end)
        span = (f"{done['from'] or 'the first day'} to {done['to'] or 'the last day'}"
                if done["from"] or done["to"] else "all days")
        click.echo(f"Rebuilt {done['days']} branch-days and {done['months']} branch-months ({span}) "
                   f"in {done['seconds']:.1f} s (run #{done['run_id']}).")
