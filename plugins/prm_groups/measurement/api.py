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

from portal.toolkit import ExperimentError, authenticate_bearer, db, require

from ..api_support import http_error, refused
from ..permissions import MANAGE, VIEW
from ..programmes import ProgrammeError

bp = Blueprint("prm_results_api", __name__, url_prefix="/api/v1/prm")
bp.before_request(authenticate_bearer)

bp.register_error_handler(HTTPException, http_error)


def _refused(exc: ProgrammeError | ExperimentError):
    return refused(exc, not_found="No programme with this id.")


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
