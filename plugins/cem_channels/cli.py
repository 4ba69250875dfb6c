"""``flask --app wsgi portal cem_channels …``: the 080 opt-out file and the inbound-reply queue."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import click

from portal.toolkit import User, db


def _user(email: str | None) -> User | None:
    if not email:
        return None
    user = db.session.query(User).filter(User.email == email.strip().lower()).one_or_none()
    if user is None:
        raise click.BadParameter(f"no user {email!r}", param_hint="--as")
    return user


def register(cli: click.Group) -> None:
    from .campaigns.cli import register as register_campaigns

    register_campaigns(cli)

    @cli.command("optout-import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--as", "as_user", help="E-mail of the staff member running the import (for the audit trail).")
    def optout_import_cmd(file: Path, as_user: str | None) -> None:
        """Import an 080 opt-out file (CSV/TXT, CP949 or UTF-8; idempotent)."""
        from .optout import OptoutFileError, import_optout_file

        actor = _user(as_user)
        try:
            result = import_optout_file(file.read_bytes(), actor=actor, filename=file.name)
        except OptoutFileError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(result.summary())
        for row, reason in result.bad[:1000]:
            click.echo(f"  row {row}: {reason}")
        if len(result.bad) > 1000:
            click.echo(f"  … and {len(result.bad) - 1000} more bad rows")

    @cli.command("replies-import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def replies_import_cmd(file: Path) -> None:
        """Record inbound replies from a CSV file: number,text[,received_at as YYYY-MM-DD HH:MM:SS UTC]."""
        from .optout import ReplyError, receive_reply
        from .optout.importer import OptoutFileError, _decode

        try:
            text = _decode(file.read_bytes())
        except OptoutFileError as exc:
            raise click.ClickException(str(exc)) from None
        counts: dict[str, int] = {}
        for row_no, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not cells or not any(c.strip() for c in cells):
                continue
            if row_no == 1 and not any(ch.isdigit() for ch in cells[0]):
                continue  # header
            at = None
            if len(cells) > 2 and cells[2].strip():
                try:
                    at = datetime.fromisoformat(cells[2].strip())
                except ValueError:
                    click.echo(f"  row {row_no}: {cells[2].strip()[:40]!r} is not a date-time")
                    continue
            try:
                with db.session.begin_nested():
                    reply = receive_reply(cells[0], cells[1] if len(cells) > 1 else "", at)
            except ReplyError as exc:
                click.echo(f"  row {row_no}: {exc}")
                continue
            counts[reply.status] = counts.get(reply.status, 0) + 1
        db.session.commit()
        click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "No replies.")

    @cli.command("replies-review")
    @click.option("--decide", "decide", nargs=2, type=(int, click.Choice(["opt_out", "keep"])),
                  help="Decide one queued reply: ID opt_out|keep (needs --as).")
    @click.option("--as", "as_user", help="E-mail of the staff member deciding.")
    @click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
    def replies_review_cmd(decide: tuple[int, str] | None, as_user: str | None, limit: int) -> None:
        """List the inbound replies waiting for review, or decide one."""
        from .optout import ReplyError, decide_reply, pending_replies

        if decide:
            actor = _user(as_user)
            if actor is None:
                raise click.UsageError("--decide needs --as EMAIL")
            try:
                reply = decide_reply(decide[0], decide[1], actor)
            except ReplyError as exc:
                raise click.ClickException(str(exc)) from None
            db.session.commit()
            click.echo(f"Reply {reply.id}: {reply.status}.")
            return
        rows = pending_replies(limit)
        if not rows:
            click.echo("No replies waiting for review.")
        for r in rows:
            click.echo(f"{r.id}\t{r.received_at:%Y-%m-%d %H:%M}\t{r.number}\t{r.kind}\t{r.text[:80]}")
