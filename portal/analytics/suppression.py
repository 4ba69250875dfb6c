"""Suppression: who must not be contacted on a channel, and why — as columns of one query.

Reasons, in priority order (a customer excluded for several reasons is counted once, under the
first that applies; the "any" counts say how many customers each reason hits on its own):

1. ``no_consent`` — no marketing consent record for the channel;
2. ``opted_out`` — the newest record withdraws consent;
3. ``consent_expired`` — the newest record grants it, but longer ago than
   ``PORTAL_CONSENT_VALID_DAYS`` (default 730: re-confirm every 2 years);
4. ``invalid_phone`` (sms, phone) / ``invalid_email`` (email) / ``invalid_address`` (dm) — the
   contact field is empty or has an open data-quality issue;
5. ``complaint`` — the customer's complaint flag is set;
6. ``recently_contacted`` — on a list for the same channel *used* (marked used: the contact
   moment) within ``PORTAL_CONTACT_COOLDOWN_DAYS`` (default 14). A draft list is not contact
   history, so lists prepared side by side never block each other; a used list that was later
   cancelled still is (its messages went out);
7. then the plugins' reasons (``portal_suppression_reasons``), by their ``order``.

How it stays fast at a million customers: the channel's current consent is one outer-joined row
per customer — for a large segment on PostgreSQL ``DISTINCT ON`` over ``ix_consent_channel_latest``
(an index-only walk, no sort), otherwise the newest record by an anti-join the planner can run as
index look-ups; open issues and recent contacts are correlated ``EXISTS`` that PostgreSQL hashes
once when small and probes by index otherwise. The counts are one ``GROUP BY`` over the first
reason's CASE (it stops at the first reason that applies); the "any" counts, when asked for, group
by a bit mask of every reason instead (each condition evaluated once, a few dozen groups).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import reduce
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, ColumnElement, and_, case, exists, false, func, literal, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    EXTRACTION_CHANNELS,
    Consent,
    Customer,
    Extraction,
    ExtractionMember,
    QualityIssue,
    utcnow,
)

log = logging.getLogger(__name__)

DEFAULT_CONSENT_VALID_DAYS = 730
DEFAULT_CONTACT_COOLDOWN_DAYS = 14
#: Quality-issue fields that make a channel's contact field unusable.
CHANNEL_FIELDS = {"sms": ("phone",), "phone": ("phone",), "email": ("email",), "dm": ("address", "postal_code")}
CONTACT_REASON = {"sms": "invalid_phone", "phone": "invalid_phone", "email": "invalid_email", "dm": "invalid_address"}

CORE_REASONS: dict[str, Any] = {
    "no_consent": _l("No marketing consent"),
    "opted_out": _l("Opted out"),
    "consent_expired": _l("Consent older than 2 years"),
    "invalid_phone": _l("No valid phone number"),
    "invalid_email": _l("No valid e-mail address"),
    "invalid_address": _l("No valid postal address"),
    "complaint": _l("Open complaint"),
    "recently_contacted": _l("Contacted recently"),
}


@dataclass(frozen=True)
class Reason:
    name: str
    label: Any
    condition: ColumnElement[bool]


@dataclass
class Suppression:
    """The reasons for one channel, as conditions over ``customer`` plus the outer join they need."""

    channel: str
    joins: list[tuple[Any, ColumnElement[bool]]]
    reasons: list[Reason]

    def apply(self, stmt: Any) -> Any:
        """Add the joins to a segment select (its FROM is ``customer``)."""
        for target, onclause in self.joins:
            stmt = stmt.outerjoin(target, onclause)
        return stmt

    def first_reason(self) -> ColumnElement[int]:
        """``CASE WHEN <reason 1> THEN 1 WHEN <reason 2> THEN 2 … ELSE 0 END``: 0 when the customer
        may be contacted (small integers group faster than names: no sort spilling to disk)."""
        return case(*[(r.condition, literal(i)) for i, r in enumerate(self.reasons, start=1)], else_=literal(0))

    def mask(self) -> ColumnElement[int]:
        """Bit *i* set when reason *i* applies (a NULL condition, possible from a plugin, does not)."""
        terms = [case((r.condition, literal(1 << i, BigInteger)), else_=literal(0, BigInteger))
                 for i, r in enumerate(self.reasons)]
        return reduce(lambda a, b: a + b, terms)

    def allowed(self) -> ColumnElement[bool]:
        """No reason applies — written as ``NOT r1 AND NOT r2 …`` so the planner can use anti-joins."""
        return and_(*[~_two_valued(r) for r in self.reasons])

    def labels(self) -> dict[str, Any]:
        return {r.name: r.label for r in self.reasons}

    def read_first(self, rows: list[Any]) -> tuple[int, dict[str, int]]:
        """(total, first-reason counts) from ``(first_reason, count)`` rows."""
        names = [r.name for r in self.reasons]
        first = dict.fromkeys(names, 0)
        total = 0
        for code, n in rows:
            total += int(n)
            if code:
                first[names[int(code) - 1]] += int(n)
        return total, first

    def read_masks(self, rows: list[Any]) -> tuple[int, dict[str, int], dict[str, int]]:
        """(total, first-reason counts, any counts) from ``(mask, count)`` rows."""
        names = [r.name for r in self.reasons]
        first = dict.fromkeys(names, 0)
        anyc = dict.fromkeys(names, 0)
        total = 0
        for mask, n in rows:
            mask, n = int(mask or 0), int(n)
            total += n
            hit = [i for i in range(len(names)) if mask >> i & 1]
            if hit:
                first[names[hit[0]]] += n
            for i in hit:
                anyc[names[i]] += n
        return total, first, anyc


def _two_valued(reason: Reason) -> ColumnElement[bool]:
    """The core's conditions are never NULL; a plugin's may be, and NULL means "does not apply"."""
    return reason.condition if reason.name in CORE_REASONS else func.coalesce(reason.condition, false())


def consent_valid_days() -> int:
    return int(current_app.config.get("PORTAL_CONSENT_VALID_DAYS", DEFAULT_CONSENT_VALID_DAYS))


def contact_cooldown_days() -> int:
    return int(current_app.config.get("PORTAL_CONTACT_COOLDOWN_DAYS", DEFAULT_CONTACT_COOLDOWN_DAYS))


def _empty(col: Any) -> ColumnElement[bool]:
    return or_(col.is_(None), func.trim(col) == "")


MAX_PLUGIN_REASONS = 20


def _plugin_reasons(channel: str, taken: set[str]) -> list[Reason]:
    """The active plugins' reasons for ``channel``; a contribution breaking the contract is logged and skipped."""
    from ..plugins import collect

    out: list[Reason] = []
    for spec in collect("portal_suppression_reasons"):
        try:
            name, condition = spec["name"], spec["condition"]
            channels = spec.get("channels")
            if not isinstance(name, str) or "." not in name or name in taken or not callable(condition):
                raise ValueError("needs a unique namespaced name (plugin.reason) and a callable condition")
            if len(out) >= MAX_PLUGIN_REASONS:
                raise ValueError(f"more than {MAX_PLUGIN_REASONS} plugin reasons")
            if channels is not None and channel not in channels:
                continue
            clause = condition(channel)
            if clause is None:
                continue
            out.append(Reason(name, spec.get("label", name), clause))
            taken.add(name)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("portal_suppression_reasons: ignoring %r: %s", spec.get("name") if isinstance(spec, dict) else spec, exc)
    return out


