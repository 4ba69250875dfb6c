"""The core's dashboard portlets; each computes its figures in one scoped SQL query.

Sales figures use :func:`portal.sales.scope.sales_scope` — the same rule as the sale-line page,
its exports and the API (where the sale happened, or the distributor line it was sold under),
never the owner of the customer: a chart never adds up a sale its viewer cannot list.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import extract, func, select

from ..extensions import db
from ..models import Category, Customer, OrgUnit, Partner, QualityIssue, SaleLine
from ..sales.scope import sales_scope
from ..security import has_global_permission, has_permission, partner_scope, scope_filter, unit_scope


def _customer_stats(user: Any) -> dict[str, Any]:
    scope = scope_filter(user, "customer.view", Customer)
    total, complaints = db.session.execute(
        select(func.count(), func.coalesce(func.sum(db.case((Customer.complaint.is_(True), 1), else_=0)), 0)).where(scope)
    ).one()
    flagged = db.session.execute(
        select(func.count(func.distinct(QualityIssue.customer_id)))
        .join(Customer, Customer.id == QualityIssue.customer_id)
        .where(QualityIssue.resolved_at.is_(None), scope)
    ).scalar_one()
    return {"total": total, "complaints": complaints, "flagged": flagged}


def _sales_by_category(user: Any) -> dict[str, Any]:
    since = date.today() - timedelta(days=365)
    rows = db.session.execute(
        select(Category.code, Category.name_ko, Category.name_en, func.coalesce(func.sum(SaleLine.amount), 0))
        .join(SaleLine, SaleLine.category_id == Category.id)
        .where(SaleLine.sold_at >= since, sales_scope(user))
        .group_by(Category.code, Category.name_ko, Category.name_en)
        .order_by(func.sum(SaleLine.amount).desc())
    ).all()
    return {"rows": rows}


def last_full_months(n: int, today: date | None = None) -> tuple[date, date]:
    """``[start, end)`` of the last ``n`` complete months (a partial month would read as a drop)."""
    today = today or date.today()
    end = date(today.year, today.month, 1)
    months = end.year * 12 + end.month - 1 - n
    return date(months // 12, months % 12 + 1, 1), end


def _monthly_sales(user: Any) -> dict[str, Any]:
    """Sales per month over the last 12 complete months in the user's scope (one grouped query)."""
    start, end = last_full_months(12)
    year, month = extract("year", SaleLine.sold_at), extract("month", SaleLine.sold_at)
    rows = db.session.execute(
        select(year, month, func.coalesce(func.sum(SaleLine.amount), 0), func.count(func.distinct(SaleLine.customer_id)))
        .where(SaleLine.sold_at >= start, SaleLine.sold_at < end, sales_scope(user))
        .group_by(year, month).order_by(year, month)
    ).all()
    by_month = {(int(y), int(m)): (int(a), int(c)) for y, m, a, c in rows}
    labels, amounts, buyers = [], [], []
    y, m = start.year, start.month
    for _ in range(12):
        labels.append(f"{y}-{m:02d}")
        amount, count = by_month.get((y, m), (0, 0))
        amounts.append(amount)
        buyers.append(count)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    # The month in progress is reported beside the chart as partial, never drawn as a 13th point
    # that would read as a fall.
    mtd_amount, mtd_buyers = db.session.execute(
        select(func.coalesce(func.sum(SaleLine.amount), 0), func.count(func.distinct(SaleLine.customer_id)))
        .where(SaleLine.sold_at >= end, sales_scope(user))
    ).one()
    partial = {"label": f"{end:%Y-%m}", "amount": int(mtd_amount), "buyers": int(mtd_buyers)}
    return {"labels": labels, "amounts": amounts, "buyers": buyers, "total": sum(amounts), "partial": partial}


