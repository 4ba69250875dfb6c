"""JSON API of report compliance, opening calendars and the add-on's settings under
``/api/v1/monitor`` (docs/api.md): bearer tokens only, English messages, CSRF-exempt (``setup.py``).

Refusals are the core's shape (``{"error", "message", "errors", "fields"}``): 422 with field paths
for bad input (``from``, ``overrides[0].date``, ``deadline_hour`` …) and nothing written, 404 for a
branch outside the caller's scope (the same as one that does not exist), 403 for a missing
permission.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import (
    authenticate_bearer,
    db,
    english,
    get_settings,
    has_global_permission,
    http_error,
    json_object,
    parse_page_args,
    refused,
    require,
    save_settings,
)

from ..access import branch_or_404, regions_in_scope
from ..calendar import service as calendar
from ..errors import MonitorError
from ..months import parse_day
from ..permissions import COMPLIANCE, MANAGE
from ..settings import NAMES as SETTING_NAMES
from .listing import page_rows
from .service import deadline_rule

bp = Blueprint("bm_compliance_api", __name__, url_prefix="/api/v1/monitor")
bp.before_request(authenticate_bearer)
bp.register_error_handler(HTTPException, http_error)

PLUGIN = "branch_monitor"
MAX_RANGE_DAYS = 92
MAX_OVERRIDES = 400


@bp.errorhandler(MonitorError)
def _monitor_error(exc: MonitorError) -> Any:
    return refused(exc, not_found="No such branch.")


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _range(args: Any) -> tuple[date, date]:
    """``from``/``to`` (both required, real dates, ``from`` ≤ ``to``, at most 92 days)."""
    errors: dict[str, str] = {}
    days: dict[str, date] = {}
    for name in ("from", "to"):
        try:
            days[name] = parse_day(args.get(name), name)
        except MonitorError as exc:
            errors.update(exc.errors)
    if not errors:
        if days["to"] < days["from"]:
            errors["to"] = "Give a day on or after from."
        elif (days["to"] - days["from"]).days + 1 > MAX_RANGE_DAYS:
            errors["to"] = f"Ask for at most {MAX_RANGE_DAYS} days at a time."
    if errors:
        raise MonitorError(errors)
    return days["from"], days["to"]


@bp.get("/compliance")
@english
def compliance():
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD[&branch=B001][&region=R01][&q=][&page=&per_page=]``: each
    branch in scope with its counts, rates and every expected day's status (closed days left out)."""
    require(COMPLIANCE)
    try:
        page_no, per_page = parse_page_args(request.args, default_size=50, strict=True)
    except ValueError as exc:
        raise MonitorError({"page": str(exc)}) from None
    start, end = _range(request.args)
    code, region_code, q = request.args.get("branch"), request.args.get("region"), request.args.get("q")
    region_id = None
    if region_code:
        region = next((r for r in regions_in_scope(current_user, COMPLIANCE) if r.code == region_code), None)
        if region is None:
            raise MonitorError({"region": "No such region among the branches you may see."})
        region_id = region.id
    if q is not None and len(q) > 100:
        raise MonitorError({"q": "At most 100 characters."})
    branch_id = branch_or_404(current_user, code, COMPLIANCE).id if code else None
    page, rows = page_rows(current_user, COMPLIANCE, start, end, page_no, per_page, region_id=region_id, q=q,
                           branch_id=branch_id)
    rule = deadline_rule()
    items = [{
        "branch": r.unit.code, "name": r.unit.name, **_counts(r.counts),
        "days": [{"date": d.isoformat(), "status": s.status, "filed_at": _iso(s.filed_at),
                  "corrected_at": _iso(s.corrected_at), "report_id": s.report_id, "due": _iso(rule.of(d))}
                 for d, s in sorted(r.days.items())],
    } for r in rows]
    body: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat(),
                            "deadline": {"days": rule.days, "hour": rule.hour, "minute": rule.minute,
                                         "timezone": "Asia/Seoul"},
                            "items": items, "page": page.page, "per_page": page.per_page,
                            "total": page.total}
    if page.has_next:
        args = {k: v for k, v in {"region": region_code, "q": q}.items() if v}
        body["next"] = url_for("bm_compliance_api.compliance", **{"from": start.isoformat(), "to": end.isoformat()},
                               **args, page=page.page + 1, per_page=page.per_page)
    return jsonify(body)


def _counts(counts: dict[str, Any]) -> dict[str, Any]:
    keys = ("expected", "due", "on_time", "late", "missing", "corrected", "pending", "filed")
    out: dict[str, Any] = {k: counts[k] for k in keys}
    for k in ("on_time_rate", "filed_rate"):
        out[k] = None if counts[k] is None else round(counts[k], 4)
    return out


# --- opening calendars


def _calendar_body(branch: Any, year: int) -> dict[str, Any]:
    pattern, policy = calendar.calendars([branch.id])[branch.id]
    start, end = date(year, 1, 1), date(year, 12, 31)
    majors = calendar.major_holidays(start, end)
    return {
        "branch": branch.code, "name": branch.name, "year": year,
        "open_weekdays": pattern, "open_days": calendar.weekday_keys(pattern), "holiday_policy": policy,
        "overrides": [{"date": o.day.isoformat(), "open": o.is_open, "note": o.note}
                      for o in calendar.override_list(branch.id, start, end)],
        "public_holidays": [{"date": d.isoformat(), "name": n, "seollal_or_chuseok": d in majors}
                            for d, n in calendar.public_holidays(start, end).items()],
        "expected_days": len(calendar.expected_days([branch.id], start, end)[branch.id]),
    }


