"""JSON API of programmes under ``/api/v1/prm`` (docs/api.md): bearer tokens only, like the core
API; the programme service does the work, this module only translates.

Every refusal is ``{"error": code, "message", "errors": {path: message}}`` (``fields`` carries the
same map, as in the other add-ons' APIs): 404 for a programme outside the caller's scope (the
same answer as for one that does not exist — never a 403 that reveals it), 403 for a missing
permission, 409 for a state that does not allow the action, 422 for bad input — with nothing
written. Writes commit once, after the service succeeded.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import authenticate_bearer, db, error, parse_page_args, require

from ..api_support import english, http_error, json_object, refused
from ..models import STATES
from ..permissions import MANAGE, VIEW
from . import ProgrammeError

bp = Blueprint("prm_programmes_api", __name__, url_prefix="/api/v1/prm")
bp.before_request(authenticate_bearer)

TRANSITION_FIELDS = ("transition", "comment", "revision")
bp.register_error_handler(HTTPException, http_error)


def _refused(exc: ProgrammeError):
    return refused(exc, not_found="No programme with this id.")


_body = json_object


@bp.get("/programmes")
@english
def index():
    """``?state=&group=&q=&sort=&page=&per_page=``: the caller's programmes, newest change first."""
    from .service import SORTS, programme_dict
    from .service import page as programmes_page

    require(VIEW)
    try:
        page_no, per_page = parse_page_args(request.args, strict=True)
    except ValueError as exc:
        return error(400, "bad_request", str(exc))
    state, q = request.args.get("state") or None, request.args.get("q") or None
    group, sort = request.args.get("group") or None, request.args.get("sort")
    fields: dict[str, str] = {}
    if state is not None and state not in STATES:
        fields["state"] = "One of: " + ", ".join(STATES) + "."
    if sort is not None and sort not in SORTS:
        fields["sort"] = "One of: " + ", ".join(SORTS) + "."
    for name, value in (("q", q), ("group", group)):
        if value is not None and len(value) > 100:
            fields[name] = "At most 100 characters."
    if fields:
        return error(422, "validation_failed", "Some parameters are not valid.", errors=fields, fields=fields)
    page = programmes_page(current_user, page_no, per_page, state=state, q=q, group=group, sort=sort or "-updated")
    body: dict[str, Any] = {"items": [programme_dict(p, current_user, detail=False) for p in page.items],
                            "page": page.page, "per_page": page.per_page, "total": page.total}
    if page.has_next:
        args = {k: v for k, v in {"state": state, "q": q, "group": group, "sort": sort}.items() if v}
        body["next"] = url_for("prm_programmes_api.index", **args, page=page.page + 1, per_page=page.per_page)
    return jsonify(body)


@bp.post("/programmes")
@english
def create():
    """A new draft (201, ``Location``): the plan, steps with their first texts, the sessions."""
    from .service import create as create_programme
    from .service import programme_dict

    require(MANAGE)
    try:
        programme = create_programme(current_user, _body())
    except ProgrammeError as exc:
        return _refused(exc)
    db.session.commit()
    resp = jsonify(programme_dict(programme, current_user))
    resp.headers["Location"] = url_for("prm_programmes_api.show", programme_id=programme.id)
    return resp, 201


@bp.get("/programmes/<programme_id>")
@english
def show(programme_id: str):
    """The programme document, with the ``revision`` an approval must name."""
    from .service import programme_dict, programme_or_404

    require(VIEW)
    try:
        programme = programme_or_404(current_user, programme_id)
    except ProgrammeError as exc:
        return _refused(exc)
    return jsonify(programme_dict(programme, current_user))


@bp.patch("/programmes/<programme_id>")
@english
def edit(programme_id: str):
    """Change the fields sent (``steps`` as a whole list); approved content goes back to the leader."""
    from .service import programme_dict, programme_or_404, update

    require(VIEW)
    try:
        programme = programme_or_404(current_user, programme_id)
        update(current_user, programme, _body())
    except ProgrammeError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(programme_dict(programme, current_user))


@bp.post("/programmes/<programme_id>/transitions")
@english
def transitions(programme_id: str):
    """``{"transition": "submit"|"approve"|"reject"|…, "comment", "revision"}``: the programme after it."""
    from .service import fire, programme_dict, programme_or_404

    require(VIEW)
    try:
        programme = programme_or_404(current_user, programme_id)
        data = _body()
        unknown = sorted(set(data) - set(TRANSITION_FIELDS), key=str)
        if unknown:
            raise ProgrammeError({str(k)[:60]: "Unknown field; send transition, comment, revision." for k in unknown})
        name = data.get("transition")
        if not isinstance(name, str) or not name:
            raise ProgrammeError({"transition": "Name the transition (submit, approve, reject, start …)."})
        fire(programme, name, current_user, data.get("comment") or "", data.get("revision"))
    except ProgrammeError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(programme_dict(programme, current_user))
