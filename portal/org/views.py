"""Browse and edit the organisation trees."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..events.ui import render_tabs
from ..extensions import db
from ..models import Customer, OrgUnit, Partner, PartnerGroup
from ..security import has_permission, partner_scope, permission_required, unit_scope
from . import bp
from .forms import OrgUnitForm, PartnerEditForm, PartnerForm, PartnerGroupForm
from .service import OrgError, create_partner, create_unit, move_unit, update_partner, update_unit


@bp.get("/")
@permission_required("org.view")
def index():
    units = list(db.session.execute(
        select(OrgUnit).where(unit_scope(current_user, "org.view")).order_by(OrgUnit.path)).scalars())
    counts = dict(db.session.execute(
        select(Customer.branch_id, func.count()).where(Customer.branch_id.in_([u.id for u in units if u.kind == "branch"]))
        .group_by(Customer.branch_id)).all()) if units else {}
    visible_groups = select(Partner.group_id).where(partner_scope(current_user, "org.view"))
    groups = list(db.session.execute(
        select(PartnerGroup, func.count(Partner.id)).outerjoin(Partner, Partner.group_id == PartnerGroup.id)
        .where(PartnerGroup.id.in_(visible_groups) if not has_permission(current_user, "org.manage") else True)
        .group_by(PartnerGroup.id).order_by(PartnerGroup.code)).all())
    return render_template("org/index.html", units=units, counts=counts, groups=groups,
                           can_manage=has_permission(current_user, "org.manage"),
                           unit_form=OrgUnitForm(), group_form=PartnerGroupForm())


def _unit_choices(form: OrgUnitForm) -> None:
    form.parent_code.choices = [(u.code, f"{u.code} {u.name}") for u in db.session.execute(
        select(OrgUnit).where(OrgUnit.kind != "branch").order_by(OrgUnit.path)).scalars()]


@bp.route("/units/new", methods=["GET", "POST"])
@permission_required("org.manage")
def unit_new():
    form = OrgUnitForm()
    _unit_choices(form)
    if form.validate_on_submit():
        try:
            unit = create_unit(form.code.data, form.name.data, form.kind.data, form.parent_code.data,
                               form.address.data, form.phone.data)
        except OrgError as exc:
            db.session.rollback()
            form.code.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("%(code)s created.", code=unit.code), "success")
            return redirect(url_for("org.index"))
    return render_template("org/unit_form.html", form=form, unit=None), (400 if request.method == "POST" else 200)


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@permission_required("org.view")
def unit(unit_id: int):
    unit = db.session.execute(select(OrgUnit).where(OrgUnit.id == unit_id, unit_scope(current_user, "org.view"))).scalar_one_or_none()
    if unit is None:
        abort(404)
    can_manage = has_permission(current_user, "org.manage", unit)
    form = OrgUnitForm(obj=unit)
    _unit_choices(form)
    if request.method == "POST":
        if not can_manage:
            abort(403)
        if form.validate_on_submit():
            try:
                update_unit(unit, form.name.data, form.address.data, form.phone.data, form.active.data)
                if unit.kind != "hq" and form.parent_code.data and (not unit.parent or form.parent_code.data != unit.parent.code):
                    move_unit(unit, form.parent_code.data)
            except OrgError as exc:
                db.session.rollback()
                form.name.errors.append(str(exc))
            else:
                db.session.commit()
                flash(_("Saved."), "success")
                return redirect(url_for("org.unit", unit_id=unit.id))
    children = list(db.session.execute(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.code)).scalars())
    customers = db.session.execute(select(func.count()).where(Customer.branch_id.in_(
        select(OrgUnit.id).where(unit.subtree_clause())))).scalar_one()
    page = dict(unit=unit, form=form, can_manage=can_manage, children=children, customers=customers)
    return _page("org/unit.html", "org_unit", unit, page)


def _page(template: str, kind: str, obj, page: dict):
    """An org page with the add-ons' tabs (``?tab=``; their buttons come from the template global
    ``object_actions``, see portal.events.ui)."""
    tabs, tab, tab_body = render_tabs(kind, obj, current_user, request.args.get("tab"), page)
    return render_template(template, tabs=tabs, tab=tab, tab_body=tab_body, **page), \
        (400 if request.method == "POST" else 200)


@bp.route("/groups/new", methods=["GET", "POST"])
@permission_required("org.manage")
def group_new():
    from .service import create_group

    form = PartnerGroupForm()
    if form.validate_on_submit():
        try:
            group = create_group(form.code.data, form.name.data, form.leader_name.data)
        except OrgError as exc:
            db.session.rollback()
            form.code.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("%(code)s created.", code=group.code), "success")
            return redirect(url_for("org.group", group_id=group.id))
    return render_template("org/group_form.html", form=form), (400 if request.method == "POST" else 200)


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@permission_required("org.view")
def group(group_id: int):
    group = db.session.get(PartnerGroup, group_id)
    if group is None:
        abort(404)
    partners = list(db.session.execute(
        select(Partner).where(Partner.group_id == group.id, partner_scope(current_user, "org.view")).order_by(Partner.path)).scalars())
    if not partners and not has_permission(current_user, "org.manage"):
        abort(404)
    can_manage = has_permission(current_user, "org.manage")
    form = PartnerForm()
    form.sponsor_code.choices = [(p.code, f"{p.code} {p.name}") for p in partners]
    if request.method == "POST":
        if not can_manage:
            abort(403)
        if form.validate_on_submit():
            try:
                partner = create_partner(group, form.name.data, form.sponsor_code.data, form.phone.data)
            except OrgError as exc:
                db.session.rollback()
                form.name.errors.append(str(exc))
            else:
                db.session.commit()
                flash(_("%(code)s added to the sponsor line.", code=partner.code), "success")
                return redirect(url_for("org.group", group_id=group.id))
    counts = dict(db.session.execute(
        select(Customer.partner_id, func.count()).where(Customer.partner_id.in_([p.id for p in partners]))
        .group_by(Customer.partner_id)).all()) if partners else {}
    return _page("org/group.html", "partner_group", group,
                 dict(group=group, partners=partners, counts=counts, form=form, can_manage=can_manage))


@bp.route("/partners/<int:partner_id>", methods=["GET", "POST"])
@permission_required("org.view")
def partner(partner_id: int):
    partner = db.session.execute(
        select(Partner).where(Partner.id == partner_id, partner_scope(current_user, "org.view"))).scalar_one_or_none()
    if partner is None:
        abort(404)
    can_manage = has_permission(current_user, "org.manage")
    form = PartnerEditForm(obj=partner) if request.method == "GET" else PartnerEditForm()
    candidates = db.session.execute(select(Partner).where(Partner.group_id == partner.group_id).order_by(Partner.path)).scalars()
    form.sponsor_code.choices = [("", "—")] + [(p.code, f"{p.code} {p.name}") for p in candidates
                                               if not p.path.startswith(partner.path)]
    if request.method == "GET":
        form.sponsor_code.data = partner.sponsor.code if partner.sponsor else ""
    if request.method == "POST":
        if not can_manage:
            abort(403)
        if form.validate_on_submit():
            try:
                update_partner(partner, form.name.data, form.phone.data, form.active.data, form.sponsor_code.data or None)
            except OrgError as exc:
                db.session.rollback()
                form.sponsor_code.errors.append(str(exc))
            else:
                db.session.commit()
                flash(_("Saved."), "success")
                return redirect(url_for("org.partner", partner_id=partner.id))
    downline = list(db.session.execute(select(Partner).where(partner.subtree_clause(), Partner.id != partner.id)
                                       .order_by(Partner.path)).scalars())
    customers = db.session.execute(select(func.count()).where(Customer.partner_id == partner.id)).scalar_one()
    return _page("org/partner.html", "partner", partner,
                 dict(partner=partner, form=form, can_manage=can_manage, downline=downline, customers=customers))
