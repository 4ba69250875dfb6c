"""Reading the imported reports: scoped lists, the HQ status board, rejection reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select

from ..bounds import MIN_DATE, clamp_window_end, local_today, query_date
from ..customers.service import neutralize
from ..extensions import db
from ..models import REPORT_STATUSES, OrgUnit, SaleLine, SalesReport, SalesReportRejection
from ..pagination import Page, paginate
from ..security import scope_filter, unit_scope
from .validation import parse_date


@dataclass
class ReportFilters:
    branch: str = ""
    status: str = ""
    date_from: str = ""
    date_to: str = ""

    @classmethod
    def from_args(cls, args: Any) -> ReportFilters:
        return cls(**{f: (args.get(f) or "").strip()[:20] for f in cls.__dataclass_fields__})

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def errors(self) -> dict[str, str]:
        from flask_babel import gettext as _

        out = {}
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value and parse_date(value) is None:
                out[name] = _("Not a date; write it as YYYY-MM-DD (e.g. 2026-11-01).")
        if self.status and self.status not in REPORT_STATUSES:
            out["status"] = _("Unknown status.")
        return out


def reports_query(user: Any, filters: ReportFilters) -> Select:
    """Scoped reports, newest day first (``sales.view`` scope: a store sees its branch)."""
    stmt = (select(SalesReport).join(OrgUnit, OrgUnit.id == SalesReport.branch_id)
            .where(scope_filter(user, "sales.view", SalesReport)))
    if filters.branch:
        stmt = stmt.where(OrgUnit.code == filters.branch.upper())
    if filters.status in REPORT_STATUSES:
        stmt = stmt.where(SalesReport.status == filters.status)
    start, end = parse_date(filters.date_from), parse_date(filters.date_to)
    if start:
        stmt = stmt.where(SalesReport.report_date >= start)
    if end:
        stmt = stmt.where(SalesReport.report_date <= end)
    return stmt.order_by(SalesReport.report_date.desc(), SalesReport.id.desc())


def reports_page(user: Any, filters: ReportFilters, page_no: int, per_page: int) -> Page:
    return paginate(reports_query(user, filters), page_no, per_page, key=SalesReport.id)


def report_history(report: SalesReport) -> list[SalesReport]:
    """Every import attempt of the report's branch and day (committed, replaced, rejected)."""
    return list(db.session.execute(select(SalesReport).where(
        SalesReport.branch_id == report.branch_id, SalesReport.report_date == report.report_date,
    ).order_by(SalesReport.created_at.desc(), SalesReport.id.desc())).scalars())


def report_rejections(report_id: int, limit: int = 500) -> list[SalesReportRejection]:
    return list(db.session.execute(select(SalesReportRejection).where(SalesReportRejection.report_id == report_id)
                                   .order_by(SalesReportRejection.row_no, SalesReportRejection.id)
                                   .limit(limit)).scalars())


def line_totals(report_id: int) -> tuple[int, int, int]:
    """(lines, amount, customers) of a report."""
    row = db.session.execute(select(func.count(), func.coalesce(func.sum(SaleLine.amount), 0),
                                    func.count(func.distinct(SaleLine.customer_id)))
                             .where(SaleLine.report_id == report_id)).one()
    return int(row[0]), int(row[1]), int(row[2])


def already_filed_message(branch_code: str, day: date, existing: SalesReport, source: str) -> str:
    """Why a second file for a filed branch-day is refused, and how to replace it — in the terms of
    the way in: the upload form's checkbox, the API's field or the CLI's flag; the import time in
    the portal's time zone (Asia/Seoul), as the report page shows it."""
    from flask_babel import format_datetime
    from flask_babel import gettext as _

    how = {"cli": _("Run the command again with --replace to swap it for this file."),
           "api": _("Send replace=true to swap it for this file.")}.get(source) or _(
        "Tick \"%(option)s\" to swap it for this file.",
        option=_("Replace the report already imported for that branch and day"))
    return _("Branch %(code)s already has a report for %(day)s (#%(id)d, imported %(when)s).", code=branch_code,
             day=day.isoformat(), id=existing.id, when=format_datetime(existing.created_at, "yyyy-MM-dd HH:mm")) \
        + " " + how


REJECTION_HEADER = ("row", "column", "value", "reason")


