"""Data-subject request pages: download a customer's data, pseudonymize on request."""

from __future__ import annotations

import json
from datetime import date

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit
from ..extensions import db
from ..models import Customer
from ..security import get_scoped_or_404, has_permission, permission_required
from . import bp
from .privacy import export_personal_data, pseudonymize


def _customer(customer_id: str) -> Customer:
    customer = get_scoped_or_404(Customer, customer_id, current_user, "customer.view")
    if not has_permission(current_user, "customer.privacy", customer):
        abort(403)
    return customer


@bp.get("/<customer_id>/privacy/export.json")
@permission_required("customer.privacy")
def privacy_export(customer_id: str):
    customer = _customer(customer_id)
    # default=str: an add-on's dates or decimals never turn the download into a 500
    body = json.dumps(export_personal_data(customer), ensure_ascii=False, indent=2, default=str)
    audit.log_access("dsr_export", customer.id, detail="data-subject export (JSON)")
    db.session.commit()
    name = f"{customer.code}-personal-data-{date.today().isoformat()}.json"
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/<customer_id>/privacy/pseudonymize")
@permission_required("customer.privacy")
def privacy_pseudonymize(customer_id: str):
    customer = _customer(customer_id)
    if customer.pseudonymized_at is not None:
        flash(_("This customer is already pseudonymized."), "info")
        return redirect(url_for("customers.detail", customer_id=customer.id))
    if request.form.get("confirm_code", "").strip().upper() != customer.code:
        flash(_("Type the customer number to confirm; nothing was changed."), "error")
        return redirect(url_for("customers.detail", customer_id=customer.id))
    pseudonymize(current_user, customer, request.form.get("reason", ""))
    db.session.commit()
    flash(_("Personal data removed. Sales statistics are kept without identifiers."), "success")
    return redirect(url_for("customers.detail", customer_id=customer.id))
