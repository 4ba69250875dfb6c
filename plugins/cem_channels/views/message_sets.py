"""Message-set pages: list (search, sort, pages), editor (master + one text area per rendition,
problems next to their field), side-by-side preview for a sample customer, delete. Thin: the
scope and the checks are ``voice.store``'s, the rendering ``voice.service``'s."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal.toolkit import db, paginate, parse_page_args, permission_required

from ..forms import ActionForm, MessageSetForm
from ..permissions import COMPOSE
from ..voice import blocking, check_approvable, highlight, store
from ..voice.render import MASTER_FIELDS
from ..voice_models import CemBannedTerm, CemMessageSet

bp = Blueprint("cem_message_sets", __name__, url_prefix="/message-sets", template_folder="../templates")

CHANNEL_LABELS = {"email": _l("E-mail"), "sms": _l("SMS / LMS"), "kakao": _l("KakaoTalk"), "push": _l("Push"),
                  "dm": _l("Postal DM")}
SORTS = {"name": CemMessageSet.name, "category": CemMessageSet.category, "updated": CemMessageSet.updated_at}
VARIABLES = ("price", "price_krw", "price_value", "valid_from", "valid_until", "valid_from_ko", "valid_until_ko",
             *[n for n in MASTER_FIELDS if n not in ("price", "valid_from", "valid_until")],
             "customer.name", "customer.code", "customer.branch", "customer.tier")


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"channel_labels": CHANNEL_LABELS}


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@bp.get("/")
@permission_required(COMPOSE)
def index():
    page_no, per_page = parse_page_args(request.args, default_size=25)
    q = (request.args.get("q") or "").strip()[:100]
    sort = request.args.get("sort") or "-updated"
    key = sort.lstrip("-")
    if key not in SORTS:
        sort, key = "-updated", "updated"
    column = SORTS[key]
    stmt = select(CemMessageSet).where(store.visible_condition(current_user))
    if q:
        stmt = stmt.where(or_(func.lower(CemMessageSet.name).like(_like(q.lower()), escape="\\"),
                              func.lower(CemMessageSet.category).like(_like(q.lower()), escape="\\")))
    stmt = stmt.order_by(column.desc() if sort.startswith("-") else column.asc(), CemMessageSet.id.desc())
    page = paginate(stmt, page_no, per_page)
    editable = {ms.id for ms in page.items if store.may_edit(current_user, ms)}
    return render_template("cem_channels/message_sets/index.html", page=page, q=q, sort=sort, editable=editable,
                           places={ms.id: store.place_label(ms) for ms in page.items},
                           args={"q": q, "sort": sort} if q else {"sort": sort})


def _categories() -> list[str]:
    """The categories HQ keeps banned terms for: suggestions for the category field."""
    return list(db.session.scalars(select(CemBannedTerm.category).distinct().order_by(CemBannedTerm.category)))


def _editor(form: MessageSetForm, message_set: CemMessageSet | None):
    """Validate through the store; on refusal the errors go next to their fields (422)."""
    new = message_set is None
    if new:
        form.place.choices = store.places(current_user)
    if form.validate_on_submit():
        try:
            ms, findings = store.save(current_user, form.payload(with_place=new), message_set)
        except store.SetError as exc:
            db.session.rollback()
            if exc.status == 403:
                abort(403)
            general = []
            for key, message in exc.errors.items():
                target = form.field_for(key)
                if target is not None:
                    target.errors = [*list(target.errors or []), message]
                else:
                    general.append(message)
            return render_template("cem_channels/message_sets/edit.html", form=form, message_set=message_set,
                                   general=general, variables=VARIABLES, findings=exc.problems,
                                   categories=_categories()), 422
        db.session.commit()
        for p in findings:
            flash(p.message, "info")
        flash(_("Message set saved."), "success")
        return redirect(url_for(".detail", set_id=ms.id))
    status = 422 if form.is_submitted() else 200
    return render_template("cem_channels/message_sets/edit.html", form=form, message_set=message_set, general=[],
                           variables=VARIABLES, findings=[], categories=_categories()), status


@bp.route("/new", methods=["GET", "POST"])
@permission_required(COMPOSE)
def create():
    if not store.places(current_user):
        abort(403)
    return _editor(MessageSetForm(), None)


@bp.route("/<set_id>/edit", methods=["GET", "POST"])
@permission_required(COMPOSE)
def edit(set_id: str):
    ms = store.set_or_404(set_id, current_user)
    if not store.may_edit(current_user, ms):
        abort(403)
    form = MessageSetForm()
    if request.method == "GET":
        form.fill(ms)
    return _editor(form, ms)


def _sample_choices() -> list[tuple[int, str]]:
    """A few customers of the user's scope to preview with (one small indexed query)."""
    from portal.toolkit import Customer, scope_filter

    rows = db.session.execute(select(Customer.id, Customer.code, Customer.name)
                              .where(scope_filter(current_user, "customer.view", Customer),
                                     Customer.pseudonymized_at.is_(None))
                              .order_by(Customer.id).limit(20)).all()
    return [(r[0], f"{r[1]} {r[2]}") for r in rows]


@bp.get("/<set_id>")
@permission_required(COMPOSE)
def detail(set_id: str):
    ms = store.set_or_404(set_id, current_user)
    customer = store.customer_sample(current_user, request.args.get("customer_id"))
    marketing = request.args.get("purpose", "marketing") != "service"
    problems = check_approvable(ms, customer=customer)
    banned = [p for p in problems if p.code == "banned_term"]
    sources = []
    for r in ms.renditions:
        for name in ("subject", "body", "html"):
            text = getattr(r, name)
            hits = [p for p in banned if p.rendition == r.channel and p.field == name]
            if text and hits:
                sources.append((f"{r.channel}.{name}", highlight(text, hits)))
    for name in ("offer", "cta", "brand_header", "brand_footer"):
        text = (ms.master or {}).get(name)
        hits = [p for p in banned if p.rendition == "master" and p.field == name]
        if isinstance(text, str) and hits:
            sources.append((f"master.{name}", highlight(text, hits)))
    db.session.commit()  # the access-log row of a real customer's preview
    return render_template("cem_channels/message_sets/detail.html", ms=ms, rows=store.preview_rows(ms, customer, marketing),
                           problems=problems, blocking=blocking(problems), sources=sources, customer=customer,
                           choices=_sample_choices(), marketing=marketing, editable=store.may_edit(current_user, ms),
                           used=store.usage_count(ms.id), place=store.place_label(ms), action=ActionForm())


@bp.post("/<set_id>/delete")
@permission_required(COMPOSE)
def delete(set_id: str):
    ms = store.set_or_404(set_id, current_user)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        store.delete(current_user, ms)
    except store.SetError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        flash(" ".join(exc.errors.values()), "error")
        return detail(set_id), 409
    db.session.commit()
    flash(_("Message set deleted."), "success")
    return redirect(url_for(".index"))
