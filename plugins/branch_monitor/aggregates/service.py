"""Day and month sales aggregates per branch (``mon_branch_day``, ``mon_branch_month``).

Both tables are *derived* from ``sale_line`` by one set of statements (:func:`_write_days`,
:func:`_write_months`), used by the import hook on the few (branch, day) keys a report touches and
by the nightly rebuild on everything — the two paths cannot drift apart.

Definitions (docs/branch_monitor.md, "Aggregates"):

* a **day** is ``sale_line.sold_at`` (already a Korean calendar day); a **month** is stored as the
  date of its first day;
* ``customers`` of a day or a month are *distinct* customers with a line at the branch then (a
  month's is therefore not the sum of its days');
* a customer is **new** at a branch on a day when that day is their first purchase anywhere (the
  earliest ``sold_at`` over all their lines, any branch) and they bought at this branch that day;
  a month's ``new_customers`` counts the customers whose first purchase day falls in the month at
  this branch — each customer has one first day, so it is exactly the sum of the days';
* ``sale_days`` of a month are its days with at least one line.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, and_, case, cast, delete, false, func, insert, literal, or_, select, text
from sqlalchemy.sql.elements import ColumnElement

from portal.toolkit import SaleLine, SalesReport, db, is_postgres, utcnow

from ..models import MonBranchDay, MonBranchMonth, MonReportSpan, MonRun
from ..months import month_start, next_month
from ..runs import abandon_stale

RUN_KIND = "rebuild"
#: PostgreSQL advisory lock held by every writer of the aggregates until its commit: an import's
#: update waits for a running rebuild (instead of failing on the rows it just rebuilt), and two
#: imports touching one customer's first day do not both insert it.
LOCK_KEY = 0x6D6F6E5F616767  # "mon_agg"
#: The days a rebuild may be asked for (the add-on's documented 2000–2100, months.parse_day).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
#: The nightly rebuild is whole when the last whole one is this old (else from the first touched month).
WHOLE_EVERY = timedelta(days=7)
#: Beyond this many (branch, day)s an import's update rebuilds the months they span instead.
MAX_KEYS = 2000
#: PostgreSQL ``work_mem`` of the rebuild's transaction only (one nightly statement at a time).
REBUILD_WORK_MEM = "256MB"

SL = SaleLine.__table__
SL_IN = SL.alias("sl_in")
DAY = MonBranchDay.__table__
MONTH = MonBranchMonth.__table__
DAY_COLUMNS = ["branch_id", "day", "sales", "lines", "customers", "new_customers", "updated_at"]
MONTH_COLUMNS = ["branch_id", "month", "sales", "lines", "customers", "new_customers", "sale_days", "updated_at"]


def _on_alias(clauses: list[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """``clauses`` over ``sale_line`` rewritten over its alias ``sl_in``."""
    from sqlalchemy.sql.util import ClauseAdapter

    adapter = ClauseAdapter(SL_IN)
    return [adapter.traverse(c) for c in clauses]


def _month_of(column: Any) -> ColumnElement[Any]:
    """The first day of ``column``'s month, in the session's dialect."""
    if is_postgres():
        return cast(func.date_trunc("month", column), Date)
    return func.date(column, "start of month", type_=Date)


# --- the one definition of the aggregates (shared by the import hook and the rebuild) -------------


def _day_select(line_filter: ColumnElement[bool] | None, now: Any) -> Any:
    """``mon_branch_day`` rows from the lines matching ``line_filter`` (None: every line).

    Two-level aggregation: lines → (branch, day, customer) → (branch, day), so distinct customers
    need no ``count(DISTINCT)`` sort. A customer's first purchase day is ``min(sold_at)`` over
    *all* their lines; with a filter it is computed only for the customers the filter reaches
    (index ``ix_sale_line_customer_sold``)."""
    wheres = [SL.c.branch_id.is_not(None)] + ([line_filter] if line_filter is not None else [])
    per = (select(SL.c.branch_id, SL.c.sold_at.label("day"), SL.c.customer_id,
                  func.sum(SL.c.amount).label("amount"), func.count().label("n"))
           .where(*wheres).group_by(SL.c.branch_id, SL.c.sold_at, SL.c.customer_id)).subquery("per")
    first_q = select(SL.c.customer_id, func.min(SL.c.sold_at).label("first_day")).group_by(SL.c.customer_id)
    if line_filter is not None:
        # the same lines again under another name: an IN over ``SL`` itself would be correlated
        reached = select(SL_IN.c.customer_id).where(*(w for w in _on_alias(wheres)))
        first_q = first_q.where(SL.c.customer_id.in_(reached))
    first = first_q.subquery("first")
    new = func.sum(case((first.c.first_day == per.c.day, 1), else_=0))
    return (select(per.c.branch_id, per.c.day, func.coalesce(func.sum(per.c.amount), 0), func.sum(per.c.n),
                   func.count(), new, literal(now, type_=MonBranchDay.updated_at.type))
            .select_from(per.join(first, first.c.customer_id == per.c.customer_id))
            .group_by(per.c.branch_id, per.c.day))


def _month_select(day_filter: ColumnElement[bool] | None, line_filter: ColumnElement[bool] | None,
                  now: Any) -> Any:
    """``mon_branch_month`` rows: sums, sale days and new customers from ``mon_branch_day`` (already
    written for these days), distinct customers over the month from ``sale_line``."""
    day_month = _month_of(DAY.c.day)
    days = (select(DAY.c.branch_id, day_month.label("month"), func.sum(DAY.c.sales).label("sales"),
                   func.sum(DAY.c.lines).label("lines"), func.sum(DAY.c.new_customers).label("new_customers"),
                   func.count().label("sale_days"))
            .where(*([day_filter] if day_filter is not None else []))
            .group_by(DAY.c.branch_id, day_month)).subquery("days")
    line_month = _month_of(SL.c.sold_at)
    pairs = (select(SL.c.branch_id, line_month.label("month"), SL.c.customer_id)
             .where(SL.c.branch_id.is_not(None), *([line_filter] if line_filter is not None else []))
             .group_by(SL.c.branch_id, line_month, SL.c.customer_id)).subquery("pairs")
    custs = (select(pairs.c.branch_id, pairs.c.month, func.count().label("customers"))
             .group_by(pairs.c.branch_id, pairs.c.month)).subquery("custs")
    return (select(days.c.branch_id, days.c.month, days.c.sales, days.c.lines,
                   func.coalesce(custs.c.customers, 0), days.c.new_customers, days.c.sale_days,
                   literal(now, type_=MonBranchMonth.updated_at.type))
            .select_from(days.outerjoin(custs, and_(custs.c.branch_id == days.c.branch_id,
                                                    custs.c.month == days.c.month))))


def _keys_filter(branch_col: Any, day_col: Any, keys: dict[int, set[date]]) -> ColumnElement[bool]:
    """``(branch, day) in keys`` as one OR per branch (an index range per branch on both dialects)."""
    if not keys:
        return false()
    return or_(*(and_(branch_col == b, day_col.in_(sorted(days))) for b, days in sorted(keys.items())))


def _months_filter(branch_col: Any, day_col: Any, months: dict[int, set[date]]) -> ColumnElement[bool]:
    """Days of the given (branch, month)s, as ranges (so the branch/day indexes serve)."""
    if not months:
        return false()
    return or_(*(and_(branch_col == b, day_col >= m, day_col < next_month(m))
                 for b, ms in sorted(months.items()) for m in sorted(ms)))


def _write_days(keys: dict[int, set[date]], now: Any) -> int:
    """Replace the ``mon_branch_day`` rows of ``keys`` by what ``sale_line`` says now."""
    db.session.execute(delete(MonBranchDay).where(_keys_filter(DAY.c.branch_id, DAY.c.day, keys)))
    db.session.execute(insert(DAY).from_select(
        DAY_COLUMNS, _day_select(_keys_filter(SL.c.branch_id, SL.c.sold_at, keys), now)))
    return _count(DAY, _keys_filter(DAY.c.branch_id, DAY.c.day, keys))


def _write_months(months: dict[int, set[date]], now: Any) -> int:
    """Replace the ``mon_branch_month`` rows of ``months`` (their day rows must be current)."""
    db.session.execute(delete(MonBranchMonth).where(or_(
        *(and_(MONTH.c.branch_id == b, MONTH.c.month.in_(sorted(ms))) for b, ms in sorted(months.items())))
        if months else false()))
    db.session.execute(insert(MONTH).from_select(MONTH_COLUMNS, _month_select(
        _months_filter(DAY.c.branch_id, DAY.c.day, months),
        _months_filter(SL.c.branch_id, SL.c.sold_at, months), now)))
    return _count(MONTH, _months_filter(MONTH.c.branch_id, MONTH.c.month, months))


# --- the import hook ------------------------------------------------------------------------------


def _span_days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def affected_keys(report: Any) -> dict[int, set[date]]:
    """The (branch, day)s whose aggregates ``report`` may have changed: the days of its lines, the
    days of the report it replaced (from ``mon_report_span``), and the day where each of its
    customers was counted new before it, unless earlier than the report's first day (their
    first purchase outside this report — a report for an earlier day moves it there)."""
    keys: dict[int, set[date]] = defaultdict(set)
    for branch_id, day in db.session.execute(
            select(SL.c.branch_id, SL.c.sold_at).where(SL.c.report_id == report.id, SL.c.branch_id.is_not(None))
            .distinct()):
        keys[branch_id].add(day)
    earliest = min((d for ds in keys.values() for d in ds), default=None)
    if report.replaces_id is not None:
        old = db.session.get(MonReportSpan, report.replaces_id)
        if old is not None:
            keys[old.branch_id] |= _span_days(old.first_day, old.last_day)
        else:  # filed before the add-on was installed: the importer puts every line on the report's day
            replaced = db.session.get(SalesReport, report.replaces_id)
            if replaced is not None:
                keys[replaced.branch_id].add(replaced.report_date)
    if earliest is None:
        return dict(keys)
    # a former first day before the report's first day stays the customer's first day: not affected
    mine = select(SL.c.customer_id).where(SL.c.report_id == report.id).distinct().subquery("mine")
    before = (select(SL.c.customer_id, func.min(SL.c.sold_at).label("first_day"))
              .where(SL.c.customer_id.in_(select(mine.c.customer_id)),
                     or_(SL.c.report_id.is_(None), SL.c.report_id != report.id))
              .group_by(SL.c.customer_id).having(func.min(SL.c.sold_at) >= earliest)).subquery("before")
    for branch_id, day in db.session.execute(
            select(SL.c.branch_id, SL.c.sold_at)
            .join(before, and_(before.c.customer_id == SL.c.customer_id, before.c.first_day == SL.c.sold_at))
            .where(SL.c.branch_id.is_not(None)).distinct()):
        keys[branch_id].add(day)
    return dict(keys)


def _write_span(report: Any) -> None:
    """Remember the first and last day of the report's lines (none: no row) for its replacement."""
    first, last = db.session.execute(
        select(func.min(SL.c.sold_at), func.max(SL.c.sold_at)).where(SL.c.report_id == report.id)).one()
    span = db.session.get(MonReportSpan, report.id)
    if first is None:
        if span is not None:
            db.session.delete(span)
        return
    if span is None:
        db.session.add(MonReportSpan(report_id=report.id, branch_id=report.branch_id, first_day=first, last_day=last))
    else:
        span.branch_id, span.first_day, span.last_day = report.branch_id, first, last
    db.session.flush()


