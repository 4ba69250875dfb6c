"""Migration 0011: used target lists become contact history (the cool-down stays exactly as it was),
draft lists do not, consent rows get kind 'consent'; the table matches the model; downgrade works."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.conftest import empty_db_app, sql
from tests.test_segments import execute


def test_used_lists_become_contacts_and_the_cooldown_is_unchanged(tmp_path):
    from flask_migrate import downgrade, upgrade

    from portal.extensions import db
    from portal.models import utcnow

    with empty_db_app(tmp_path, "0010_jobs"):
        now = utcnow().replace(microsecond=0)
        for i in (1, 2, 3):
            execute("INSERT INTO customer (code, name, phone, complaint, created_at, updated_at, total_spend) "
                    "VALUES (:c, :n, '01012340000', false, :t, :t, 0)", c=f"C{i}", n=f"고객{i}", t=now)
        ids = [r[0] for r in sql("SELECT id FROM customer ORDER BY code")]
        lists = {"used": ("sms", now - timedelta(days=3), "used"), "old": ("email", now - timedelta(days=30), "used"),
                 "draft": ("sms", None, "draft")}
        for name, (channel, used_at, status) in lists.items():
            execute("INSERT INTO extraction (name, channel, rules, included, excluded, created_at, status, used_at) "
                    "VALUES (:n, :ch, '{}', 2, '{}', :t, :s, :u)", n=name, ch=channel, t=now, s=status, u=used_at)
        ext = dict(sql("SELECT name, id FROM extraction"))
        for name, members in (("used", ids[:2]), ("old", ids), ("draft", ids[2:])):
            for cid in members:
                execute("INSERT INTO extraction_member (extraction_id, customer_id) VALUES (:e, :c)", e=ext[name], c=cid)
        execute("INSERT INTO consent (customer_id, channel, purpose, granted, method, recorded_at) "
                "VALUES (:c, 'sms', 'marketing', true, 'store', :t)", c=ids[0], t=now)

        upgrade(revision="0011_contact")
        rows = sql("SELECT customer_id, channel, purpose, at, source, ref FROM contact ORDER BY ref, customer_id")
        assert sorted((r[0], r[1], r[2], r[4], r[5]) for r in rows) == sorted(
            [(c, "email", "marketing", "extraction", f"extraction:{ext['old']}") for c in ids]
            + [(c, "sms", "marketing", "extraction", f"extraction:{ext['used']}") for c in ids[:2]])
        assert {str(r[3])[:19] for r in rows if r[1] == "sms"} == {str(now - timedelta(days=3))[:19]}
        assert sql("SELECT kind, source FROM consent") == [("consent", None)]
        # The cool-down reads the contacts: the used SMS list's members, not the draft's, not the old e-mail list's.
        from portal.contact import rules

        cooled = sa.select(rules.Contact.customer_id).where(rules.Contact.channel == "sms",
                                                            rules.Contact.at >= rules.cooldown_cutoff(utcnow()))
        assert sorted(db.session.execute(cooled).scalars()) == ids[:2]
        db.session.rollback()

        downgrade(revision="0010_jobs")
        inspector = sa.inspect(db.engine)
        assert "contact" not in inspector.get_table_names()
        assert {c["name"] for c in inspector.get_columns("consent")} >= {"granted", "method"}
        assert "kind" not in {c["name"] for c in inspector.get_columns("consent")}


def test_contact_table_matches_its_model(app):
    """The model and migration 0011 agree (the core's comparison covers portal.models only)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from portal.extensions import db

    def only_contact(obj, name, type_, reflected, compare_to):
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in ("contact", "consent")

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": only_contact, "compare_type": True})
        diff = compare_metadata(ctx, db.metadata)
    assert diff == [], diff
