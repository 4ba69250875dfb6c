"""JSON API of the monitor under ``/api/v1/monitor`` (docs/api.md): bearer tokens only.

``GET /branches?month=YYYY-MM[&region=&q=&state=&sort=&page=&per_page=]`` — each branch in the
caller's scope (``bm.monitor``) with its KPIs, ``care_index`` and ``state``;
``GET /branches/<code>?month=`` — one branch's scorecard (``bm.scorecard``; 404 outside the
scope, so Branch Staff get their own branch only, with percentile bands instead of peers).

Refusals are ``{"error", "message", "errors", "fields"}``: 422 with the field (``month``,
``sort`` …) for bad input, 404 for a branch or region out of scope (never a 403 that reveals it),
403 for a missing permission. A change with nothing to compare to (previous month 0) is ``null``
(BM-6), never ``Infinity``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import authenticate_bearer, english, http_error, parse_page_args, refused, require

from ..access import branch_or_404
from ..errors import MonitorError
from ..months import month_label, parse_month
from ..permissions import MONITOR, SCORECARD
from . import scorecard as sc

bp = Blueprint("bm_api", __name__, url_prefix="/api/v1/monitor")
bp.before_request(authenticate_bearer)
bp.register_error_handler(HTTPException, http_error)


def _refused(exc: MonitorError) -> Any:
    return refused(exc, not_found="No such branch or region.")


@bp.get("/branches")
@english
def branches():
    """A page of the branches in scope, worst state first (``sort``), with their KPIs of ``month``."""
    require(MONITOR)
    try:
        month = parse_month(request.args.get("month"))
        try:
            page_no, per_page = parse_page_args(request.args, default_size=sc.PER_PAGE, strict=True)
        except ValueError as exc:
            raise MonitorError({"page": str(exc)}) from None
        sort = request.args.get("sort") or "state"
        q = request.args.get("q")
        state = request.args.get("state") or None
        page = sc.monitor_rows(current_user, month, region=request.args.get("region") or None, sort=sort, q=q,
                               state=state, page=page_no, per_page=min(per_page, sc.PER_PAGE_MAX), trends=())
    except MonitorError as exc:
        return _refused(exc)
    body: dict[str, Any] = {"month": month_label(month), "items": [sc.row_dict(r) for r in page.items],
                            "page": page.page, "per_page": page.per_page, "total": page.total}
    if page.has_next:  # from the validated parameters only: a query word is data, never url_for's own
        args = {"month": month_label(month), "region": request.args.get("region") or None, "q": q or None,
                "state": state, "sort": sort if sort != "state" else None}
        body["next"] = url_for("bm_api.branches", **{k: v for k, v in args.items() if v},
                               page=page.page + 1, per_page=page.per_page)
    return jsonify(body)


@bp.get("/branches/<code>")
@english
def branch(code: str):
    """One branch's scorecard for ``month``: KPIs with change and trend, funnel positions, own
    baseline, filing and open alerts; ``percentile_bands`` per KPI for callers who may not see
    other branches' names."""
    require(SCORECARD)
    try:
        month = parse_month(request.args.get("month"))
    except MonitorError as exc:
        return _refused(exc)
    unit = branch_or_404(current_user, code, SCORECARD)
    return jsonify(sc.scorecard_dict(sc.scorecard(current_user, unit, month)))
