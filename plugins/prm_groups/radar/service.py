"""The weak-category radar: for each partner group and category over a window, the share of the
group's active customers who bought in the category, against the same share over all *other*
groups pooled, with exact binomial control limits (funnel-plot limits, Spiegelhalter 2005).

Why exact limits: groups differ in size, so a fixed threshold ("below 15 %") flags small groups by
chance and misses big ones. ``binom.ppf(q, n, p0) / n`` gives the range a group of *n* active
customers would show 95 % (alert) or 99.8 % (alarm) of the time if it bought like the others.

Counting is ONE set-based statement (PostgreSQL: a per-customer category bit mask streamed from
the covering index, summed per group — see :func:`mask_statement`; SQLite: two GROUP BY
statements): the distinct customers per group and category, never a row per customer in Python.
A customer belongs to the group of their distributor (``customer.partner_id`` → ``partner.group_id``)
as it is now — "the group's customers" — so a customer who moved group counts, with all their
window purchases, in the new group; customers without a distributor count nowhere. A line counts
when its day lies in the window (both ends included, Korean days).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, cast, distinct, func, select, tuple_

from portal.toolkit import Category, Customer, Partner, PartnerGroup, SaleLine, db, is_postgres

#: Control limits: (lower quantile, upper quantile) of the binomial around the benchmark.
P95 = (0.025, 0.975)
P998 = (0.001, 0.999)
#: Below this many active customers a group is "insufficient data" and never flagged.
MIN_ACTIVE = 30
MONTHS_CHOICES = (3, 6, 12, 24)
MAX_MONTHS = 36
ALARM, ALERT, HIGH, INSUFFICIENT = "alarm", "alert", "high", "insufficient"
FLAGS = (ALARM, ALERT, HIGH, INSUFFICIENT)
KST = ZoneInfo("Asia/Seoul")


class RadarError(ValueError):
    """Bad input: ``errors`` maps a parameter (``end``, ``months``, ``category``, ``group``) to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Cell:
    """One group × category: counts, rate, benchmark (other groups pooled), limits and flag.

    ``flag`` is ``alarm`` (below the 99.8 % lower limit), ``alert`` (below the 95 % lower limit),
    ``high`` (above the 95 % upper limit), ``insufficient`` (n < 30) or ``None`` (within limits,
    or no other group to compare with). ``z`` is the standardised gap used for ranking."""

    group: str
    group_name: str
    category: str
    n: int
    buyers: int
    rate: float | None
    benchmark: float | None
    benchmark_n: int
    benchmark_buyers: int
    p95: tuple[float, float] | None
    p998: tuple[float, float] | None
    flag: str | None
    z: float | None
    expected_buyers: int | None  # what the group would have at the benchmark rate (rounded)

    @property
    def gap(self) -> float | None:
        if self.rate is None or self.benchmark is None:
            return None
        return self.rate - self.benchmark

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "category": self.category, "n": self.n, "buyers": self.buyers,
                "rate": _r(self.rate), "benchmark": _r(self.benchmark),
                "benchmark_n": self.benchmark_n, "benchmark_buyers": self.benchmark_buyers,
                "limits": {"p95": _pair(self.p95), "p998": _pair(self.p998)},
                "flag": self.flag, "gap": _r(self.gap), "z": _r(self.z, 3),
                "expected_buyers": self.expected_buyers}


@dataclass
class RadarResult:
    """The window, the groups and categories compared, every cell and the ranked gaps."""

    start: date
    end: date
    months: int
    groups: list[dict[str, Any]] = field(default_factory=list)  # code, name, active (n)
    categories: list[dict[str, Any]] = field(default_factory=list)  # code, name_ko, name_en, buyers, rate
    cells: list[Cell] = field(default_factory=list)
    gaps: list[Cell] = field(default_factory=list)

    def cell(self, group: str, category: str) -> Cell | None:
        return next((c for c in self.cells if c.group == group and c.category == category), None)

    def as_dict(self) -> dict[str, Any]:
        return {"window": {"start": self.start.isoformat(), "end": self.end.isoformat(), "months": self.months},
                "min_active": MIN_ACTIVE,
                "groups": self.groups, "categories": [dict(c) for c in self.categories],
                "cells": [c.as_dict() for c in self.cells],
                "gaps": [c.as_dict() for c in self.gaps]}


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def _pair(p: tuple[float, float] | None) -> list[float] | None:
    return None if p is None else [round(p[0], 6), round(p[1], 6)]


# -- window -----------------------------------------------------------------------------------------


