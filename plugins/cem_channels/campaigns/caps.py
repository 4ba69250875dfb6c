"""Cross-channel frequency caps: at most ``per_day`` marketing contacts in the rolling window
(now − 24 h, now] and ``per_7_days`` in (now − 7 × 24 h, now], over every channel and every source.

What counts is the core **contact history** (``contact``, purpose ``marketing``): one row per message
the dispatcher sent (e-mail, SMS, KakaoTalk, push, a postal letter marked mailed), per logged phone
call and per used target list — the same record "recently contacted" reads, so a customer called by
branch staff on Monday counts like an e-mail. Service messages are neither capped nor counted
(CE-9). The index ``ix_contact_customer_at`` (customer, at) answers each customer's window.

The send-time policy ``cem.frequency_cap`` (order 40, after consent, the 080 list and the 친구톡
night rule) suppresses a marketing message whose customer is at a cap; messages allowed earlier in
the same batch count too, so one batch never carries three messages to a customer capped at two.
Two dispatchers on PostgreSQL may each let one message through before the other's contact rows are
written (the dispatcher records contacts in groups of 20): the cap may be exceeded by the messages
in flight, never by a whole campaign.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, false, func, or_, select
from sqlalchemy.sql import ClauseElement, Select

from portal.toolkit import Contact, Verdict, chunked, db, get_settings, id_in, utcnow

from ..campaign_models import CemCampaign

REASON = "cem.frequency_cap"
DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
SOURCE = "cem_channels"
#: How many customer ids one window query takes (a batch is at most a few hundred).
CHUNK = 1000


def _cap(value: Any) -> int | None:
    """A stored cap: None or empty = no cap; otherwise a positive whole number."""
    if value in (None, ""):
        return None
    cap = int(value)
    if cap < 1:
        raise ValueError(f"a frequency cap must be at least 1, not {cap}")
    return cap


def setting_caps() -> tuple[int | None, int | None]:
    """The add-on's caps (``cap_per_day``, ``cap_per_7_days``; empty = no cap). A bad stored value
    counts as no cap rather than stopping every send."""
    settings = get_settings("cem_channels") or {}
    caps = []
    for name in ("cap_per_day", "cap_per_7_days"):
        try:
            caps.append(_cap(settings.get(name)))
        except (TypeError, ValueError):
            caps.append(None)
    return caps[0], caps[1]


def campaign_caps(campaign: CemCampaign, defaults: tuple[int | None, int | None] | None = None
                  ) -> tuple[int | None, int | None]:
    """The caps a campaign's messages are held to: its own, else the add-on's settings (per cap)."""
    day, week = defaults if defaults is not None else setting_caps()
    return (campaign.cap_per_day if campaign.cap_per_day is not None else day,
            campaign.cap_per_7_days if campaign.cap_per_7_days is not None else week)


def _naive_utc(now: datetime) -> datetime:
    from datetime import UTC

    return now if now.tzinfo is None else now.astimezone(UTC).replace(tzinfo=None)


def capped_ids(customer_ids_select: Select | Iterable[int], *, now: datetime | None = None,
               per_day: int | None = None, per_7_days: int | None = None) -> Select:
    """A ``SELECT customer_id`` of the given customers who are at a cap now: one more marketing
    message would exceed ``per_day`` in (now − 24 h, now] or ``per_7_days`` in (now − 7 d, now].

    ``customer_ids_select`` is a SELECT of one column of customer ids (an audience) or a short list
    of ids. Both caps None → a SELECT of nobody. Caps below 1 raise ``ValueError`` (the campaign
    validation answers 422 first)."""
    per_day, per_7_days = _cap(per_day), _cap(per_7_days)
    at = _naive_utc(now or utcnow())
    if per_day is None and per_7_days is None:
        return select(Contact.customer_id).where(false())
    if isinstance(customer_ids_select, Select | ClauseElement):
        who = Contact.customer_id.in_(customer_ids_select)
    else:
        who = Contact.customer_id.in_(sorted({int(i) for i in customer_ids_select}))
    over = []
    if per_7_days is not None:
        over.append(func.count() >= per_7_days)
    if per_day is not None:
        over.append(func.sum(case((Contact.at > at - DAY, 1), else_=0)) >= per_day)
    return (select(Contact.customer_id)
            .where(who, Contact.purpose == "marketing", Contact.at > at - WEEK, Contact.at <= at)
            .group_by(Contact.customer_id).having(or_(*over)))


def capped_count(customer_ids_select: Select | Iterable[int], *, now: datetime | None = None,
                 per_day: int | None = None, per_7_days: int | None = None) -> int:
    """How many of the given customers are at a cap now (the audience preview's ``cem.frequency_cap``)."""
    inner = capped_ids(customer_ids_select, now=now, per_day=per_day, per_7_days=per_7_days).subquery()
    return int(db.session.execute(select(func.count()).select_from(inner)).scalar_one())


def recent_counts(customer_ids: Iterable[int], now: datetime) -> dict[int, list[int]]:
    """``{customer_id: [in the last 24 h, in the last 7 days]}`` of marketing contacts (customers
    with none are missing); one indexed query per thousand customers."""
    at = _naive_utc(now)
    ids = sorted({int(i) for i in customer_ids})
    counts: dict[int, list[int]] = {}
    for chunk in chunked(ids, CHUNK):
        rows = db.session.execute(
            select(Contact.customer_id, func.sum(case((Contact.at > at - DAY, 1), else_=0)), func.count())
            .where(id_in(Contact.customer_id, chunk), Contact.purpose == "marketing",
                   Contact.at > at - WEEK, Contact.at <= at)
            .group_by(Contact.customer_id))
        for cid, day, week in rows:
            counts[int(cid)] = [int(day or 0), int(week or 0)]
    return counts


def _campaign_id(m: Any) -> int | None:
    if m.source != SOURCE or not m.source_object or not str(m.source_object).startswith("campaign:"):
        return None
    try:
        return int(str(m.source_object).split(":", 1)[1])
    except ValueError:
        return None


def frequency_cap_check(messages: list[Any], now: datetime) -> dict[int, Verdict]:
    """Suppress marketing messages to customers at a cap (missing id = allowed); two queries a batch.

    A campaign's messages use its own caps where set, every other marketing message (any source)
    the add-on's settings. Messages are taken in their due order; each one allowed counts against
    the customer's windows for the rest of the batch."""
    marketing = [m for m in messages if m.purpose == "marketing" and m.customer_id is not None]
    if not marketing:
        return {}
    defaults = setting_caps()
    campaign_ids = {cid for cid in (_campaign_id(m) for m in marketing) if cid is not None}
    caps_by_campaign: dict[int, tuple[int | None, int | None]] = {}
    if campaign_ids:
        for cid, day, week in db.session.execute(
                select(CemCampaign.id, CemCampaign.cap_per_day, CemCampaign.cap_per_7_days)
                .where(CemCampaign.id.in_(sorted(campaign_ids)))):
            caps_by_campaign[cid] = (day if day is not None else defaults[0], week if week is not None else defaults[1])
    capped: list[tuple[Any, int | None, int | None]] = []
    for m in marketing:
        day, week = caps_by_campaign.get(_campaign_id(m) or 0, defaults)
        if day is not None or week is not None:
            capped.append((m, day, week))
    if not capped:
        return {}
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    counts.update(recent_counts({m.customer_id for m, _, _ in capped}, now))
    verdicts: dict[int, Verdict] = {}
    for m, day, week in sorted(capped, key=lambda t: (t[0].not_before or now, t[0].id)):
        seen = counts[m.customer_id]
        if (day is not None and seen[0] >= day) or (week is not None and seen[1] >= week):
            verdicts[m.id] = Verdict(False, REASON)
        else:
            seen[0] += 1
            seen[1] += 1
    return verdicts


POLICIES: list[dict[str, Any]] = [{"name": REASON, "order": 40, "check": frequency_cap_check}]
