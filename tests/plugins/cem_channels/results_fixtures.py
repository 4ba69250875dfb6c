"""Hand-built launched campaigns for the results, A/B, tracking and call-list tests (owner H3).

Rows are written directly (campaign, steps, variants, frozen recipients, core messages, the core
experiment) the way the launch writes them, so these tests do not depend on the launch code.
Times are pinned to noon KST (03:00 UTC) so the night rule never answers instead.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

# Noon in Korea = 03:00 UTC: a day-time launch whatever time the suite runs.
LAUNCH = datetime(2026, 11, 2, 3, 0)  # Monday 2026-11-02 12:00 KST
LAUNCH_DAY = date(2026, 11, 2)


_SEQ = [0]


def customers(n: int, *, branch_code: str = "B001", email: bool = True, phone: bool = False) -> list[int]:
    """``n`` new customers of one branch (no sales, no consents: nothing of the demo data leaks
    into the counts), in id order."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Customer, OrgUnit

    branch_id = db.session.execute(select(OrgUnit.id).where(OrgUnit.code == branch_code)).scalar_one()
    made = []
    for _ in range(n):
        _SEQ[0] += 1
        i = _SEQ[0]
        made.append(Customer(code=f"RT{branch_code}{i:06d}", name=f"테스트{i}", branch_id=branch_id,
                             email=f"rt{i}@example.com" if email else None,
                             phone=f"0105{i:07d}" if phone else None))
    db.session.add_all(made)
    db.session.flush()
    return [c.id for c in made]


def make_campaign(*, name: str = "테스트 캠페인", channel: str = "email", steps: int = 1,
                  variants: tuple[str, ...] = (), default: str | None = None, started_at: datetime | None = LAUNCH,
                  state: str = "sending", branch_id: int | None = None, created_by_id: int | None = None,
                  **values: Any):
    """A campaign row with ``steps`` steps on ``channel`` and the A/B ``variants`` (codes)."""
    from plugins.cem_channels.campaign_models import CemCampaign, CemCampaignStep, CemCampaignVariant
    from portal.extensions import db

    campaign = CemCampaign(name=name, state=state, started_at=started_at, branch_id=branch_id,
                           created_by_id=created_by_id, **values)
    for pos in range(1, steps + 1):
        campaign.steps.append(CemCampaignStep(position=pos, channel=channel))
    for code in variants:
        campaign.variants.append(CemCampaignVariant(code=code, is_default=(code == (default or variants[0]))))
    db.session.add(campaign)
    db.session.flush()
    return campaign


def add_recipients(campaign, ids: list[int], arm: str = "treatment", variant: str | None = None) -> None:
    from sqlalchemy import insert

    from plugins.cem_channels.campaign_models import CemCampaignRecipient
    from portal.extensions import db

    if ids:
        db.session.execute(insert(CemCampaignRecipient), [
            {"campaign_id": campaign.id, "customer_id": cid, "arm": arm, "variant": variant} for cid in ids])


def queue(campaign, ids: list[int], *, channel: str = "email", step: int = 1, variant: str | None = None,
          purpose: str = "marketing", body: str = "안녕하세요 {{name}}님", html: str | None = None) -> list[int]:
    """Queue the step's core messages (key ``cem:<campaign>:<step>:<customer>``); their ids."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.toolkit import Message, queue_many

    rows = [{"channel": channel, "purpose": purpose, "customer_id": cid, "body": body, "html": html,
             "subject": "안내" if channel == "email" else None,
             "idempotency_key": f"cem:{campaign.id}:{step}:{cid}", "source": "cem_channels",
             "source_object": campaign.source_object, "step": str(step), "variant": variant} for cid in ids]
    queue_many([{k: v for k, v in r.items() if v is not None} for r in rows])
    db.session.flush()
    return list(db.session.execute(select(Message.id).where(
        Message.idempotency_key.in_([r["idempotency_key"] for r in rows])).order_by(Message.id)).scalars())


def settle(message_ids: list[int], status: str, *, reason: str | None = None, at: datetime = LAUNCH) -> None:
    """Put messages in a terminal state as the dispatcher would have (for counting tests)."""
    from sqlalchemy import update

    from portal.extensions import db
    from portal.toolkit import Message

    values: dict[str, Any] = {"status": status, "status_reason": reason}
    if status == "sent":
        values["sent_at"] = at
    db.session.execute(update(Message).where(Message.id.in_(message_ids)).values(**values)
                       .execution_options(synchronize_session=False))


def sale(customer_id: int, day: date, amount: int = 30000) -> None:
    from portal.extensions import db
    from portal.models import Customer, SaleLine

    branch_id = db.session.get(Customer, customer_id).branch_id
    db.session.add(SaleLine(customer_id=customer_id, branch_id=branch_id, sold_at=day, quantity=1,
                            unit_price=amount, amount=amount))


def launch(campaign, ids: list[int], *, holdout_share: float = 0.5, seed: int = 7) -> tuple[list[int], list[int]]:
    """The launch's measurement part, with the real core draw: the campaign's experiment, its arms
    frozen into ``cem_campaign_recipient``; returns (treatment ids, holdout ids)."""
    from portal.toolkit import create_experiment, draw, treatment_ids

    exp = create_experiment("cem_channels", campaign.source_object, seed=seed, holdout_share=holdout_share)
    draw(exp, ids)
    treatment = sorted(treatment_ids(exp))
    holdout = sorted(set(ids) - set(treatment))
    add_recipients(campaign, treatment, "treatment")
    add_recipients(campaign, holdout, "holdout")
    return treatment, holdout


def plus(at: datetime, **kw: Any) -> datetime:
    return at + timedelta(**kw)
