"""``flask portal branch_monitor evaluate [--day YYYY-MM-DD]`` and ``… digest``: the alerts' jobs
by hand (a re-run after a late import, a backfill of a missed day)."""

from __future__ import annotations

from typing import Any

import click


def register(cli: Any) -> None:
    @cli.command("evaluate")
    @click.option("--day", "day_text", default=None, help="YYYY-MM-DD (default: yesterday, Korean time)")
    @click.option("--quiet", is_flag=True, help="Record states and alerts but notify nobody (a backfill).")
    def evaluate_command(day_text: str | None, quiet: bool) -> None:
        """Judge every branch on one day: states, alerts on changes, notifications to subscribers."""
        from ..errors import MonitorError
        from ..months import parse_day
        from .service import evaluate

        try:
            day = parse_day(day_text, "day") if day_text else None
        except MonitorError as exc:
            raise click.BadParameter("; ".join(exc.errors.values()), param_hint="--day") from None
        result = evaluate(day, notify_subscribers=not quiet)
        click.echo(f"{result['states']} states, {result['changes']} changes ({result['worse']} worse, "
                   f"{result['recovered']} recovered), {result['notified']} notified")

    @cli.command("digest")
    def digest_command() -> None:
        """Send the weekly alerts digest of last ISO week (sends nothing twice)."""
        from .service import send_digest

        result = send_digest()
        click.echo(f"{result['sent']} digests sent to {result['users']} subscribers, {result['failed']} failed")