def apply_report(report: Any) -> dict[str, int]:
    """``portal_sales_imported``: recompute, set-based, the (branch, day) rows of the days the
    report's lines fall on and of the days of the report it replaced (``mon_report_span``), then
    those days' months. Idempotent: running it twice for one report changes nothing (BM-7).

    Runs in the caller's transaction (the event commits each reaction); a handful of statements
    whatever the report's size (past ``MAX_KEYS`` keys, the months they span). Not seen here: a
    replaced report's customers that the replacement dropped (their lines are deleted before the
    hook) may have their first purchase moved to a later day elsewhere; the nightly rebuild
    (stale after every import) settles it."""
    if report is None or report.status != "committed":
        return {"days": 0, "months": 0}
    _lock()
    _write_span(report)
    keys = affected_keys(report)
    if not keys:
        return {"days": 0, "months": 0}
    now = utcnow()
    if sum(len(ds) for ds in keys.values()) > MAX_KEYS:
        # a huge backfill (customers whose first purchase moves, over many branches): the months
        # between its first and last affected day, rebuilt whole, instead of an OR of thousands
        every = [d for ds in keys.values() for d in ds]
        counts = _rebuild(*_rebuild_span(min(every), max(every)), now)
        _ensure_branch(report.branch_id)
        return counts
    days = _write_days(keys, now)
    months: dict[int, set[date]] = {b: {month_start(d) for d in ds} for b, ds in keys.items()}
    written = _write_months(months, now)
    _ensure_branch(report.branch_id)
    return {"days": days, "months": written}


