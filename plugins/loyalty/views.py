"""Loyalty pages: thin handlers over the services (``ledger``, ``redemption``, ``family``, ``tiers``,
``expiry``). Customers load through the scope filter (out of scope = 404); actions need their
permission on that customer (403)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists, func, select

from portal.toolkit import (
    Category,
    Customer,
    Household,
    audit,
    db,
    get_scoped_or_404,
    has_permission,
    paginate,
    parse_page_args,
    permission_required,
    scope_filter,
)

from . import family as family_service
from . import redemption
from .config import rules, tiers
from .forms import (
    ActionForm,
    AdjustForm,
    DecideForm,
    MemberForm,
    PromotionForm,
    RateForm,
    RedeemForm,
    ReverseForm,
    RewardForm,
    TierForm,
    TransferForm,
)
from .ledger import MAX_POINTS, LedgerError, reverse
from .models import LoyAccount, LoyApproval, LoyCategoryRate, LoyEntry, LoyPromotion, LoyReward, LoyTier
from .summary import account_of

bp = Blueprint("loyalty", __name__, url_prefix="/loyalty", template_folder="templates")


def _customer(customer_id: str, permission: str) -> Customer:
    customer = get_scoped_or_404(Customer, customer_id, current_user, "loyalty.view")
    if not has_permission(current_user, permission, customer):
        abort(403)
    return customer


def _points_tab(customer: Customer):
    return redirect(url_for("customers.detail", customer_id=customer.id, tab="points"))


@bp.get("/")
@permission_required("loyalty.view")
def index():
    in_scope = scope_filter(current_user, "loyalty.view", Customer)
    q = (request.args.get("q") or "").strip()
    if q:
        # A card of a household with nobody in scope answers as an unknown number does.
        household_id = family_service.household_for_card_number(current_user, q)
        if household_id is not None:
            return redirect(url_for(".family", household_id=household_id))
        found = db.session.execute(select(Customer.id).where(Customer.code == q.upper(), in_scope)).scalar_one_or_none()
        if found:
            return redirect(url_for("customers.detail", customer_id=found, tab="points"))
        flash(_("No customer or family card matches %(q)s.", q=q), "error")
    members, points = db.session.execute(
        select(func.count(LoyAccount.id), func.coalesce(func.sum(LoyAccount.balance), 0))
        .join(Customer, Customer.id == LoyAccount.customer_id)
        .where(LoyAccount.kind == "member", in_scope)).one()
    pooled = db.session.execute(
        select(func.count(LoyAccount.id), func.coalesce(func.sum(LoyAccount.balance), 0))
        .where(LoyAccount.kind == "family",
               exists().where(Customer.household_id == LoyAccount.household_id, in_scope))).one()
    pending = 0
    if has_permission(current_user, "loyalty.approve"):
        pending = db.session.execute(select(func.count()).select_from(
            redemption.approvals_query(current_user).subquery())).scalar_one()
    from .tiers import distribution

    return render_template("loyalty/index.html", members=members, points=points, cards=pooled[0],
                           pooled_points=pooled[1], pending=pending, distribution=distribution(current_user),
                           ladder=tiers(), rules=rules(), q=q)


# -- staff actions on one customer ---------------------------------------------------------------


@bp.route("/customers/<customer_id>/redeem", methods=["GET", "POST"])
@permission_required("loyalty.redeem")
def redeem(customer_id: str):
    customer = _customer(customer_id, "loyalty.redeem")
    rewards = redemption.active_rewards()
    form = RedeemForm()
    form.reward_id.choices = [(0, _("— points only —"))] + [
        (r.id, f"{r.name_ko if _locale() == 'ko' else r.name_en} · {r.points_cost:,} P") for r in rewards]
    _member, acct = account_of(customer)
    if form.validate_on_submit():
        try:
            if form.reward_id.data:
                reward = db.session.get(LoyReward, form.reward_id.data)
                result = redemption.redeem_reward(customer, reward, form.quantity.data or 1, current_user,
                                                  note=form.reason.data or "")
            else:
                result = redemption.redeem_points(customer, form.points.data, form.reason.data or _("Redemption"),
                                                  current_user)
        except LedgerError as exc:
            db.session.rollback()
            flash(_ledger_message(exc), "error")
        else:
            db.session.commit()
            flash(_("Redeemed %(n)s points; %(b)s points left.", n=f"{-result.entry.points:,}",
                    b=f"{result.balance:,}"), "success")
            return _points_tab(customer)
    return render_template("loyalty/redeem.html", customer=customer, form=form, account=acct, rewards=rewards)


@bp.route("/customers/<customer_id>/adjust", methods=["GET", "POST"])
@permission_required("loyalty.adjust")
def adjust(customer_id: str):
    customer = _customer(customer_id, "loyalty.adjust")
    form = AdjustForm()
    _member, acct = account_of(customer)
    if form.validate_on_submit():
        try:
            state, _obj = redemption.request_adjustment(customer, form.points.data, form.reason.data, current_user)
        except LedgerError as exc:
            db.session.rollback()
            flash(_ledger_message(exc), "error")
        else:
            db.session.commit()
            if state == "pending":
                flash(_("Above the approval limit: the adjustment waits for a second staff member."), "info")
            else:
                flash(_("Adjusted by %(n)s points.", n=f"{form.points.data:+,}"), "success")
            return _points_tab(customer)
    return render_template("loyalty/adjust.html", customer=customer, form=form, account=acct,
                           limit=rules().approval_limit, window=rules().approval_window_hours)


@bp.post("/entries/<int(max=9223372036854775807):entry_id>/reverse")  # a 64-bit id (portal.bounds.IdConverter)
@permission_required("loyalty.approve")
def reverse_entry(entry_id: int):
    entry = db.session.get(LoyEntry, entry_id) or abort(404)
    acct = db.session.get(LoyAccount, entry.account_id)
    customer_id = entry.member_id or (acct.customer_id if acct else None)
    customer = _customer(str(customer_id or 0), "loyalty.approve")
    form = ReverseForm()
    if not form.validate_on_submit():
        flash(_("Give a reason for the reversal."), "error")
        return _points_tab(customer)
    try:
        reverse(entry.id, form.reason.data, actor=current_user)
    except LedgerError as exc:
        db.session.rollback()
        flash(_ledger_message(exc), "error")
        return _points_tab(customer)
    audit.record("loyalty.reversed", customer, summary=f"entry #{entry.id}: {form.reason.data}"[:500])
    db.session.commit()
    flash(_("Entry #%(id)s reversed.", id=entry.id), "success")
    return _points_tab(customer)


# -- approvals -----------------------------------------------------------------------------------


@bp.get("/approvals")
@permission_required("loyalty.approve")
def approvals():
    page_no, per_page = parse_page_args(request.args)
    status = request.args.get("status", "pending")
    if status not in ("pending", "approved", "rejected"):
        status = "pending"
    page = paginate(redemption.approvals_query(current_user, status), page_no, per_page)
    return render_template("loyalty/approvals.html", page=page, status=status, form=DecideForm())


@bp.post("/approvals/<int:approval_id>")
@permission_required("loyalty.approve")
def decide(approval_id: int):
    approval = db.session.execute(redemption.approvals_query(current_user).where(LoyApproval.id == approval_id)
                                  ).scalar_one_or_none()
    if approval is None:
        abort(404)
    form = DecideForm()
    if not form.validate_on_submit():
        abort(400)
    approve = request.form.get("decision") == "approve"
    try:
        redemption.decide(approval, approve, current_user, note=form.note.data or "")
    except LedgerError as exc:
        db.session.rollback()
        flash(_ledger_message(exc), "error")
    else:
        db.session.commit()
        flash(_("Approved and applied.") if approve else _("Rejected."), "success")
    return redirect(url_for(".approvals"))


# -- family cards --------------------------------------------------------------------------------
# The scope rules live in ``family`` (docs/security.md, "Households and points"): a household
# opens when one member is in scope and shows only those members; every action needs
# ``loyalty.family`` on each customer it touches.


def _household(household_id: int) -> Household:
    return family_service.household_in_scope(current_user, household_id) or abort(404)


def _family_page(household_id: int) -> str:
    return redirect(url_for(".family", household_id=household_id))


@bp.get("/family/<int:household_id>")
@permission_required("loyalty.view")
def family(household_id: int):
    view = family_service.household_view(current_user, _household(household_id))
    add_form, transfer_form = MemberForm(), TransferForm()
    _member_choices(view, add_form, transfer_form)
    return render_template("loyalty/family.html", view=view, household=view.household, card=view.card,
                           add_form=add_form, transfer_form=transfer_form, action=ActionForm())


def _member_choices(view: family_service.HouseholdView, add_form: MemberForm, transfer_form: TransferForm) -> None:
    """Choices name only customers the user may manage: anything else posted fails validation."""
    on_card = {m.customer_id for m in view.members}
    add_form.customer_id.choices = [(c.id, f"{c.code} {c.name}") for c in view.people
                                    if c.id not in on_card and c.id in view.manageable]
    transfer_form.source_id.choices = transfer_form.target_id.choices = [
        (m.customer_id, f"{view.names[m.customer_id].code} {view.names[m.customer_id].name}")
        for m in view.members if m.customer_id in view.manageable]


def _family_action(household_id: int) -> tuple[family_service.HouseholdView, MemberForm, TransferForm]:
    view = family_service.household_view(current_user, _household(household_id))
    add_form, transfer_form = MemberForm(), TransferForm()
    _member_choices(view, add_form, transfer_form)
    return view, add_form, transfer_form


@bp.post("/family/<int:household_id>/issue")
@permission_required("loyalty.family")
def family_issue(household_id: int):
    household = _household(household_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _family_do(household.id, lambda: family_service.issue_card(household, current_user),
                      _("Family card issued."))


@bp.post("/family/<int:household_id>/members")
@permission_required("loyalty.family")
def family_add(household_id: int):
    view, form, _t = _family_action(household_id)
    if view.card is None:
        abort(400)
    if not form.validate_on_submit():
        flash(_("Choose a household member you manage."), "error")
        return _family_page(household_id)
    customer = view.names[form.customer_id.data]
    return _family_do(household_id, lambda: family_service.add_member(view.card, customer, current_user),
                      _("%(name)s joined the family card.", name=customer.name))


@bp.post("/family/<int:household_id>/members/<int:customer_id>/remove")
@permission_required("loyalty.family")
def family_remove(household_id: int, customer_id: int):
    household = _household(household_id)
    card = family_service.card_for_household(household.id)
    customer = family_service.scoped_customer(current_user, customer_id) or abort(404)
    if not family_service.may_manage(current_user, customer):
        abort(403)
    if card is None or not ActionForm().validate_on_submit():
        abort(400)
    return _family_do(household.id, lambda: family_service.remove_member(card, customer, current_user),
                      _("%(name)s left the family card with the points they earned.", name=customer.name))


@bp.post("/family/<int:household_id>/transfer")
@permission_required("loyalty.family")
def family_transfer(household_id: int):
    view, _a, form = _family_action(household_id)
    if view.card is None:
        abort(400)
    if not form.validate_on_submit():
        flash(_("Choose two members you manage, a number of points and a reason."), "error")
        return _family_page(household_id)
    source, target = view.names[form.source_id.data], view.names[form.target_id.data]
    return _family_do(household_id, lambda: family_service.transfer_between_members(
        view.card, source, target, form.points.data, form.reason.data, current_user),
        _("Moved %(n)s points between members.", n=f"{form.points.data:,}"))


def _family_do(household_id: int, action, message: str):
    try:
        action()
    except LedgerError as exc:
        db.session.rollback()
        flash(_ledger_message(exc), "error")
    else:
        db.session.commit()
        flash(message, "success")
    return _family_page(household_id)


# -- reports -------------------------------------------------------------------------------------


@bp.get("/reports/tiers")
@permission_required("loyalty.view")
def report_tiers():
    from .tiers import distribution, ladder_report

    by = request.args.get("by", "branch")
    by = by if by in ("branch", "group") else "branch"
    try:
        months = max(1, min(24, int(request.args.get("months", 12))))
    except ValueError:
        months = 12
    report = ladder_report(current_user, months=months, by=by)
    chart = {
        "type": "bar",
        "data": {"labels": report["months"], "datasets": [
            {"label": _("Moved up"), "data": [report["per_month"][m]["up"] for m in report["months"]],
             "backgroundColor": "#2e7d32"},
            {"label": _("Moved down"), "data": [-report["per_month"][m]["down"] for m in report["months"]],
             "backgroundColor": "#c62828"}]},
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True}}},
    }
    return render_template("loyalty/report_tiers.html", report=report, chart=chart, by=by, months=months,
                           distribution=distribution(current_user))


@bp.get("/reports/expiring")
@permission_required("loyalty.view")
def report_expiring():
    from .expiry import expiring_query

    days = rules().reminder_days
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        return _expiring_export(fmt, days)
    stmt, until = expiring_query(current_user, days=days)
    page_no, per_page = parse_page_args(request.args)
    page = paginate(stmt, page_no, per_page, scalars=False)
    return render_template("loyalty/report_expiring.html", page=page, until=until, days=days)


def _expiring_export(fmt: str, days: int):
    """Names and customer numbers leave only through the core's logged export: ``customer.export``
    required, the customers limited to those the user may export, the row count logged."""
    from portal.toolkit import ExportTooLarge, logged_export

    from .expiry import expiring_query

    if not has_permission(current_user, "customer.export"):
        abort(403)
    stmt, _until = expiring_query(current_user, days=days, export=True)
    count = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    try:
        return logged_export(
            fmt, f"points-expiring-{date.today():%Y%m%d}.{fmt}",
            [_("Customer no."), _("Name"), _("Points expiring"), _("First expiry")],
            lambda: ([r.code, r.name, int(r.points), r.first_expiry] for r in db.session.execute(stmt)),
            _("Expiring points"), count, detail=f"loyalty expiring points ({days} days)")
    except ExportTooLarge as exc:
        flash(_("%(n)s customers do not fit in one Excel sheet (at most %(max)s rows). "
                "Narrow the filters or export CSV.", n=f"{exc.rows:,}", max=f"{exc.limit:,}"), "error")
        return redirect(url_for(".report_expiring"))


# -- programme settings --------------------------------------------------------------------------


def _category_choices(blank: bool = False) -> list[tuple[int, str]]:
    cats = db.session.execute(select(Category).order_by(Category.code)).scalars().all()
    out = [(c.id, c.name_ko if _locale() == "ko" else c.name_en) for c in cats]
    return ([(0, _("All categories"))] if blank else []) + out


@bp.get("/programme")
@permission_required("loyalty.manage")
def programme():
    rate_form, promo_form = RateForm(), PromotionForm()
    rate_form.category_id.choices = _category_choices()
    promo_form.category_id.choices = _category_choices(blank=True)
    return render_template(
        "loyalty/programme.html", rules=rules(), ladder=tiers(), tier_form=TierForm(), rate_form=rate_form,
        promo_form=promo_form, reward_form=RewardForm(), action=ActionForm(),
        rates=db.session.execute(select(LoyCategoryRate).order_by(LoyCategoryRate.category_id)).scalars().all(),
        promotions=db.session.execute(select(LoyPromotion).order_by(LoyPromotion.starts_on.desc())).scalars().all(),
        rewards=db.session.execute(select(LoyReward).order_by(LoyReward.points_cost)).scalars().all())


@bp.post("/programme/tiers")
@permission_required("loyalty.manage")
def programme_tier():
    form = TierForm()
    if form.validate_on_submit():
        tier = db.session.execute(select(LoyTier).where(LoyTier.code == form.code.data)).scalar_one_or_none()
        clash = db.session.execute(select(LoyTier).where(LoyTier.threshold == form.threshold.data,
                                                         LoyTier.code != form.code.data)).scalar_one_or_none()
        if clash is not None:
            flash(_("Another tier already starts at %(n)s points.", n=form.threshold.data), "error")
        else:
            tier = tier or LoyTier(code=form.code.data)
            for name in ("name_ko", "name_en", "threshold", "multiplier_pct"):
                setattr(tier, name, getattr(form, name).data)
            db.session.add(tier)
            audit.record("loyalty.tier_saved", summary=f"{tier.code} ≥ {tier.threshold} × {tier.multiplier_pct}%")
            db.session.commit()
            flash(_("Tier %(code)s saved. Members move at the next earning or period-end review.", code=tier.code),
                  "success")
    else:
        flash(_("The tier was not saved: check the fields."), "error")
    return redirect(url_for(".programme"))


@bp.post("/programme/rates")
@permission_required("loyalty.manage")
def programme_rate():
    form = RateForm()
    form.category_id.choices = _category_choices()
    if form.validate_on_submit():
        rate = db.session.get(LoyCategoryRate, form.category_id.data) or LoyCategoryRate(category_id=form.category_id.data)
        rate.multiplier_pct = form.multiplier_pct.data
        db.session.add(rate)
        audit.record("loyalty.rate_saved", summary=f"category {rate.category_id} × {rate.multiplier_pct}%")
        db.session.commit()
        flash(_("Category multiplier saved."), "success")
    else:
        flash(_("The multiplier was not saved: check the fields."), "error")
    return redirect(url_for(".programme"))


@bp.post("/programme/promotions")
@permission_required("loyalty.manage")
def programme_promotion():
    form = PromotionForm()
    form.category_id.choices = _category_choices(blank=True)
    if form.validate_on_submit():
        promo = LoyPromotion(name=form.name.data, starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                             multiplier_pct=form.multiplier_pct.data, category_id=form.category_id.data or None,
                             active=True)
        db.session.add(promo)
        audit.record("loyalty.promotion_saved", summary=f"{promo.name} {promo.starts_on}–{promo.ends_on}")
        db.session.commit()
        flash(_("Promotion saved."), "success")
    else:
        flash(_("The promotion was not saved: check the fields."), "error")
    return redirect(url_for(".programme"))


@bp.post("/programme/promotions/<int:promo_id>/toggle")
@permission_required("loyalty.manage")
def programme_promotion_toggle(promo_id: int):
    promo = db.session.get(LoyPromotion, promo_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    promo.active = not promo.active
    audit.record("loyalty.promotion_toggled", summary=f"{promo.name}: {'on' if promo.active else 'off'}")
    db.session.commit()
    return redirect(url_for(".programme"))


@bp.post("/programme/rewards")
@permission_required("loyalty.manage")
def programme_reward():
    form = RewardForm()
    if form.validate_on_submit():
        reward = db.session.execute(select(LoyReward).where(LoyReward.code == form.code.data)).scalar_one_or_none()
        reward = reward or LoyReward(code=form.code.data)
        for name in ("name_ko", "name_en", "kind", "points_cost", "active"):
            setattr(reward, name, getattr(form, name).data)
        reward.krw_value = form.krw_value.data or 0
        db.session.add(reward)
        audit.record("loyalty.reward_saved", summary=f"{reward.code}: {reward.points_cost} points")
        db.session.commit()
        flash(_("Reward %(code)s saved.", code=reward.code), "success")
    else:
        flash(_("The reward was not saved: check the fields."), "error")
    return redirect(url_for(".programme"))


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale())


def _ledger_message(exc: LedgerError) -> str:
    messages = {
        "insufficient_points": _("Not enough valid points for this."),
        "own_request": _("A second staff member must decide on your own request."),
        "decided": _("This request was already decided."),
        "may_not_decide": _("You may not decide on this request."),
        "already_reversed": _("This entry was already reversed."),
        "forbidden": _("You may not manage the family card of this customer."),
        "exists": _("This household already has a family card."),
        "not_in_household": _("Only members of the card's household can join it; add the customer to the "
                              "household first."),
        "other_card": _("The customer is on another family card; remove them there first."),
        "not_member": _("Only members of this family card can take part."),
        "same_member": _("Choose two different members."),
        "unstorable": _("Remove the characters that cannot be stored (a NUL or a lone surrogate)."),
        "points_range": _("Points must be a whole number between 1 and %(max)s.", max=f"{MAX_POINTS:,}"),
        "points_nonzero": _("Points must be a whole number other than 0."),
        "no_reason": _("Give a reason."),
        "not_reversible": _("Only earned, redeemed or adjusted points can be reversed."),
        "reward_gone": _("This reward is not offered any more."),
        "quantity_range": _("Quantity must be between 1 and 100."),
        "conflict": _("The points changed while this was saved; try again."),
        "not_found": _("No such entry."),
    }
    return messages.get(exc.key, messages.get(exc.code, exc.message))

