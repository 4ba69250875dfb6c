"""JSON API of campaigns under ``/api/v1/campaigns`` (docs/api.md): bearer tokens only, like the
core API; the campaign service does the work, this module only translates.

Every refusal is ``{"error": code, "message", "fields": {path: message}}``: 404 for a campaign
outside the caller's scope (the same answer as for one that does not exist), 403 for a missing
permission or the four-eyes rule, 409 for a state that does not allow the action, 422 for bad
input — with nothing written. Writes commit once, after the service succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_babel import force_locale
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import authenticate_bearer, db, error, json_object, paginate, parse_page_args, require

from .campaigns import CampaignError
from .permissions import APPROVE, COMPOSE, VIEW

bp = Blueprint("cem_api", __name__, url_prefix="/api/v1/campaigns")
bp.before_request(authenticate_bearer)  # the core API's rule: a bearer token, never the session cookie

CODES = {403: "forbidden", 404: "not_found", 409: "conflict", 422: "validation_failed"}
MESSAGES = {403: "You may not do this.", 404: "No campaign with this id.",
            409: "This cannot be done in the campaign's current state; nothing was changed.",
            422: "Some fields are not valid; nothing was written."}
#: Which body fields each action reads (anything else is refused: 422).
ACTION_FIELDS = {"submit": ("comment",), "approve": ("revision", "comment"), "reject": ("comment",),
                 "retract": ("comment",), "schedule": ("start_at",), "unschedule": ("comment",),
                 "reschedule": ("start_at",), "pause": ("comment",), "resume": ("comment",), "cancel": ("comment",)}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    """``require``'s 403, a 400 for bad JSON …: the same shape as every other refusal here."""
    db.session.rollback()
    code = exc.code or 500
    return error(code, (exc.name or "error").lower().replace(" ", "_"), exc.description or "", fields={})


def english(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run the view in English: the API's messages and field errors are English, like the core
    API's (pages show the same service messages in the reader's language)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with force_locale("en"):
            return view(*args, **kwargs)

    return wrapper


def _refused(exc: CampaignError):
    db.session.rollback()
    status = exc.status if exc.status in CODES else 422
    fields = {k: str(v) for k, v in exc.errors.items()}
    message = MESSAGES[status]
    if status == 409 and len(fields) == 1:
        message = next(iter(fields.values()))  # "no recipients", "… is “Draft”": the reason itself
    if status == 422 and list(fields) == ["optout_number"]:
        message = fields["optout_number"]
    return error(status, CODES[status], message, fields=fields)