def _lock() -> None:
    """Serialise the writers of the aggregates (PostgreSQL; SQLite has one writer anyway)."""
    if is_postgres():
        db.session.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))


def _ensure_branch(branch_id: int) -> None:
    """A branch filing its first report gets its calendar row (area B's ``ensure_branches``, run
    only then: one primary-key look-up per import otherwise)."""
    from ..models import MonBranch

    if db.session.get(MonBranch, branch_id) is None:
        from ..calendar.service import ensure_branches

        ensure_branches()


# --- the nightly rebuild --------------------------------------------------------------------------


def _rebuild_span(start: date | None, end: date | None) -> tuple[date | None, date | None]:
    """Whole months around ``start``..``end`` (a month row needs all its days)."""
    if start is not None:
        start = month_start(start)
    if end is not None:
        end = next_month(month_start(end)) - timedelta(days=1)
    return start, end


def rebuild(start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """The nightly rebuild: both tables from ``sale_line`` (all days, or ``start``..``end``
    widened to whole months), in one transaction, recorded as a ``mon_run`` of kind ``rebuild``.

    Commits: the run row first (``running``, shown on the monitor page), then the rebuild and the
    finished run together; a failure rolls the rebuild back and records the run as ``failed``."""
    for day in (start, end):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"{day} is outside {FIRST_DAY}..{LAST_DAY}")
    start, end = _rebuild_span(start, end)
    if start is not None and end is not None and start > end:
        raise ValueError("start is after end")
    abandon_stale(RUN_KIND)
    run = MonRun(kind=RUN_KIND, status="running", started_at=utcnow(),
                 detail={"from": start.isoformat() if start else None, "to": end.isoformat() if end else None})
    db.session.add(run)
    db.session.commit()
    run_id, clock = run.id, time.perf_counter()
    try:
        counts = _rebuild(start, end, utcnow())
    except Exception as exc:
        db.session.rollback()
        failed = db.session.get(MonRun, run_id)
        failed.status, failed.finished_at, failed.message = "failed", utcnow(), str(exc)[:500]
        db.session.commit()
        raise
    seconds = round(time.perf_counter() - clock, 3)
    done = db.session.get(MonRun, run_id)
    done.status, done.finished_at, done.rows = "done", utcnow(), counts["days"] + counts["months"]
    done.detail = {**(done.detail or {}), **counts, "seconds": seconds}
    db.session.commit()
    return {**counts, "seconds": seconds, "run_id": run_id, "from": start, "to": end}