def rejection_rows(report_id: int, header: Sequence[str] = REJECTION_HEADER) -> Iterator[str]:
    """The rejection report as CSV text chunks (UTF-8 BOM is the caller's), neutralized; the page
    passes ``header`` in the user's language, the command line keeps the column codes."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    stmt = (select(SalesReportRejection.row_no, SalesReportRejection.column, SalesReportRejection.value,
                   SalesReportRejection.message).where(SalesReportRejection.report_id == report_id)
            .order_by(SalesReportRejection.row_no, SalesReportRejection.id).execution_options(yield_per=5000))
    for row in db.session.execute(stmt):
        writer.writerow([row[0], row[1], neutralize(row[2] or ""), neutralize(row[3])])
        if buf.tell() > 64_000:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


# -- status board -------------------------------------------------------------------------------------

BOARD_DAYS = 14


@dataclass
class Board:
    days: list[date]
    branches: list[OrgUnit]
    cells: dict[tuple[int, date], dict[str, Any]]  # (branch id, day) → {"status", "report_id", "rejected"}
    page: Page
    totals: dict[str, int]  # filed / missing / rejected over every branch in scope

    def cell(self, branch_id: int, day: date) -> dict[str, Any]:
        return self.cells.get((branch_id, day), {"status": "missing"})


def default_board_end(user: Any) -> date:
    """The newest day any in-scope branch filed, else today: the board opens where the data is."""
    latest = db.session.execute(select(func.max(SalesReport.report_date)).where(
        scope_filter(user, "sales.view", SalesReport), SalesReport.status == "committed")).scalar()
    today = local_today()
    return min(latest, today) if latest else today


def board_end(user: Any, raw: str) -> tuple[date, str]:
    """The board's last day from the ``end`` query argument, else :func:`default_board_end`; the
    14-day window always lies between 2000-01-01 and today in the portal's time zone, so
    ``end=0001-01-01`` or ``9999-12-31`` shows the nearest real window and says so (no 500)."""
    lo = MIN_DATE + timedelta(days=BOARD_DAYS - 1)
    end, notice = query_date(raw, parse_date(raw.strip()), lo=lo)
    return (end or clamp_window_end(default_board_end(user), BOARD_DAYS)), notice


def board_neighbours(end: date) -> tuple[date, date]:
    """The ends of the earlier and later windows, inside the same bounds as ``end``."""
    return (clamp_window_end(end - timedelta(days=BOARD_DAYS), BOARD_DAYS),
            clamp_window_end(end + timedelta(days=BOARD_DAYS), BOARD_DAYS))


def status_board(user: Any, end: date, region: str, page_no: int, per_page: int = 50) -> Board:
    days = [end - timedelta(days=i) for i in range(BOARD_DAYS - 1, -1, -1)]
    branches_stmt = (select(OrgUnit).where(OrgUnit.kind == "branch", unit_scope(user, "sales.view"))
                     .order_by(OrgUnit.code, OrgUnit.id))
    if region:
        parent = db.session.execute(select(OrgUnit).where(OrgUnit.code == region.upper(),
                                                          OrgUnit.kind == "region")).scalar_one_or_none()
        branches_stmt = branches_stmt.where(OrgUnit.parent_id == (parent.id if parent else -1))
    page = paginate(branches_stmt, page_no, per_page)
    ids = [b.id for b in page.items]
    window = and_(SalesReport.report_date >= days[0], SalesReport.report_date <= days[-1])
    cells: dict[tuple[int, date], dict[str, Any]] = {}
    if ids:
        rows = db.session.execute(select(SalesReport.branch_id, SalesReport.report_date, SalesReport.status,
                                         SalesReport.id, SalesReport.rejected)
                                  .where(SalesReport.branch_id.in_(ids), window, SalesReport.status != "replaced")
                                  .order_by(SalesReport.id)).all()
        for branch_id, day, status, rid, rejected in rows:
            key = (branch_id, day)
            if status == "committed":
                cells[key] = {"status": "filed", "report_id": rid, "rejected": rejected}
            elif cells.get(key, {}).get("status") != "filed":
                cells[key] = {"status": "rejected", "report_id": rid, "rejected": rejected}
    totals = _board_totals(branches_stmt, window, len(days))
    return Board(days=days, branches=list(page.items), cells=cells, page=page, totals=totals)


def _board_totals(branches_stmt: Select, window: Any, n_days: int) -> dict[str, int]:
    """Filed / rejected / missing branch-days over every branch in scope (at most branches × 14
    small rows, so counted from the distinct (branch, day, status) triples)."""
    branch_ids = branches_stmt.with_only_columns(OrgUnit.id).order_by(None)
    n_branches = db.session.execute(select(func.count()).select_from(branch_ids.subquery())).scalar_one()
    rows = db.session.execute(select(SalesReport.branch_id, SalesReport.report_date, SalesReport.status).distinct()
                              .where(SalesReport.branch_id.in_(branch_ids), window,
                                     SalesReport.status.in_(("committed", "rejected")))).all()
    filed = {(b, d) for b, d, st in rows if st == "committed"}
    rejected = {(b, d) for b, d, st in rows if st == "rejected"} - filed
    return {"filed": len(filed), "rejected": len(rejected), "missing": n_branches * n_days - len(filed) - len(rejected),
            "branches": n_branches}
