"""JSON API of alerts under ``/api/v1/monitor/alerts`` (docs/api.md): bearer tokens only.

``GET /`` lists the caller's alerts (``?state=open|acknowledged|all&level=&metric=&region=&branch=
&page=&per_page=``), ``POST /<id>/ack`` acknowledges one with ``{"note"}``, ``GET/POST /subscriptions``
and ``DELETE /subscriptions/<id>`` manage the caller's own subscriptions. Refusals have the core's
shape: 404 for an alert outside the caller's scope (like a missing one), 403 for a missing
permission, 409 for a second acknowledgement, 422 with field paths for bad input; nothing is
written on a refusal.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import (
    OrgUnit,
    authenticate_bearer,
    db,
    english,
    error,
    http_error,
    json_object,
    paginate,
    parse_page_args,
    refused,
    require,
)

from ..errors import MonitorError
from ..permissions import ACK, MONITOR
from . import service

bp = Blueprint("bm_alerts_api", __name__, url_prefix="/api/v1/monitor/alerts")
bp.before_request(authenticate_bearer)
bp.register_error_handler(HTTPException, http_error)


def _refused(exc: MonitorError) -> Any:
    return refused(exc, not_found=next(iter(exc.errors.values()), "Not found."))


@bp.get("")
@bp.get("/")
@english
def index():
    """The alerts of the branches in the caller's scope, newest first."""
    require(MONITOR)
    try:
        page_no, per_page = parse_page_args(request.args, strict=True)
    except ValueError as exc:
        return error(400, "bad_request", str(exc), errors={}, fields={})
    try:
        filters = service.check_filters(request.args)
    except MonitorError as exc:
        return _refused(exc)
    page = paginate(service.alerts_query(current_user, **filters), page_no, per_page, scalars=False)
    body: dict[str, Any] = {"items": [service.alert_dict(a, u) for a, u in page.items], "page": page.page,
                            "per_page": page.per_page, "total": page.total}
    if page.has_next:
        args = {k: v for k, v in filters.items() if v}
        body["next"] = url_for("bm_alerts_api.index", **args, page=page.page + 1, per_page=page.per_page)
    return jsonify(body)


@bp.post("/<alert_id>/ack")
@english
def acknowledge(alert_id: str):
    """``{"note": "1–500 characters"}`` → the acknowledged alert."""
    require(ACK)
    try:
        body = json_object(MonitorError)
        alert = service.acknowledge(current_user, alert_id, body.get("note"))  # type: ignore[arg-type]
        unit = db.session.get(OrgUnit, alert.branch_id)
    except MonitorError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(service.alert_dict(alert, unit))


@bp.get("/subscriptions")
@english
def subscriptions():
    """The caller's own subscriptions."""
    require(ACK)
    return jsonify({"items": [service.subscription_dict(s, u) for s, u in service.subscriptions_for(current_user)]})


@bp.post("/subscriptions")
@english
def subscribe():
    """``{"org_unit": code|null, "metric": name|null, "immediate": bool, "digest": bool}``: 201 when
    new, 200 when the same unit and metric was updated."""
    require(ACK)
    try:
        body = json_object(MonitorError)
        sub, created = service.subscribe(current_user, body)
    except MonitorError as exc:
        return _refused(exc)
    db.session.commit()
    unit = db.session.get(OrgUnit, sub.org_unit_id) if sub.org_unit_id else None
    return jsonify(service.subscription_dict(sub, unit)), 201 if created else 200


@bp.delete("/subscriptions/<sub_id>")
@english
def unsubscribe(sub_id: str):
    """Delete one of the caller's subscriptions (204; anyone else's is a 404)."""
    require(ACK)
    try:
        service.unsubscribe(current_user, sub_id)
    except MonitorError as exc:
        return _refused(exc)
    db.session.commit()
    return "", 204