def _rebuild(start: date | None, end: date | None, now: Any) -> dict[str, int]:
    """The statements of :func:`rebuild` (no commit)."""
    _lock()
    if is_postgres():
        # the day statement hashes ~one group per line: room for it saves spilling to disk
        db.session.execute(text(f"SET LOCAL work_mem = '{REBUILD_WORK_MEM}'"))
    day_filter: list[ColumnElement[bool]] = []
    line_filter: list[ColumnElement[bool]] = []
    month_filter: list[ColumnElement[bool]] = []
    if start is not None:
        day_filter.append(DAY.c.day >= start)
        line_filter.append(SL.c.sold_at >= start)
        month_filter.append(MONTH.c.month >= start)
    if end is not None:
        day_filter.append(DAY.c.day <= end)
        line_filter.append(SL.c.sold_at <= end)
        month_filter.append(MONTH.c.month <= end)
    lines = and_(*line_filter) if line_filter else None
    days_on = and_(*day_filter) if day_filter else None
    db.session.execute(delete(MonBranchDay).where(*day_filter))
    db.session.execute(insert(DAY).from_select(DAY_COLUMNS, _day_select(lines, now)))
    db.session.execute(delete(MonBranchMonth).where(*month_filter))
    db.session.execute(insert(MONTH).from_select(MONTH_COLUMNS, _month_select(days_on, lines, now)))
    return {"days": _count(DAY, days_on), "months": _count(MONTH, and_(*month_filter) if month_filter else None)}


def _count(table: Any, where: ColumnElement[bool] | None) -> int:
    """Rows of ``table`` matching ``where`` (the driver's rowcount of an INSERT … SELECT is not
    reliable: psycopg's may be -1)."""
    stmt = select(func.count()).select_from(table)
    return int(db.session.execute(stmt.where(where) if where is not None else stmt).scalar_one())


