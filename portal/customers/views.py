"""Customer pages: thin handlers over :mod:`portal.customers.service`."""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select

from .. import audit
from ..exports import ExportTooLarge, logged_export
from ..extensions import db
from ..models import Customer
from ..pagination import parse_page_args
from ..plugins import CORE, collect, report_skipped
from ..security import get_scoped_or_404, has_permission, permission_required
from . import bp
from .forms import (
    ComplaintForm,
    ConsentForm,
    CustomerForm,
    HouseholdForm,
    LineCustomerForm,
    QualityFlagForm,
    ResolveForm,
)
from .owners import distributor_filter_choices, line_owners
from .service import (
    EXPORT_COLUMNS,
    CustomerError,
    CustomerFilters,
    branch_choices,
    create_customer,
    current_consents,
    customer_query,
    export_rows,
    filter_choices,
    flag_quality,
    list_page,
    record_consent,
    resolve_quality,
    set_complaint,
    set_household,
    update_customer,
)


def _local_dates(values) -> list[str]:
    """``value | localtime('date')`` for a page of stored (naive UTC) times: the same
    ``yyyy-MM-dd`` in the user's time zone, with the time zone looked up once per page."""
    tz = get_timezone()
    return [v.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d") if v is not None else "" for v in values]


@bp.get("/")
@permission_required("customer.view")
def index():
    filters = CustomerFilters.from_args(request.args)
    page_no, per_page = parse_page_args(request.args)
    page = list_page(customer_query(current_user, filters), page_no, per_page)
    # Links to other pages and sort orders keep a chosen page size (``args`` stays the filters only).
    nav_args = {**filters.as_args(), **({"per_page": per_page} if "per_page" in request.args else {})}
    if not page.items and page.total and page_no > page.pages:
        # Past the last page (an old link, a list that shrank): show the last page, not "no customers".
        return redirect(url_for("customers.index", **nav_args, page=page.pages))
    branches, groups = filter_choices(current_user, "customer.view")
    html = render_template(
        "customers/index.html", page=page, filters=filters, args=filters.as_args(), nav_args=nav_args,
        branches=branches, groups=groups, distributors=distributor_filter_choices(current_user), rows=list(zip(page.items, _local_dates(r.created_at for r in page.items), strict=True)),
    )
    # Written and committed before the response leaves (SECURITY.md: every view of personal data).
    audit.log_access("list", count=len(page.items), detail=f"q={filters.q[:50]} page={page_no}")
    db.session.commit()
    return html


@bp.get("/export.xlsx")
@bp.get("/export.csv")  # registered first, so url_for("customers.export") builds the .csv path
@permission_required("customer.export")
def export():
    """One endpoint for both files; the format comes from the path."""
    fmt = "xlsx" if request.path.endswith(".xlsx") else "csv"
    filters = CustomerFilters.from_args(request.args)
    stmt = customer_query(current_user, filters, permission="customer.export")
    count = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    name = f"customers-{date.today().isoformat()}.{fmt}"
    try:
        return logged_export(fmt, name, EXPORT_COLUMNS, lambda: export_rows(stmt), _("Customers"), count,
                             detail=f"customers.{fmt} {filters.as_args()}"[:500])
    except ExportTooLarge as exc:
        flash(_("%(n)s customers do not fit in one Excel sheet (at most %(max)s rows). "
                "Narrow the filters or export CSV.", n=f"{exc.rows:,}", max=f"{exc.limit:,}"), "error")
        return redirect(url_for("customers.index", **filters.as_args()))


def _form_with_choices(form: CustomerForm) -> CustomerForm:
    form.branch_code.choices = [("", "—")] + [(b.code, f"{b.code} {b.name}") for b in branch_choices(current_user)]
    return form


def _apply_errors(form: CustomerForm, exc: CustomerError) -> None:
    for field, message in exc.errors.items():
        target = getattr(form, field, None)
        if target is not None:
            target.errors = [*list(target.errors), message]
        else:
            flash(message, "error")


@bp.route("/new", methods=["GET", "POST"])
@permission_required("customer.edit")
def create():
    owners = line_owners(current_user)
    form = _form_with_choices(LineCustomerForm() if owners else CustomerForm())
    if owners:
        # A distributor's own code is pre-selected (their only choice without a downline); a
        # leader picks. Anything else posted is "not a valid choice", and the service re-checks.
        form.partner_code.choices = ([] if owners.default else [("", "—")]) + owners.choices
        if request.method == "GET":
            form.partner_code.data = owners.default
    if request.method == "GET" and len(form.branch_code.choices) == 2:
        form.branch_code.data = form.branch_code.choices[1][0]
    if form.validate_on_submit():
        try:
            customer = create_customer(current_user, form.values())
        except CustomerError as exc:
            db.session.rollback()
            _apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Customer %(code)s created.", code=customer.code), "success")
            return redirect(url_for("customers.detail", customer_id=customer.id))
    status = 400 if request.method == "POST" else 200
    return render_template("customers/form.html", form=form, customer=None), status


@bp.get("/<customer_id>")
@permission_required("customer.view")
def detail(customer_id: str):
    customer = get_scoped_or_404(Customer, customer_id, current_user, "customer.view")
    tabs = collect("portal_customer_tabs", customer=customer, user=current_user)
    active = request.args.get("tab", "overview")
    tab = next((t for t in tabs if t["id"] == active), tabs[0])
    context = tab_context(tab)
    if context is None:  # the add-on's tab failed (logged): show the first tab instead
        tab = tabs[0]
        context = tab_context(tab) or {}
    page = dict(
        customer=customer, tabs=tabs,
        consents=current_consents(customer), can_edit=has_permission(current_user, "customer.edit", customer),
        can_flag=has_permission(current_user, "customer.flag", customer),
        consent_form=ConsentForm(), flag_form=QualityFlagForm(), resolve_form=ResolveForm(),
        complaint_form=ComplaintForm(complaint=customer.complaint, note=customer.complaint_note),
        household_form=HouseholdForm(),
    )
    body = tab_body(tab, context, page)
    if body is None:  # the add-on's tab template failed (logged): show the first tab instead
        tab = tabs[0]
        context = tab_context(tab) or {}
        body = tab_body(tab, context, page)
    audit.log_access("view", customer.id, detail=f"tab={tab['id']}")
    db.session.commit()
    return render_template("customers/detail.html", tab=tab, ctx=context, tab_body=body, **page)


def tab_body(tab: dict[str, Any], context: dict[str, Any], page: dict[str, Any]) -> Markup | None:
    """The tab's HTML, rendered before the page so that an add-on's template that raises costs only
    its own tab (``None``, logged once with the add-on's name), never the customer page."""
    try:
        return Markup(render_template(tab["template"], tab=tab, ctx=context, **page))
    except Exception as exc:
        if tab.get("plugin") == CORE:  # the core's own tabs: a bug to see, not to hide
            raise
        db.session.rollback()
        report_skipped(tab.get("plugin", "?"), "portal_customer_tabs",
                       f"template of tab {tab['id']!r} raised {type(exc).__name__}: {exc}", exc=exc)
        return None


def tab_context(tab: dict[str, Any]) -> dict[str, Any] | None:
    """The tab's ``ctx``; ``None`` when its ``context_factory`` raised (skipped, logged once with
    the add-on's name): one add-on's broken tab must not make the customer page a 500."""
    if "context_factory" not in tab:
        return tab.get("context") or {}
    try:
        return tab["context_factory"]()
    except Exception as exc:  # noqa: BLE001
        # A failed query aborts a PostgreSQL transaction; this GET has written nothing yet.
        db.session.rollback()
        report_skipped(tab.get("plugin", "?"), "portal_customer_tabs",
                       f"context_factory of tab {tab['id']!r} raised {type(exc).__name__}: {exc}", exc=exc)
        return None


def _editable(customer_id: str, permission: str = "customer.edit") -> Customer:
    customer = get_scoped_or_404(Customer, customer_id, current_user, "customer.view")
    if not has_permission(current_user, permission, customer):
        abort(403)
    return customer


@bp.route("/<customer_id>/edit", methods=["GET", "POST"])
@permission_required("customer.edit")
def edit(customer_id: str):
    customer = _editable(customer_id)
    form = _form_with_choices(CustomerForm(obj=customer) if request.method == "GET" else CustomerForm())
    # The current owner branch stays selectable (on GET and on POST) even when it is outside the
    # editor's own branches: a distributor may keep a co-owning store while editing.
    if customer.branch and customer.branch.code not in {code for code, _label in form.branch_code.choices}:
        form.branch_code.choices.append((customer.branch.code, f"{customer.branch.code} {customer.branch.name}"))
    if request.method == "GET":
        form.branch_code.data = customer.branch.code if customer.branch else ""
        form.partner_code.data = customer.partner.code if customer.partner else ""
    if form.validate_on_submit():
        try:
            changes = update_customer(current_user, customer, form.values())
        except CustomerError as exc:
            db.session.rollback()
            _apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Saved.") if changes else _("Nothing changed."), "success")
            return redirect(url_for("customers.detail", customer_id=customer.id))
    status = 400 if request.method == "POST" else 200
    return render_template("customers/form.html", form=form, customer=customer), status


def _back(customer: Customer, tab: str = "overview"):
    return redirect(url_for("customers.detail", customer_id=customer.id, tab=tab))


@bp.post("/<customer_id>/consent")
@permission_required("customer.edit")
def consent(customer_id: str):
    customer = _editable(customer_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        problems = "; ".join(f"{form[name].label.text}: {' '.join(map(str, errs))}" for name, errs in form.errors.items()
                             if name in form)
        flash(_("Check the consent form.") + (f" {problems}" if problems else ""), "error")
        return _back(customer, "consent")
    try:
        record_consent(current_user, customer, form.channel.data, form.purpose.data, form.granted.data == "1",
                       form.method.data, form.note.data or "")
    except CustomerError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("Consent recorded."), "success")
    return _back(customer, "consent")


@bp.post("/<customer_id>/quality")
@permission_required("customer.flag")
def quality(customer_id: str):
    customer = _editable(customer_id, "customer.flag")
    form = QualityFlagForm()
    if not form.validate_on_submit():
        flash(_("Say which field is wrong and why."), "error")
        return _back(customer)
    try:
        flag_quality(current_user, customer, form.field.data, form.reason.data)
    except CustomerError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("Data-quality flag set."), "success")
    return _back(customer)


