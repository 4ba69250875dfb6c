"""The report-filing page (``/monitor/compliance``): a month grid of the branches in the viewer's
scope × days — on time, late, missing, corrected, pending, closed — with a legend, each branch's
counts and the scope's totals; filters by month, region and a code/name search; 50 branches a page.
Branch Staff see their own branch (``bm.compliance`` is granted on it). Bad parameters show their
message with a 422 and fall back to the defaults.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.toolkit import OrgUnit, has_permission, parse_page_args, permission_required

from ..access import regions_in_scope
from ..calendar.service import public_holidays
from ..errors import MonitorError
from ..models import CLOSED, CORRECTED, LATE, MISSING, ON_TIME, PENDING
from ..months import kst_now, month_end, month_label, next_month, parse_month, prev_month
from ..permissions import COMPLIANCE, MANAGE
from .listing import page_rows, scoped_branches
from .service import deadline_rule, summary

bp = Blueprint("bm_compliance", __name__, url_prefix="/monitor/compliance", template_folder="../templates",
               static_folder="../static", static_url_path="/static")

PER_PAGE = 50
#: Each status's word and the one-character mark shown in its cell (the word is the cell's label).
STATUS_LABELS = {ON_TIME: _l("On time"), LATE: _l("Late"), MISSING: _l("Missing"), CORRECTED: _l("Corrected"),
                 PENDING: _l("Not due yet"), CLOSED: _l("Closed day")}
MARKS = {ON_TIME: "✓", LATE: "L", MISSING: "✗", CORRECTED: "C", PENDING: "…", CLOSED: "·"}


def _args(errors: dict[str, str]) -> dict[str, Any]:
    try:
        month = parse_month(request.args.get("month"))
    except MonitorError as exc:
        errors.update(exc.errors)
        month = parse_month(None)
    regions = regions_in_scope(current_user, COMPLIANCE)
    region = None
    code = request.args.get("region") or None
    if code:
        region = next((r for r in regions if r.code == code), None)
        if region is None:
            errors["region"] = _("Choose a region from the list.")
    q = (request.args.get("q") or "").strip()
    if len(q) > 100:
        errors["q"] = _("At most %(n)s characters.", n=100)
        q = ""
    page, per_page = parse_page_args(request.args, default_size=PER_PAGE)
    return {"month": month, "regions": regions, "region": region, "q": q, "page": page,
            "per_page": min(per_page, PER_PAGE)}


@bp.get("/")
@permission_required(COMPLIANCE)
def index():
    """``?month=YYYY-MM&region=&q=&page=``: the month grid of the branches in scope."""
    errors: dict[str, str] = {}
    a = _args(errors)
    month, region = a["month"], a["region"]
    start, end = month, month_end(month)
    now = kst_now()
    region_id = region.id if region is not None else None
    page, rows = page_rows(current_user, COMPLIANCE, start, end, a["page"], a["per_page"], region_id=region_id,
                           q=a["q"] or None, now=now)
    totals = _totals(summary(scoped_branches(current_user, COMPLIANCE, region_id=region_id, q=a["q"] or None)
                             .with_only_columns(OrgUnit.id), start, end, now))
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    holidays = public_holidays(start, end)
    query = {k: v for k, v in {"month": month_label(month) if request.args.get("month") and "month" not in errors
                               else None, "region": region.code if region is not None else None,
                               "q": a["q"] or None}.items() if v}
    rule = deadline_rule()
    return render_template(
        "branch_monitor/compliance/index.html", month=month, month_value=month_label(month),
        prev=month_label(prev_month(month)), next=month_label(next_month(month)), days=days, holidays=holidays,
        rows=rows, page=page, totals=totals, regions=a["regions"], region=region, q=a["q"], query=query,
        errors=errors, labels=STATUS_LABELS, marks=MARKS, weekday_names=_weekday_names(),
        may_manage=has_permission(current_user, MANAGE), today=now.date(), cell_status=cell_status,
        deadline=_("D+%(days)s at %(time)s KST", days=rule.days, time=f"{rule.hour:02d}:{rule.minute:02d}"),
    ), (422 if errors else 200)


def _totals(per_branch: dict[int, dict[str, Any]]) -> dict[str, Any]:
    keys = ("expected", "due", "filed", ON_TIME, LATE, MISSING, CORRECTED, PENDING)
    out: dict[str, Any] = {k: sum(row[k] for row in per_branch.values()) for k in keys}
    out["branches"] = len(per_branch)
    out["on_time_rate"] = out[ON_TIME] / out["due"] if out["due"] else None
    out["filed_rate"] = out["filed"] / out["due"] if out["due"] else None
    return out


def _weekday_names() -> list[str]:
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


def cell_status(row: Any, day: date) -> str:
    """The status of ``day`` in a grid row (``closed`` when no report was expected)."""
    found = row.days.get(day)
    return found.status if found is not None else CLOSED
