"""One voice on the database (SQLite and PostgreSQL): the cem_0002 tables match the models,
message sets with renditions round-trip (JSON master, cascade), banned terms come from
``cem_banned_term`` per category, check_approvable and preview on a stored set (CE-31)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.exc import IntegrityError

from portal.toolkit import db

LEGAL = {"PORTAL_SENDER_NAME": "파트너포털", "PORTAL_SENDER_CONTACT": "02-1234-5678",
         "PORTAL_SENDER_ADDRESS": "서울시 강남구 테헤란로 1", "PORTAL_OPTOUT_080": "080-123-4567"}


@pytest.fixture
def app(unconfigured_app) -> Iterator:
    """cem_channels installed (the package's template) with the legal sender settings."""
    unconfigured_app.config.update(LEGAL)
    return unconfigured_app


def _set(**master_overrides):
    from plugins.cem_channels.voice import normalise_master, set_revision
    from plugins.cem_channels.voice_models import CemMessageSet, CemRendition
    from portal.toolkit import OrgUnit

    master, problems = normalise_master({"offer": "비타민C 1+1", "price": "39,000", "valid_from": "2026-06-01",
                                         "valid_until": "2026-06-30", **master_overrides})
    assert problems == []
    branch = db.session.scalars(db.select(OrgUnit).order_by(OrgUnit.id)).first()
    ms = CemMessageSet(name="6월 비타민", category="건강식품", master=master, org_unit_id=branch.id)
    ms.renditions = [
        CemRendition(channel="email", subject="{{ offer }}", body="{{ offer }} {{ price }}",
                     html="<p>{{ customer.name }} {{ price_krw }}</p>"),
        CemRendition(channel="sms", body="{{ offer }} 단 ₩35,000! {{ valid_until_ko }}까지"),
        CemRendition(channel="kakao", body="{{ offer }} {{ price_krw }}"),
    ]
    set_revision(ms)
    db.session.add(ms)
    db.session.commit()
    return ms


def test_migrations_match_the_models(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    tables = {"cem_message_set", "cem_rendition", "cem_banned_term"}

    def only_voice(obj, name, type_, reflected, compare_to):
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
        return table in tables

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": only_voice, "compare_type": True})
        diff = compare_metadata(ctx, db.metadata)
    assert diff == [], f"one-voice models and cem_0002 disagree: {diff}"


def test_message_set_round_trip_and_revision(app):
    from plugins.cem_channels.voice import set_revision
    from plugins.cem_channels.voice_models import CemMessageSet, CemRendition

    ms = _set()
    first = ms.revision
    assert len(first) == 64
    db.session.expire_all()
    stored = db.session.get(CemMessageSet, ms.id)
    assert stored.master["price"] == 39000 and stored.master["valid_until"] == "2026-06-30"
    assert [r.channel for r in stored.renditions] == ["email", "sms", "kakao"]
    assert set_revision(stored) == first  # same content, same hash
    stored.master = {**stored.master, "price": 37000}
    assert set_revision(stored) != first
    db.session.commit()
    db.session.add(CemRendition(message_set_id=stored.id, channel="sms", body="dup"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(CemMessageSet, ms.id))
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count()).select_from(CemRendition)) == 0


def test_banned_terms_per_category_block_approval_ce31(app):
    from plugins.cem_channels.voice import banned_terms_for, blocking, check_approvable, preview
    from plugins.cem_channels.voice_models import CemBannedTerm

    db.session.add_all([CemBannedTerm(category="건강식품", term="치료", note="질병 치료 효능 표방 금지"),
                        CemBannedTerm(category="건강식품", term="완치"),
                        CemBannedTerm(category="화장품", term="주름 개선")])
    db.session.commit()
    assert banned_terms_for("건강식품") == ["완치", "치료"] and banned_terms_for(None) == []
    db.session.add(CemBannedTerm(category="건강식품", term="치료"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()

    ms = _set()
    assert [(p.code, p.rendition, p.text) for p in blocking(check_approvable(ms))] == [
        ("price_differs", "sms", "₩35,000")]
    sms = next(r for r in ms.renditions if r.channel == "sms")
    sms.body = "{{ offer }} {{ price_krw }}! 관절 치 료 {{ valid_until_ko }}까지"
    assert [(p.code, p.params.get("term")) for p in blocking(check_approvable(ms))] == [("banned_term", "치료")]
    sms.body = "{{ offer }} {{ price_krw }}! {{ valid_until_ko }}까지"
    ms.master = {**ms.master, "price": 37000}  # HQ changes the master: every rendition follows
    db.session.commit()
    assert blocking(check_approvable(ms)) == []
    shown = {r.channel: r for r in preview(ms, {"name": "김민수"})}
    assert [p.message for r in shown.values() for p in r.problems] == []
    assert "￦37,000" in shown["sms"].composed_body and "₩37,000" in shown["kakao"].composed_body
    assert "37,000원" in shown["email"].composed_body and "₩37,000" in shown["email"].html
    assert shown["sms"].composed_body.startswith("(광고)파트너포털") and shown["sms"].sms_class in ("sms", "lms")


def test_preview_for_a_stored_customer_uses_their_unsubscribe_link(app):
    from plugins.cem_channels.voice import preview
    from portal.toolkit import Customer, unsubscribe_url

    ms = _set()
    customer = db.session.scalars(db.select(Customer).order_by(Customer.id)).first()
    shown = {r.channel: r for r in preview(ms, {"id": customer.id, "name": customer.name})}
    assert not shown["email"].problems
    assert unsubscribe_url(customer.id, "email") in shown["email"].composed_body
    assert shown["email"].html == f"<p>{customer.name} ₩39,000</p>"
