"""``flask --app wsgi portal loyalty …``: expiry, tier review, catch-up earning and the ledger check."""

from __future__ import annotations

from datetime import date, datetime

import click

from portal.toolkit import db


def _day(value: str | None) -> date:
    if not value:
        return date.today()
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


def register(cli: click.Group) -> None:
    @cli.command("expire")
    @click.option("--as-of", "as_of", help="Expire points whose expiry date is before this day (YYYY-MM-DD, default today).")
    def expire_cmd(as_of: str | None) -> None:
        """Expire due points (idempotent: a second run writes nothing)."""
        from .expiry import expire

        day = _day(as_of)
        batch = expire(day)
        db.session.commit()
        if batch is None:
            click.echo(f"Nothing to expire before {day}.")
        else:
            click.echo(f"Expired {batch.points:,} points from {batch.lines:,} lots ({batch.entries:,} entries) "
                       f"before {day}.")

    @cli.command("tiers")
    @click.option("--period-end", "period_end", help="Review every member on the window ending this day (YYYY-MM-DD).")
    def tiers_cmd(period_end: str | None) -> None:
        """Period-end tier review: downgrades (and any missed upgrade) on the rolling window."""
        from .tiers import review

        day = _day(period_end)
        counts = review(day, allow_down=True, reason="period_end")
        db.session.commit()
        click.echo(f"Tier review for the period ending {day}: {counts['up']} up, {counts['down']} down.")

    @cli.command("earn")
    @click.option("--since", help="Only lines sold on or after this day (YYYY-MM-DD).")
    def earn_cmd(since: str | None) -> None:
        """Catch up: earn on every sale line not earned yet, and reverse replaced reports."""
        from .earning import earn_pending, reverse_replaced

        batch = earn_pending(since=_day(since) if since else None)
        reversed_entries = reverse_replaced()
        db.session.commit()
        if batch is None:
            click.echo("No sale lines waiting for points.")
        else:
            click.echo(f"Earned {batch.points:,} points on {batch.lines:,} lines ({batch.entries:,} entries).")
        if reversed_entries:
            click.echo(f"Reversed {reversed_entries} entries of replaced reports.")

    @cli.command("check")
    def check_cmd() -> None:
        """Verify the ledger: balances = sum of entries = open lots; lots = points − allocations."""
        from .ledger import check

        problems = check()
        if problems:
            for line in problems:
                click.echo(line, err=True)
            raise click.ClickException(f"{len(problems)} problem(s) found.")
        click.echo("Ledger OK: every balance equals its entries and its open lots.")
