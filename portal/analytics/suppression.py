"""Suppression: who must not be contacted on a channel, and why — as columns of one query.

Reasons, in priority order (a customer excluded for several reasons is counted once, under the
first that applies; the "any" counts say how many customers each reason hits on its own):

1. ``no_consent`` — no marketing consent record for the channel;
2. ``opted_out`` — the newest record withdraws consent;
3. ``consent_expired`` — the newest record grants it, but longer ago than
   ``PORTAL_CONSENT_VALID_DAYS`` (default 730: re-confirm every 2 years; a re-confirmation notice
   restarts the period — :mod:`portal.contact.rules`);
4. ``invalid_phone`` (sms, kakao, phone) / ``invalid_email`` (email) / ``invalid_address`` (dm) —
   a contact field the channel needs (the channel registry's ``fields``) is empty or has an open
   data-quality issue; a channel that needs none (push) has no such reason;
5. ``complaint`` — the customer's complaint flag is set;
6. ``recently_contacted`` — a marketing contact on the same channel (``contact`` table: a list
   marked used, a message sent, a logged call) within ``PORTAL_CONTACT_COOLDOWN_DAYS`` (default
   14). A draft list is not contact history, so lists prepared side by side never block each
   other; a used list that was later cancelled still is (its messages went out);
7. then the plugins' reasons (``portal_suppression_reasons``), by their ``order``.

Reasons 1–6 are built from :mod:`portal.contact.rules`, the same conditions the send-time check
(``portal.contact.may_contact_many``) uses, so a list and the dispatcher cannot disagree.

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
from functools import reduce
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, ColumnElement, and_, case, false, func, literal

from ..contact import rules
from ..contact.registry import CORE_CHANNELS, UnknownChannel, require_channel
from ..contact.rules import (  # noqa: F401  (public here since before the contact service)
    DEFAULT_CONSENT_VALID_DAYS,
    DEFAULT_CONTACT_COOLDOWN_DAYS,
    consent_valid_days,
    contact_cooldown_days,
)
from ..models import utcnow

log = logging.getLogger(__name__)

#: The core channels' contact reason (kept for callers from before the channel registry; the rule
#: itself reads the registry: :func:`portal.contact.rules.address_reason`).
CONTACT_REASON = {c["code"]: rules.FIELD_REASON[c["fields"][0]] for c in CORE_CHANNELS if c["fields"]}

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


def suppression(channel: str, now: Any = None, whole_channel: bool = False) -> Suppression:
    """The suppression reasons for ``channel`` (a registered channel that takes target lists), in
    priority order; ``ValueError`` for any other.

    ``whole_channel``: the segment is large (see :func:`portal.analytics.extraction.is_large`), so
    read the channel's current consents in one pass instead of customer by customer.
    """
    try:
        ch = require_channel(channel, extraction=True)
    except UnknownChannel as exc:
        raise ValueError(str(exc)) from None
    now = now or utcnow()
    target, on, lc = rules.newest_consent(channel, "marketing", whole_channel=whole_channel)
    conditions = dict(rules.consent_conditions(lc, now))
    missing = rules.address_missing(ch)
    if missing is not None:
        conditions[rules.address_reason(ch)] = missing
    conditions["complaint"] = rules.complaint()
    conditions["recently_contacted"] = rules.recently_contacted(channel, now)
    reasons = [Reason(name, CORE_REASONS[name], cond) for name, cond in conditions.items()]
    reasons += _plugin_reasons(channel, set(CORE_REASONS))
    return Suppression(channel, [(target, on)], reasons)


def reason_labels(channel: str | None = None) -> dict[str, Any]:
    """Every reason's label (core first, then the active plugins'), for pages and charts."""
    labels = dict(CORE_REASONS)
    if channel is not None:
        labels.update(suppression(channel).labels())
    return labels
