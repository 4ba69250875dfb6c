"""Sale-line browsing and CSV/XLSX export (scoped, access-logged): thin over :mod:`.lines`."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit
from ..customers.service import branch_choices
from ..exports import XLSX_MAX_ROWS, ExportTooLarge, logged_export
from ..extensions import db
from ..pagination import parse_page_args
from ..security import permission_required
from . import bp
from .lines import (
    EXPORT_COLUMNS,
    SaleLineFilterError,
    SaleLineFilters,
    category_choices,
    category_label,
    count_lines,
    export_rows,
    lines_page,
    sale_line_query,
)


@bp.get("/lines")
@permission_required("sales.view")
def lines():
    filters = SaleLineFilters.from_args(request.args)
    page_no, per_page = parse_page_args(request.args)
    # Links to other pages and sort orders keep a chosen page size; sort_link reads the current sort.
    nav_args = {**filters.as_args(), "sort": filters.sort,
                **({"per_page": per_page} if "per_page" in request.args else {})}
    locale = str(get_locale())
    context = {"filters": filters, "args": filters.as_args(), "nav_args": nav_args,
               "branches": branch_choices(current_user, "sales.view"), "categories": category_choices(),
               "category_name": lambda c: c.name_ko if locale.startswith("ko") else c.name_en}
    try:
        stmt = sale_line_query(current_user, filters)
    except SaleLineFilterError as exc:
        # Nothing is listed for filters that cannot be applied: an unfiltered list would mislead.
        return render_template("sales/lines.html", errors=exc.errors, result=None, rows=[], **context), 400
    result = lines_page(stmt, page_no, per_page, current_user)
    page = result.page
    if not page.items and page.total and page_no > page.pages:
        return redirect(url_for("sales.lines", **{**nav_args, "page": page.pages}))
    rows = [(r, category_label(r, locale) if r.category_code else "") for r in page.items]
    html = render_template("sales/lines.html", errors={}, result=result, page=page, rows=rows, **context)
    # Customer names are personal data: the view is logged before the response leaves.
    audit.log_access("list", count=len(page.items), detail=f"sale_lines {filters.as_args()} page={page_no}"[:500])
    db.session.commit()
    return html


@bp.get("/lines/export.xlsx")
@bp.get("/lines/export.csv")  # registered first, so url_for("sales.lines_export") builds the .csv path
@permission_required("sales.export")
def lines_export():
    """One endpoint for both files (the format comes from the path); the page's filters, scope ``sales.export``."""
    fmt = "xlsx" if request.path.endswith(".xlsx") else "csv"
    filters = SaleLineFilters.from_args(request.args)
    try:
        stmt = sale_line_query(current_user, filters, permission="sales.export")
    except SaleLineFilterError as exc:
        abort(400, description=" ".join(exc.errors.values()))
    name = f"sale-lines-{date.today().isoformat()}.{fmt}"
    locale = str(get_locale())
    count = count_lines(stmt, cap=XLSX_MAX_ROWS) if fmt == "xlsx" else count_lines(stmt)
    rows = export_rows(stmt, locale, current_user)  # built now: a CSV streams after the commit
    try:
        return logged_export(fmt, name, EXPORT_COLUMNS, lambda: rows, _("Sale lines"), count,
                             detail=f"sale_lines.{fmt} {filters.as_args()}"[:500])
    except ExportTooLarge as exc:
        flash(_("More than %(max)s sale lines match: that does not fit in one Excel sheet. "
                "Narrow the filters (a shorter date range) or export CSV.", max=f"{exc.limit:,}"), "error")
        return redirect(url_for("sales.lines", **filters.as_args()))
