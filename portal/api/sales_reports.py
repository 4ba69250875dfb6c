"""API: daily sales reports — upload (multipart), list, detail, rejections."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db
from ..models import SalesReport, SalesReportRejection
from ..pagination import Page, page_of
from ..sales.importer import import_report
from ..sales.service import ReportFilters, line_totals, reports_page
from ..security import get_scoped_or_404
from . import bp
from .paging import page_args, page_body
from .support import error, require

STATUS_CODES = {"committed": 201, "duplicate": 200, "refused": 409, "rejected": 422}


def report_dict(r: SalesReport) -> dict[str, Any]:
    return {
        "id": r.id, "branch_code": r.branch.code, "report_date": r.report_date.isoformat(), "status": r.status,
        "rows": r.rows, "accepted": r.accepted, "rejected": r.rejected, "customers_created": r.customers_created,
        "customers_matched": r.customers_matched, "total_amount": r.total_amount, "mode": r.mode, "source": r.source,
        "file_name": r.file_name, "file_hash": r.file_hash, "encoding": r.encoding,
        "replaces_id": r.replaces_id, "replaced_at": r.replaced_at.isoformat() if r.replaced_at else None,
        "created_at": r.created_at.isoformat(), "message": r.message,
    }


@bp.post("/sales-reports")
def sales_report_upload():
    require("sales.import")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return error(400, "file_required", "Send the report as multipart/form-data in the field 'file'.")
    mode = request.form.get("mode", "strict")
    replace = request.form.get("replace", "false").lower()
    if replace not in ("true", "false", "1", "0", "yes", "no"):
        return error(400, "bad_replace", "replace must be true or false.")
    result = import_report(upload.read(), upload.filename, current_user, mode=mode,
                           replace=replace in ("true", "1", "yes"), source="api")
    body = result.as_json()
    status = STATUS_CODES.get(result.status, 422)
    headers = {}
    if result.status == "committed":
        headers["Location"] = url_for("api.sales_report", report_id=result.report_id)
    if result.status == "rejected":
        body["error"] = "validation_failed"
    elif result.status == "refused":
        body["error"] = "report_exists"
    return jsonify(body), status, headers


@bp.get("/sales-reports")
def sales_reports():
    require("sales.view")
    filters = ReportFilters.from_args(request.args)
    problems = filters.errors()
    if problems:
        return error(400, "bad_filter", "; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)
    page_no, per_page = page_args()
    page = reports_page(current_user, filters, page_no, per_page)
    return jsonify(page_body(page, [report_dict(r) for r in page.items], "api.sales_reports", filters.as_args()))


@bp.get("/sales-reports/<report_id>")
def sales_report(report_id: str):
    require("sales.view")
    r = get_scoped_or_404(SalesReport, report_id, current_user, "sales.view")
    lines, amount, customers = line_totals(r.id)
    return jsonify({**report_dict(r), "lines": lines, "lines_amount": amount, "lines_customers": customers})


@bp.get("/sales-reports/<report_id>/rejections")
def sales_report_rejections(report_id: str):
    require("sales.view")
    r = get_scoped_or_404(SalesReport, report_id, current_user, "sales.view")
    page_no, per_page = page_args()
    total = db.session.execute(select(func.count()).select_from(SalesReportRejection)
                               .where(SalesReportRejection.report_id == r.id)).scalar_one()
    rows = db.session.execute(page_of(select(SalesReportRejection).where(SalesReportRejection.report_id == r.id)
                                      .order_by(SalesReportRejection.row_no, SalesReportRejection.id),
                                      page_no, per_page)).scalars().all()
    page = Page(items=rows, page=page_no, per_page=per_page, total=total, total_is_capped=False)
    return jsonify(page_body(page, [{"row": e.row_no, "column": e.column, "value": e.value, "message": e.message}
                                    for e in rows], "api.sales_report_rejections", {"report_id": r.id}))
