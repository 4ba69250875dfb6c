"""KPIs and the customer-care index per branch and month (``mon_kpi``), from core data only.

``METRICS`` is the catalogue every page, the API, funnel plots and alerts read. Each metric of a
month is ONE statement across all branches (``GROUP BY branch``), never one per branch: a month for
1,000 branches is a fixed handful of queries whatever the number of branches. Figures that are "as
at the month's end" (backlogs, open complaints, the 90-day contact window) are taken at the end of
the Korean month, or now while the month is still running.

Row conventions (``mon_kpi``): a ``rate`` has ``value = numerator / denominator`` (both kept, so a
funnel plot or a region total can use them; an empty denominator gives ``value`` NULL); a
``count`` or ``amount`` has ``value = numerator`` and, where it has one, its exposure as
``denominator`` (the branch's customers for a backlog): ``company_rate`` is then per customer.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, delete, exists, func, insert, literal, or_, select
from sqlalchemy.orm import aliased

from portal.toolkit import (
    Category,
    Consent,
    Contact,
    Customer,
    CustomerScore,
    Extraction,
    ExtractionMember,
    OrgUnit,
    QualityIssue,
    SaleLine,
    db,
    is_postgres,
    plugin_hook,
    utcnow,
)

from ..models import MonBranchMonth, MonComplaint, MonKpi, MonRfmSnapshot
from ..months import KST, kst_to_utc_naive, next_month, prev_month

#: metric → {"label", "kind": "amount"|"count"|"rate"|"index"|"days"|"mix", "better": "high"|"low"|None,
#: "funnel": bool (a rate with a denominator, judged on a funnel plot), "care": bool (part of the index)}.
#: ``mix`` (category mix) has its shares in ``detail["shares"]`` and the number of categories sold as value.
METRICS: dict[str, dict[str, Any]] = {
    "sales": {"label": _l("Sales"), "kind": "amount", "better": "high", "funnel": False, "care": False},
    "sale_days": {"label": _l("Days with sales"), "kind": "count", "better": "high", "funnel": False, "care": False},
    "customers": {"label": _l("Customers who bought"), "kind": "count", "better": "high", "funnel": False,
                  "care": False},
    "active_customers": {"label": _l("Active customers (P(alive) at least 0.5)"), "kind": "count", "better": "high",
                         "funnel": False, "care": False},
    "new_customers": {"label": _l("New customers"), "kind": "count", "better": "high", "funnel": False, "care": False},
    "returning_customers": {"label": _l("Returning customers"), "kind": "count", "better": "high", "funnel": False,
                            "care": False},
    "avg_ticket": {"label": _l("Average ticket (per purchase day)"), "kind": "amount", "better": "high",
                   "funnel": False, "care": False},
    "category_mix": {"label": _l("Category mix"), "kind": "mix", "better": None, "funnel": False, "care": False},
    "rfm_up": {"label": _l("Customers moved up an RFM level"), "kind": "count", "better": "high", "funnel": False,
               "care": False},
    "rfm_down": {"label": _l("Customers moved down an RFM level"), "kind": "count", "better": "low", "funnel": False,
                 "care": False},
    "dq_backlog": {"label": _l("Open data-quality issues"), "kind": "count", "better": "low", "funnel": False,
                   "care": True},
    "dq_days_to_fix": {"label": _l("Median days to fix a data-quality issue"), "kind": "days", "better": "low",
                       "funnel": False, "care": True},
    "consent_capture_rate": {"label": _l("New customers with marketing consent (30 days)"), "kind": "rate",
                             "better": "high", "funnel": True, "care": True},
    "at_risk_contact_rate": {"label": _l("At-risk customers contacted (90 days)"), "kind": "rate", "better": "high",
                             "funnel": True, "care": True},
    "complaints_open_14d": {"label": _l("Complaints open over 14 days"), "kind": "count", "better": "low",
                            "funnel": False, "care": True},
    "ks_overdue_actions": {"label": _l("Overdue action items (knowledge sharing)"), "kind": "count", "better": "low",
                           "funnel": False, "care": True},
    "campaign_use": {"label": _l("Target lists made"), "kind": "count", "better": "high", "funnel": False,
                     "care": True},
    "care_index": {"label": _l("Customer-care index"), "kind": "index", "better": "high", "funnel": False,
                   "care": False},
}

#: Weights of the care index's components (renormalised over the components a branch has a value for).
CARE_WEIGHTS: dict[str, float] = {
    "at_risk_contact_rate": 0.25,
    "consent_capture_rate": 0.20,
    "dq_backlog": 0.15,
    "complaints_open_14d": 0.15,
    "dq_days_to_fix": 0.10,
    "ks_overdue_actions": 0.10,
    "campaign_use": 0.05,
}

#: The RFM ladder behind ``rfm_up`` / ``rfm_down``: a customer moves up when the new segment's level
#: is higher than last month's. Segments on one level (e.g. ``at_risk`` and ``cannot_lose``) are
#: lateral moves and count neither way.
RFM_LADDER: dict[str, int] = {
    "champions": 5,
    "loyal": 4,
    "potential_loyalist": 3, "new_customers": 3, "promising": 3,
    "need_attention": 2, "about_to_sleep": 2,
    "at_risk": 1, "cannot_lose": 1,
    "hibernating": 0, "lost": 0,
}
AT_RISK_SEGMENTS = ("at_risk", "cannot_lose")
#: ``p_alive`` from which a customer counts as active.
ACTIVE_P_ALIVE = 0.5
CONTACT_WINDOW_DAYS = 90
CONSENT_WINDOW_DAYS = 30
COMPLAINT_DAYS = 14


# --- small helpers -----------------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime:
    """A naive UTC timestamp (the database's) from an aware or naive-UTC ``moment`` (None: now)."""
    if moment is None:
        return utcnow()
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    """The Korean month as naive UTC ``[start, end)`` (what ``created_at``-like columns store)."""
    start = datetime(month.year, month.month, 1)
    end_month = next_month(month)
    return kst_to_utc_naive(start), kst_to_utc_naive(datetime(end_month.year, end_month.month, 1))


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``; None for an empty or missing denominator (never a division error)."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _branch_ids(branch_ids: list[int] | Select | None) -> list[int] | None:
    if branch_ids is None:
        return None
    if isinstance(branch_ids, Select):
        return [int(i) for i in db.session.execute(branch_ids).scalars()]
    return [int(i) for i in branch_ids]


def _ladder_case(column: Any) -> Any:
    return case(*((column == name, level) for name, level in RFM_LADDER.items()), else_=None)


# --- the month's figures, one statement each ----------------------------------------------------


def _aggregates(month: date) -> dict[int, tuple[int, int, int, int]]:
    """``branch → (sales, customers, new_customers, sale_days)`` from engineer A's month aggregates."""
    rows = db.session.execute(select(MonBranchMonth.branch_id, MonBranchMonth.sales, MonBranchMonth.customers,
                                     MonBranchMonth.new_customers, MonBranchMonth.sale_days)
                              .where(MonBranchMonth.month == month))
    return {b: (int(s or 0), int(c or 0), int(n or 0), int(d or 0)) for b, s, c, n, d in rows}


def _purchases(month: date) -> dict[int, tuple[int, int]]:
    """``branch → (sales, purchases)``: a purchase is one customer's buying on one day at the branch
    (receipt numbers are optional in the daily reports; the customer-day is always there)."""
    visits = (select(SaleLine.branch_id, SaleLine.customer_id, SaleLine.sold_at,
                     func.sum(SaleLine.amount).label("amount"))
              .where(SaleLine.sold_at >= month, SaleLine.sold_at < next_month(month), SaleLine.branch_id.is_not(None))
              .group_by(SaleLine.branch_id, SaleLine.customer_id, SaleLine.sold_at).subquery())
    rows = db.session.execute(select(visits.c.branch_id, func.sum(visits.c.amount), func.count())
                              .group_by(visits.c.branch_id))
    return {b: (int(s or 0), int(n or 0)) for b, s, n in rows}


def _category_mix(month: date) -> dict[int, dict[str, int]]:
    """``branch → {category code: sales}`` (lines without a category under ``other``)."""
    code = func.coalesce(Category.code, literal("other"))
    rows = db.session.execute(
        select(SaleLine.branch_id, code, func.sum(SaleLine.amount))
        .select_from(SaleLine).outerjoin(Category, Category.id == SaleLine.category_id)
        .where(SaleLine.sold_at >= month, SaleLine.sold_at < next_month(month), SaleLine.branch_id.is_not(None))
        .group_by(SaleLine.branch_id, code))
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for b, c, amount in rows:
        out[b][c] = out[b].get(c, 0) + int(amount or 0)
    return out


def _customer_base(as_of: datetime) -> dict[int, tuple[int, int]]:
    """``branch → (home customers, active customers)``: customers whose home branch it is (created
    by ``as_of``), and those of them with P(alive) ≥ 0.5 in the current scores."""
    active = case((CustomerScore.p_alive >= ACTIVE_P_ALIVE, 1), else_=0)
    rows = db.session.execute(
        select(Customer.branch_id, func.count(), func.coalesce(func.sum(active), 0))
        .select_from(Customer).outerjoin(CustomerScore, CustomerScore.customer_id == Customer.id)
        .where(Customer.branch_id.is_not(None), Customer.created_at < as_of)
        .group_by(Customer.branch_id))
    return {b: (int(n), int(a)) for b, n, a in rows}


def _at_risk_contacts(as_of: datetime) -> dict[int, tuple[int, int]]:
    """``branch → (contacted, at risk)``: home customers in ``at_risk`` / ``cannot_lose`` now, and
    those of them on a (not cancelled) target list made, or with a contact logged, in the 90 days
    before ``as_of``."""
    since = as_of - timedelta(days=CONTACT_WINDOW_DAYS)
    on_list = (exists().where(ExtractionMember.customer_id == Customer.id,
                              Extraction.id == ExtractionMember.extraction_id,
                              Extraction.status != "cancelled",
                              Extraction.created_at >= since, Extraction.created_at < as_of))
    contacted = exists().where(Contact.customer_id == Customer.id, Contact.at >= since, Contact.at < as_of)
    hit = case((or_(on_list, contacted), 1), else_=0)
    rows = db.session.execute(
        select(Customer.branch_id, func.coalesce(func.sum(hit), 0), func.count())
        .select_from(Customer).join(CustomerScore, CustomerScore.customer_id == Customer.id)
        .where(Customer.branch_id.is_not(None), CustomerScore.rfm_segment.in_(AT_RISK_SEGMENTS))
        .group_by(Customer.branch_id))
    return {b: (int(n), int(d)) for b, n, d in rows}


def _dq_backlog(as_of: datetime) -> dict[int, int]:
    """``branch → data-quality issues open at ``as_of``` on its home customers."""
    rows = db.session.execute(
        select(Customer.branch_id, func.count())
        .select_from(QualityIssue).join(Customer, Customer.id == QualityIssue.customer_id)
        .where(Customer.branch_id.is_not(None), QualityIssue.created_at < as_of,
               or_(QualityIssue.resolved_at.is_(None), QualityIssue.resolved_at >= as_of))
        .group_by(Customer.branch_id))
    return {b: int(n) for b, n in rows}


def _dq_fixes(start: datetime, end: datetime) -> dict[int, list[float]]:
    """``branch → days to fix`` of each issue resolved in ``[start, end)`` (the month's fixes are a
    few thousand rows at most: read once, medians in Python on both databases)."""
    rows = db.session.execute(
        select(Customer.branch_id, QualityIssue.created_at, QualityIssue.resolved_at)
        .select_from(QualityIssue).join(Customer, Customer.id == QualityIssue.customer_id)
        .where(Customer.branch_id.is_not(None), QualityIssue.resolved_at >= start, QualityIssue.resolved_at < end))
    out: dict[int, list[float]] = defaultdict(list)
    for b, created, resolved in rows:
        out[b].append(max(0.0, (resolved - created).total_seconds() / 86400))
    return out


def _consent_capture(month: date) -> dict[int, tuple[int, int]]:
    """``branch → (consented, new customers)``: customers whose first purchase anywhere fell in the
    month (at this branch, on that first day), and those of them with a marketing consent granted
    up to the end of the 30th Korean day after it (a consent given before the purchase counts)."""
    # One pass over the month's lines: each (customer, branch)'s first day there and the customer's
    # first day in the month (a window over the groups); then only the customers whose month-first
    # day is their first ever (no earlier line: an index probe each), at the branches of that day.
    pairs = (select(SaleLine.customer_id, SaleLine.branch_id, func.min(SaleLine.sold_at).label("first_day"),
                    func.min(func.min(SaleLine.sold_at)).over(partition_by=SaleLine.customer_id).label("month_first"))
             .where(SaleLine.sold_at >= month, SaleLine.sold_at < next_month(month), SaleLine.branch_id.is_not(None))
             .group_by(SaleLine.customer_id, SaleLine.branch_id).subquery())
    earlier = aliased(SaleLine)
    new = (select(pairs.c.branch_id, pairs.c.customer_id, pairs.c.first_day)
           .where(pairs.c.first_day == pairs.c.month_first,
                  ~exists().where(earlier.customer_id == pairs.c.customer_id, earlier.sold_at < month))
           .subquery())
    # The window's end, 00:00 KST of day first_day + 31, as naive UTC.
    if is_postgres():
        deadline = new.c.first_day + literal(timedelta(days=CONSENT_WINDOW_DAYS + 1, hours=-9))
    else:
        deadline = func.datetime(new.c.first_day, f"+{CONSENT_WINDOW_DAYS + 1} days", "-9 hours")
    consented = exists().where(Consent.customer_id == new.c.customer_id, Consent.purpose == "marketing",
                               Consent.kind == "consent", Consent.granted.is_(True), Consent.recorded_at < deadline)
    rows = db.session.execute(select(new.c.branch_id, func.coalesce(func.sum(case((consented, 1), else_=0)), 0),
                                     func.count()).group_by(new.c.branch_id))
    return {b: (int(n), int(d)) for b, n, d in rows}


def _complaints(as_of: datetime) -> dict[int, int]:
    """``branch → complaints open at ``as_of`` that were opened more than 14 days before it."""
    rows = db.session.execute(
        select(MonComplaint.branch_id, func.count())
        .where(MonComplaint.branch_id.is_not(None), MonComplaint.opened_at < as_of - timedelta(days=COMPLAINT_DAYS),
               or_(MonComplaint.closed_at.is_(None), MonComplaint.closed_at >= as_of))
        .group_by(MonComplaint.branch_id))
    return {b: int(n) for b, n in rows}


def _campaign_use(start: datetime, end: datetime) -> dict[int, int]:
    """``branch → target lists`` (extractions, not cancelled) the branch made in the month."""
    rows = db.session.execute(
        select(Extraction.branch_id, func.count())
        .where(Extraction.branch_id.is_not(None), Extraction.created_at >= start, Extraction.created_at < end,
               Extraction.status != "cancelled")
        .group_by(Extraction.branch_id))
    return {b: int(n) for b, n in rows}


def _rfm_moves(month: date) -> dict[int, tuple[int, int, int]] | None:
    """``branch → (up, down, compared)`` from the snapshot of ``month``'s end against the month
    before; None when the stored snapshot is not that month's (only the last two are kept)."""
    if db.session.execute(select(MonRfmSnapshot.customer_id).where(MonRfmSnapshot.month == month).limit(1)).first() \
            is None:
        return None
    now_level, was_level = _ladder_case(MonRfmSnapshot.segment), _ladder_case(MonRfmSnapshot.prev_segment)
    rows = db.session.execute(
        select(MonRfmSnapshot.branch_id,
               func.coalesce(func.sum(case((now_level > was_level, 1), else_=0)), 0),
               func.coalesce(func.sum(case((now_level < was_level, 1), else_=0)), 0),
               func.count())
        .where(MonRfmSnapshot.month == month, MonRfmSnapshot.prev_month == prev_month(month),
               MonRfmSnapshot.branch_id.is_not(None), MonRfmSnapshot.segment.is_not(None),
               MonRfmSnapshot.prev_segment.is_not(None))
        .group_by(MonRfmSnapshot.branch_id))
    return {b: (int(u), int(d), int(n)) for b, u, d, n in rows}


def _ks_overdue(on: date, branches: list[int]) -> dict[int, int] | None:
    """``branch → overdue action items`` from knowledge_share's hook; None when it is not active."""
    try:
        caller = plugin_hook("ks_overdue_action_items")
    except (AttributeError, KeyError):  # the hook was never declared: knowledge_share not installed
        return None
    items = caller(on=on, unit_ids=branches)
    if items is None:
        return None
    counts: dict[int, int] = defaultdict(int)
    for item in items:
        counts[item.get("owner_unit_id")] += 1
    return counts


# --- the care index -----------------------------------------------------------------------------


def care_score(value: float | None, company: float | None, better: str) -> float | None:
    """One component scored 0–100 against the company: the company's level scores 50, twice it
    (or better) 100 for "higher is better"; for "lower is better" nothing scores 100 and twice the
    company's level (or worse) 0. None without a value or a reference (company rate unknown, or 0
    for a higher-is-better component)."""
    if value is None or company is None:
        return None
    if better == "high":
        if company <= 0:
            return None
        return round(100 * min(value / company, 2.0) / 2, 2)
    if company <= 0:
        return 100.0 if value <= 0 else 0.0
    return round(100 * max(0.0, 1 - value / company / 2), 2)


#: The share of the index's weight that must have a score for the index to exist: a branch without
#: customers (only target lists and action items to judge) gets no index rather than a flattering one.
CARE_MIN_WEIGHT = 0.5


def care_index(components: dict[str, dict[str, Any]]) -> float | None:
    """The weighted mean of the components' scores (``CARE_WEIGHTS``, renormalised over those with
    a score); None when the scored components weigh less than ``CARE_MIN_WEIGHT``."""
    total = weight = 0.0
    for name, comp in components.items():
        if comp.get("score") is not None:
            total += CARE_WEIGHTS[name] * comp["score"]
            weight += CARE_WEIGHTS[name]
    return round(total / weight, 1) if weight >= CARE_MIN_WEIGHT - 1e-9 else None


# --- computing and reading a month ----------------------------------------------------------------


_SAME = object()  # a row's value is its numerator (counts and amounts)


def _row(branch: int, metric: str, *, numerator: float | None, denominator: int | None = None,
         value: Any = _SAME, detail: dict[str, Any] | None = None, rate: bool = False) -> dict[str, Any]:
    if rate:
        value = _ratio(numerator, denominator)
    elif value is _SAME:
        value = numerator
    return {"branch_id": branch, "metric": metric, "numerator": numerator, "denominator": denominator,
            "value": value, "detail": detail}


def compute_month(month: date, branch_ids: list[int] | Select | None = None, *,
                  now: datetime | None = None) -> int:
    """Write every metric of ``month`` for the branches (all active ones when None) into
    ``mon_kpi``, replacing the month's rows, set-based; returns rows written.

    Every figure is computed for ALL branches (one statement per metric), because the care index
    scores each branch against the whole company; ``branch_ids`` only limits what is written.
    ``now`` (default: the clock) caps "as at the month's end" for the running month. RFM moves are
    written only when the snapshot of the month's end is the stored one; otherwise the month's
    earlier ``rfm_up`` / ``rfm_down`` rows stay. The caller commits."""
    month = month.replace(day=1)
    start, end = _month_bounds(month)
    as_of = min(end, _utc(now))
    targets = _branch_ids(branch_ids)
    branches = [int(i) for i in db.session.execute(
        select(OrgUnit.id).where(OrgUnit.kind == "branch", OrgUnit.active.is_(True)).order_by(OrgUnit.id)).scalars()]
    chosen = None if targets is None else set(targets)
    wanted = branches if chosen is None else [b for b in branches if b in chosen]

    aggregates = _aggregates(month)
    purchases = _purchases(month)
    mix = _category_mix(month)
    base = _customer_base(as_of)
    at_risk = _at_risk_contacts(as_of)
    backlog = _dq_backlog(as_of)
    fixes = _dq_fixes(start, end)
    consent = _consent_capture(month)
    complaints = _complaints(as_of)
    campaigns = _campaign_use(start, end)
    rfm = _rfm_moves(month)
    on = min(next_month(month), as_of.replace(tzinfo=UTC).astimezone(KST).date())
    ks = _ks_overdue(on, branches)

    # Company references for the care index (over every active branch).
    def total(d: dict[int, tuple[int, ...]], i: int) -> int:
        return sum(d.get(b, (0,) * (i + 1))[i] for b in branches)

    customers_total = total(base, 0)
    all_fixes = [d for b in branches for d in fixes.get(b, [])]
    company = {
        "at_risk_contact_rate": _ratio(total(at_risk, 0), total(at_risk, 1)),
        "consent_capture_rate": _ratio(total(consent, 0), total(consent, 1)),
        "dq_backlog": _ratio(sum(backlog.get(b, 0) for b in branches), customers_total),
        "complaints_open_14d": _ratio(sum(complaints.get(b, 0) for b in branches), customers_total),
        "dq_days_to_fix": statistics.median(all_fixes) if all_fixes else None,
        "ks_overdue_actions": None if ks is None else _ratio(sum(ks.get(b, 0) for b in branches), len(branches)),
        "campaign_use": _ratio(sum(campaigns.get(b, 0) for b in branches), len(branches)),
    }

    rows: list[dict[str, Any]] = []
    for b in wanted:
        sales, customers, new_customers, sale_days = aggregates.get(b, (0, 0, 0, 0))
        home, active = base.get(b, (0, 0))
        ticket_sales, visits = purchases.get(b, (0, 0))
        shares = mix.get(b, {})
        mix_total = sum(shares.values())
        contacted, risky = at_risk.get(b, (0, 0))
        consented, newcomers = consent.get(b, (0, 0))
        days = fixes.get(b, [])
        open_dq, old_complaints = backlog.get(b, 0), complaints.get(b, 0)
        rows += [
            _row(b, "sales", numerator=sales),
            _row(b, "sale_days", numerator=sale_days),
            _row(b, "customers", numerator=customers),
            _row(b, "active_customers", numerator=active, denominator=home),
            _row(b, "new_customers", numerator=new_customers, denominator=customers),
            _row(b, "returning_customers", numerator=max(customers - new_customers, 0), denominator=customers),
            _row(b, "avg_ticket", numerator=ticket_sales, denominator=visits,
                 value=round(ticket_sales / visits, 1) if visits else None),
            _row(b, "category_mix", numerator=mix_total, value=len(shares),
                 detail={"shares": {c: round(a / mix_total, 4) for c, a in sorted(shares.items())} if mix_total
                         else {}, "amounts": dict(sorted(shares.items()))}),
            _row(b, "dq_backlog", numerator=open_dq, denominator=home),
            _row(b, "dq_days_to_fix", numerator=round(sum(days), 3) if days else None, denominator=len(days),
                 value=round(statistics.median(days), 2) if days else None),
            _row(b, "consent_capture_rate", numerator=consented, denominator=newcomers, rate=True),
            _row(b, "at_risk_contact_rate", numerator=contacted, denominator=risky, rate=True),
            _row(b, "complaints_open_14d", numerator=old_complaints, denominator=home),
            _row(b, "ks_overdue_actions", numerator=None if ks is None else ks.get(b, 0),
                 detail={"on": on.isoformat()} if ks is not None else {"absent": "knowledge_share"}),
            _row(b, "campaign_use", numerator=campaigns.get(b, 0)),
        ]
        if rfm is not None:
            up, down, compared = rfm.get(b, (0, 0, 0))
            rows += [_row(b, "rfm_up", numerator=up, denominator=compared),
                     _row(b, "rfm_down", numerator=down, denominator=compared)]
        branch_values = {
            "at_risk_contact_rate": _ratio(contacted, risky),
            "consent_capture_rate": _ratio(consented, newcomers),
            "dq_backlog": _ratio(open_dq, home),
            "complaints_open_14d": _ratio(old_complaints, home),
            "dq_days_to_fix": statistics.median(days) if days else None,
            "ks_overdue_actions": None if ks is None else ks.get(b, 0),
            "campaign_use": campaigns.get(b, 0),
        }
        components = {
            name: {"value": _round(branch_values[name]), "company": _round(company[name]), "weight": weight,
                   "score": care_score(branch_values[name], company[name], METRICS[name]["better"])}
            for name, weight in CARE_WEIGHTS.items()}
        rows.append(_row(b, "care_index", numerator=None, value=care_index(components),
                         detail={"components": components}))

    metrics = [m for m in METRICS if rfm is not None or m not in ("rfm_up", "rfm_down")]
    stmt = delete(MonKpi).where(MonKpi.month == month, MonKpi.metric.in_(metrics))
    if targets is not None:
        stmt = stmt.where(MonKpi.branch_id.in_(wanted or [-1]))
    db.session.execute(stmt.execution_options(synchronize_session=False))
    if rows:
        computed_at = utcnow()
        for r in rows:
            r["month"], r["computed_at"] = month, computed_at
        # Core executemany (the ORM's bulk insert would split the rows by which values are None).
        db.session.execute(insert(MonKpi.__table__), rows)
    return len(rows)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def kpis_for(branch_ids: list[int] | Select, month: date) -> dict[int, dict[str, dict[str, Any]]]:
    """``{branch_id: {metric: {"value", "numerator", "denominator", "detail"}}}`` from ``mon_kpi``."""
    ids = branch_ids if isinstance(branch_ids, Select) else [int(i) for i in branch_ids]
    rows = db.session.execute(select(MonKpi.branch_id, MonKpi.metric, MonKpi.value, MonKpi.numerator,
                                     MonKpi.denominator, MonKpi.detail)
                              .where(MonKpi.month == month.replace(day=1), MonKpi.branch_id.in_(ids)))
    out: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for b, metric, value, num, den, detail in rows:
        out[b][metric] = {"value": value, "numerator": num, "denominator": den, "detail": detail}
    return dict(out)


def company_rate(metric: str, month: date) -> float | None:
    """Σ numerator / Σ denominator over all branches (the funnel plot's centre line); None when
    the metric has no denominators that month (or they sum to 0)."""
    num, den = db.session.execute(
        select(func.sum(MonKpi.numerator), func.sum(MonKpi.denominator))
        .where(MonKpi.month == month.replace(day=1), MonKpi.metric == metric, MonKpi.denominator.is_not(None),
               MonKpi.numerator.is_not(None))).one()
    return _ratio(float(num) if num is not None else None, float(den) if den is not None else None)


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change; None ("N/A") when the previous value is 0 or missing — never ∞ (BM-6)."""
    if current is None or previous in (None, 0):
        return None
    return (current - previous) / previous


def format_change(value: float | None) -> str:
    """A change from :func:`change` as a signed percentage in the reader's locale (``+12.5%``), or
    "N/A" in the reader's language when there is nothing to compare with (BM-6)."""
    if value is None:
        return _("N/A")
    return format_percent(value, format="+#,##0.0%;-#,##0.0%")
