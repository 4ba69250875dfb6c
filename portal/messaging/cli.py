"""``flask --app wsgi portal messages send|list``: a manual dispatch run and a look at the outbox."""

from __future__ import annotations

import click
from flask.cli import AppGroup

messages_group = AppGroup("messages", help="The outbox: send due messages, list messages.")


@messages_group.command("send")
@click.option("--channel", default=None, help="Only this channel (e.g. email).")
@click.option("--limit", default=None, type=click.IntRange(1, 10_000_000),
              help="Handle at most this many messages (default: everything due now).")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000), help="Messages per claim.")
def send(channel: str | None, limit: int | None, batch: int) -> None:
    """Send the due messages now (what the messaging.dispatch job does every minute)."""
    from .dispatch import dispatch
    from .service import MessagingError

    totals: dict[str, int] = {}
    handled = 0
    while limit is None or handled < limit:
        size = batch if limit is None else min(batch, limit - handled)
        try:
            stats = dispatch(limit=size, channel=channel)
        except MessagingError as exc:
            raise click.ClickException(str(exc)) from None
        for key, value in stats.items():
            totals[key] = totals.get(key, 0) + value
        if not stats.get("claimed"):
            break
        handled += stats["claimed"]
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(totals.items())) or "nothing due")


@messages_group.command("list")
@click.option("--status", default=None, help="Only this status (queued, sent, failed_permanent ...).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def list_messages(status: str | None, limit: int) -> None:
    """The newest messages with their status (no texts: read those on the outbox page)."""
    from sqlalchemy import func, select

    from ..extensions import db
    from .models import STATUSES, Message

    if status is not None and status not in STATUSES:
        raise click.ClickException(f"unknown status {status!r}; one of: {', '.join(STATUSES)}")
    counts = dict(db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
    click.echo("  ".join(f"{s}: {counts.get(s, 0)}" for s in STATUSES))
    q = select(Message).order_by(Message.id.desc()).limit(limit)
    if status:
        q = q.where(Message.status == status)
    for m in db.session.execute(q).scalars():
        reason = f" ({m.status_reason})" if m.status_reason else ""
        click.echo(f"#{m.id} {m.channel}/{m.purpose} {m.source}{'/' + m.source_object if m.source_object else ''} "
                   f"{m.status}{reason} attempts={m.attempts}")
