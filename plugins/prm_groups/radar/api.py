"""``GET /api/v1/prm/radar`` (docs/api.md): the weak-category radar as JSON, bearer token only.

The radar compares every group with all the others, so it needs ``prm.manage`` held company-wide
(HQ Staff, Site Admin): a Group Leader or Branch Staff gets 403 — the endpoint's existence is no
secret, only its data are. Read-only: nothing is written."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import force_locale
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import authenticate_bearer, error, has_global_permission, require

from ..api_support import http_error
from ..permissions import MANAGE

bp = Blueprint("prm_radar_api", __name__, url_prefix="/api/v1/prm")
bp.before_request(authenticate_bearer)


bp.register_error_handler(HTTPException, http_error)


@bp.get("/radar")
def radar():
    """``?end=YYYY-MM-DD&months=12&category=health[,beauty]&group=G01,G02…``: groups × categories with ``rate``,
    ``benchmark`` (all other groups pooled), exact binomial ``limits`` and ``flag``, plus the
    ranked ``gaps``. 422 with ``fields`` for a bad parameter."""
    from .service import RadarError, compute, parse_args

    require(MANAGE)
    if not has_global_permission(current_user, MANAGE):
        return error(403, "forbidden", "The radar compares every group; it needs prm.manage company-wide.", fields={})
    with force_locale("en"):
        try:
            params = parse_args(request.args)
            result = compute(end=params["end"], months=params["months"], categories=params["categories"],
                             groups=params["groups"])
        except RadarError as exc:
            return error(422, "validation_failed", "Some parameters are not valid.", fields=exc.errors)
    return jsonify(result.as_dict())