def _branch_overview(user: Any) -> dict[str, Any]:
    """Customers and 90-day sales per branch the user can see (HQ: all branches)."""
    since = date.today() - timedelta(days=90)
    sales = (select(SaleLine.branch_id, func.sum(SaleLine.amount).label("amount"))
             .where(SaleLine.sold_at >= since, sales_scope(user)).group_by(SaleLine.branch_id).subquery())
    customers = select(Customer.branch_id, func.count().label("n")).group_by(Customer.branch_id).subquery()
    rows = db.session.execute(
        select(OrgUnit.id, OrgUnit.code, OrgUnit.name, func.coalesce(customers.c.n, 0), func.coalesce(sales.c.amount, 0))
        .outerjoin(customers, customers.c.branch_id == OrgUnit.id).outerjoin(sales, sales.c.branch_id == OrgUnit.id)
        .where(OrgUnit.kind == "branch", unit_scope(user, "customer.view")).order_by(OrgUnit.code).limit(50)
    ).all()
    return {"rows": rows}


def _downline(user: Any) -> dict[str, Any]:
    """Distributors in the user's partner scope, with their customers and 90-day sales."""
    since = date.today() - timedelta(days=90)
    scope = partner_scope(user, "customer.view")
    sales = (select(SaleLine.partner_id, func.sum(SaleLine.amount).label("amount"))
             .where(SaleLine.sold_at >= since, SaleLine.partner_id.is_not(None), sales_scope(user))
             .group_by(SaleLine.partner_id).subquery())
    total = db.session.execute(select(func.count(Partner.id)).where(scope)).scalar_one()
    top = db.session.execute(
        select(Partner.id, Partner.code, Partner.name, Partner.level, func.coalesce(sales.c.amount, 0).label("amount"))
        .outerjoin(sales, sales.c.partner_id == Partner.id).where(scope)
        .order_by(func.coalesce(sales.c.amount, 0).desc(), Partner.code).limit(DOWNLINE_TOP)
    ).all()
    return {"total": total, "top": top, "see_all": _whole_line_url(user)}


DOWNLINE_TOP = 8


def _whole_line_url(user: Any) -> str:
    """Where the card's "see all" leads: the one group's or distributor's page listing the whole
    line (each with a link to their customers), else the organisation page."""
    from flask import url_for

    grants = [lr for lr in user.local_roles if lr.partner_group_id or lr.partner_id]
    if len(grants) == 1 and grants[0].partner_group_id:
        return url_for("org.group", group_id=grants[0].partner_group_id)
    if len(grants) == 1:
        return url_for("org.partner", partner_id=grants[0].partner_id)
    return url_for("org.index")


def core_portlets(user: Any) -> list[dict[str, Any]]:
    portlets = [
        {"title": _l("Welcome"), "template": "dashboard/portlet_welcome.html", "order": 0, "context": {}},
    ]
    if has_permission(user, "customer.view"):
        portlets.append({"title": _l("My customers"), "template": "dashboard/portlet_customers.html", "order": 10,
                         "context": _customer_stats(user)})
    if has_permission(user, "sales.view"):
        portlets.append({"title": _l("Sales by category, last 12 months"), "template": "dashboard/portlet_sales.html",
                         "order": 20, "context": _sales_by_category(user), "wide": True})
        portlets.append({"title": _l("Monthly sales, last 12 full months"), "template": "dashboard/portlet_trend.html", "order": 15,
                         "context": _monthly_sales(user)})
    if has_permission(user, "customer.view") and (has_global_permission(user, "customer.view")
                                                   or any(lr.org_unit_id for lr in user.local_roles)):
        portlets.append({"title": _l("Branches, last 90 days"), "template": "dashboard/portlet_branches.html",
                         "order": 30, "context": _branch_overview(user)})
    if any(lr.partner_group_id or lr.partner_id for lr in user.local_roles):
        portlets.append({"title": _l("My downline, last 90 days"), "template": "dashboard/portlet_downline.html",
                         "order": 30, "context": _downline(user)})
    return portlets
