"""``flask --app wsgi portal sales import FILE``: the operator's way in (same service as the web)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

sales_group = AppGroup("sales", help="Daily sales reports.")


@sales_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(["strict", "lenient"]), default="strict", show_default=True,
              help="strict: any bad row refuses the file; lenient: import the good rows, report the rest.")
@click.option("--replace", is_flag=True, help="Swap the branch's report of that day for this file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--user", "email", help="Import as this user (their branches only); default: operator, any branch.")
@click.option("--rejections", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the refused rows (row, column, value, reason) to this CSV file.")
def import_command(file: Path, mode: str, replace: bool, as_json: bool, email: str | None,
                   rejections: Path | None) -> None:
    """Import FILE (CSV in UTF-8 / UTF-8 with BOM / CP949, or XLSX). Exit status 0 when the
    report is committed or was already imported, 1 when it was rejected or refused."""
    from ..auth.service import find_user
    from .importer import import_report
    from .service import rejection_rows

    user = None
    if email:
        user = find_user(email)
        if user is None or not user.is_active:
            raise click.ClickException(f"No active user {email}.")
    data = file.read_bytes()
    show_bar = not as_json and sys.stderr.isatty()
    with click.progressbar(length=100, label="Importing", file=sys.stderr, show_eta=False,
                           hidden=not show_bar) as bar:
        done = [0]

        def progress(label: str, fraction: float) -> None:
            target = int(fraction * 100)
            if not show_bar:  # logs / pipes get one line per stage on stderr instead of a bar
                click.echo(f"{target:3d}% {label}", err=True)
            bar.label = f"{label:<24}"
            if target > done[0]:
                bar.update(target - done[0])
                done[0] = target

        result = import_report(data, file.name, user, mode=mode, replace=replace, source="cli", progress=progress)
    if rejections is not None and result.report_id and result.rejected:
        with rejections.open("w", encoding="utf-8-sig", newline="") as fh:
            for line in rejection_rows(result.report_id):
                fh.write(line)
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        click.echo(result.message)
        for err in result.errors[:50]:
            click.echo(f"  row {err['row']}, {err['column']} = {err['value']!r}: {err['message']}")
        if result.error_count > 50:
            click.echo(f"  … {result.error_count - 50} more (see the report's rejection file)")
        if result.report_id:
            click.echo(f"report #{result.report_id}: {result.accepted} accepted, {result.rejected} rejected, "
                       f"{result.customers_created} new customers, {result.customers_matched} matched")
    if result.status not in ("committed", "duplicate"):
        sys.exit(1)
