"""The contact rules, written once as SQL conditions over ``customer``.

Extraction's suppression (:mod:`portal.analytics.suppression`, a whole segment in one query) and the
send-time check (:func:`portal.contact.service.may_contact_many`, a batch of ids in one query) both
build their answers from these functions, so a list and the dispatcher cannot disagree about who
may be contacted: same consent state, same validity cut-off, same address rule.

Consent state on (channel, purpose) = the customer's newest consent row (any kind; ties: the higher
id). It is granted when that row's ``granted`` is true, and still valid when that row is younger
than ``PORTAL_CONSENT_VALID_DAYS`` (730). A ``reconfirmation_notice`` row can only be recorded while
the consent is granted and valid (:func:`portal.contact.service.record_consent` refuses it
otherwise) and carries ``granted = true``, so "the newest row's ``recorded_at``" *is* the start of
the current validity period: a notice restarts the clock, an expired consent stays expired until
the customer grants it again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from ..db_utils import is_postgres
from ..models import Consent, Customer, QualityIssue
from .models import Contact
from .registry import Channel

DEFAULT_CONSENT_VALID_DAYS = 730
DEFAULT_CONTACT_COOLDOWN_DAYS = 14
#: Suppression's name for "the channel's contact field is missing or flagged", by the first field
#: the channel needs (``may_contact`` reports all of them as ``no_address``).
FIELD_REASON = {"phone": "invalid_phone", "email": "invalid_email", "address": "invalid_address",
                "postal_code": "invalid_address"}


def consent_valid_days() -> int:
    return int(current_app.config.get("PORTAL_CONSENT_VALID_DAYS", DEFAULT_CONSENT_VALID_DAYS))


def contact_cooldown_days() -> int:
    return int(current_app.config.get("PORTAL_CONTACT_COOLDOWN_DAYS", DEFAULT_CONTACT_COOLDOWN_DAYS))


def consent_cutoff(now: datetime) -> datetime:
    """A consent recorded (or re-confirmed) before this instant has expired at ``now``."""
    return now - timedelta(days=consent_valid_days())


def cooldown_cutoff(now: datetime) -> datetime:
    """A contact at or after this instant keeps the customer "recently contacted" at ``now``."""
    return now - timedelta(days=contact_cooldown_days())


def _empty(col: Any) -> ColumnElement[bool]:
    return or_(col.is_(None), func.trim(col) == "")


def address_reason(ch: Channel) -> str | None:
    """Suppression's reason name for a missing address on ``ch`` (None: the channel needs none)."""
    return FIELD_REASON[ch.fields[0]] if ch.fields else None


def address_missing(ch: Channel, customer: Any = Customer) -> ColumnElement[bool] | None:
    """A field ``ch`` needs is empty or has an open data-quality issue; None when it needs none."""
    if not ch.fields:
        return None
    open_issue = exists().where(QualityIssue.customer_id == customer.id, QualityIssue.field.in_(ch.fields),
                                QualityIssue.resolved_at.is_(None))
    return or_(*[_empty(getattr(customer, f)) for f in ch.fields], open_issue)


def newest_consent(channel: str, purpose: str = "marketing", *, whole_channel: bool = False,
                   name: str = "sup_consent") -> tuple[Any, ColumnElement[bool], Any]:
    """(join target, ON clause, columns) for the newest consent row per customer on (``channel``,
    ``purpose``); the columns are ``customer_id``, ``granted`` and ``recorded_at``.

    Two shapes, same rows. ``whole_channel`` (PostgreSQL, a large segment): ``DISTINCT ON`` over
    ``ix_consent_channel_latest`` — one index-only walk of the channel, then hashed. Otherwise an
    outer join with an anti-join for "no newer row", which the planner runs as index look-ups for
    just the customers asked about (a branch, a dispatcher batch, the sample).
    """
    base = (Consent.channel == channel, Consent.purpose == purpose)
    if whole_channel and is_postgres():
        sub = (select(Consent.customer_id, Consent.granted, Consent.recorded_at).where(*base)
               .distinct(Consent.customer_id)
               .order_by(Consent.customer_id.desc(), Consent.recorded_at.desc(), Consent.id.desc())
               .subquery(name))
        return sub, sub.c.customer_id == Customer.id, sub.c
    lc = aliased(Consent, name=name)
    newer = aliased(Consent, name=f"{name}_newer")
    is_newer = or_(newer.recorded_at > lc.recorded_at, and_(newer.recorded_at == lc.recorded_at, newer.id > lc.id))
    on = and_(lc.customer_id == Customer.id, lc.channel == channel, lc.purpose == purpose,
              ~exists().where(newer.customer_id == lc.customer_id, newer.channel == channel,
                              newer.purpose == purpose, is_newer))
    return lc, on, lc


def consent_conditions(lc: Any, now: datetime) -> dict[str, ColumnElement[bool]]:
    """``no_consent`` / ``opted_out`` / ``consent_expired`` over the newest-consent columns ``lc``
    (from :func:`newest_consent`), in this order; none applies when the consent is granted and valid."""
    return {
        "no_consent": lc.customer_id.is_(None),
        "opted_out": lc.granted.is_(False),
        "consent_expired": and_(lc.granted.is_(True), lc.recorded_at < consent_cutoff(now)),
    }


def consent_valid(lc: Any, now: datetime) -> ColumnElement[bool]:
    """The newest consent row grants and is still valid (the opposite of the three conditions)."""
    return and_(lc.customer_id.is_not(None), lc.granted.is_(True), lc.recorded_at >= consent_cutoff(now))


def complaint() -> ColumnElement[bool]:
    return Customer.complaint.is_(True)


def erased() -> ColumnElement[bool]:
    return Customer.pseudonymized_at.is_not(None)


def recently_contacted(channel: str, now: datetime, customer_id: Any = None) -> ColumnElement[bool]:
    """A marketing contact on ``channel`` within the cool-down (``PORTAL_CONTACT_COOLDOWN_DAYS``):
    a sent message, a used target list, a logged call … — every row of ``contact``. ``customer_id``:
    the column to correlate with (default ``customer.id``)."""
    who = Customer.id if customer_id is None else customer_id
    return exists().where(Contact.customer_id == who, Contact.channel == channel,
                          Contact.purpose == "marketing", Contact.at >= cooldown_cutoff(now))


def never() -> ColumnElement[bool]:
    return false()