def kst_today() -> date:
    return datetime.now(KST).date()


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months (the 31st becomes the month's last day)."""
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    m += 1
    nxt_y, nxt_m = (y + 1, 1) if m == 12 else (y, m + 1)
    last = (date(nxt_y, nxt_m, 1) - date(y, m, 1)).days
    return date(y, m, min(day.day, last))


def window(end: date | None = None, months: int = 12) -> tuple[date, date]:
    """``(start, end)``, both included: the ``months`` months ending on ``end`` (default today, KST)."""
    end = end or kst_today()
    return add_months(end, -months) + _ONE_DAY, end


def parse_args(args: Any) -> dict[str, Any]:
    """``end``/``months``/``category``/``group`` (comma-separated codes) from a query string, or :class:`RadarError` naming the bad ones."""
    from flask_babel import gettext as _

    errors: dict[str, str] = {}
    end: date | None = None
    raw_end = (args.get("end") or "").strip()
    if raw_end:
        try:
            end = date.fromisoformat(raw_end)
        except ValueError:
            errors["end"] = _("Not a date; write it as YYYY-MM-DD (e.g. 2026-11-30).")
    months = 12
    raw_months = (args.get("months") or "").strip()
    if raw_months:
        if not raw_months.isdigit() or not 1 <= int(raw_months) <= MAX_MONTHS:
            errors["months"] = _("A whole number of months from 1 to %(max)d.", max=MAX_MONTHS)
        else:
            months = int(raw_months)
    raw_cat = (args.get("category") or "").strip()[:100]
    categories = [c.strip() for c in raw_cat.split(",") if c.strip()] or None
    if categories:
        known = set(db.session.execute(select(Category.code).where(Category.code.in_(categories))).scalars())
        unknown = [c for c in categories if c not in known]
        if unknown:
            errors["category"] = _("Unknown category: %(codes)s.", codes=", ".join(unknown))
    raw_groups = (args.get("group") or "").strip()[:500]
    groups = [g.strip() for g in raw_groups.split(",") if g.strip()] or None
    if groups:
        known = set(db.session.execute(select(PartnerGroup.code).where(PartnerGroup.code.in_(groups))).scalars())
        unknown = [g for g in groups if g not in known]
        if unknown:
            errors["group"] = _("Unknown group: %(codes)s.", codes=", ".join(unknown))
    if errors:
        raise RadarError(errors)
    return {"end": end, "months": months, "categories": categories, "groups": groups}


_ONE_DAY = date(2000, 1, 2) - date(2000, 1, 1)


# -- counting (the one statement) -------------------------------------------------------------------


def _counting(start: date, end: date, group_ids: list[int] | None) -> tuple[Any, list[Any], Any, Any, Any]:
    sl, cu, pa = SaleLine.__table__, Customer.__table__, Partner.__table__
    joined = sl.join(cu, cu.c.id == sl.c.customer_id).join(pa, pa.c.id == cu.c.partner_id)
    where = [sl.c.sold_at >= start, sl.c.sold_at <= end]
    if group_ids is not None:
        where.append(pa.c.group_id.in_(group_ids))
    return joined, where, pa.c.group_id, sl.c.category_id, func.count(distinct(sl.c.customer_id))


def counting_statement(start: date, end: date, group_ids: list[int] | None = None) -> Any:
    """The plain statement: ``(group_id, category_id, grouping(category_id), customers)`` with
    ``GROUPING SETS ((group, category), (group))`` — the second set is the active count."""
    joined, where, group, category, n_customers = _counting(start, end, group_ids)
    return (select(group, category, func.grouping(category), n_customers).select_from(joined).where(*where)
            .group_by(func.grouping_sets(tuple_(group, category), tuple_(group))))


#: Category ids a ``bigint`` bit mask can hold (bits 0–62).
MAX_MASK_ID = 62


def mask_statement(start: date, end: date, category_ids: list[int], group_ids: list[int] | None = None) -> Any:
    """PostgreSQL's fast statement: per customer the ``bit_or`` of ``1 << category_id`` over the
    window, read in customer order from ``ix_sale_line_customer_cover`` (an index-only scan and a
    streaming group: no sort, no hash of millions of rows), merged with ``customer`` by id; then
    per group ``count(*)`` (active) and one ``sum((mask >> id) & 1)`` per category (buyers)."""
    sl, cu, pa = SaleLine.__table__, Customer.__table__, Partner.__table__
    one = cast(1, BigInteger)
    per_customer = (select(sl.c.customer_id, func.bit_or(one.op("<<")(sl.c.category_id)).label("mask"))
                    .where(sl.c.sold_at >= start, sl.c.sold_at <= end).group_by(sl.c.customer_id).subquery("m"))
    sums = [func.sum(per_customer.c.mask.op(">>")(cid).op("&")(1)) for cid in category_ids]
    stmt = (select(pa.c.group_id, func.count(), *sums)
            .select_from(per_customer.join(cu, cu.c.id == per_customer.c.customer_id)
                         .join(pa, pa.c.id == cu.c.partner_id))
            .group_by(pa.c.group_id))
    if group_ids is not None:
        stmt = stmt.where(pa.c.group_id.in_(group_ids))
    return stmt


def counts(start: date, end: date, group_ids: list[int] | None = None, *, plain: bool = False
           ) -> tuple[dict[int, int], dict[tuple[int, int], int]]:
    """``({group_id: active customers}, {(group_id, category_id): buyers})`` over the window.

    PostgreSQL: one statement, :func:`mask_statement` (the fast path) while every category id
    fits the mask, else (or with ``plain=True``) :func:`counting_statement`; both run with JIT
    off (its compile time, ~0.4 s, exceeds what it saves) and without parallel workers (each
    worker would scan the whole index again under the merge join). SQLite: the two groupings of
    the plain statement as two statements. A test holds the paths to one answer."""
    active: dict[int, int] = {}
    buyers: dict[tuple[int, int], int] = {}
    if is_postgres():
        category_ids = list(db.session.execute(select(Category.id).order_by(Category.id)).scalars())
        db.session.execute(db.text("SET LOCAL jit = off"))
        db.session.execute(db.text("SET LOCAL max_parallel_workers_per_gather = 0"))
        try:
            if not plain and all(0 <= c <= MAX_MASK_ID for c in category_ids):
                for gid, n, *per_cat in db.session.execute(mask_statement(start, end, category_ids, group_ids)):
                    active[gid] = int(n)
                    for cid, b in zip(category_ids, per_cat, strict=True):
                        if b:
                            buyers[(gid, cid)] = int(b)
            else:
                for gid, cid, is_total, n in db.session.execute(counting_statement(start, end, group_ids)):
                    if is_total:
                        active[gid] = int(n)
                    elif cid is not None:
                        buyers[(gid, cid)] = int(n)
        finally:
            db.session.execute(db.text("SET LOCAL jit TO DEFAULT"))
            db.session.execute(db.text("SET LOCAL max_parallel_workers_per_gather TO DEFAULT"))
        return active, buyers
    joined, where, group, category, n_customers = _counting(start, end, group_ids)
    for gid, n in db.session.execute(select(group, n_customers).select_from(joined).where(*where).group_by(group)):
        active[gid] = int(n)
    for gid, cid, n in db.session.execute(select(group, category, n_customers).select_from(joined)
                                          .where(*where, category.is_not(None)).group_by(group, category)):
        buyers[(gid, cid)] = int(n)
    return active, buyers


# -- statistics -------------------------------------------------------------------------------------


def limits(n: int, p0: float, q: tuple[float, float]) -> tuple[int, int]:
    """The exact binomial limits as buyer counts ``(binom.ppf(q_lo, n, p0), binom.ppf(q_hi, n, p0))``."""
    from scipy.stats import binom

    lo, hi = binom.ppf(list(q), n, p0)
    return int(lo), int(hi)


def classify(buyers: int, n: int, p0: float | None) -> tuple[str | None, tuple[int, int] | None,
                                                               tuple[int, int] | None]:
    """``(flag, p95 counts, p998 counts)`` for ``buyers`` of ``n`` against the benchmark ``p0``.

    Observed *strictly* below a lower limit flags it (compared as counts, so no float rounding);
    under :data:`MIN_ACTIVE` active customers a group is ``insufficient`` whatever its rate."""
    if n < MIN_ACTIVE:
        return INSUFFICIENT, None, None
    if p0 is None:
        return None, None, None
    c95, c998 = limits(n, p0, P95), limits(n, p0, P998)
    if buyers < c998[0]:
        return ALARM, c95, c998
    if buyers < c95[0]:
        return ALERT, c95, c998
    if buyers > c95[1]:
        return HIGH, c95, c998
    return None, c95, c998


def _z(rate: float, p0: float, n: int) -> float | None:
    if not 0 < p0 < 1 or n <= 0:
        return None
    return (rate - p0) / math.sqrt(p0 * (1 - p0) / n)


def _rank_key(c: Cell) -> tuple[int, float, float, str, str]:
    return (0 if c.flag == ALARM else 1, c.z if c.z is not None else 0.0, c.gap or 0.0, c.group, c.category)


# -- the service --------------------------------------------------------------------------------------


def _groups(codes: Any) -> list[PartnerGroup]:
    """The compared groups: the given codes (or ids), else every active group; unknown ones refused."""
    from flask_babel import gettext as _

    stmt = select(PartnerGroup).order_by(PartnerGroup.code)
    if codes is None:
        return list(db.session.execute(stmt.where(PartnerGroup.active.is_(True))).scalars())
    codes = list(codes)
    ids = [c for c in codes if isinstance(c, int)]
    names = [str(c) for c in codes if not isinstance(c, int)]
    found = list(db.session.execute(stmt.where(PartnerGroup.id.in_(ids) | PartnerGroup.code.in_(names))).scalars())
    missing = [str(c) for c in codes if not any(g.id == c or g.code == c for g in found)]
    if missing:
        raise RadarError({"group": _("Unknown group: %(codes)s.", codes=", ".join(missing))})
    return found


def compute(*, end: date | None = None, months: int = 12, groups: Any = None,
            categories: Any = None) -> RadarResult:
    """The radar over the ``months`` months ending on ``end`` (default today, KST).

    ``groups``: the groups compared (codes or ids; default every active group) — each group's
    benchmark pools the *other* groups of this set. ``categories``: codes to report (default all);
    a category with no buyer in any compared group is skipped. Read-only."""
    from flask_babel import gettext as _

    if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= MAX_MONTHS:
        raise RadarError({"months": _("A whole number of months from 1 to %(max)d.", max=MAX_MONTHS)})
    start, end = window(end, months)
    group_rows = _groups(groups)
    cat_stmt = select(Category).order_by(Category.code)
    if categories is not None:
        wanted = [str(c) for c in categories]
        cat_stmt = cat_stmt.where(Category.code.in_(wanted))
        found = set(db.session.execute(select(Category.code).where(Category.code.in_(wanted))).scalars())
        missing = [c for c in wanted if c not in found]
        if missing:
            raise RadarError({"category": _("Unknown category: %(codes)s.", codes=", ".join(missing))})
    cat_rows = list(db.session.execute(cat_stmt).scalars())
    result = RadarResult(start=start, end=end, months=months)
    if not group_rows:
        return result
    active, buyers = counts(start, end, None if groups is None else [g.id for g in group_rows])
    gids = [g.id for g in group_rows]
    total_n = sum(active.get(g, 0) for g in gids)
    result.groups = [{"code": g.code, "name": g.name, "active": active.get(g.id, 0)} for g in group_rows]
    for cat in cat_rows:
        per_group = {g: buyers.get((g, cat.id), 0) for g in gids}
        total_b = sum(per_group.values())
        if total_b == 0:
            continue  # nobody bought it: nothing to compare
        result.categories.append({"code": cat.code, "name_ko": cat.name_ko, "name_en": cat.name_en,
                                  "buyers": total_b, "rate": _r(total_b / total_n) if total_n else None})
        for g in group_rows:
            n, b = active.get(g.id, 0), per_group[g.id]
            other_n, other_b = total_n - n, total_b - b
            p0 = other_b / other_n if other_n else None
            flag, c95, c998 = classify(b, n, p0)
            rate = b / n if n else None
            result.cells.append(Cell(
                group=g.code, group_name=g.name, category=cat.code, n=n, buyers=b, rate=rate,
                benchmark=p0, benchmark_n=other_n, benchmark_buyers=other_b,
                p95=(c95[0] / n, c95[1] / n) if c95 else None,
                p998=(c998[0] / n, c998[1] / n) if c998 else None,
                flag=flag, z=_z(rate, p0, n) if rate is not None and p0 is not None and n >= MIN_ACTIVE else None,
                expected_buyers=round(p0 * n) if p0 is not None else None))
    result.gaps = sorted((c for c in result.cells if c.flag in (ALARM, ALERT)), key=_rank_key)
    return result


def funnel(result: RadarResult, category: str, points: int = 40) -> dict[str, Any] | None:
    """The funnel chart of one category: each group's (n, rate) and the 95 %/99.8 % limit curves
    around the company-wide rate (the centre line; each group's own flag uses its leave-one-out
    benchmark, so a point near a curve may differ slightly)."""
    cells = [c for c in result.cells if c.category == category and c.n > 0]
    cat = next((c for c in result.categories if c["code"] == category), None)
    if not cells or cat is None or not cat.get("rate"):
        return None
    p = float(cat["rate"])
    max_n = max(c.n for c in cells)
    lo_n = min(MIN_ACTIVE, max_n)
    ns = sorted({max(1, round(lo_n + (max_n - lo_n) * i / (points - 1))) for i in range(points)})
    from scipy.stats import binom

    curves = {}
    for name, q in (("p95", P95), ("p998", P998)):
        lo = binom.ppf(q[0], ns, p)
        hi = binom.ppf(q[1], ns, p)
        curves[name] = [(n, float(a) / n, float(b) / n) for n, a, b in zip(ns, lo, hi, strict=True)]
    return {"category": category, "centre": p, "max_n": max_n,
            "points": [{"group": c.group, "n": c.n, "rate": c.rate, "flag": c.flag} for c in cells],
            "curves": curves}


__all__ = ["ALARM", "ALERT", "FLAGS", "HIGH", "INSUFFICIENT", "MIN_ACTIVE", "Cell", "RadarError", "RadarResult",
           "classify", "compute", "counting_statement", "counts", "mask_statement", "funnel", "limits", "parse_args", "window"]
