"""``flask portal contact ...``: the channel registry and a customer's send-time verdict."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup
from sqlalchemy import select

contact_group = AppGroup("contact", help="Channels, consent and contact history.")


@contact_group.command("channels")
def channels_command() -> None:
    """List the registered channels (core and active add-ons)."""
    from .registry import channels

    for ch in channels():
        click.echo(f"{ch.code:<10} consent={'yes' if ch.consent else 'no':<3} extraction={'yes' if ch.extraction else 'no':<3} "
                   f"fields={','.join(ch.fields) or '-':<20} {ch.label}")


@contact_group.command("check")
@click.argument("customer")
@click.argument("channel")
@click.option("--purpose", default="marketing", show_default=True, help="marketing or service")
@click.option("--at", "at_text", default=None, help="When (ISO 8601, UTC unless an offset is given); default now.")
def check_command(customer: str, channel: str, purpose: str, at_text: str | None) -> None:
    """May CUSTOMER (code or id) be contacted on CHANNEL now (or --at)?"""
    from ..extensions import db
    from ..models import Customer
    from .service import ContactError, may_contact

    at = None
    if at_text:
        try:
            at = datetime.fromisoformat(at_text)
        except ValueError:
            raise click.BadParameter(f"{at_text!r} is not an ISO 8601 date and time.", param_hint="--at") from None
    cid = db.session.execute(select(Customer.id).where(Customer.code == customer)).scalar_one_or_none()
    if cid is None and customer.isascii() and customer.isdigit() and len(customer) < 19:
        cid = int(customer)
    if cid is None:
        raise click.BadParameter(f"No customer with code {customer!r}.", param_hint="CUSTOMER")
    try:
        verdict = may_contact(cid, channel, purpose, at)
    except ContactError as exc:
        raise click.UsageError(str(exc)) from None
    if verdict.allowed:
        click.echo("allowed")
    elif verdict.deferred_until is not None:
        click.echo(f"deferred until {verdict.deferred_until.isoformat()} ({verdict.reason})")
    else:
        click.echo(f"refused: {verdict.reason}")
