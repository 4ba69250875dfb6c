"""Helpers for the sending-pipeline tests (launch, steps, tick): scheduled campaigns built directly as
rows (the campaign service is another area's), message sets, consents. Plain functions, used inside
a test's app context; each commits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from portal.toolkit import Customer, Message, OrgUnit, User, db, record_consents, utcnow

RENDITIONS: dict[str, dict[str, str | None]] = {
    "email": {"subject": "{{ offer }}", "body": "{{ offer }} {{ price_krw }}", "html": "<p>{{ offer }}</p>"},
    "sms": {"subject": None, "body": "{{ offer }} {{ price_krw }}", "html": None},
    "kakao": {"subject": None, "body": "{{ offer }} {{ price_krw }}", "html": None},
    "push": {"subject": None, "body": "{{ offer }}", "html": None},
    "dm": {"subject": None, "body": "{{ offer }} {{ price_krw }}", "html": None},
}


def user(email: str) -> User:
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def message_set(name: str = "6월 비타민", *, offer: str = "비타민C 1+1", **renditions: dict[str, str | None]) -> Any:
    """A message set with a rendition per channel (``renditions`` overrides one channel's texts)."""
    from plugins.cem_channels.voice import normalise_master, set_revision
    from plugins.cem_channels.voice_models import CemMessageSet, CemRendition

    master, problems = normalise_master({"offer": offer, "price": "39,000", "valid_from": "2026-06-01",
                                         "valid_until": "2026-06-30"})
    assert not problems, problems
    ms = CemMessageSet(name=name, category=None, master=master)
    texts = {**RENDITIONS, **renditions}
    ms.renditions = [CemRendition(channel=c, **t) for c, t in texts.items()]
    set_revision(ms)
    db.session.add(ms)
    db.session.commit()
    return ms


def branch_ids(code: str, *, with_email: bool = False) -> list[int]:
    stmt = (select(Customer.id).join(OrgUnit, OrgUnit.id == Customer.branch_id)
            .where(OrgUnit.code == code, Customer.pseudonymized_at.is_(None)))
    if with_email:
        stmt = stmt.where(Customer.email.is_not(None), Customer.email != "")
    return list(db.session.scalars(stmt.order_by(Customer.id)))


def consent(ids: list[int], channel: str = "email", *, granted: bool = True, night: bool = False) -> None:
    """Marketing consent on ``channel`` (and the night consent: the suite may run between 21:00 and 08:00 KST)."""
    rows = [{"customer_id": c, "channel": channel, "purpose": "marketing", "granted": granted, "method": "web",
             "source": "test"} for c in ids]
    if night:
        rows += [{**r, "purpose": "night_ads"} for r in rows]
    record_consents(rows)
    db.session.commit()


def scheduled(creator: User, ms: Any, *, steps: list[dict[str, Any]] | None = None,
              variants: list[dict[str, Any]] | None = None, start_at=None, **columns: Any) -> Any:
    """A ``scheduled`` campaign (as after approval and scheduling) of ``creator``: one e-mail step with
    ``ms`` unless ``steps`` say otherwise; audience B001 by default; holdout 0."""
    from plugins.cem_channels.campaign_models import (
        SCHEDULED,
        CemCampaign,
        CemCampaignStep,
        CemCampaignVariant,
    )

    values: dict[str, Any] = {"name": "6월 캠페인", "purpose": "marketing", "state": SCHEDULED,
                              "created_by_id": creator.id, "rules": {"all": [{"field": "branch", "op": "in",
                                                                              "value": ["B001"]}]},
                              "start_at": start_at or utcnow() - timedelta(minutes=1), "holdout_share": 0.0,
                              "use_global_control": True, "seed": 42, "counts": {}}
    values.update(columns)
    campaign = CemCampaign(**values)
    for i, spec in enumerate(steps or [{"channel": "email"}], start=1):
        campaign.steps.append(CemCampaignStep(position=i, message_set_id=spec.pop("message_set_id", ms.id), **spec))
    for spec in variants or []:
        campaign.variants.append(CemCampaignVariant(**spec))
    db.session.add(campaign)
    db.session.commit()
    return campaign


def messages(campaign: Any, step: int | None = None) -> list[Message]:
    db.session.expire_all()
    stmt = select(Message).where(Message.source == "cem_channels", Message.source_object == campaign.source_object)
    if step is not None:
        stmt = stmt.where(Message.step == str(step))
    return list(db.session.scalars(stmt.order_by(Message.customer_id, Message.id)))


def recipients(campaign: Any) -> dict[int, tuple[str, str | None]]:
    rows = db.session.execute(text("SELECT customer_id, arm, variant FROM cem_campaign_recipient "
                                   "WHERE campaign_id = :c"), {"c": campaign.id}).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def set_status(ids: list[int], status: str, reason: str | None = None) -> None:
    """Settle messages by hand (what a dispatcher run would have done)."""
    if ids:
        db.session.execute(Message.__table__.update().where(Message.id.in_(ids)).values(
            status=status, status_reason=reason, sent_at=utcnow() if status == "sent" else None, updated_at=utcnow()))
        db.session.commit()
