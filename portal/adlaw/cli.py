"""``flask --app wsgi portal adlaw ...``: run the legal notices by hand, or see what is due."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

adlaw_group = AppGroup("adlaw", help="Korean advertising law: consent notices.")


@adlaw_group.command("notices")
@click.option("--kind", type=click.Choice(["all", "reconfirmation", "optout", "optin"]), default="all", show_default=True)
@click.option("--dry-run", is_flag=True, help="Only count what is due; write and send nothing.")
@click.option("--today", help="Korean date to run for (YYYY-MM-DD); default today in Asia/Seoul.")
def notices(kind: str, dry_run: bool, today: str | None) -> None:
    """Queue today's 2-year re-confirmation and 14-day opt-out / opt-in result notices (idempotent)."""
    from .notices import KINDS, OPTIN, OPTOUT, RECONFIRMATION, run_notices

    try:
        day = date.fromisoformat(today) if today else None
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--today") from exc
    kinds = {"all": list(KINDS), "reconfirmation": [RECONFIRMATION], "optout": [OPTOUT], "optin": [OPTIN]}[kind]
    for k in kinds:
        result = run_notices(k, today=day, dry_run=dry_run)
        if dry_run:
            click.echo(f"{k}: {result['due']} due (dry run, nothing written)")
        else:
            click.echo(f"{k}: {result['due']} due, {result['queued']} queued, {result['recorded']} sent notices recorded")
