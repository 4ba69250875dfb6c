"""Sales report pages: upload, reports list, report detail with its history, status board."""

from __future__ import annotations

from flask import Response, abort, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from .. import audit
from ..exports import header_labels
from ..extensions import db
from ..models import OrgUnit, SalesReport
from ..pagination import parse_page_args
from ..security import get_scoped_or_404, permission_required, unit_scope
from . import bp
from .forms import UploadForm
from .importer import import_report
from .service import (
    REJECTION_HEADER,
    ReportFilters,
    board_end,
    board_neighbours,
    line_totals,
    rejection_rows,
    report_history,
    report_rejections,
    reports_page,
    status_board,
)


def _import_branches():
    return db.session.execute(db.select(OrgUnit).where(OrgUnit.kind == "branch", unit_scope(current_user, "sales.import"))
                              .order_by(OrgUnit.code).limit(20)).scalars().all()


@bp.route("/upload", methods=["GET", "POST"])
@permission_required("sales.import")
def upload():
    form = UploadForm()
    result = None
    if form.validate_on_submit():
        upload_file = form.file.data
        result = import_report(upload_file.read(), upload_file.filename or "report.csv", current_user,
                               mode=form.mode.data, replace=form.replace.data, source="web")
    status = 200 if result is None or result.status in ("committed", "duplicate") else 422
    if request.method == "POST" and result is None:
        status = 400
    return render_template("sales/upload.html", form=form, result=result, branches=_import_branches()), status


@bp.get("/reports")
@permission_required("sales.view")
def reports():
    filters = ReportFilters.from_args(request.args)
    errors = filters.errors()
    if errors:
        filters = ReportFilters(branch=filters.branch)
    page_no, per_page = parse_page_args(request.args)
    page = reports_page(current_user, filters, page_no, per_page)
    branches = db.session.execute(db.select(OrgUnit).where(OrgUnit.kind == "branch", unit_scope(current_user, "sales.view"))
                                  .order_by(OrgUnit.code).limit(200)).scalars().all()
    return render_template("sales/reports.html", page=page, filters=filters, args=filters.as_args(), errors=errors,
                           branches=branches)


@bp.get("/reports/<report_id>")
@permission_required("sales.view")
def report(report_id: str):
    rep = get_scoped_or_404(SalesReport, report_id, current_user, "sales.view")
    lines, amount, customers = line_totals(rep.id)
    return render_template("sales/report.html", report=rep, history=report_history(rep),
                           rejections=report_rejections(rep.id), lines=lines, amount=amount, customers=customers)


@bp.get("/reports/<report_id>/rejections.csv")
@permission_required("sales.view")
def rejections_csv(report_id: str):
    rep = get_scoped_or_404(SalesReport, report_id, current_user, "sales.view")
    audit.log_access("export", count=rep.rejected, detail=f"rejections of sales report {rep.id}",
                     object_type="sales_report", object_id=rep.id)
    db.session.commit()

    header = header_labels(REJECTION_HEADER)  # in the user's language, before the body streams

    def body():
        yield "\ufeff"
        yield from rejection_rows(rep.id, header)

    name = f"rejections-{rep.branch.code}-{rep.report_date.isoformat()}-{rep.id}.csv"
    return Response(stream_with_context(body()), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/board")
@permission_required("sales.view")
def board():
    end, notice = board_end(current_user, request.args.get("end") or "")
    prev_end, next_end = board_neighbours(end)
    region = (request.args.get("region") or "").strip()[:20]
    page_no, per_page = parse_page_args(request.args)
    data = status_board(current_user, end, region, page_no, per_page)
    regions = db.session.execute(db.select(OrgUnit).where(OrgUnit.kind == "region").order_by(OrgUnit.code)).scalars().all()
    if not data.branches and page_no > 1:
        abort(404)
    return render_template("sales/board.html", board=data, end=end, region=region, regions=regions, notice=notice,
                           prev_end=prev_end, next_end=next_end,
                           args={"end": end.isoformat(), **({"region": region} if region else {})})


@bp.get("/")
@permission_required("sales.view")
def index():
    return redirect(url_for("sales.reports"))
