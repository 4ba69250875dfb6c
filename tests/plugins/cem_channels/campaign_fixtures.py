"""Shared helpers for campaign tests (import them; they are not pytest fixtures): the seeded
accounts, message sets, a draft campaign, marketing consent for a few customers, noon KST.

Every helper works in the test's app context and commits, so requests see a settled database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")
EMAILS = {"admin": "admin@example.com", "hq": "hq@example.com", "reviewer": "reviewer@example.com",
          "store1": "store1@example.com", "store2": "store2@example.com", "leader1": "leader1@example.com"}
#: A rendition for every channel a step may name that needs one (phone needs none; dm has its own).
DEFAULT_RENDITIONS: dict[str, dict[str, str]] = {
    "email": {"subject": "{{ offer }}", "body": "{{ offer }} {{ price_krw }}", "html": "<p>{{ offer }}</p>"},
    "sms": {"body": "{{ offer }} {{ price_krw }}"},
    "kakao": {"body": "{{ offer }} {{ price_krw }}"},
    "push": {"body": "{{ offer }}"},
    "dm": {"body": "{{ offer }} {{ price_krw }}"},
}


def users() -> SimpleNamespace:
    """The seeded demo accounts: ``hq``, ``reviewer``, ``store1`` (B001 branch staff), ``store2``
    (B002), ``leader1`` (group G01 leader), ``admin``."""
    from portal.toolkit import User, db

    found = {u.email: u for u in db.session.scalars(db.select(User).where(User.email.in_(EMAILS.values())))}
    return SimpleNamespace(**{k: found[v] for k, v in EMAILS.items()})


def noon_kst(days: int = 1) -> datetime:
    """Naive UTC of noon KST ``days`` from today (KST): outside the night rule, in the future."""
    today = datetime.now(KST).date() + timedelta(days=days)
    return datetime(today.year, today.month, today.day, 12, tzinfo=KST).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def make_message_set(name: str = "6월 비타민", *, category: str | None = "건강식품", owner: Any = None,
                     channels: tuple[str, ...] = ("email", "sms", "kakao", "push", "dm"),
                     renditions: dict[str, dict[str, str]] | None = None, **master: Any) -> Any:
    """A stored message set (revision set) with renditions for ``channels`` (``renditions``
    overrides a channel's texts). ``owner``: a branch-staff user places it on their branch;
    default nowhere in particular (HQ's, usable by everyone)."""
    from plugins.cem_channels.voice import normalise_master, set_revision
    from plugins.cem_channels.voice_models import CemMessageSet, CemRendition
    from portal.toolkit import db

    raw = {"offer": "비타민C 1+1", "price": "39,000", "valid_from": "2026-06-01", "valid_until": "2026-06-30", **master}
    clean, problems = normalise_master(raw)
    assert not problems, problems
    org_unit_id = partner_group_id = None
    if owner is not None:
        for lr in owner.local_roles:
            org_unit_id = org_unit_id or lr.org_unit_id
            partner_group_id = partner_group_id or lr.partner_group_id
    ms = CemMessageSet(name=name, category=category, master=clean, org_unit_id=org_unit_id,
                       partner_group_id=partner_group_id, created_by_id=getattr(owner, "id", None))
    texts = {**DEFAULT_RENDITIONS, **(renditions or {})}
    ms.renditions = [CemRendition(channel=c, **texts[c]) for c in channels]
    set_revision(ms)
    db.session.add(ms)
    db.session.commit()
    return ms


def branch_rules(*codes: str) -> dict[str, Any]:
    """Segment rules: customers of these branches."""
    return {"all": [{"field": "branch", "op": "in", "value": list(codes)}]}


def campaign_data(message_set: Any, **overrides: Any) -> dict[str, Any]:
    """The input of a valid marketing SMS draft (one step, B001's customers) for the service/API."""
    data: dict[str, Any] = {
        "name": "6월 비타민 문자", "purpose": "marketing", "rules": branch_rules("B001"),
        "steps": [{"channel": "sms", "message_set_id": message_set.id}],
        "holdout_share": 0.1, "use_global_control": True,
    }
    data.update(overrides)
    return data


def make_campaign(actor: Any, message_set: Any = None, **overrides: Any) -> Any:
    """A draft campaign created by ``actor`` through the campaign service (``campaign_data`` with
    ``overrides``); a fresh message set when none is given. Committed."""
    from plugins.cem_channels.campaigns.service import create_draft
    from portal.toolkit import db

    ms = message_set if message_set is not None else make_message_set()
    campaign = create_draft(actor, campaign_data(ms, **overrides))
    db.session.commit()
    return campaign


def grant_marketing(customer_ids: list[int], channel: str = "sms", *, granted: bool = True) -> int:
    """Record marketing consent (or its withdrawal) on ``channel`` for these customers, set-based."""
    from portal.toolkit import db, record_consents

    n = record_consents([{"customer_id": cid, "channel": channel, "purpose": "marketing", "granted": granted,
                          "method": "web", "source": "test"} for cid in customer_ids])
    db.session.commit()
    return n


def branch_customer_ids(code: str, limit: int | None = None) -> list[int]:
    """Ids of the (not erased) customers of branch ``code``, in id order."""
    from portal.toolkit import Customer, OrgUnit, db

    stmt = (db.select(Customer.id).join(OrgUnit, OrgUnit.id == Customer.branch_id)
            .where(OrgUnit.code == code, Customer.pseudonymized_at.is_(None)).order_by(Customer.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))
