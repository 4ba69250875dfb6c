"""Results API under ``/api/v1/prm`` (bearer token; CSRF-exempt through ``setup.py``):
``GET /programmes/<id>/results`` (the results document) and ``POST /programmes/<id>/results/interim``
(HQ freezes an interim snapshot). 404 for a programme outside the caller's scope (the same answer as
for one that does not exist), 403 without the permission, 409 in a state without results. Aggregates
only: there is no endpoint listing the customers of an arm."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_babel import force_locale
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import ExperimentError, authenticate_bearer, db, error, require

from ..permissions import MANAGE, VIEW
from ..programmes import ProgrammeError

bp = Blueprint("prm_results_api", __name__, url_prefix="/api/v1/prm")
bp.before_request(authenticate_bearer)

CODES = {403: "forbidden", 404: "not_found", 409: "conflict", 422: "validation_failed"}
MESSAGES = {403: "You may not do this.", 404: "No programme with this id.",
            409: "This cannot be done in the programme's current state; nothing was changed.",
            422: "Some fields are not valid; nothing was written."}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    db.session.rollback()
    code = exc.code or 500
    return error(code, (exc.name or "error").lower().replace(" ", "_"), exc.description or "", errors={})


def _refused(exc: ProgrammeError | ExperimentError):
    db.session.rollback()
    status = exc.status if exc.status in CODES else 422
    errors = {k: str(v) for k, v in exc.errors.items()}
    message = MESSAGES[status]
    if status == 409 and len(errors) == 1:
        message = next(iter(errors.values()))
    return error(status, CODES[status], message, errors=errors)


@bp.get("/programmes/<programme_id>/results")
def results(programme_id: str):
    """The results document: plan, interim, final, holdout, did, verdict, frozen, computed_at."""
    from .access import programme_or_404
    from .results import document

    require(VIEW)
    with force_locale("en"):
        try:
            programme = programme_or_404(current_user, programme_id)
            doc = document(programme, current_user)
        except (ProgrammeError, ExperimentError) as exc:
            return _refused(exc)
    db.session.commit()
    return jsonify(doc)


@bp.post("/programmes/<programme_id>/results/interim")
def freeze_interim(programme_id: str):
    """HQ freezes the result as it stands now (an interim snapshot, read-only from then on)."""
    from .access import programme_or_404
    from .results import snapshot

    require(VIEW)
    with force_locale("en"):
        try:
            programme = programme_or_404(current_user, programme_id)
            require(MANAGE)
            row = snapshot(programme, "interim", current_user)
        except (ProgrammeError, ExperimentError) as exc:
            return _refused(exc)
        body = {"id": row.id, "kind": row.kind, "programme_id": programme.id, "snapshot": row.snapshot}
    db.session.commit()
    return jsonify(body), 201