def _year_arg() -> int:
    raw = request.args.get("year")
    if raw in (None, ""):
        from ..months import kst_today

        return kst_today().year
    if not str(raw).isdigit() or not 2000 <= int(raw) <= 2100:
        raise MonitorError({"year": "Give a year from 2000 to 2100."})
    return int(raw)


@bp.get("/calendar/<code>")
@english
def calendar_show(code: str):
    """A branch's weekly pattern, holiday policy, the year's overrides and public holidays (``?year=``)."""
    require(MANAGE)
    branch = branch_or_404(current_user, code, MANAGE)
    return jsonify(_calendar_body(branch, _year_arg()))


@bp.put("/calendar/<code>")
@english
def calendar_update(code: str):
    """``{"open_weekdays": 63, "holiday_policy": "closed", "overrides": [{"date", "open", "note"}]}``
    (every key optional): the pattern and policy replaced, each listed override set (``open``
    true/false) or removed (``open`` null); everything validated before anything is written."""
    require(MANAGE)
    branch = branch_or_404(current_user, code, MANAGE)
    data = json_object(MonitorError)
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - {"open_weekdays", "holiday_policy", "overrides"})
    for key in unknown:
        errors[key] = "Unknown field."
    pattern, policy = calendar.calendars([branch.id])[branch.id]
    pattern = data.get("open_weekdays", pattern)
    policy = data.get("holiday_policy", policy)
    errors.update(calendar.check_pattern(pattern, policy))
    raw = data.get("overrides", [])
    items: list[tuple[date, bool | None, str]] = []
    if not isinstance(raw, list):
        errors["overrides"] = "Give a list of {\"date\", \"open\", \"note\"}."
    elif len(raw) > MAX_OVERRIDES:
        errors["overrides"] = f"At most {MAX_OVERRIDES} overrides at a time."
    else:
        seen: set[date] = set()
        for i, item in enumerate(raw):
            path = f"overrides[{i}]"
            if not isinstance(item, dict):
                errors[path] = "Give an object {\"date\", \"open\", \"note\"}."
                continue
            for key in sorted(set(item) - {"date", "open", "note"}):
                errors[f"{path}.{key}"] = "Unknown field."
            if "open" not in item:
                errors[f"{path}.open"] = "Give true (open), false (closed) or null (remove the override)."
            try:
                day = parse_day(item.get("date"), f"{path}.date")
            except MonitorError as exc:
                errors.update(exc.errors)
                day = None
            errors.update(calendar.check_override(day or date(2000, 1, 1), item.get("open"), item.get("note"),
                                                  prefix=f"{path}."))
            if day is not None:
                if day in seen:
                    errors[f"{path}.date"] = "This date is listed twice."
                seen.add(day)
                items.append((day, item.get("open"), item.get("note") or ""))
    try:  # the answer's year is checked with the body: a refusal writes nothing
        year = items[0][0].year if len(items) == 1 else _year_arg()
    except MonitorError as exc:
        errors.update(exc.errors)
    if errors:
        raise MonitorError(errors)
    calendar.set_pattern(current_user, branch, pattern, policy)
    for day, open_, note in items:
        calendar.set_override(current_user, branch, day, open_, note)
    db.session.commit()
    return jsonify(_calendar_body(branch, year))


# --- settings


def _settings_body() -> dict[str, Any]:
    values = get_settings(PLUGIN)
    return {name: values.get(name) for name in SETTING_NAMES}


def _require_global_manage() -> None:
    """Settings hold for every branch: a region's HQ may not change them."""
    require(MANAGE)
    if not has_global_permission(current_user, MANAGE):
        raise MonitorError({"": "Only HQ with a global grant may change the monitoring settings."}, 403)


@bp.get("/settings")
@english
def settings_show():
    """The deadline and the own-baseline thresholds."""
    require(MANAGE)
    return jsonify(_settings_body())


@bp.put("/settings")
@english
def settings_update():
    """Any of ``deadline_days`` (0–7), ``deadline_hour`` (0–23), ``deadline_minute`` (0–59),
    ``baseline_z_alert`` / ``baseline_z_alarm`` (sigma, > 0; alarm above alert); the others kept.
    All or nothing."""
    _require_global_manage()
    data = json_object(MonitorError)
    errors = {key: "Unknown setting." for key in sorted(set(data) - set(SETTING_NAMES))}
    for key, value in data.items():
        if key in SETTING_NAMES and (isinstance(value, bool) or not isinstance(value, int | float | str)):
            errors[key] = "Give a number."
    if errors:
        raise MonitorError(errors)
    merged = {**_settings_body(), **data}
    errors = _thresholds_in_order(merged) or save_settings(PLUGIN, merged)
    if errors:
        raise MonitorError(errors)
    return jsonify(_settings_body())


def _thresholds_in_order(values: dict[str, Any]) -> dict[str, str]:
    """The alarm must lie further out than the alert (checked before anything is saved; a value
    that is not a number is left to the settings' own validation)."""
    try:
        alert, alarm = float(values["baseline_z_alert"]), float(values["baseline_z_alarm"])
    except (TypeError, ValueError):
        return {}
    if not (math.isfinite(alert) and math.isfinite(alarm)):  # "Infinity", "NaN": refused at their own field
        return {}
    if 0 < alert and 0 < alarm <= alert:
        return {"baseline_z_alarm": "Set the alarm threshold above the alert threshold."}
    return {}
