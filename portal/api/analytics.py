"""API: segment preview, saved segments and extractions (docs/api.md, "Segments and extractions")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import jsonify, request, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import audit
from ..analytics import extraction as ex
from ..analytics import segment_store as store
from ..analytics.segments import Problem, RuleError
from ..customers.normalize import clean_text
from ..extensions import db
from ..models import EXTRACTION_STATUSES
from ..pagination import paginate
from . import bp
from .paging import page_args, page_body
from .support import error, json_body, require


def _english(message: Any) -> str:
    """The API's ``message`` is English whatever the user's language (docs/api.md, Errors)."""
    with force_locale("en"):
        return str(message)


PREVIEW_KEYS = ("rules", "channel")
EXTRACTION_KEYS = ("rules", "channel", "name", "segment_id")


def _invalid(exc: RuleError):
    db.session.rollback()
    return error(422, "validation_failed", exc.summary(), fields=exc.fields(english=True))


def _body(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object, with unknown keys refused (422, no mass assignment)."""
    data = json_body()
    unknown = sorted(clean_text(str(k))[:100] for k in set(data) - set(allowed))
    if unknown:
        raise RuleError([Problem(k, _l("This field cannot be set.")) for k in unknown])
    return data


def _segment_for(data: dict[str, Any]) -> Any:
    """The saved segment named by ``segment_id`` (the caller's, or any with global segment.manage)."""
    seg_id = data.get("segment_id")
    if seg_id is None:
        return None
    if isinstance(seg_id, bool) or not isinstance(seg_id, int) or seg_id < 1:
        raise RuleError([Problem("segment_id", _l("A segment id (a positive whole number)."))])
    return store.segment_or_404(current_user, seg_id)


# -- preview and extractions -----------------------------------------------------------------------------


@bp.post("/segments/preview")
def segment_preview():
    require(store.PERMISSION)
    try:
        data = _body(PREVIEW_KEYS)
        result = ex.preview(current_user, data.get("rules"), data.get("channel"))
    except RuleError as exc:
        return _invalid(exc)
    if result.sample:
        audit.log_access("api_list", count=len(result.sample), detail=f"segments.preview channel={result.channel}")
    db.session.commit()
    return jsonify(result.as_dict())


@bp.post("/extractions")
def extraction_create():
    require(ex.PERMISSION)
    try:
        data = _body(EXTRACTION_KEYS)
        seg = _segment_for(data)
        rules = seg.rules if seg is not None and "rules" not in data else data.get("rules")
        ext = ex.create(current_user, rules, data.get("channel"), data.get("name"), seg)
    except RuleError as exc:
        return _invalid(exc)
    ext_id = ext.id
    db.session.commit()
    resp = jsonify({"id": ext_id, "name": ext.name, "channel": ext.channel, "status": ext.status,
                    "included": ext.included, "excluded": ext.excluded})
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.extraction", extraction_id=ext_id)
    return resp


@bp.get("/extractions")
def extractions():
    """Every list in the caller's scope, newest first; ``?mine=1`` only their own, ``?status=``
    ``draft`` / ``used`` / ``cancelled`` (anything else: 400)."""
    require(ex.PERMISSION)
    page_no, per_page = page_args()
    status = request.args.get("status") or None
    if status is not None and status not in EXTRACTION_STATUSES:
        return error(400, "bad_request", f"status must be one of {', '.join(EXTRACTION_STATUSES)}.")
    mine = request.args.get("mine") in ("1", "true")
    page = ex.extraction_page(current_user, page_no, per_page, mine=mine, status=status)
    extra = {k: v for k, v in (("mine", "1" if mine else None), ("status", status)) if v}
    return jsonify(page_body(page, [ex.extraction_dict(e) for e in page.items], "api.extractions", extra))


def _transition(extraction_id: str, act: Callable[[Any], dict[str, Any]]):
    """Apply ``act`` to the caller's extraction: its dict plus what ``act`` returns, or 409 when
    the extraction's state does not allow it."""
    require(ex.PERMISSION)
    ext = ex.extraction_or_404(current_user, extraction_id)
    try:
        extra = act(ext)
    except ex.StateError as exc:
        db.session.rollback()
        return error(409, "invalid_state", _english(exc.message), state=ext.status)
    body = {**ex.extraction_dict(ext), **extra}
    db.session.commit()
    return jsonify(body)


@bp.post("/extractions/<extraction_id>/use")
def extraction_use(extraction_id: str):
    """Draft → used (the contact moment: the members' cool-down starts); 409 from another state."""
    return _transition(extraction_id, lambda ext: {"removed_recently_contacted": ex.mark_used(current_user, ext)})


@bp.post("/extractions/<extraction_id>/cancel")
def extraction_cancel(extraction_id: str):
    """Draft or used → cancelled (a used list's cool-down stays); 409 when already cancelled."""
    return _transition(extraction_id, lambda ext: ex.cancel(current_user, ext) or {})


@bp.get("/extractions/<extraction_id>")
def extraction(extraction_id: str):
    require(ex.PERMISSION)
    return jsonify(ex.extraction_dict(ex.extraction_or_404(current_user, extraction_id), detail=True))


@bp.get("/extractions/<extraction_id>/customers")
def extraction_customers(extraction_id: str):
    require(ex.PERMISSION)
    ext = ex.extraction_or_404(current_user, extraction_id)
    page_no, per_page = page_args()
    page = ex.members_page(current_user, ext, page_no, per_page)
    body = page_body(page, [ex.member_dict(r, ext.channel) for r in page.items], "api.extraction_customers",
                     {"extraction_id": ext.id}, channel=ext.channel, fields=list(ex.member_fields(ext.channel)))
    audit.log_access("api_list", ext.id, count=len(page.items), object_type="extraction",
                     detail=f"extraction {ext.id} customers page={page_no}")
    db.session.commit()
    return jsonify(body)


# -- saved segments ----------------------------------------------------------------------------------------


@bp.get("/segments")
def segments():
    require(store.PERMISSION)
    page_no, per_page = page_args()
    page = paginate(store.visible_stmt(current_user), page_no, per_page)
    return jsonify(page_body(page, [store.segment_dict(s) for s in page.items], "api.segments"))


@bp.post("/segments")
def segment_create():
    require(store.PERMISSION)
    try:
        seg = store.create_segment(current_user, json_body())
    except RuleError as exc:
        return _invalid(exc)
    db.session.commit()
    resp = jsonify(store.segment_dict(seg))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.segment", segment_id=seg.id)
    return resp


@bp.get("/segments/<segment_id>")
def segment(segment_id: str):
    require(store.PERMISSION)
    return jsonify(store.segment_dict(store.segment_or_404(current_user, segment_id)))


@bp.put("/segments/<segment_id>")
def segment_update(segment_id: str):
    require(store.PERMISSION)
    seg = store.segment_or_404(current_user, segment_id)
    try:
        store.update_segment(current_user, seg, json_body())
    except RuleError as exc:
        return _invalid(exc)
    db.session.commit()
    return jsonify(store.segment_dict(seg))


@bp.delete("/segments/<segment_id>")
def segment_delete(segment_id: str):
    require(store.PERMISSION)
    store.delete_segment(current_user, store.segment_or_404(current_user, segment_id))
    db.session.commit()
    return "", 204
