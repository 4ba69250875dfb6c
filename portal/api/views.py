"""API v1 handlers. Bearer token only; every error is JSON ``{"error", "message"}``."""

from __future__ import annotations

from flask import abort, jsonify, request, url_for
from flask_login import current_user

from .. import audit
from ..customers.service import (
    WRITABLE_FIELDS,
    CustomerError,
    CustomerFilters,
    create_customer,
    customer_query,
    list_page,
    row_to_dict,
    to_dict,
    update_customer,
)
from ..extensions import db
from ..models import Customer
from ..security import get_scoped_or_404, has_permission
from . import bp
from .paging import page_args, page_body
from .support import authenticate_bearer, error, json_body, require

bp.before_request(authenticate_bearer)


@bp.get("/me")
def me():
    u = current_user
    return jsonify({
        "id": u.id, "email": u.email, "name": u.name, "locale": u.locale,
        "roles": sorted(u.role_names),
        "local_roles": [{"role": lr.role, "on": lr.target_label} for lr in u.local_roles],
    })


@bp.get("/customers")
def customers():
    require("customer.view")
    filters = CustomerFilters.from_args(request.args)
    page_no, per_page = page_args()
    page = list_page(customer_query(current_user, filters), page_no, per_page)
    body = page_body(page, [row_to_dict(r) for r in page.items], "api.customers", filters.as_args())
    audit.log_access("api_list", count=len(page.items), detail=f"q={filters.q[:50]} page={page_no}")
    db.session.commit()
    return jsonify(body)


@bp.get("/customers/<customer_id>")
def customer(customer_id: str):
    require("customer.view")
    c = get_scoped_or_404(Customer, customer_id, current_user, "customer.view")
    audit.log_access("api_view", c.id)
    db.session.commit()
    return jsonify(to_dict(c, detail=True))


def _validation_error(exc: CustomerError):
    refused = sorted(f for f in exc.errors if f not in WRITABLE_FIELDS)
    if refused:
        message = (f"These fields cannot be set: {', '.join(refused)}. Writable fields: {', '.join(WRITABLE_FIELDS)}. "
                   "Nothing was saved.")
    else:
        message = f"Some fields are not valid: {', '.join(sorted(exc.errors))}. Nothing was saved."
    return error(422, "validation_failed", message, fields=exc.errors)


@bp.post("/customers")
def customer_create():
    require("customer.edit")
    data = json_body()
    try:
        c = create_customer(current_user, data)
    except CustomerError as exc:
        db.session.rollback()
        return _validation_error(exc)
    db.session.commit()
    resp = jsonify(to_dict(c, detail=True))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.customer", customer_id=c.id)
    return resp


@bp.patch("/customers/<customer_id>")
def customer_update(customer_id: str):
    require("customer.edit")
    c = get_scoped_or_404(Customer, customer_id, current_user, "customer.view")
    if not has_permission(current_user, "customer.edit", c):
        abort(403, description="You may view but not edit this customer.")
    data = json_body()
    try:
        update_customer(current_user, c, data)
    except CustomerError as exc:
        db.session.rollback()
        return _validation_error(exc)
    db.session.commit()
    return jsonify(to_dict(c, detail=True))
