"""JSON API of message sets under ``/api/v1/message-sets`` (docs/api.md): bearer tokens only, the
scope and checks of ``voice.store`` (out of scope = 404, read-only = 403, bad input = 422 naming
the fields and listing the render/lint problems, in use = 409), previews as the pages show them."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal.toolkit import authenticate_bearer, db, error, json_payload, paginate, parse_page_args, require

from .permissions import COMPOSE
from .voice import blocking, check_approvable, store
from .voice_models import CemMessageSet

bp = Blueprint("cem_voice_api", __name__, url_prefix="/api/v1/message-sets")
bp.before_request(authenticate_bearer)

PREVIEW_FIELDS = ("customer_id", "purpose")


def _refused(exc: store.SetError):
    db.session.rollback()
    code = {403: "forbidden", 409: "conflict"}.get(exc.status, "validation_failed")
    message = {403: "This message set is read-only for you; nothing was written.",
               409: "The message set is in use; nothing was written."}.get(
        exc.status, "Some fields are not valid; nothing was written.")
    return error(exc.status, code, message, fields=exc.errors, problems=[p.as_dict() for p in exc.problems])


@bp.get("")
def index():
    require(COMPOSE)
    try:
        page_no, per_page = parse_page_args(request.args, strict=True)
    except ValueError as exc:
        return error(422, "validation_failed", str(exc), fields={"page": str(exc)})
    stmt = select(CemMessageSet).where(store.visible_condition(current_user))
    q = (request.args.get("q") or "").strip()[:100]
    if q:
        like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(func.lower(CemMessageSet.name).like(like, escape="\\"),
                              func.lower(CemMessageSet.category).like(like, escape="\\")))
    page = paginate(stmt.order_by(CemMessageSet.updated_at.desc(), CemMessageSet.id.desc()), page_no, per_page)
    return jsonify({"items": [store.set_dict(ms, current_user) for ms in page.items], "page": page.page,
                    "per_page": per_page, "total": page.total})


@bp.post("")
def create():
    require(COMPOSE)
    try:
        ms, findings = store.save(current_user, json_payload())
    except store.SetError as exc:
        return _refused(exc)
    db.session.commit()
    body = store.set_dict(ms, current_user)
    body["problems"] = [p.as_dict() for p in findings]
    return jsonify(body), 201


@bp.get("/<set_id>")
def detail(set_id: str):
    require(COMPOSE)
    ms = store.set_or_404(set_id, current_user)
    body = store.set_dict(ms, current_user)
    problems = check_approvable(ms)
    body["approvable"] = not blocking(problems)
    body["problems"] = [p.as_dict() for p in problems]
    body["used_by"] = store.usage_count(ms.id)
    return jsonify(body)


@bp.patch("/<set_id>")
def update(set_id: str):
    require(COMPOSE)
    ms = store.set_or_404(set_id, current_user)
    try:
        ms, findings = store.save(current_user, json_payload(), ms)
    except store.SetError as exc:
        return _refused(exc)
    db.session.commit()
    body = store.set_dict(ms, current_user)
    body["problems"] = [p.as_dict() for p in findings]
    return jsonify(body)


@bp.delete("/<set_id>")
def delete(set_id: str):
    require(COMPOSE)
    ms = store.set_or_404(set_id, current_user)
    try:
        store.delete(current_user, ms)
    except store.SetError as exc:
        return _refused(exc)
    db.session.commit()
    return "", 204


@bp.post("/<set_id>/preview")
def preview(set_id: str):
    """Every rendition for the built-in sample or ``customer_id`` (in the caller's scope), wrapped
    as it will be sent (``purpose`` ``marketing``, the default) or plain (``service``)."""
    require(COMPOSE)
    ms = store.set_or_404(set_id, current_user)
    data = json_payload()
    data = {} if data is None and not request.get_data() else data
    if not isinstance(data, dict):
        return error(422, "validation_failed", "Send a JSON object with Content-Type: application/json.",
                     fields={"": "A JSON object."})
    fields = {name: f"Unknown field; the fields are {', '.join(PREVIEW_FIELDS)}."
              for name in sorted(set(data) - set(PREVIEW_FIELDS))}
    purpose = data.get("purpose", "marketing")
    if purpose not in ("marketing", "service"):
        fields["purpose"] = "marketing or service."
    customer_id = data.get("customer_id")
    if customer_id is not None and (isinstance(customer_id, bool) or not isinstance(customer_id, int)):
        fields["customer_id"] = "A customer id (an integer) in your scope."
    if fields:
        return error(422, "validation_failed", "Some fields are not valid.", fields=fields)
    customer = store.customer_sample(current_user, customer_id)
    rows = store.preview_rows(ms, customer, purpose == "marketing")
    problems = check_approvable(ms, customer=customer)
    db.session.commit()  # the access-log row of a real customer's preview
    return jsonify({
        "id": ms.id, "revision": ms.revision, "purpose": purpose,
        "customer": {"id": customer["id"], "code": customer["code"]} if customer else None,
        "renditions": [{"channel": row["r"].channel, "subject": row["subject"], "body": row["body"],
                        "html": row["html"], "sms_class": row["klass"], "size": row["size"],
                        "problems": [p.as_dict() for p in row["r"].problems]} for row in rows],
        "approvable": not blocking(problems), "problems": [p.as_dict() for p in problems]})
