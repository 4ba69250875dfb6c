"""The leader's approval pages: ``/prm/programmes/approvals`` (what waits for the signed-in leader),
``/prm/programmes/<id>/approval`` (the exact text per channel as cem_channels will send it, the
diff against the last approved revision, the plan summary, Approve / Send back) and
``/prm/programmes/<id>/steps/<n>/revisions`` (every revision of a step, any two compared).

Out of scope is 404 (a leader of another group learns nothing); HQ sees the page read-only — only
a Group Leader of the programme's group holds ``prm.approve`` there."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.toolkit import (
    Category,
    PartnerGroup,
    User,
    current_revision,
    db,
    has_permission,
    paginate,
    parse_page_args,
    permission_required,
    scope_filter,
    transition,
)

from ..models import REVIEW, PrmProgramme
from ..permissions import APPROVE, MANAGE, VIEW
from . import ProgrammeError
from . import content as svc

bp = Blueprint("prm_content", __name__, url_prefix="/prm/programmes", template_folder="../templates",
               static_folder="../static/content", static_url_path="/content-static")
PER_PAGE = 25


@bp.context_processor
def _labels() -> dict[str, Any]:
    from ..workflow import WORKFLOW

    titles = {s["id"]: s["title"] for s in WORKFLOW["states"]}
    return {"channel_labels": svc.CHANNEL_LABELS, "field_labels": svc.FIELD_LABELS, "state_titles": titles}


def programme_or_404(actor: Any, ident: Any) -> PrmProgramme:
    """The programme through the scope filter (the programme service's when present); 404 alike
    for missing and out of scope."""
    from . import service

    finder = getattr(service, "programme_or_404", None)
    if finder is not None:
        return finder(actor, ident)
    text = str(ident)
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**31:
        raise ProgrammeError({"programme": _("This page does not exist, or you do not have access to it.")}, 404)
    found = db.session.scalar(select(PrmProgramme).where(PrmProgramme.id == int(text),
                                                         scope_filter(actor, VIEW, PrmProgramme)))
    if found is None:
        raise ProgrammeError({"programme": _("This page does not exist, or you do not have access to it.")}, 404)
    return found


def fire(programme: PrmProgramme, name: str, actor: Any, comment: str = "", revision: str | None = None) -> None:
    """The programme service's ``fire`` (the one way transitions happen); before it exists, the
    core ``transition`` plus :func:`content.on_approved`."""
    from portal.toolkit import WorkflowError

    from . import service

    fire_ = getattr(service, "fire", None)
    if fire_ is not None:
        fire_(programme, name, actor, comment, revision)
        return
    try:
        transition(programme, name, actor, comment or "", revision=revision)
    except WorkflowError as exc:
        raise ProgrammeError({"state": str(exc.message)}, exc.status) from None
    if name == "approve":
        svc.on_approved(programme, actor, comment)


def waiting_for(actor: Any):
    """Programmes in ``leader_review`` that ``actor`` may approve (prm.approve in scope), oldest
    waiting first."""
    return (select(PrmProgramme).where(PrmProgramme.state == REVIEW, scope_filter(actor, VIEW, PrmProgramme),
                                       scope_filter(actor, APPROVE, PrmProgramme))
            .order_by(PrmProgramme.updated_at, PrmProgramme.id))


def _programme(programme_id: Any) -> PrmProgramme:
    try:
        return programme_or_404(current_user, programme_id)
    except ProgrammeError:
        abort(404)


def _power(programme: PrmProgramme) -> dict[str, Any] | None:
    """The measurement helper's power check when it is there (optional)."""
    try:
        from ..measurement import plan
    except ImportError:
        return None
    summary = getattr(plan, "power_summary", None)
    if summary is None:
        return None
    try:
        return summary(programme)
    except Exception:  # noqa: BLE001 - the summary is advisory; the approval page must still open
        db.session.rollback()
        return None


def _programme_link(programme: PrmProgramme) -> str | None:
    from flask import current_app

    if "prm_programmes.detail" in current_app.view_functions:
        return url_for("prm_programmes.detail", programme_id=programme.id)
    return None


@bp.get("/approvals")
@permission_required(VIEW)
def approvals():
    """What waits for the signed-in leader's approval (HQ: nothing to approve, a pointer instead)."""
    page_no, _per_page = parse_page_args(request.args)
    page = paginate(waiting_for(current_user), page_no, PER_PAGE)
    groups = {g.id: g for g in db.session.scalars(select(PartnerGroup).where(
        PartnerGroup.id.in_({p.partner_group_id for p in page.items})))} if page.items else {}
    categories = {c.id: c for c in db.session.scalars(select(Category).where(
        Category.id.in_({p.category_id for p in page.items})))} if page.items else {}
    return render_template("prm/content_approvals.html", page=page, groups=groups, categories=categories,
                           is_hq=has_permission(current_user, MANAGE))


def _render_approval(programme: PrmProgramme, *, errors: dict[str, str] | None = None, comment: str = "",
                     status: int = 200):
    rows = svc.approval_rows(programme)
    can_approve = programme.state == REVIEW and has_permission(current_user, APPROVE, programme.group)
    approvers = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(
        {r["revision"].approved_by_id for r in rows if r["revision"] is not None and r["revision"].approved_by_id}
        | {r["base"].approved_by_id for r in rows if r["base"] is not None and r["base"].approved_by_id})))}
    return render_template("prm/content_approval.html", p=programme, rows=rows, can_approve=can_approve,
                           revision=current_revision(programme), power=_power(programme),
                           group=db.session.get(PartnerGroup, programme.partner_group_id),
                           category=db.session.get(Category, programme.category_id), approvers=approvers,
                           errors=errors or {}, comment=comment, programme_link=_programme_link(programme),
                           missing=[r["step"] for r in rows if r["revision"] is None]), status


