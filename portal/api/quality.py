"""API: the data-to-fix queue, duplicate candidates and the audited merge."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask_login import current_user

from .. import audit
from ..customers.normalize import format_phone
from ..customers.service import CustomerError, to_dict
from ..extensions import db
from ..models import Customer
from ..quality.service import (
    MERGE_PERMISSION,
    QUEUE_PERMISSION,
    FilterError,
    QueueFilters,
    duplicate_candidates,
    fix_queue,
    merge_customers,
)
from ..security import get_scoped_or_404
from . import bp
from .paging import page_args, page_body
from .support import error, json_body, require


def _queue_item(r: Any, issues: list[Any]) -> dict[str, Any]:
    return {
        "id": r.id, "code": r.code, "name": r.name, "phone": format_phone(r.phone) or None, "email": r.email,
        "address": r.address, "postal_code": r.postal_code, "branch_code": r.branch_code,
        "partner_code": r.partner_code, "total_spend": int(r.total_spend or 0),
        "last_purchase_on": r.last_purchase_on.isoformat() if r.last_purchase_on else None,
        "issues": [{"field": q.field, "reason": q.reason, "created_at": q.created_at.isoformat()} for q in issues],
    }


@bp.get("/quality/queue")
def quality_queue():
    require(QUEUE_PERMISSION)
    try:
        filters = QueueFilters.from_args(request.args, strict=True)
    except FilterError as exc:
        abort(400, description=str(exc))
    page_no, per_page = page_args()
    queue = fix_queue(current_user, filters, page_no, per_page)
    page = queue.page
    body = page_body(page, [_queue_item(r, queue.issues[r.id]) for r in page.items], "api.quality_queue",
                     filters.as_args(), counts=queue.counts)
    audit.log_access("api_list", count=len(page.items),
                     detail=f"quality.queue branch={filters.branch} field={filters.field} page={page_no}")
    db.session.commit()
    return jsonify(body)


@bp.get("/quality/duplicates")
def quality_duplicates():
    require(MERGE_PERMISSION)
    page_no, per_page = page_args()
    page = duplicate_candidates(current_user, page_no, per_page)
    body = page_body(page, [{"a": to_dict(p.a), "b": to_dict(p.b), "reasons": p.reasons} for p in page.items],
                     "api.quality_duplicates",
                     crowded=[{"reason": k.reason, "value": k.value, "customers": k.count} for k in page.crowded])
    audit.log_access("api_list", count=2 * len(page.items), detail=f"quality.duplicates page={page_no}")
    db.session.commit()
    return jsonify(body)


@bp.post("/customers/<customer_id>/merge")
def customer_merge(customer_id: str):
    """Merge ``duplicate_id`` into this customer (the survivor)."""
    require(MERGE_PERMISSION)
    survivor = get_scoped_or_404(Customer, customer_id, current_user, MERGE_PERMISSION)
    data = json_body()
    unknown = sorted(set(data) - {"duplicate_id"})
    if unknown:
        return error(422, "validation_failed", f"These fields cannot be set: {', '.join(unknown)}. "
                     "Send only duplicate_id. Nothing was changed.", fields={k: "This field cannot be set." for k in unknown})
    dup_id = data.get("duplicate_id")
    if isinstance(dup_id, bool) or not isinstance(dup_id, int) or dup_id < 1:
        return error(422, "validation_failed", "duplicate_id must be a customer id (a positive whole number). "
                     "Nothing was changed.", fields={"duplicate_id": "A customer id is required."})
    if dup_id == survivor.id:
        return error(422, "validation_failed", "A customer cannot be merged with itself. Nothing was changed.",
                     fields={"duplicate_id": "The same customer as the survivor."})
    duplicate = get_scoped_or_404(Customer, dup_id, current_user, MERGE_PERMISSION)
    try:
        result = merge_customers(current_user, survivor, duplicate)
    except CustomerError as exc:
        db.session.rollback()
        return error(422, "validation_failed", f"The merge was refused: {'; '.join(exc.errors.values())} "
                     "Nothing was changed.", fields=exc.errors)
    survivor_id = result.survivor.id
    db.session.commit()
    return jsonify(to_dict(db.session.get(Customer, survivor_id), detail=True))
