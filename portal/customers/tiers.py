"""The tier service: the one way to write ``customer.tier`` (issue 14 item 1).

``customer.tier`` is a mirror an add-on keeps (the loyalty add-on's tier), shown on lists and the
customer page and usable in segments. Add-ons write it only through :func:`set_tiers` and
:func:`clear_tiers` (``portal.toolkit``), never with their own SQL on the customer table: the core
validates the codes, writes set-based (one statement for a million customers, rows whose tier does
not change left alone — no new row version, no index entry), and audits one summary per call.

No per-customer event is fired: a tier recompute touches up to every customer, and
``portal_customer_changed`` once per customer would turn one statement into a million hook calls.
The audit summary (``customer.tiers_set``) says who wrote how many tiers, from which source.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Integer,
    Select,
    String,
    TextClause,
    and_,
    bindparam,
    case,
    distinct,
    func,
    or_,
    select,
    update,
)

from .. import audit
from ..extensions import db
from ..models import Customer
from .labels import register as register_labels
from .labels import register_summary

TIER_CODE = re.compile(r"[A-Za-z0-9_.-]{1,20}")  # customer.tier is VARCHAR(20)
SOURCE = re.compile(r"[a-z0-9_.:-]{1,40}")
CHUNK = 5_000

register_labels("audit_action", {"customer.tiers_set": _l("Tiers set"), "customer.tiers_cleared": _l("Tiers cleared")})
register_summary("customer.tiers_set", r"(?P<n>\d+) customers by (?P<source>\S+)",
                 _l("%(n)s customers by %(source)s"))
register_summary("customer.tiers_cleared", r"(?P<n>\d+) customers by (?P<source>\S+)",
                 _l("%(n)s customers by %(source)s"))


class TierError(ValueError):
    """Refused tier assignments (bad code, unknown customer id, bad source): nothing was written."""


def _check_source(source: str) -> None:
    if not isinstance(source, str) or not SOURCE.fullmatch(source):
        raise TierError(f"source {source!r} must be 1-40 lower-case letters, digits or _ . : -")


def _check_code(code: Any, allowed: Collection[str] | None) -> None:
    if code is None:
        return
    if not isinstance(code, str) or not TIER_CODE.fullmatch(code):
        raise TierError(f"tier code {code!r} must be 1-20 letters, digits or _ . -")
    if allowed is not None and code not in allowed:
        raise TierError(f"tier code {code!r} is not one of {sorted(allowed)}")


def set_tiers(assignments: Mapping[int, str | None] | Select | TextClause, *, source: str,
              allowed: Collection[str] | None = None, params: Mapping[str, Any] | None = None,
              actor: Any = None) -> int:
    """Write ``customer.tier`` for many customers at once; returns how many rows changed.

    ``assignments``: customer id → tier code (``None`` clears), or a query (SQLAlchemy ``Select``
    or ``text()``, bound with ``params``) yielding ``customer_id, tier`` rows — the set-based form
    for a recompute over every customer. Codes must be 1–20 letters, digits, ``_ . -`` and, with
    ``allowed``, one of those. Everything is validated before anything is written; a refusal raises
    :class:`TierError`. The caller commits (an audit summary goes with the change).
    """
    _check_source(source)
    db.session.flush()  # the caller's pending changes go first; nothing of theirs is expired unflushed
    if isinstance(assignments, Mapping):
        changed = _set_from_mapping(assignments, allowed)
    elif isinstance(assignments, Select | TextClause):
        changed = _set_from_query(assignments, allowed, dict(params or {}))
    else:
        raise TierError("assignments must be a mapping of customer id to tier, or a query")
    if changed:
        audit.record("customer.tiers_set", summary=f"{changed} customers by {source}", actor=actor)
    return changed


def clear_tiers(*, source: str, codes: Collection[str] | None = None, actor: Any = None) -> int:
    """Clear ``customer.tier`` where it holds one of ``codes`` (all tiers when ``None``) — e.g. an
    add-on uninstalled with its data; returns how many rows changed. The caller commits."""
    _check_source(source)
    db.session.flush()
    stmt = update(Customer).where(Customer.tier.is_not(None))
    if codes is not None:
        codes = list(codes)
        for code in codes:
            _check_code(code, None)
        if not codes:
            return 0
        stmt = stmt.where(Customer.tier.in_(codes))
    changed = db.session.execute(stmt.values(tier=None).execution_options(synchronize_session=False)).rowcount or 0
    _expire_tiers()
    if changed:
        audit.record("customer.tiers_cleared", summary=f"{changed} customers by {source}", actor=actor)
    return int(changed)


def _set_from_mapping(assignments: Mapping[int, str | None], allowed: Collection[str] | None) -> int:
    rows = []
    for cid, code in assignments.items():
        if isinstance(cid, bool) or not isinstance(cid, int):
            raise TierError(f"customer id {cid!r} must be a whole number")
        _check_code(code, allowed)
        rows.append({"cid": cid, "t": code})
    if not rows:
        return 0
    ids = [r["cid"] for r in rows]
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        found.update(db.session.execute(select(Customer.id).where(Customer.id.in_(ids[start:start + CHUNK]))).scalars())
    missing = sorted(set(ids) - found)
    if missing:
        raise TierError(f"no such customer: {missing[:10]}")
    stmt = (update(Customer.__table__).where(Customer.__table__.c.id == bindparam("cid"),
                                             Customer.__table__.c.tier.is_distinct_from(bindparam("t")))
            .values(tier=bindparam("t")))
    changed = 0
    for start in range(0, len(rows), CHUNK):
        result = db.session.execute(stmt, rows[start:start + CHUNK])
        changed += result.rowcount or 0
    _expire_tiers()
    return int(changed)


def _set_from_query(query: Select | TextClause, allowed: Collection[str] | None, params: dict[str, Any]) -> int:
    """One validation query over the rows, then one ``UPDATE customer … FROM (query)``."""
    if isinstance(query, TextClause):
        query = query.columns(customer_id=Integer, tier=String)
    rows = query.subquery("tier_rows")
    if not {"customer_id", "tier"} <= set(rows.c.keys()):
        raise TierError("the query must yield the columns customer_id and tier")
    cid, tier = rows.c.customer_id, rows.c.tier
    bad_length = func.sum(case((and_(tier.is_not(None), or_(func.length(tier) < 1, func.length(tier) > 20)), 1),
                               else_=0))
    checks = [bad_length, func.count(cid) - func.count(distinct(cid))]
    if allowed is not None:
        allowed = list(allowed)
        for code in allowed:
            _check_code(code, None)
        checks.append(func.sum(case((and_(tier.is_not(None), tier.not_in(allowed)), 1), else_=0)))
    bad_code, duplicates, *not_allowed = db.session.execute(select(*checks), params).one()
    if bad_code:
        raise TierError(f"{bad_code} tier codes are empty or longer than 20 characters")
    if duplicates:
        raise TierError(f"{duplicates} customers are assigned more than one tier")
    if not_allowed and not_allowed[0]:
        raise TierError(f"{not_allowed[0]} tier codes are not one of {sorted(allowed or [])}")
    # In id order, so the customer table is visited (and its pages rewritten) page by page.
    ordered = select(cid.label("customer_id"), tier.label("tier")).order_by(cid).subquery("m")
    table = Customer.__table__
    stmt = (update(table).where(table.c.id == ordered.c.customer_id, table.c.tier.is_distinct_from(ordered.c.tier))
            .values(tier=ordered.c.tier).execution_options(synchronize_session=False))
    result = db.session.execute(stmt, params)
    _expire_tiers()
    return int(result.rowcount or 0)


def _expire_tiers() -> None:
    """Customers loaded in this session show the tier just written (on their next read)."""
    session = db.session()
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Customer):
            session.expire(obj, ["tier"])
