"""Staff log a contact from the customer's "Contact history" tab (calls and mailings the portal did
not send itself)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..models import Customer
from ..security import get_scoped_or_404, has_permission, permission_required
from .forms import ContactForm
from .service import ContactError, record_contact

bp = Blueprint("contact", __name__)


@bp.post("/customers/<customer_id>/contacts")
@permission_required("customer.edit")
def log_contact(customer_id: str):
    customer = get_scoped_or_404(Customer, customer_id, current_user, "customer.view")
    if not has_permission(current_user, "customer.edit", customer):
        abort(403)
    back = redirect(url_for("customers.detail", customer_id=customer.id, tab="contacts"))
    form = ContactForm()
    if not form.validate_on_submit():
        problems = "; ".join(f"{form[name].label.text}: {' '.join(map(str, errs))}" for name, errs in form.errors.items()
                             if name in form)
        flash(_("Check the contact form.") + (f" {problems}" if problems else ""), "error")
        return back
    try:
        record_contact(customer.id, form.channel.data, purpose=form.purpose.data, source="staff", actor=current_user,
                       outcome=form.outcome.data, note=form.note.data or None)
    except ContactError as exc:
        db.session.rollback()
        flash(_("Check the contact form.") + f" {exc}", "error")
        return back
    db.session.commit()
    flash(_("Contact recorded."), "success")
    return back
