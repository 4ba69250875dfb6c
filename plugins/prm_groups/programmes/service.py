"""Programmes: create and edit (validated, scoped), list and load through the scope filter, and
:func:`fire` — the only way a programme changes state.

The workflow type is registered with ``endpoint=False``: the generic workflow form refuses it, so
every transition runs here, where the other areas' work is attached to it in the same transaction
(the leader's approval freezes the plan, starting launches the steps, closing freezes the final
result). Refusals are ``ProgrammeError`` with the HTTP status and nothing written; the caller
commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from portal.toolkit import (
    GROUP_LEADER,
    Category,
    PartnerGroup,
    WorkflowError,
    audit,
    available_transitions,
    check_transition,
    content_changed,
    current_revision,
    db,
    has_permission,
    notify,
    paginate,
    role_in_scope,
    scope_filter,
    transition,
    utcnow,
)

from ..models import EDITABLE, STATES, PrmProgramme, PrmStep
from ..permissions import MANAGE, VIEW
from . import ProgrammeError
from .validation import clean

#: Columns the cleaned input sets directly (steps and sessions are rows of their own).
COLUMNS = ("name", "objective", "partner_group_id", "partner_id", "category_id", "objective_metric",
           "baseline_start", "baseline_end", "run_start", "run_end", "measure_start", "measure_end", "design",
           "holdout_share", "seed", "budget", "target_mde")
SORTS: dict[str, tuple[Any, ...]] = {
    "-updated": (PrmProgramme.updated_at.desc(), PrmProgramme.id.desc()),
    "updated": (PrmProgramme.updated_at.asc(), PrmProgramme.id.asc()),
    "-created": (PrmProgramme.created_at.desc(), PrmProgramme.id.desc()),
    "name": (PrmProgramme.name.asc(), PrmProgramme.id.asc()),
    "-name": (PrmProgramme.name.desc(), PrmProgramme.id.desc()),
    "run": (PrmProgramme.run_start.asc(), PrmProgramme.id.asc()),
    "-run": (PrmProgramme.run_start.desc(), PrmProgramme.id.desc()),
}
#: Transitions nobody fires from a button or the API (the daily job's, and the edit's).
NOT_FOR_PEOPLE = ("run_ended", "edited")


def _not_found() -> ProgrammeError:
    return ProgrammeError({"id": _("This page does not exist, or you do not have access to it.")}, 404)


def _require_manage(actor: Any, programme: PrmProgramme | None = None) -> None:
    if not has_permission(actor, MANAGE, programme.group if programme is not None else None):
        raise ProgrammeError({"permission": _("Your roles do not allow managing group programmes.")}, 403)


# -- reading -------------------------------------------------------------------------------------------


def visible_programmes(actor: Any, state: str | None = None, q: str | None = None, group: str | None = None,
                       sort: str | None = None) -> Select:
    """The programmes ``actor`` may see (HQ: all; a Group Leader: their group's), filtered and
    sorted in SQL. ``group`` is a group code, ``q`` matches the name (case-insensitive)."""
    stmt = select(PrmProgramme).where(scope_filter(actor, VIEW, PrmProgramme))
    if state:
        stmt = stmt.where(PrmProgramme.state == state)
    if group:
        stmt = stmt.where(PrmProgramme.partner_group_id.in_(select(PartnerGroup.id).where(PartnerGroup.code == group)))
    if q:
        like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(func.lower(PrmProgramme.name).like(like, escape="\\"))
    return stmt.order_by(*SORTS.get(sort or "-updated", SORTS["-updated"]))


def state_counts(actor: Any, q: str | None = None, group: str | None = None) -> dict[str, int]:
    """Programmes per state for the list's tabs (one grouped query, same filters but the state)."""
    sub = visible_programmes(actor, q=q, group=group).order_by(None).subquery()
    rows = db.session.execute(select(sub.c.state, func.count()).group_by(sub.c.state)).all()
    counts = dict.fromkeys(STATES, 0)
    counts.update({s: n for s, n in rows})
    return counts


def page(actor: Any, page_no: int = 1, per_page: int = 25, **filters: Any) -> Any:
    """One page of :func:`visible_programmes` (``filters``: state, q, group, sort), with each row's
    group and category loaded in two queries (not two per row)."""
    stmt = visible_programmes(actor, **filters).options(selectinload(PrmProgramme.group),
                                                        selectinload(PrmProgramme.category))
    return paginate(stmt, page_no, per_page)


def programme_or_404(actor: Any, ident: Any) -> PrmProgramme:
    """One programme through the scope filter: out of scope and missing answer alike (404)."""
    if isinstance(ident, bool) or not (isinstance(ident, int) or (isinstance(ident, str) and ident.isascii()
                                                                   and ident.isdigit() and len(ident) <= 18)):
        raise _not_found()
    ident = int(ident)
    if not 0 < ident < 2**31:
        raise _not_found()
    programme = db.session.scalar(select(PrmProgramme).where(PrmProgramme.id == ident,
                                                             scope_filter(actor, VIEW, PrmProgramme)))
    if programme is None:
        raise _not_found()
    return programme


def transitions_for(programme: PrmProgramme, actor: Any) -> list[str]:
    """The transition ids ``actor`` may fire now (buttons, the API document)."""
    return [t.id for t in available_transitions(programme, actor) if t.id not in NOT_FOR_PEOPLE]


# -- writing -------------------------------------------------------------------------------------------


def _apply_steps(actor: Any, programme: PrmProgramme, steps: list[dict[str, Any]]) -> None:
    """Steps kept by position (updated in place, so the unique key never collides mid-flush);
    content adds a revision only when its text changed (``content.add_revision`` is idempotent)."""
    from . import content as content_module

    existing = {s.position: s for s in programme.steps}
    wanted = {d["position"]: d["kind"] for d in steps}
    gone = [s.id for s in programme.steps if s.kind == "seminar_series" and wanted.get(s.position) != s.kind]
    if gone:
        from ..seminar_models import PrmSession

        if db.session.scalar(select(func.count()).select_from(PrmSession).where(PrmSession.step_id.in_(gone))):
            raise ProgrammeError({"steps": _("The seminar series has sessions: cancel or move them on the seminar "
                                             "page before removing the series.")}, 409)
    keep: list[PrmStep] = []
    for data in steps:
        row = existing.get(data["position"])
        if row is not None and row.kind != data["kind"]:
            row = None  # another kind at this position: a new step (the old one's rows go with it)
        if row is None:
            row = PrmStep(position=data["position"])
        for key in ("kind", "title", "channels", "rules", "offset_days", "completion_min"):
            setattr(row, key, data[key])
        keep.append(row)
    dropped = [s for s in programme.steps if s not in keep]
    programme.steps = keep
    for s in dropped:
        db.session.delete(s)
    db.session.flush()
    for data, row in zip(steps, keep, strict=True):
        if data["kind"] == "message" and data.get("content") is not None:
            content_module.add_revision(programme, row, data["content"], actor)  # unchanged text: no new revision


def create(actor: Any, data: Any, *, now: datetime | None = None) -> PrmProgramme:
    """A new draft from ``data`` (``validation.clean``): placed on its group's top partner, steps,
    first content revisions and the series' sessions, with an audit event. The caller commits."""
    _require_manage(actor)
    values = clean(data, actor, now=now)
    programme = PrmProgramme(created_by_id=actor.id, **{k: values[k] for k in COLUMNS})
    db.session.add(programme)
    db.session.flush()
    _apply_steps(actor, programme, values["steps"])
    if values["sessions"]:
        from ..seminars.sessions import create_sessions

        series = next(s for s in programme.steps if s.kind == "seminar_series")
        create_sessions(programme, series, values["sessions"])
    audit.record("prm.programme.create", programme, summary=f"{programme.name} ({programme.group.code})", actor=actor)
    return programme


def update(actor: Any, programme: PrmProgramme, data: Any, *, now: datetime | None = None) -> PrmProgramme:
    """Edit a programme in an editable state; fields not sent keep their values. Changed text adds
    a content revision; any change to what the leader approved (plan or text) withdraws the
    approval and sends an approved programme back to ``leader_review``. 409 once it runs."""
    _require_manage(actor, programme)
    if programme.state not in EDITABLE:
        raise ProgrammeError({"state": _("A programme can no longer be edited once it has started.")}, 409)
    values = clean(data, actor, existing=programme, now=now)
    before = current_revision(programme)
    for key in COLUMNS:
        setattr(programme, key, values[key])
    if values["steps"] is not None:
        _apply_steps(actor, programme, values["steps"])
    programme.updated_at = utcnow()
    db.session.flush()
    db.session.expire(programme, ["steps"])
    if current_revision(programme) != before:
        content_changed(programme, actor, "edited")
    audit.record("prm.programme.update", programme, summary=programme.name, actor=actor)
    return programme


# -- transitions -----------------------------------------------------------------------------------


def _refused(exc: WorkflowError) -> ProgrammeError:
    field = {"comment_required": "comment", "comment_invalid": "comment", "revision_changed": "revision",
             "unknown_transition": "transition"}.get(exc.code, "transition" if exc.status in (409, 403) else "id")
    return ProgrammeError({field: str(exc.message)}, exc.status)


def _check_ready_to_submit(programme: PrmProgramme) -> None:
    """Every message step has text for the leader to approve (409 otherwise)."""
    from .content import latest_revision

    missing = [s.position for s in programme.steps if s.kind == "message" and latest_revision(s) is None]
    if not programme.steps:
        raise ProgrammeError({"steps": _("Add at least one step before sending it to the leader.")}, 409)
    if missing:
        raise ProgrammeError({f"steps[{missing[0] - 1}].content":
                              _("Write the leader-voiced text of every message step before sending it.")}, 409)


def fire(programme: PrmProgramme, name: str, actor: Any, comment: str = "", revision: str | None = None) -> None:
    """Fire transition ``name`` as ``actor`` with the other areas' work attached: ``approve`` →
    the content approval and the frozen plan; ``start`` → the launch (checked before the state
    moves: content not approved or an empty audience is 409 with nothing written); ``cancel`` of a
    started programme → its campaigns cancelled; ``close`` → the final result. Raises ``ProgrammeError`` (404/403/409/422). The caller commits, or rolls back on
    an error."""
    if not isinstance(name, str) or name in NOT_FOR_PEOPLE:
        raise ProgrammeError({"transition": _("Unknown transition.")}, 422)
    if comment is not None and not isinstance(comment, str):
        raise ProgrammeError({"comment": _("The comment must be text.")}, 422)
    if name == "approve" and not (isinstance(revision, str) and revision):
        raise ProgrammeError({"revision": _("Send the revision you approve (the document's revision).")}, 422)
    if revision is not None and not isinstance(revision, str):
        raise ProgrammeError({"revision": _("The revision must be text.")}, 422)
    try:
        check_transition(programme, name, actor, comment or "", revision=revision)
    except WorkflowError as exc:
        raise _refused(exc) from None
    if name == "submit":
        _check_ready_to_submit(programme)
    if name == "start":
        from . import launch

        launch.start(programme, actor)  # raises ProgrammeError (409) before anything is written
    elif name == "cancel" and any(s.campaign_id is not None for s in programme.steps):
        from . import launch

        launch.cancel(programme, actor, comment or "")  # its campaigns send nothing more (409 if cem refuses)
    try:
        transition(programme, name, actor, comment or "", revision=revision)
    except WorkflowError as exc:
        raise _refused(exc) from None
    now = utcnow()
    if name == "approve":
        from ..measurement import plan
        from . import content

        programme.approved_at = now
        content.on_approved(programme, actor, comment or "")
        plan.freeze_plan(programme)
    elif name == "start":
        programme.started_at = programme.started_at or now
    elif name == "close":
        from ..measurement import results

        programme.closed_at = now
        results.finalize(programme, actor)
    programme.updated_at = now
    db.session.flush()


# -- notifications ----------------------------------------------------------------------------------


def on_workflow_transitioned(obj: Any, transition: Any, actor: Any, comment: str) -> None:
    """After a programme's transition (same transaction). The core already tells the group's
    leaders that an approval waits (``workflow.waiting``) and the author of the leader's decision
    (``workflow.decided``); this adds what only the add-on knows: the group's leaders hear when
    their programme starts and when it closes with its result."""
    if not isinstance(obj, PrmProgramme):
        return
    name = getattr(transition, "id", transition)
    kind = {"start": "prm.programme_started", "close": "prm.programme_closed"}.get(name)
    if kind is None:
        return
    text = (_("The programme “%(name)s” for your group has started.", name=obj.name) if name == "start"
            else _("The programme “%(name)s” for your group is closed; its final result is ready.", name=obj.name))
    notify(role_in_scope(GROUP_LEADER, partner_group_id=obj.partner_group_id), kind, obj, text,
           url=f"/prm/programmes/{obj.id}", dedupe_key=f"{kind}:{obj.id}")


# -- documents -------------------------------------------------------------------------------------


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def programme_dict(programme: PrmProgramme, actor: Any, *, detail: bool = True) -> dict[str, Any]:
    """The API document (docs/api.md): the plan, the state and what the caller may fire, steps
    with their latest content revision, and the revision hash an approval must name."""
    from flask import has_request_context, url_for

    from .content import latest_revision

    p = programme
    group, category = p.group, p.category
    doc: dict[str, Any] = {
        "id": p.id, "name": p.name, "state": p.state,
        "group": {"code": group.code, "name": group.name},
        "category": {"code": category.code, "name_ko": category.name_ko, "name_en": category.name_en},
        "objective_metric": p.objective_metric, "objective": p.objective,
        "baseline_window": {"start": _day(p.baseline_start), "end": _day(p.baseline_end)},
        "run_window": {"start": _day(p.run_start), "end": _day(p.run_end)},
        "measurement_window": {"start": _day(p.measure_start), "end": _day(p.measure_end)},
        "design": list(p.design or []), "holdout_share": p.holdout_share, "seed": p.seed, "budget": p.budget,
        "target_mde": p.target_mde,
        "created_at": p.created_at.isoformat() + "Z" if p.created_at else None,
        "updated_at": p.updated_at.isoformat() + "Z" if p.updated_at else None,
    }
    if not detail:
        return doc
    steps = []
    for s in p.steps:
        item: dict[str, Any] = {"position": s.position, "kind": s.kind, "title": s.title, "channels": list(s.channels or []),
                                "rules": s.rules, "offset_days": s.offset_days, "completion_min": s.completion_min,
                                "campaign_id": s.campaign_id}
        if s.kind == "message":
            rev = latest_revision(s)
            item["content"] = None if rev is None else {
                "revision": rev.number, "sha256": rev.sha256, "approved": rev.approved_at is not None,
                "approved_at": rev.approved_at.isoformat() + "Z" if rev.approved_at else None,
                "signer": rev.signer, **{k: v for k, v in (rev.content or {}).items()}}
        steps.append(item)
    doc.update({
        "revision": current_revision(p),
        "transitions": transitions_for(p, actor),
        "steps": steps,
        "plan": p.plan,
        "approved_at": p.approved_at.isoformat() + "Z" if p.approved_at else None,
        "started_at": p.started_at.isoformat() + "Z" if p.started_at else None,
        "closed_at": p.closed_at.isoformat() + "Z" if p.closed_at else None,
    })
    if has_request_context():
        from flask import current_app

        urls = {"self": url_for("prm_programmes_api.show", programme_id=p.id)}
        for key, endpoint in (("page", "prm_programmes.detail"), ("results", "prm_results_api.results"),
                              ("results_page", "prm_results.detail")):
            if endpoint in current_app.view_functions:
                urls[key] = url_for(endpoint, programme_id=p.id)
        doc["urls"] = urls
    return doc


def group_choices(actor: Any) -> list[PartnerGroup]:
    """Groups a new programme may target (active ones the actor manages)."""
    groups = db.session.scalars(select(PartnerGroup).where(PartnerGroup.active.is_(True))
                                .order_by(PartnerGroup.code)).all()
    return [g for g in groups if has_permission(actor, MANAGE, g)]


def category_choices() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.code)))