@bp.post("/<customer_id>/quality/resolve")
@permission_required("customer.edit")
def quality_resolve(customer_id: str):
    customer = _editable(customer_id)
    form = ResolveForm()
    try:
        if not form.validate_on_submit():
            raise CustomerError({"issue": _("No such open issue.")})
        resolve_quality(current_user, customer, int(form.issue_id.data))
    except (CustomerError, ValueError):
        db.session.rollback()
        flash(_("No such open issue."), "error")
    else:
        db.session.commit()
        flash(_("Marked as fixed."), "success")
    return _back(customer)


@bp.post("/<customer_id>/complaint")
@permission_required("customer.flag")
def complaint(customer_id: str):
    customer = _editable(customer_id, "customer.flag")
    form = ComplaintForm()
    if form.validate_on_submit():
        set_complaint(current_user, customer, bool(form.complaint.data), form.note.data or "")
        db.session.commit()
        flash(_("Complaint status saved."), "success")
    else:
        flash(_("Check the complaint form."), "error")
    return _back(customer)


@bp.post("/<customer_id>/household")
@permission_required("customer.edit")
def household(customer_id: str):
    customer = _editable(customer_id)
    form = HouseholdForm()
    if not form.validate_on_submit():
        flash(_("Check the household form."), "error")
        return _back(customer)
    raw_id = (form.household_id.data or "").strip()
    try:
        hid = int(raw_id) if raw_id else None
        set_household(current_user, customer, hid, form.new_name.data or "")
    except ValueError:
        db.session.rollback()
        flash(_("A household number is a whole number."), "error")
    except CustomerError as exc:
        db.session.rollback()
        flash("; ".join(exc.errors.values()), "error")
    else:
        db.session.commit()
        flash(_("Household saved."), "success")
    return _back(customer)
