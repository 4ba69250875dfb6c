"""Migration 0012: the old outbox's rows move into ``message`` (sent stays sent; an unsent reset
link expires with its one-hour life instead of being mailed stale), and back on downgrade."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from portal.extensions import db


def test_outbox_rows_move_into_message_and_back(empty_app):
    directory = empty_app.extensions["migrate"].directory
    upgrade(directory=directory, revision="0011_contact")
    created = datetime(2026, 12, 1, 9, 0, 0)
    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO user_account (email, name, password_hash, locale, active, created_at) "
                             "VALUES ('a@example.com', 'A', 'x', 'ko', :t, :c)"), {"t": True, "c": created})
        for kind, to, sent in (("password_reset", "a@example.com", None), ("notice", "b@example.com", created)):
            conn.execute(sa.text(
                "INSERT INTO outbox_message (kind, to_addr, subject, body, created_at, sent_at, attempts) "
                "VALUES (:k, :to, 'subject', 'body', :c, :s, 0)"), {"k": kind, "to": to, "c": created, "s": sent})
    upgrade(directory=directory, revision="0012_messaging")
    with db.engine.connect() as conn:
        assert "outbox_message" not in sa.inspect(conn).get_table_names()
        rows = conn.execute(sa.text("SELECT step, to_addr, status, user_id, expires_at, channel, purpose, source "
                                    "FROM message ORDER BY id")).all()
    reset, notice = rows
    assert reset.step == "password_reset" and reset.status == "queued" and reset.user_id is not None
    assert _dt(reset.expires_at) == created + timedelta(hours=1)  # the dispatcher expires it, never mails it stale
    assert notice.status == "sent" and notice.expires_at is None and notice.user_id is None
    assert {r.channel for r in rows} == {"email"} and {r.purpose for r in rows} == {"service"}
    downgrade(directory=directory, revision="0011_contact")
    with db.engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        assert "message" not in names and "message_pause" not in names
        back = conn.execute(sa.text("SELECT kind, to_addr FROM outbox_message ORDER BY id")).all()
    assert [tuple(r) for r in back] == [("password_reset", "a@example.com")]  # mail to staff accounts comes back


def _dt(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value
