"""``flask --app wsgi portal ...``: set-up, migrations, plugins, tokens, demo data."""

from __future__ import annotations

import os

import click
from flask import Flask
from flask.cli import AppGroup

portal_cli = AppGroup("portal", help="Partner Portal administration.")


@portal_cli.group("db")
def db_group() -> None:
    """Database migrations (core and installed plugins)."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Migrate the core, then every installed plugin, to their newest revision."""
    from .migrations_support import upgrade_all
    from .plugins_lifecycle import upgrade_installed

    for line in upgrade_all():
        click.echo(line)
    for name in upgrade_installed():
        click.echo(f"{name}: ran its upgrade step for the new version")


@portal_cli.command("init")
@click.option("--email", envvar="PORTAL_ADMIN_EMAIL", help="First administrator's e-mail (or PORTAL_ADMIN_EMAIL).")
@click.option("--name", default="Administrator", show_default=True)
def init(email: str | None, name: str) -> None:
    """Create the first Site Administrator (asks for the password unless PORTAL_ADMIN_PASSWORD is set)."""
    from .extensions import db
    from .models import User, UserRole
    from .users.service import UserError, create_user

    if db.session.execute(db.select(UserRole).where(UserRole.role == "Site Administrator")).first():
        raise click.ClickException("A Site Administrator already exists; use the Users page to add more.")
    email = email or click.prompt("Administrator e-mail")
    password = os.environ.get("PORTAL_ADMIN_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        user: User = create_user(email=email, name=name, password=password, roles=["Site Administrator"])
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created Site Administrator {user.email}")


@portal_cli.group("token")
def token_group() -> None:
    """API bearer tokens."""


@token_group.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
def token_create(email: str, name: str) -> None:
    """Print a new API token for EMAIL (shown once; stored hashed)."""
    from . import audit
    from .auth.service import find_user
    from .auth.tokens import create_token
    from .extensions import db

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No user with e-mail {email}")
    token, raw = create_token(user, name)
    db.session.flush()
    audit.record("api_token.created", token, summary=f"{user.email}: {name}")
    db.session.commit()
    click.echo(raw)


@token_group.command("list")
@click.argument("email", required=False)
def token_list(email: str | None) -> None:
    """Show tokens (prefix, owner, name, last use) — never the token itself."""
    from .extensions import db
    from .models import ApiToken, User

    stmt = db.select(ApiToken, User.email).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if email:
        stmt = stmt.where(User.email == email.strip().lower())
    for token, owner in db.session.execute(stmt).all():
        state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        click.echo(f"{token.prefix}  {owner}  {token.name or '-'}  last used {used}  {state}")


MIN_REVOKE_PREFIX = 6


@token_group.command("revoke")
@click.argument("prefix")
def token_revoke(prefix: str) -> None:
    """Revoke every active token whose shown prefix (see ``token list``) starts with PREFIX."""
    from . import audit
    from .auth.tokens import revoke_token
    from .extensions import db
    from .models import ApiToken

    prefix = prefix.strip()
    if len(prefix) < MIN_REVOKE_PREFIX:
        raise click.ClickException(f"Give at least {MIN_REVOKE_PREFIX} characters of the token's prefix.")
    # autoescape: "_" (common in tokens) and "%" are literal characters, not LIKE wildcards.
    tokens = db.session.execute(db.select(ApiToken).where(ApiToken.prefix.startswith(prefix[:10], autoescape=True),
                                                          ApiToken.revoked_at.is_(None))).scalars().all()
    if not tokens:
        raise click.ClickException("No active token with that prefix")
    for token in tokens:
        revoke_token(token)
        audit.record("api_token.revoked", token)
    db.session.commit()
    click.echo(f"Revoked {len(tokens)} token(s)")


@portal_cli.command("demo")
@click.option("--customers", default=5000, show_default=True)
@click.option("--force", is_flag=True, help="Load even when the database already has data (tests, benchmarks).")
def demo(customers: int, force: bool) -> None:
    """Load the demo data set (only into an empty database): sales up to yesterday, scores computed,
    and the platform services at work (contact history, outbox, inbox, tasks, an experiment)."""
    from .demo.loader import DemoError, load_demo

    try:
        summary = load_demo(customers=customers, force=force, echo=click.echo, scores=True, platform=True)
    except DemoError as exc:
        click.echo(str(exc))
        return
    click.echo(summary)


# ``flask portal messages send|list`` (the outbox) is registered by portal.messaging.init_app.


def register_cli(app: Flask) -> None:
    from .analytics.cli import analytics_group
    from .plugins import registry
    from .plugins_cli import plugins_group
    from .sales.cli import sales_group

    portal_cli.add_command(plugins_group)
    portal_cli.add_command(sales_group)
    portal_cli.add_command(analytics_group)
    portal_cli.add_command(__import__("portal.jobs.cli", fromlist=["jobs_group"]).jobs_group)
    reg = registry(app)
    for name in reg.plugins:
        group = _plugin_group(name, reg.plugins[name].info.title)
        reg.only(name, "portal_cli")(cli=group)
        if group.commands:
            portal_cli.add_command(group)
    app.cli.add_command(portal_cli)


def _plugin_group(name: str, title: str) -> AppGroup:
    """``flask portal <plugin> ...``; refuses to run while the plugin is not enabled."""

    @click.pass_context
    def _check(ctx: click.Context) -> None:
        from .plugins import active_plugin_names

        if name not in active_plugin_names():
            raise click.ClickException(f"The add-on {name!r} is not installed and enabled.")

    return AppGroup(name, help=f"{title} (add-on).", callback=_check)
