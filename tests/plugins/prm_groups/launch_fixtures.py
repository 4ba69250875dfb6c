"""Helpers for the launch tests (import them; not pytest fixtures): a fresh partner group with many
customers built set-based, an approved programme with leader-voiced content, noon KST dates.

Each helper works in the test's app context and commits."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.plugins.cem_channels.campaign_fixtures import users

KST = ZoneInfo("Asia/Seoul")
EMAIL = {"subject": "{{ customer.name }}님께 드리는 건강 이야기",
         "body": "{{ customer.name }}님, 안녕하세요. 요즘 건강 습관은 어떠신가요? 다음 달 세미나에서 함께 이야기 나눠요."}
DM = {"body": "{{ customer.name }}님, 건강한 습관을 함께 만들어 가요. 세미나에서 뵙겠습니다."}


def make_group(code: str = "G90", *, customers: int = 1_000, partners: int = 10, consented: int | None = None,
               channel: str = "email") -> tuple[Any, list[int]]:
    """A partner group ``code`` with a top partner and ``partners - 1`` distributors under it and
    ``customers`` customers spread over the partners, with an e-mail address, a phone and a postal
    address each; the first ``consented`` of them (default all) consent to marketing on
    ``channel`` (the rest have no consent, so they are suppressed). Bulk inserts, no ORM per
    customer. Returns (group, customer ids in id order)."""
    from sqlalchemy import insert, select

    from portal.toolkit import Customer, OrgUnit, Partner, PartnerGroup, db, utcnow

    group = PartnerGroup(code=code, name=f"그룹 {code}")
    db.session.add(group)
    db.session.flush()
    root = Partner(group_id=group.id, code=f"{code}-0001", name=f"{code} 리더", level="leader")
    db.session.add(root)
    db.session.flush()
    root.path, root.depth = f"/{root.id}/", 0
    ids = [root.id]
    for i in range(2, partners + 1):
        p = Partner(group_id=group.id, code=f"{code}-{i:04d}", name=f"{code} 사업자 {i}", sponsor_id=root.id)
        db.session.add(p)
        db.session.flush()
        p.path, p.depth = f"/{root.id}/{p.id}/", 1
        ids.append(p.id)
    branch = db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == "B001"))
    now = utcnow()
    db.session.execute(insert(Customer), [
        {"code": f"{code}C{i:06d}", "name": f"고객{i}", "email": f"c{i}@{code.lower()}.example.com",
         "phone": f"010{(50_000_000 + i) % 100_000_000:08d}", "address": f"서울시 중구 세종대로 {i}",
         "postal_code": "04524", "branch_id": branch, "partner_id": ids[i % len(ids)], "created_at": now,
         "updated_at": now} for i in range(customers)])
    cids = list(db.session.scalars(select(Customer.id).where(Customer.code.like(f"{code}C%")).order_by(Customer.id)))
    grant(cids[: len(cids) if consented is None else consented], channel)
    db.session.commit()
    settle()
    return group, cids


def settle() -> None:
    """PostgreSQL: fresh statistics after the bulk inserts, as autovacuum gives a settled database
    (planned on stale statistics, the newest-consent anti-join runs as nested loops over every
    consent for each customer)."""
    from sqlalchemy import text

    from portal.toolkit import db

    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE customer, consent, partner, partner_group"))
        db.session.commit()


def grant(customer_ids: list[int], channel: str = "email") -> None:
    """Marketing consent on ``channel`` recorded a day ago (bulk insert)."""
    from sqlalchemy import insert

    from portal.toolkit import Consent, db, utcnow

    at = utcnow() - timedelta(days=1)
    for start in range(0, len(customer_ids), 10_000):
        db.session.execute(insert(Consent), [
            {"customer_id": cid, "channel": channel, "purpose": "marketing", "granted": True, "method": "web",
             "recorded_at": at, "kind": "consent", "source": "test"} for cid in customer_ids[start:start + 10_000]])


def future_day(days: int = 7) -> date:
    return datetime.now(KST).date() + timedelta(days=days)


def make_programme(group: Any, *, seed: int = 42, holdout_share: float = 0.1, channels: tuple[str, ...] = ("email",),
                   approved: bool = True, state: str = "approved", rules: Any = None, extra_steps: list[dict] = (),
                   name: str = "건강식품 지원 프로그램") -> Any:
    """An ``approved`` programme for ``group`` in 건강식품 with one message step on ``channels`` whose
    latest revision the group's leader (leader1) approved — or not (``approved=False``)."""
    from sqlalchemy import select

    from plugins.prm_groups.models import PrmContentRevision, PrmProgramme, PrmStep
    from portal.toolkit import Category, Partner, db, utcnow

    u = users()
    root = db.session.scalar(select(Partner.id).where(Partner.group_id == group.id, Partner.sponsor_id.is_(None))
                             .order_by(Partner.id).limit(1))
    health = db.session.scalar(select(Category).where(Category.code == "health"))
    run = future_day(7)
    p = PrmProgramme(name=name, partner_group_id=group.id, partner_id=root, category_id=health.id,
                     baseline_start=run - timedelta(days=365), baseline_end=run - timedelta(days=1),
                     run_start=run, run_end=run + timedelta(days=30), measure_start=run,
                     measure_end=run + timedelta(days=60), design=["holdout", "did_vs_groups"],
                     holdout_share=holdout_share, seed=seed, state=state, created_by_id=u.hq.id)
    db.session.add(p)
    db.session.flush()
    step = PrmStep(programme_id=p.id, position=1, kind="message", title="리더의 편지", channels=list(channels),
                   rules=rules, offset_days=0)
    db.session.add(step)
    db.session.flush()
    content = {c: dict(EMAIL if c == "email" else DM) for c in channels}
    rev = PrmContentRevision(programme_id=p.id, step_id=step.id, number=1, content=content, signer="김한빛",
                             variables=["name"], sha256="0" * 64, created_by_id=u.hq.id,
                             approved_by_id=u.leader1.id if approved else None,
                             approved_at=utcnow() if approved else None, approval_note="좋습니다" if approved else None)
    db.session.add(rev)
    for i, extra in enumerate(extra_steps, start=2):
        s = PrmStep(programme_id=p.id, position=i, **extra)
        db.session.add(s)
        db.session.flush()
        if s.kind == "message":
            db.session.add(PrmContentRevision(
                programme_id=p.id, step_id=s.id, number=1, content={c: dict(EMAIL if c == "email" else DM)
                                                                     for c in s.channels},
                signer="김한빛", variables=["name"], sha256="1" * 64, created_by_id=u.hq.id,
                approved_by_id=u.leader1.id, approved_at=utcnow(), approval_note=None))
    db.session.commit()
    return p
