"""Helpers of the aggregates tests: daily report files for the core importer, the aggregate
tables as plain rows, and the same figures recomputed by a plain SUM over ``sale_line``."""

from __future__ import annotations

from datetime import date
from typing import Any

HEADER = "판매일자,지점코드,영수증번호,고객번호,고객명,전화번호,이메일,주소,우편번호,생년월일,상품코드,상품명,카테고리,수량,단가,금액"
# Days long before the demo data (which ends yesterday): figures there are the test's own.
OLD = date(2010, 1, 31)


def report_csv(day: date, branch: str, lines: list[tuple[str, int]], tag: str = "") -> bytes:
    """One branch's report of ``day``: one health-food line per (customer code, amount)."""
    rows = [f"{day.isoformat()},{branch},AGG{tag}{i:04d},{code},고객{code[-2:]},,,서울시 강남구 테헤란로 1,06236,,HEA-001,,health,1,"
            f"{amount},{amount}" for i, (code, amount) in enumerate(lines)]
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def import_csv(data: bytes, name: str, *, replace: bool = False) -> Any:
    """Through the core importer as the command line does (no uploader); fires the hook."""
    from portal.toolkit import import_sales_report

    result = import_sales_report(data, name, None, replace=replace, source="cli")
    assert result.status == "committed", result.message
    return result


def day_rows() -> dict[tuple[int, date], tuple[int, int, int, int]]:
    from sqlalchemy import select

    from plugins.branch_monitor.models import MonBranchDay
    from portal.toolkit import db

    return {(r.branch_id, r.day): (r.sales, r.lines, r.customers, r.new_customers)
            for r in db.session.execute(select(MonBranchDay)).scalars()}


def month_rows() -> dict[tuple[int, date], tuple[int, int, int, int, int]]:
    from sqlalchemy import select

    from plugins.branch_monitor.models import MonBranchMonth
    from portal.toolkit import db

    return {(r.branch_id, r.month): (r.sales, r.lines, r.customers, r.new_customers, r.sale_days)
            for r in db.session.execute(select(MonBranchMonth)).scalars()}


def plain_day(branch_id: int, day: date) -> tuple[int, int, int]:
    """Sales, lines and distinct customers of one branch-day by a plain SUM over ``sale_line``."""
    from sqlalchemy import func, select

    from portal.toolkit import SaleLine, db

    sales, n, customers = db.session.execute(
        select(func.coalesce(func.sum(SaleLine.amount), 0), func.count(), func.count(SaleLine.customer_id.distinct()))
        .where(SaleLine.branch_id == branch_id, SaleLine.sold_at == day)).one()
    return int(sales), int(n), int(customers)


def plain_month(branch_id: int, start: date, end: date) -> tuple[int, int, int, int]:
    """Sales, lines, distinct customers and sale days of one branch between two days."""
    from sqlalchemy import func, select

    from portal.toolkit import SaleLine, db

    sales, n, customers, days = db.session.execute(
        select(func.coalesce(func.sum(SaleLine.amount), 0), func.count(), func.count(SaleLine.customer_id.distinct()),
               func.count(SaleLine.sold_at.distinct()))
        .where(SaleLine.branch_id == branch_id, SaleLine.sold_at >= start, SaleLine.sold_at <= end)).one()
    return int(sales), int(n), int(customers), int(days)


def branch_id(code: str) -> int:
    from sqlalchemy import select

    from portal.toolkit import OrgUnit, db

    return db.session.execute(select(OrgUnit.id).where(OrgUnit.code == code)).scalar_one()
