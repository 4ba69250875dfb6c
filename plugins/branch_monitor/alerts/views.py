"""Alert pages (``/monitor/alerts``): the alerts of the branches in the viewer's scope (open /
acknowledged / all, filters by region, metric and level, paginated), acknowledgement with a note
(also from the scorecard: ``alerts/_ack_form.html`` posts here and comes back through ``next``,
same-site only), and the viewer's subscriptions.

Thin handlers over :mod:`.service`: an alert outside the viewer's scope is a 404 like a missing
one; a bad note or filter shows its message (422 for filters); a second acknowledgement says so.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.toolkit import db, has_permission, paginate, parse_page_args, permission_required

from ..access import regions_in_scope
from ..errors import MonitorError
from ..models import ALARM, ALERT, INSUFFICIENT, OK
from ..months import to_kst
from ..permissions import ACK, MONITOR
from . import service

bp = Blueprint("bm_alerts", __name__, url_prefix="/monitor/alerts", template_folder="../templates")

LEVEL_LABELS = {ALARM: _l("Alarm"), ALERT: _l("Alert"), OK: _l("OK"), INSUFFICIENT: _l("Insufficient data"),
                "none": _l("Not evaluated yet")}
TAB_LABELS = {"open": _l("Open"), "acknowledged": _l("Acknowledged"), "all": _l("All changes")}
PER_PAGE = 50


def _safe_next(value: str | None, fallback: str) -> str:
    """Only a path on this site (never ``//evil``, ``https://…``, a backslash or a control
    character): no open redirect, no header injection."""
    if (value and value.startswith("/") and not value.startswith("//") and not urlsplit(value).netloc
            and "\\" not in value and value.isprintable() and " " not in value and len(value) <= 2000):
        return value
    return fallback


def _flash(exc: MonitorError) -> None:
    for message in exc.errors.values():
        flash(message, "error")


@bp.get("/")
@permission_required(MONITOR)
def index():
    """``?state=open|acknowledged|all&level=&metric=&region=&branch=&page=``."""
    status = 200
    try:
        filters = service.check_filters(request.args)
    except MonitorError as exc:
        _flash(exc)
        status = 422
        filters = {"state": "open", "level": None, "metric": None, "region": None, "branch": None}
    page_no, per_page = parse_page_args(request.args, default_size=PER_PAGE)
    page = paginate(service.alerts_query(current_user, **filters), page_no, per_page, scalars=False)
    args = {k: v for k, v in filters.items() if v}
    metrics = service.alert_metrics()
    return render_template(
        "branch_monitor/alerts/index.html", page=page, filters=filters, args=args, metrics=metrics,
        regions=regions_in_scope(current_user, MONITOR), may_ack=has_permission(current_user, ACK),
        level_labels=LEVEL_LABELS, tab_labels=TAB_LABELS, metric_label=service.metric_label,
        levels=service.FILTER_LEVELS, fmt_value=_fmt_value, context_line=_context, to_kst=to_kst), status


def _fmt_value(alert: Any) -> str:
    """An alert's value for people: a rate in per cent, baseline sales in won."""
    if alert.value is None:
        return "–"
    if alert.metric == service.BASELINE_METRIC:
        return f"{alert.value:,.0f}"
    return f"{alert.value * 100:.1f} %"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f} %"


def _context(alert: Any) -> str:
    """What the value was judged against: the company rate and the crossed limit of a funnel
    metric, the median and robust z of the own baseline."""
    d = alert.detail or {}
    if alert.metric == service.BASELINE_METRIC:
        if d.get("median") is None:
            return ""
        z = d.get("z")
        return _("median of %(weeks)s weeks %(median)s, z %(z)s", weeks=d.get("weeks"), median=f"{d['median']:,.0f}",
                 z="–" if z is None else f"{z:+.1f}")
    if d.get("company_rate") is None:
        return ""
    if d.get("denominator"):
        side = "hi" if (service.alert_metrics().get(alert.metric) or {}).get("better") == "low" else "lo"
        limit = d.get(f"{side}998") if alert.to_state == ALARM else d.get(f"{side}95")
        return _("%(x)s of %(n)s; company %(company)s; limit %(limit)s", x=f"{float(d.get('numerator') or 0):,.0f}",
                 n=f"{d['denominator']:,}", company=_pct(d["company_rate"]), limit=_pct(limit))
    return _("company %(company)s", company=_pct(d["company_rate"]))


@bp.post("/<alert_id>/ack")
@permission_required(ACK)
def acknowledge(alert_id: str):
    """Acknowledge with a note, then back to ``next`` (same-site) or the list."""
    back = _safe_next(request.form.get("next"), url_for("bm_alerts.index"))
    try:
        service.acknowledge(current_user, alert_id, request.form.get("note", ""))
    except MonitorError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404, description=exc.errors.get("", ""))
        _flash(exc)
        return redirect(back, 303)
    db.session.commit()
    flash(_("Alert acknowledged."), "success")
    return redirect(back, 303)


@bp.get("/subscriptions")
@permission_required(ACK)
def subscriptions():
    return _subscriptions_page()


def _subscriptions_page(form: dict[str, Any] | None = None, status: int = 200):
    return render_template(
        "branch_monitor/alerts/subscriptions.html", rows=service.subscriptions_for(current_user),
        metrics=service.alert_metrics(), regions=regions_in_scope(current_user, MONITOR), form=form or {},
        metric_label=service.metric_label), status


@bp.post("/subscriptions")
@permission_required(ACK)
def subscribe():
    form = {"org_unit": (request.form.get("org_unit") or "").strip() or None,
            "metric": request.form.get("metric") or None,
            "immediate": bool(request.form.get("immediate")), "digest": bool(request.form.get("digest"))}
    try:
        created = service.subscribe(current_user, form)[1]
    except MonitorError as exc:
        db.session.rollback()
        _flash(exc)
        return _subscriptions_page(form, 422)
    db.session.commit()
    flash(_("Subscription saved.") if created else _("Subscription updated."), "success")
    return redirect(url_for("bm_alerts.subscriptions"), 303)


@bp.post("/subscriptions/<sub_id>/delete")
@permission_required(ACK)
def unsubscribe(sub_id: str):
    try:
        service.unsubscribe(current_user, sub_id)
    except MonitorError as exc:
        db.session.rollback()
        abort(404, description=exc.errors.get("", ""))
    db.session.commit()
    flash(_("Subscription removed."), "success")
    return redirect(url_for("bm_alerts.subscriptions"), 303)
