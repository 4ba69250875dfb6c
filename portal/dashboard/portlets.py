"""The core's dashboard portlets; each computes its figures in one scoped SQL query."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import Category, Customer, QualityIssue, SaleLine
from ..security import has_permission, scope_filter


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
    scope = scope_filter(user, "customer.view", Customer)
    rows = db.session.execute(
        select(Category.code, Category.name_ko, Category.name_en, func.coalesce(func.sum(SaleLine.amount), 0))
        .join(SaleLine, SaleLine.category_id == Category.id)
        .join(Customer, Customer.id == SaleLine.customer_id)
        .where(SaleLine.sold_at >= since, scope)
        .group_by(Category.code, Category.name_ko, Category.name_en)
        .order_by(func.sum(SaleLine.amount).desc())
    ).all()
    return {"rows": rows}


def core_portlets(user: Any) -> list[dict[str, Any]]:
    portlets = [
        {"title": _l("Welcome"), "template": "dashboard/portlet_welcome.html", "order": 0, "context": {}},
    ]
    if has_permission(user, "customer.view"):
        portlets.append({"title": _l("My customers"), "template": "dashboard/portlet_customers.html", "order": 10,
                         "context": _customer_stats(user)})
        portlets.append({"title": _l("Sales by category, last 12 months"), "template": "dashboard/portlet_sales.html",
                         "order": 20, "context": _sales_by_category(user), "wide": True})
    return portlets
