"""Opening-calendar pages (``/monitor/calendar``, ``bm.manage``): the branches in scope with their
weekly pattern and holiday policy (search, region filter, 50 a page), and one branch's calendar —
its pattern and policy form, its overrides of the year with add/remove forms, and the year's
Korean public holidays with whether the branch is open on each. A branch outside the viewer's
scope is a 404."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.toolkit import OrgUnit, db, parse_page_args, permission_required

from ..access import branch_or_404, regions_in_scope
from ..compliance.listing import scoped_branches
from ..errors import MonitorError
from ..months import kst_today, parse_day
from ..permissions import MANAGE
from . import service

bp = Blueprint("bm_calendar", __name__, url_prefix="/monitor/calendar", template_folder="../templates")

PER_PAGE = 50


def _year(errors: dict[str, str]) -> int:
    raw = request.args.get("year") or ""
    if not raw:
        return kst_today().year
    if raw.isdigit() and 2000 <= int(raw) <= 2100:
        return int(raw)
    errors["year"] = _("Give a year from 2000 to 2100.")
    return kst_today().year


@bp.get("/")
@permission_required(MANAGE)
def index():
    """``?region=&q=&page=``: the branches whose calendars the viewer manages."""
    from portal.toolkit import paginate

    errors: dict[str, str] = {}
    regions = regions_in_scope(current_user, MANAGE)
    region = None
    if request.args.get("region"):
        region = next((r for r in regions if r.code == request.args["region"]), None)
        if region is None:
            errors["region"] = _("Choose a region from the list.")
    q = (request.args.get("q") or "").strip()[:100]
    page_no, per_page = parse_page_args(request.args, default_size=PER_PAGE)
    page = paginate(scoped_branches(current_user, MANAGE, region_id=region.id if region else None, q=q or None),
                    page_no, min(per_page, PER_PAGE), key=OrgUnit.id)
    cals = service.calendars([u.id for u in page.items])
    query = {k: v for k, v in {"region": region.code if region else None, "q": q or None}.items() if v}
    return render_template("branch_monitor/calendar/index.html", page=page, cals=cals, regions=regions, region=region,
                           q=q, query=query, errors=errors, policies=service.policy_labels(),
                           weekdays=service.weekday_labels(), weekday_keys=service.weekday_keys), (422 if errors else 200)


def _show(branch: Any, year: int, errors: dict[str, str], status: int = 200, form: dict[str, Any] | None = None):
    start, end = date(year, 1, 1), date(year, 12, 31)
    pattern, policy = service.calendars([branch.id])[branch.id]
    expected = service.expected_days([branch.id], start, end)[branch.id]
    holidays = service.public_holidays(start, end)
    majors = service.major_holidays(start, end)
    return render_template(
        "branch_monitor/calendar/show.html", branch=branch, year=year, pattern=pattern, policy=policy,
        open_keys=set(service.weekday_keys(pattern)), weekdays=service.weekday_labels(),
        weekday_bits={k: 1 << i for i, k in enumerate(service.WEEKDAYS)}, policies=service.policy_labels(),
        overrides=service.override_list(branch.id, start, end), holidays=holidays, majors=majors, expected=expected,
        expected_count=len(expected), errors=errors, form=form or {}), status


@bp.get("/<code>")
@permission_required(MANAGE)
def show(code: str):
    """One branch's calendar for ``?year=`` (default: this Korean year)."""
    branch = branch_or_404(current_user, code, MANAGE)
    errors: dict[str, str] = {}
    year = _year(errors)
    return _show(branch, year, errors, 422 if errors else 200)


@bp.post("/<code>/pattern")
@permission_required(MANAGE)
def save_pattern(code: str):
    """The weekly pattern (a checkbox per weekday) and the holiday policy."""
    branch = branch_or_404(current_user, code, MANAGE)
    mask = 0
    for i, key in enumerate(service.WEEKDAYS):
        if request.form.get(f"day_{key}"):
            mask |= 1 << i
    year = _form_year()
    try:
        service.set_pattern(current_user, branch, mask, request.form.get("holiday_policy", ""))
    except MonitorError as exc:
        db.session.rollback()
        return _show(branch, year, exc.errors, 422)
    db.session.commit()
    flash(_("The opening calendar of %(branch)s was saved.", branch=branch.code), "success")
    return redirect(url_for("bm_calendar.show", code=branch.code, year=year))


@bp.post("/<code>/overrides")
@permission_required(MANAGE)
def save_override(code: str):
    """Add or change one date's override (``state`` open/closed) or remove it (``state`` remove)."""
    branch = branch_or_404(current_user, code, MANAGE)
    year = _form_year()
    form = {k: request.form.get(k, "") for k in ("date", "state", "note")}
    errors: dict[str, str] = {}
    day = None
    try:
        day = parse_day(form["date"], "date")
    except MonitorError as exc:
        errors.update(exc.errors)
    states = {"open": True, "closed": False, "remove": None}
    if form["state"] not in states:
        errors["state"] = _("Choose open, closed or remove.")
    if not errors and day is not None:
        try:
            service.set_override(current_user, branch, day, states[form["state"]], form["note"])
        except MonitorError as exc:
            errors.update(exc.errors)
    if errors:
        db.session.rollback()
        return _show(branch, year, errors, 422, form)
    db.session.commit()
    flash(_("The calendar of %(branch)s on %(day)s was saved.", branch=branch.code, day=form["date"]), "success")
    return redirect(url_for("bm_calendar.show", code=branch.code, year=day.year if day else year))


def _form_year() -> int:
    raw = request.form.get("year") or ""
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= 2100 else kst_today().year