@bp.get("/<programme_id>/approval")
@permission_required(VIEW)
def approval(programme_id: str):
    """The approval page: exactly what will be sent, what changed since the last approval, the plan."""
    return _render_approval(_programme(programme_id))


@bp.post("/<programme_id>/approval")
@permission_required(VIEW)
def decide(programme_id: str):
    """Approve (the revision hash the page showed, optional note) or send back (comment required)."""
    programme = _programme(programme_id)
    action = request.form.get("action")
    comment = (request.form.get("comment") or "").strip()
    if action not in ("approve", "reject"):
        abort(400)
    if not has_permission(current_user, APPROVE, programme.group):
        abort(403)
    if action == "reject" and not comment:
        return _render_approval(programme, errors={"comment": _("Say what must change before it is sent back.")},
                                status=422)
    try:
        fire(programme, action, current_user, comment, request.form.get("revision") or None)
    except ProgrammeError as exc:
        db.session.rollback()
        db.session.refresh(programme)
        if exc.status == 404:
            abort(404)
        msg = "; ".join(exc.errors.values())
        if exc.status == 409 and action == "approve":
            msg = _("The text changed while you were reading it. Review the new version below, then approve again.")
        return _render_approval(programme, errors={"form": msg}, comment=comment, status=exc.status)
    db.session.commit()
    flash(_("Approved. HQ can now start the programme.") if action == "approve"
          else _("Sent back to HQ with your comment."), "success")
    return redirect(url_for("prm_content.approval", programme_id=programme.id), 303)


@bp.get("/<programme_id>/steps/<int:position>/revisions")
@permission_required(VIEW)
def revisions(programme_id: str, position: int):
    """Every revision of one message step; ``?from=&to=`` compares two (default: the latest
    against the last approved one, or against its predecessor)."""
    programme = _programme(programme_id)
    step = next((s for s in programme.steps if s.position == position and s.kind == "message"), None)
    if step is None:
        abort(404)
    revs = svc.revisions(step)
    if not revs:
        return render_template("prm/content_revisions.html", p=programme, step=step, revs=[], old=None, new=None,
                               diff=[], people={}, programme_link=_programme_link(programme))
    new = svc.revision_of(step, request.args["to"]) if request.args.get("to") else revs[0]
    if new is None:
        abort(404)
    if request.args.get("from"):
        old = svc.revision_of(step, request.args["from"])
        if old is None:
            abort(404)
    else:
        old = svc.last_approved(step, before=new.number) or svc.revision_of(step, new.number - 1)
    ids = {r.created_by_id for r in revs} | {r.approved_by_id for r in revs}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids - {None})))}
    return render_template("prm/content_revisions.html", p=programme, step=step, revs=revs, old=old, new=new,
                           diff=svc.diff_revisions(old, new), people=people, programme_link=_programme_link(programme))
