"""The core's tabs on the customer page (plugins add theirs through ``portal_customer_tabs``)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import Category, Product, SaleLine
from ..security import has_permission


def purchase_history(customer_id: int, limit: int = 200) -> dict[str, Any]:
    lines = db.session.execute(
        select(SaleLine.sold_at, SaleLine.receipt_no, Product.sku, Product.name, Category.code, Category.name_ko,
               Category.name_en, SaleLine.quantity, SaleLine.amount)
        .outerjoin(Product, Product.id == SaleLine.product_id)
        .outerjoin(Category, Category.id == SaleLine.category_id)
        .where(SaleLine.customer_id == customer_id)
        .order_by(SaleLine.sold_at.desc(), SaleLine.id.desc())
        .limit(limit)
    ).all()
    totals = db.session.execute(
        select(func.count(), func.coalesce(func.sum(SaleLine.amount), 0), func.min(SaleLine.sold_at), func.max(SaleLine.sold_at))
        .where(SaleLine.customer_id == customer_id)
    ).one()
    by_category = db.session.execute(
        select(Category.name_ko, Category.name_en, func.sum(SaleLine.amount))
        .join(SaleLine, SaleLine.category_id == Category.id)
        .where(SaleLine.customer_id == customer_id)
        .group_by(Category.name_ko, Category.name_en).order_by(func.sum(SaleLine.amount).desc())
    ).all()
    return {"lines": lines, "count": totals[0], "total": totals[1], "first": totals[2], "last": totals[3],
            "by_category": by_category, "limit": limit}


def core_tabs(customer: Any, user: Any) -> list[dict[str, Any]]:
    tabs = [{"id": "overview", "label": _l("Overview"), "template": "customers/tab_overview.html", "order": 0, "context": {}}]
    if has_permission(user, "sales.view", customer):
        tabs.append({"id": "purchases", "label": _l("Purchases"), "template": "customers/tab_purchases.html", "order": 10,
                     "context_factory": lambda: purchase_history(customer.id)})
    if has_permission(user, "analytics.view", customer):
        tabs.append({"id": "scores", "label": _l("Scores"), "template": "customers/tab_scores.html", "order": 15,
                     "context_factory": lambda: _scores(customer.id)})
    tabs.append({"id": "consent", "label": _l("Consent"), "template": "customers/tab_consent.html", "order": 20, "context": {}})
    tabs.append({"id": "contacts", "label": _l("Contact history"), "template": "customers/tab_contacts.html", "order": 25,
                 "context_factory": lambda: _contacts(customer, user)})
    tabs.append({"id": "history", "label": _l("History"), "template": "customers/tab_history.html", "order": 90,
                 "context_factory": lambda: {"events": _history(customer.id)}})
    return tabs


def _contacts(customer: Any, user: Any) -> dict[str, Any]:
    """Every channel on one timeline (``portal.contact.history``), a page at a time, and the form
    for logging a call or a mailing when the user may edit the customer."""
    from flask import request

    from ..contact.forms import ContactForm
    from ..contact.history import PER_PAGE, timeline
    from ..pagination import parse_page_args

    page_no, _size = parse_page_args(request.args, default_size=PER_PAGE)
    can_log = has_permission(user, "customer.edit", customer)
    return {"page": timeline(customer.id, page_no), "contact_form": ContactForm() if can_log else None,
            "nav_args": {"customer_id": customer.id, "tab": "contacts"}}


def _scores(customer_id: int) -> dict[str, Any]:
    from ..analytics.score_stats import customer_panel

    return customer_panel(customer_id)


def _history(customer_id: int) -> list[Any]:
    from ..models import AuditEvent

    return list(db.session.execute(
        select(AuditEvent).where(AuditEvent.object_type == "customer", AuditEvent.object_id == str(customer_id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(100)).scalars())
