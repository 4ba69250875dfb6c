from __future__ import annotations

from typing import Any

from flask import Blueprint

from portal.toolkit import audit, db, hookimpl

from .models import EvaContact

bp = Blueprint("eva", __name__, template_folder="templates")  # templates only, no routes

CALLS: list[tuple[str, Any]] = []
TABS: dict[str, Any] = {"broken": False}


def _mark(event: str, detail: str) -> None:
    CALLS.append((event, detail))
    audit.record(f"eva.{event}", summary=detail[:200])


@hookimpl
def portal_blueprints():
    return [bp]


@hookimpl
def portal_sales_imported(report):
    _mark("sales_imported", f"report {report.id}")


@hookimpl
def portal_customers_created(customer_ids, actor, source):
    _mark("customers_created", f"{sorted(customer_ids)} {source} {getattr(actor, 'email', None)}")


@hookimpl
def portal_quality_changed(customer_ids, field, opened, actor, source):
    _mark("quality_changed", f"{sorted(customer_ids)} {field} {opened} {source}")


@hookimpl
def portal_org_changed(kind, object_id, change, actor, source):
    _mark("org_changed", f"{kind} {object_id} {change} {source}")


@hookimpl
def portal_scores_refreshed(run_id, actor, source):
    _mark("scores_refreshed", f"{run_id} {source}")


@hookimpl
def portal_extraction_created(extraction, actor, source):
    _mark("extraction_created", f"{extraction.id} {source}")


@hookimpl
def portal_report_refused(branch_id, report_date, reason, actor, source):
    _mark("report_refused", f"{branch_id} {report_date} {reason} {source}")


@hookimpl
def portal_household_changed(customer, old_household_id, new_household_id, actor, source):
    _mark("household_changed", f"{customer.id} {old_household_id} {new_household_id} {source}")


@hookimpl
def portal_personal_data(customer):
    rows = db.session.execute(db.select(EvaContact).where(EvaContact.customer_id == customer.id)
                              .order_by(EvaContact.id)).scalars().all()
    if not rows:
        return None
    return {"name": "eva", "data": [{"phone": r.phone, "note": r.note} for r in rows]}


@hookimpl
def portal_personal_data_erased(customer, actor):
    db.session.execute(db.delete(EvaContact).where(EvaContact.customer_id == customer.id))
    _mark("personal_data_erased", f"{customer.id}")


@hookimpl
def portal_org_unit_tabs(unit, user):
    if TABS["broken"]:
        return [{"id": "bad id!", "label": "Broken", "template": "eva/tab.html"},
                {"id": "eva-missing", "label": "Missing template", "template": "eva/none.html"}]
    return [{"id": "eva-unit", "label": "A on unit", "template": "eva/tab.html", "order": 50,
             "context": {"what": f"unit {unit.code}"}}]


@hookimpl
def portal_partner_group_tabs(group, user):
    return [{"id": "eva-group", "label": "A on group", "template": "eva/tab.html", "order": 50,
             "context_factory": lambda: {"what": f"group {group.code}"}}]


@hookimpl
def portal_partner_tabs(partner, user):
    return [{"id": "eva-partner", "label": "A on partner", "template": "eva/tab.html", "order": 50,
             "context": {"what": f"partner {partner.code}"}}]


@hookimpl
def portal_object_actions(kind, obj, user):
    return [
        {"label": f"A acts on {kind}", "url": f"/eva/{kind}/{obj.id}", "order": 10},
        {"label": "A manages", "url": f"/eva/{kind}/{obj.id}/manage", "permission": "org.manage", "method": "post",
         "order": 20},
        {"label": "", "url": "/eva/nolabel"},  # malformed: skipped and logged
    ]
