"""Data-to-fix queue, duplicate candidates and the merge page: thin handlers over the service."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit
from ..customers.labels import label
from ..customers.service import CustomerError, branch_choices, update_customer
from ..extensions import db
from ..models import QUALITY_FIELDS, Customer
from ..pagination import parse_page_args
from ..security import get_scoped_or_404, permission_required
from . import bp, service
from .forms import MergeForm, QuickFixForm
from .service import (
    MAX_GROUP,
    QUEUE_PERMISSION,
    QueueFilters,
    duplicate_candidates,
    merge_counts,
    merge_customers,
)


def _queue_nav_args(filters: QueueFilters) -> dict[str, Any]:
    """The queue's filters plus a chosen page size: what links and redirects carry along."""
    _page, per_page = parse_page_args(request.args)
    return {**filters.as_args(), **({"per_page": per_page} if "per_page" in request.args else {})}


@bp.get("/fix")
@permission_required(QUEUE_PERMISSION)
def fix_queue():
    filters = QueueFilters.from_args(request.args)
    page_no, per_page = parse_page_args(request.args)
    queue = service.fix_queue(current_user, filters, page_no, per_page)
    page = queue.page
    nav_args = _queue_nav_args(filters)
    if not page.items and page.total and page_no > page.pages:
        # Past the last page (the queue shrank as records were fixed): show the last page.
        return redirect(url_for("quality.fix_queue", **nav_args, page=page.pages))
    html = render_template(
        "quality/fix.html", queue=queue, page=page, filters=filters, nav_args=nav_args,
        branches=branch_choices(current_user, QUEUE_PERMISSION), fields=QUALITY_FIELDS,
    )
    audit.log_access("list", count=len(page.items),
                     detail=f"quality.fix branch={filters.branch} field={filters.field} page={page_no}")
    db.session.commit()
    return html


@bp.post("/fix/<int:customer_id>")
@permission_required(QUEUE_PERMISSION)
def fix_customer(customer_id: int):
    customer = get_scoped_or_404(Customer, customer_id, current_user, QUEUE_PERMISSION)
    filters = QueueFilters.from_args(request.args)
    page_no, _per_page = parse_page_args(request.args)
    back = redirect(url_for("quality.fix_queue", **_queue_nav_args(filters), **({"page": page_no} if page_no > 1 else {})))
    form = QuickFixForm()
    if not form.validate_on_submit():
        for name, messages in form.errors.items():
            flash(f"{customer.code} · {label('field', name) or name}: {' '.join(map(str, messages))}", "error")
        return back
    try:
        changes = update_customer(current_user, customer, form.values())
    except CustomerError as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            flash(f"{customer.code} · {label('field', name) or name}: {message}", "error")
        return back
    code = customer.code
    db.session.commit()
    if changes:
        fields = ", ".join(label("field", f) or f for f in changes)
        flash(_("%(code)s saved: %(fields)s.", code=code, fields=fields), "success")
    else:
        flash(_("%(code)s: nothing changed.", code=code), "info")
    return back


@bp.get("/duplicates")
@permission_required("customer.merge")
def duplicates():
    page_no, per_page = parse_page_args(request.args)
    page = duplicate_candidates(current_user, page_no, per_page)
    nav_args = {"per_page": per_page} if "per_page" in request.args else {}
    if not page.items and page.total and page_no > page.pages:
        return redirect(url_for("quality.duplicates", **nav_args, page=page.pages))
    html = render_template("quality/duplicates.html", page=page, nav_args=nav_args,
                           crowded=page.crowded if page_no == 1 else [], max_group=MAX_GROUP)
    audit.log_access("list", count=2 * len(page.items), detail=f"quality.duplicates page={page_no}")
    db.session.commit()
    return html


@bp.route("/merge/<int:customer_id>/<int:other_id>", methods=["GET", "POST"])
@permission_required("customer.merge")
def merge(customer_id: int, other_id: int):
    first = get_scoped_or_404(Customer, customer_id, current_user, "customer.merge")
    second = get_scoped_or_404(Customer, other_id, current_user, "customer.merge")
    if first.id == second.id:
        flash(_("A customer cannot be merged with itself."), "error")
        return redirect(url_for("quality.duplicates"))
    pair = {str(first.id): first, str(second.id): second}
    form = MergeForm()
    form.survivor.choices = [(k, c.code) for k, c in pair.items()]
    if request.method == "GET":
        form.survivor.data = str(first.id)
    if form.validate_on_submit():
        survivor = pair[form.survivor.data]
        duplicate = second if survivor is first else first
        try:
            result = merge_customers(current_user, survivor, duplicate)
        except CustomerError as exc:
            db.session.rollback()
            for message in exc.errors.values():
                flash(message, "error")
        else:
            survivor_id = result.survivor.id
            db.session.commit()
            flash(_("%(merged)s was merged into %(code)s: %(lines)s sale lines and %(consents)s consent records moved.",
                    merged=result.merged_code, code=result.survivor.code, lines=result.moved["sale_lines"],
                    consents=result.moved["consents"]), "success")
            return redirect(url_for("customers.detail", customer_id=survivor_id))
    elif request.method == "POST":
        flash(_("Choose the record to keep and confirm that both are the same person."), "error")
    counts = merge_counts([first.id, second.id])
    html = render_template("quality/merge.html", first=first, second=second, counts=counts, form=form)
    for c in (first, second):
        audit.log_access("view", c.id, detail="quality.merge")
    db.session.commit()
    return html, (400 if request.method == "POST" else 200)
