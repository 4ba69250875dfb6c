"""JSON API of leader-voiced content under ``/api/v1/prm`` (docs/api.md): what waits for the
caller's approval, the revisions of a programme's texts with hash and approval, the diff of two
revisions, a new revision from HQ, and the preview as cem_channels will send it.

Bearer tokens only; out of scope is 404 (never 403 revealing another group's programme), an edit
in a closed state 409, bad input 422 with field paths; nothing is written on a refusal."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.toolkit import (
    Category,
    PartnerGroup,
    authenticate_bearer,
    current_revision,
    db,
    error,
    json_payload,
    paginate,
    parse_page_args,
    require,
)

from ..api_support import http_error, refused
from ..models import PrmProgramme, PrmStep
from ..permissions import MANAGE, VIEW
from . import ProgrammeError
from . import content as svc
from .content_views import programme_or_404, waiting_for

bp = Blueprint("prm_content_api", __name__, url_prefix="/api/v1/prm")
bp.before_request(authenticate_bearer)

bp.register_error_handler(HTTPException, http_error)


def _refused(exc: ProgrammeError):
    return refused(exc)


def _programme(ident: Any) -> PrmProgramme:
    require(VIEW)
    return programme_or_404(current_user, ident)


def _step(programme: PrmProgramme, position: Any, key: str = "step") -> PrmStep:
    """A message step by its position (1, 2 …); 422 with ``key`` otherwise."""
    text = str(position) if position is not None else ""
    step = None
    if isinstance(position, int) and not isinstance(position, bool) or (text.isascii() and text.isdigit()):
        step = next((s for s in programme.steps if s.position == int(text) and s.kind == "message"), None)
    if step is None:
        raise ProgrammeError({key: "Not a message step of this programme (give its position: 1, 2 …)."}, 422)
    return step


def _summary(p: PrmProgramme, groups: dict[int, Any], categories: dict[int, Any]) -> dict[str, Any]:
    g, c = groups.get(p.partner_group_id), categories.get(p.category_id)
    return {"id": p.id, "name": p.name, "state": p.state, "group": g.code if g else None,
            "category": c.code if c else None, "run_window": {"start": p.run_start.isoformat(),
                                                               "end": p.run_end.isoformat()},
            "revision": current_revision(p), "url": f"/prm/programmes/{p.id}/approval"}


@bp.get("/approvals")
def approvals():
    """Programmes in ``leader_review`` the caller may approve (HQ: none), oldest first."""
    require(VIEW)
    try:
        page_no, per_page = parse_page_args(request.args, strict=True)
    except ValueError as exc:
        return error(422, "validation_failed", str(exc), errors={"page": str(exc)})
    page = paginate(waiting_for(current_user), page_no, per_page)
    gids, cids = {p.partner_group_id for p in page.items}, {p.category_id for p in page.items}
    groups = {g.id: g for g in db.session.scalars(select(PartnerGroup).where(PartnerGroup.id.in_(gids)))} if gids else {}
    cats = {c.id: c for c in db.session.scalars(select(Category).where(Category.id.in_(cids)))} if cids else {}
    return jsonify({"items": [_summary(p, groups, cats) for p in page.items], "page": page.page,
                    "per_page": per_page, "total": page.total})


@bp.get("/programmes/<programme_id>/content")
def content(programme_id: str):
    """Every message step with its revisions (newest first): number, hash, text, approval."""
    try:
        programme = _programme(programme_id)
    except ProgrammeError as exc:
        return _refused(exc)
    steps = [{"position": s.position, "title": s.title, "channels": list(s.channels or []),
              "revisions": [svc.revision_dict(r) for r in svc.revisions(s)]} for s in svc.message_steps(programme)]
    return jsonify({"programme": programme.id, "state": programme.state, "revision": current_revision(programme),
                    "steps": steps})


@bp.get("/programmes/<programme_id>/content/diff")
def content_diff(programme_id: str):
    """``?step=1&from=3&to=4``: the word-level diff per channel and field (default ``to`` = the
    latest, ``from`` = the last approved before it, else its predecessor)."""
    try:
        programme = _programme(programme_id)
        step = _step(programme, request.args.get("step", "1"))
        revs = svc.revisions(step)
        if not revs:
            raise ProgrammeError({"step": "This step has no text yet."}, 422)
        new = svc.revision_of(step, request.args["to"]) if request.args.get("to") else revs[0]
        if new is None:
            raise ProgrammeError({"to": "No such revision."}, 422)
        if request.args.get("from"):
            old = svc.revision_of(step, request.args["from"])
            if old is None:
                raise ProgrammeError({"from": "No such revision."}, 422)
        else:
            old = svc.last_approved(step, before=new.number) or svc.revision_of(step, new.number - 1)
    except ProgrammeError as exc:
        return _refused(exc)
    return jsonify({"programme": programme.id, "step": step.position, "from": old.number if old else None,
                    "to": new.number, "fields": svc.diff_revisions(old, new)})


@bp.post("/programmes/<programme_id>/content")
def add_content(programme_id: str):
    """HQ adds a revision: ``{"step": 1, "content": {"signer", "email": {"subject", "body"}, …}}``
    → 201 with the revision (200 when identical to the latest: nothing new). An edit of approved
    content sends the programme back to the leader."""
    try:
        programme = _programme(programme_id)
        require(MANAGE)
        data = json_payload()
        if not isinstance(data, dict):
            raise ProgrammeError({"body": "Send a JSON object {\"step\": 1, \"content\": {…}}."}, 422)
        unknown = sorted(set(data) - {"step", "content"}, key=str)
        if unknown:
            raise ProgrammeError({str(k)[:40]: "Unknown field." for k in unknown}, 422)
        step = _step(programme, data.get("step"))
        before = svc.latest_revision(step)
        rev = svc.add_revision(programme, step, data.get("content"), current_user)
    except ProgrammeError as exc:
        return _refused(exc)
    created = before is None or rev.id != before.id
    db.session.commit()
    return jsonify({**svc.revision_dict(rev), "step": step.position, "state": programme.state,
                    "revision": current_revision(programme)}), 201 if created else 200


@bp.get("/programmes/<programme_id>/preview")
def preview(programme_id: str):
    """Every message step's latest revision as it will be sent (per channel: subject, body, html
    after the ad-law wrapper, sender, problems), and ``revision``: the hash an approval names."""
    try:
        programme = _programme(programme_id)
    except ProgrammeError as exc:
        return _refused(exc)
    steps = []
    for row in svc.approval_rows(programme):
        rev = row["revision"]
        steps.append({"position": row["step"].position, "title": row["step"].title,
                      "revision": rev.number if rev else None, "sha256": rev.sha256 if rev else None,
                      "approved": bool(rev and rev.approved_at), "base": row["base"].number if row["base"] else None,
                      "diff": row["diff"], "channels": row["preview"]})
    return jsonify({"programme": programme.id, "state": programme.state, "revision": current_revision(programme),
                    "steps": steps})