def _body(allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The JSON object sent (an empty body is an empty object for actions); refuses others."""
    data = json_object(CampaignError, empty_ok=allowed is not None)  # also refuses NUL / lone surrogates
    if allowed is not None:
        unknown = sorted(set(data) - set(allowed), key=str)
        if unknown:
            raise CampaignError({str(k)[:60]: "Unknown field; this action takes "
                                 + (", ".join(allowed) or "no fields") + "." for k in unknown}, 422)
        comment = data.get("comment", "")
        if not isinstance(comment, str):
            raise CampaignError({"comment": "The comment must be text."}, 422)
    return data


def _campaign(campaign_id: str):
    from .campaigns.service import campaign_or_404

    return campaign_or_404(current_user, campaign_id)


@bp.get("")
@english
def index():
    """``?state=&q=&sort=&page=&per_page=``: the caller's campaigns."""
    from .campaign_models import STATES
    from .campaigns.service import SORTS, campaign_dict, visible_campaigns

    require(VIEW)
    try:
        page_no, per_page = parse_page_args(request.args, strict=True)
    except ValueError as exc:
        return error(400, "bad_request", str(exc))
    state, q, sort = request.args.get("state") or None, request.args.get("q") or None, request.args.get("sort")
    fields: dict[str, str] = {}
    if state is not None and state not in STATES:
        fields["state"] = "One of: " + ", ".join(STATES) + "."
    if sort is not None and sort not in SORTS:
        fields["sort"] = "One of: " + ", ".join(SORTS) + "."
    if q is not None and len(q) > 100:
        fields["q"] = "At most 100 characters."
    if fields:
        return error(422, "validation_failed", "Some parameters are not valid.", fields=fields)
    page = paginate(visible_campaigns(current_user, state=state, q=q, sort=sort or "-updated"), page_no, per_page)
    body: dict[str, Any] = {"items": [campaign_dict(c) for c in page.items], "page": page.page,
                            "per_page": page.per_page, "total": page.total,
                            "total_is_capped": getattr(page, "total_is_capped", False)}
    if page.has_next:
        args = {k: v for k, v in {"state": state, "q": q, "sort": sort}.items() if v}
        body["next"] = url_for("cem_api.index", **args, page=page.page + 1, per_page=page.per_page)
    return jsonify(body)


@bp.post("")
@english
def create():
    """A new draft (201) with ``Location``."""
    from .campaigns.service import campaign_dict, create_draft

    require(COMPOSE)
    try:
        campaign = create_draft(current_user, _body())
    except CampaignError as exc:
        return _refused(exc)
    db.session.commit()
    resp = jsonify(campaign_dict(campaign, detail=True))
    resp.headers["Location"] = url_for("cem_api.show", campaign_id=campaign.id)
    return resp, 201


@bp.get("/<campaign_id>")
@english
def show(campaign_id: str):
    """State, content, the ``revision`` to approve and the message counts."""
    from .campaigns.service import campaign_dict

    require(VIEW)
    try:
        campaign = _campaign(campaign_id)
    except CampaignError as exc:
        return _refused(exc)
    return jsonify(campaign_dict(campaign, detail=True))


@bp.patch("/<campaign_id>")
@english
def edit(campaign_id: str):
    """Change the fields sent; approved or scheduled content goes back to approval."""
    from .campaigns.service import campaign_dict, update_draft

    require(COMPOSE)
    try:
        campaign = _campaign(campaign_id)
        update_draft(current_user, campaign, _body())
    except CampaignError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(campaign_dict(campaign, detail=True))


@bp.get("/<campaign_id>/audience")
@english
def audience(campaign_id: str):
    """The audience preview: matched, eligible, suppressed by reason, arms, capped."""
    from .campaigns.audience import preview

    require(VIEW)
    try:
        campaign = _campaign(campaign_id)
        body = preview(current_user, campaign)
    except CampaignError as exc:
        return _refused(exc)
    return jsonify({"campaign_id": campaign.id, **body})


@bp.get("/<campaign_id>/results")
@english
def results(campaign_id: str):
    """Per step and variant counts, conversions and lift (frozen once the campaign closed)."""
    from .campaigns.results import campaign_results

    require(VIEW)
    try:
        campaign = _campaign(campaign_id)
    except CampaignError as exc:
        return _refused(exc)
    return jsonify({"campaign_id": campaign.id, "state": campaign.state, **campaign_results(campaign)})


@bp.post("/<campaign_id>/<action>")
@english
def act(campaign_id: str, action: str):
    """``submit | approve | reject | retract | schedule | unschedule | reschedule | pause | resume |
    cancel``: the campaign after the change (200)."""
    from .campaigns import service

    if action not in ACTION_FIELDS:
        return error(404, "not_found", "Unknown action; use one of: " + ", ".join(ACTION_FIELDS) + ".")
    require(APPROVE if action in ("approve", "reject") else COMPOSE)
    try:
        campaign = _campaign(campaign_id)
        data = _body(ACTION_FIELDS[action])
        comment = data.get("comment", "")
        if action == "approve":
            service.approve(current_user, campaign, data.get("revision"), comment)
        elif action == "schedule":
            service.schedule(current_user, campaign, data.get("start_at"))
        elif action == "reschedule":
            service.reschedule(current_user, campaign, data.get("start_at"))
        else:
            getattr(service, action)(current_user, campaign, comment)
    except CampaignError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(service.campaign_dict(campaign, detail=True))