def _current_consent(channel: str, whole_channel: bool) -> tuple[Any, ColumnElement[bool], Any]:
    """(join target, ON clause, columns) for the newest marketing-consent record per customer on ``channel``
    (ties: the higher id); the columns are ``customer_id``, ``granted`` and ``recorded_at``.

    Two shapes, same rows. ``whole_channel`` (PostgreSQL, a large segment): ``DISTINCT ON`` over
    ``ix_consent_channel_latest`` — one index-only walk of the channel, then hashed. Otherwise an
    outer join with an anti-join for "no newer record", which the planner can also run as index
    look-ups for just the segment's customers (a branch, a few thousand people, the sample).
    """
    base = (Consent.channel == channel, Consent.purpose == "marketing")
    if whole_channel and db.engine.dialect.name == "postgresql":
        sub = (select(Consent.customer_id, Consent.granted, Consent.recorded_at).where(*base)
               .distinct(Consent.customer_id)
               .order_by(Consent.customer_id.desc(), Consent.recorded_at.desc(), Consent.id.desc())
               .subquery("sup_consent"))
        return sub, sub.c.customer_id == Customer.id, sub.c
    lc = aliased(Consent, name="sup_consent")
    newer = aliased(Consent, name="sup_newer")
    is_newer = or_(newer.recorded_at > lc.recorded_at, and_(newer.recorded_at == lc.recorded_at, newer.id > lc.id))
    on = and_(lc.customer_id == Customer.id, lc.channel == channel, lc.purpose == "marketing",
              ~exists().where(newer.customer_id == lc.customer_id, newer.channel == channel,
                              newer.purpose == "marketing", is_newer))
    return lc, on, lc


def suppression(channel: str, now: Any = None, whole_channel: bool = False) -> Suppression:
    """The suppression reasons for ``channel`` (one of ``EXTRACTION_CHANNELS``), in priority order.

    ``whole_channel``: the segment is large (see :func:`portal.analytics.extraction.is_large`), so
    read the channel's current consents in one pass instead of customer by customer.
    """
    if channel not in EXTRACTION_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    now = now or utcnow()
    target, on, lc = _current_consent(channel, whole_channel)
    open_issue = exists().where(QualityIssue.customer_id == Customer.id, QualityIssue.field.in_(CHANNEL_FIELDS[channel]),
                                QualityIssue.resolved_at.is_(None))
    contacted = exists().where(ExtractionMember.customer_id == Customer.id,
                               Extraction.id == ExtractionMember.extraction_id, Extraction.channel == channel,
                               Extraction.used_at >= now - timedelta(days=contact_cooldown_days()))
    if channel in ("sms", "phone"):
        contact = _empty(Customer.phone)
    elif channel == "email":
        contact = _empty(Customer.email)
    else:
        contact = or_(_empty(Customer.address), _empty(Customer.postal_code))
    conditions = {
        "no_consent": lc.customer_id.is_(None),
        "opted_out": lc.granted.is_(False),
        "consent_expired": and_(lc.granted.is_(True), lc.recorded_at < now - timedelta(days=consent_valid_days())),
        CONTACT_REASON[channel]: or_(contact, open_issue),
        "complaint": Customer.complaint.is_(True),
        "recently_contacted": contacted,
    }
    reasons = [Reason(name, CORE_REASONS[name], cond) for name, cond in conditions.items()]
    reasons += _plugin_reasons(channel, set(CORE_REASONS))
    return Suppression(channel, [(target, on)], reasons)


def reason_labels(channel: str | None = None) -> dict[str, Any]:
    """Every reason's label (core first, then the active plugins'), for pages and charts."""
    labels = dict(CORE_REASONS)
    if channel is not None:
        labels.update(suppression(channel).labels())
    return labels