def last_rebuild() -> MonRun | None:
    """The last finished rebuild (whole or ranged)."""
    return db.session.execute(select(MonRun).where(MonRun.kind == RUN_KIND, MonRun.status == "done")
                              .order_by(MonRun.started_at.desc(), MonRun.id.desc()).limit(1)).scalar_one_or_none()


def _last_done(*, whole: bool) -> MonRun | None:
    """The last finished rebuild that reached the last day (``to`` open): whole (``from`` open too)
    when ``whole``. A rebuild of a closed range says nothing about the days after it."""
    runs = db.session.execute(select(MonRun).where(MonRun.kind == RUN_KIND, MonRun.status == "done")
                              .order_by(MonRun.started_at.desc(), MonRun.id.desc()).limit(100)).scalars()
    for run in runs:
        detail = run.detail or {}
        if detail.get("to") is None and (not whole or detail.get("from") is None):
            return run
    return None


def is_stale() -> bool:
    """Whether a report was committed (or replaced) after the last finished rebuild up to the last
    day started."""
    last = _last_done(whole=False)
    newer = select(SalesReport.id).where(SalesReport.status == "committed")
    if last is not None:
        newer = newer.where(SalesReport.created_at >= last.started_at)
    return db.session.execute(newer.limit(1)).first() is not None


def first_touched_day(since: Any) -> date | None:
    """The earliest day a report filed since ``since`` touched: its own days and those of the
    report it replaced (``mon_report_span``, else the report's date)."""
    touched = select(SalesReport.id).where(SalesReport.created_at >= since)
    replaced = select(SalesReport.replaces_id).where(SalesReport.created_at >= since,
                                                     SalesReport.replaces_id.is_not(None))
    ids = touched.union(replaced).subquery("ids")
    report_day = db.session.execute(select(func.min(SalesReport.report_date))
                                    .where(SalesReport.id.in_(select(ids.c.id)))).scalar()
    span_day = db.session.execute(select(func.min(MonReportSpan.first_day))
                                  .where(MonReportSpan.report_id.in_(select(ids.c.id)))).scalar()
    days = [d for d in (report_day, span_day) if d is not None]
    return min(days) if days else None


def refresh_if_stale() -> dict[str, Any] | None:
    """Rebuild when a report was committed after the last finished rebuild; None when fresh.

    Only from the first month a report filed since then touched, to the last day: a report adds or
    removes lines on its own days only, so a customer's first purchase moves only between days of
    that window and nothing before it can change. A whole rebuild when none was done for
    ``WHOLE_EVERY`` (what no report shows: customer merges re-pointing old lines)."""
    if not is_stale():
        return None
    last, whole = _last_done(whole=False), _last_done(whole=True)
    if last is None or whole is None or utcnow() - whole.started_at >= WHOLE_EVERY:
        return rebuild()
    start = first_touched_day(last.started_at)
    return rebuild(start, None) if start is not None else rebuild()


# --- reading --------------------------------------------------------------------------------------


def daily_sales(branch_id: int, start: date, end: date) -> dict[date, int]:
    """Sales per day of one branch from ``mon_branch_day`` (days without sales are absent)."""
    rows = db.session.execute(select(MonBranchDay.day, MonBranchDay.sales).where(
        MonBranchDay.branch_id == branch_id, MonBranchDay.day >= start, MonBranchDay.day <= end)
        .order_by(MonBranchDay.day))
    return {day: int(sales) for day, sales in rows}


def sum_check(branch_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Totals of ``mon_branch_day`` against a plain SUM over ``sale_line`` (diagnostics, tests)."""
    lines = select(func.coalesce(func.sum(SL.c.amount), 0), func.count()).where(SL.c.branch_id.is_not(None))
    days = select(func.coalesce(func.sum(DAY.c.sales), 0), func.coalesce(func.sum(DAY.c.lines), 0))
    if branch_ids is not None:
        ids = list(branch_ids)
        lines, days = lines.where(SL.c.branch_id.in_(ids)), days.where(DAY.c.branch_id.in_(ids))
    line_sum, line_n = db.session.execute(lines).one()
    day_sum, day_n = db.session.execute(days).one()
    return {"line_sales": int(line_sum), "line_count": int(line_n), "day_sales": int(day_sum), "day_lines": int(day_n)}
