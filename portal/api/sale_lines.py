"""API: scoped sale lines, filtered and paginated like the ``/sales/lines`` page."""

from __future__ import annotations

from flask import abort, jsonify, request, url_for
from flask_login import current_user

from .. import audit
from ..extensions import db
from ..pagination import PageArgError, parse_page_args
from ..sales.lines import SaleLineFilterError, SaleLineFilters, lines_page, sale_line_query, to_dict
from . import bp
from .views import _require, error


@bp.get("/sale-lines")
def sale_lines():
    _require("sales.view")
    filters = SaleLineFilters.from_args(request.args)
    try:
        page_no, per_page = parse_page_args(request.args, strict=True)
    except PageArgError as exc:
        abort(400, description=str(exc))
    try:
        stmt = sale_line_query(current_user, filters)
    except SaleLineFilterError as exc:
        return error(400, "bad_request",
                     f"Not valid: {', '.join(sorted(exc.errors))}. Dates are YYYY-MM-DD and date_from <= date_to.",
                     fields=exc.errors)
    result = lines_page(stmt, page_no, per_page)
    page = result.page
    body = {
        "items": [to_dict(r) for r in page.items], "page": page.page, "per_page": page.per_page,
        "total": page.total, "total_is_capped": page.total_is_capped, "amount_total": result.amount,
    }
    audit.log_access("api_list", count=len(page.items), detail=f"sale_lines {filters.as_args()} page={page_no}"[:500])
    db.session.commit()
    if page.has_next:
        body["next"] = url_for("api.sale_lines", **{**filters.as_args(), "page": page.page + 1, "per_page": per_page})
    return jsonify(body)
