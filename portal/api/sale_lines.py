"""API: scoped sale lines, filtered and paginated like the ``/sales/lines`` page."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from .. import audit
from ..extensions import db
from ..sales.lines import SaleLineFilterError, SaleLineFilters, lines_page, sale_line_query, to_dict
from . import bp
from .paging import page_args, page_body
from .support import error, require


@bp.get("/sale-lines")
def sale_lines():
    require("sales.view")
    filters = SaleLineFilters.from_args(request.args)
    page_no, per_page = page_args()
    try:
        stmt = sale_line_query(current_user, filters)
    except SaleLineFilterError as exc:
        return error(400, "bad_request",
                     f"Not valid: {', '.join(sorted(exc.errors))}. Dates are YYYY-MM-DD and date_from <= date_to.",
                     fields=exc.errors)
    result = lines_page(stmt, page_no, per_page, current_user)
    page = result.page
    body = page_body(page, [to_dict(r) for r in page.items], "api.sale_lines", filters.as_args(),
                     amount_total=result.amount)
    audit.log_access("api_list", count=len(page.items), detail=f"sale_lines {filters.as_args()} page={page_no}"[:500])
    db.session.commit()
    return jsonify(body)
