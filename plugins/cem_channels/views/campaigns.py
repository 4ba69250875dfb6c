"""Campaign pages: list, calendar, composer with previews, detail (workflow buttons, live progress,
results, A/B decision, export), approvals queue and the phone call list.

Thin handlers over ``campaigns.service`` (drafts, scope, state changes), ``campaigns.audience``,
``campaigns.results``, ``campaigns.ab`` and ``campaigns.calls``: every rule and every write lives
there, so the pages and the JSON API refuse the same things with the same words. Campaigns load
through the service's scope (another branch's campaign answers 404); a refusal
(``CampaignError``) comes back as the page with its messages and the error's status — never a 500.
State changes are buttons posting to ``/campaigns/<id>/<action>`` (the core's workflow form
endpoint is off for this type: transitions must run through the service, which also pauses,
resumes and cancels the queued messages in the same transaction).
"""

from __future__ import annotations

import calendar as calendar_mod
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal.toolkit import (
    ExportTooLarge,
    Segment,
    User,
    approval_for,
    available_transitions,
    current_revision,
    db,
    has_global_permission,
    has_permission,
    logged_export,
    paginate,
    parse_page_args,
    permission_required,
    progress,
    register_labels,
    scope_filter,
    segment_field_catalog,
    segment_op_labels,
    suppression_reason_labels,
    workflow_history,
)

from .. import campaign_forms as forms
from ..campaign_models import (
    CALL_OUTCOMES,
    CANCELLED,
    DONE,
    EDITABLE,
    EXPIRED,
    PAUSED,
    PENDING,
    SCHEDULED,
    SENDING,
    STATES,
    CemCampaign,
)
from ..campaigns import CampaignError
from ..permissions import APPROVE, CALL, COMPOSE, VIEW
from ..voice_models import CemMessageSet

bp = Blueprint("cem_campaigns", __name__, url_prefix="/campaigns", template_folder="../templates",
               static_folder="../static", static_url_path="/static")

KST = ZoneInfo("Asia/Seoul")
SOURCE = "cem_channels"
PER_PAGE = 25
TEMPLATES = "cem_channels/campaigns/"
#: The buttons a person may press, each a service function ``(actor, campaign, **fields)``.
ACTIONS = ("submit", "approve", "reject", "retract", "schedule", "unschedule", "reschedule", "pause", "resume",
           "cancel")
#: States a campaign shows on the calendar (it has, or had, a start date that holds).
CALENDAR_STATES = (SCHEDULED, SENDING, PAUSED, DONE)
SORTS = ("updated", "-updated", "name", "-name", "start", "-start", "state", "-state")

STATE_LABELS = {
    "draft": _l("Draft"), "pending_approval": _l("Waiting for approval"), "approved": _l("Approved"),
    "scheduled": _l("Scheduled"), "sending": _l("Sending"), "paused": _l("Paused"), "done": _l("Done"),
    "expired": _l("Expired — not sent"), "cancelled": _l("Cancelled"),
}
register_labels("cem_state", STATE_LABELS)
register_labels("cem_channel", {"email": _l("E-mail"), "sms": _l("SMS/LMS"), "kakao": _l("KakaoTalk"),
                                "push": _l("Push"), "dm": _l("Postal mail"), "phone": _l("Phone call")})
register_labels("cem_condition", {"always": _l("Everyone"), "not_delivered": _l("Previous step not delivered"),
                                  "not_opened": _l("Previous e-mail not opened"),
                                  "not_clicked": _l("Previous e-mail not clicked")})
register_labels("cem_metric", {"conversion": _l("Purchases"), "click": _l("Clicks"), "open": _l("Opens")})
register_labels("cem_outcome", {"reached": _l("Reached"), "no_answer": _l("No answer"),
                                "wrong_number": _l("Wrong number"), "declined": _l("Declined"),
                                "callback": _l("Call back later")})
register_labels("cem_message_status", {
    "queued": _l("Waiting"), "claimed": _l("Being sent"), "sending": _l("Being sent"), "sent": _l("Sent"),
    "failed_temporary": _l("Failed, will retry"), "failed_permanent": _l("Failed"),
    "suppressed_at_send": _l("Suppressed at send"), "expired": _l("Expired"), "cancelled": _l("Cancelled")})
register_labels("cem_arm", {"treatment": _l("Treatment"), "holdout": _l("Holdout"), "control": _l("Global control")})


def _service() -> Any:
    from ..campaigns import service

    return service


def _campaign(campaign_id: int) -> CemCampaign:
    """The campaign if it is in the user's scope, else 404 (the service's rule, as in the API)."""
    try:
        return _service().campaign_or_404(current_user, campaign_id)
    except CampaignError:
        abort(404)


def _kst(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC).astimezone(KST) if at is not None else None


@bp.app_template_filter("cem_kst")
def kst_filter(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored naive-UTC time in KST (campaign times are always decided and shown in KST)."""
    local = _kst(at)
    return local.strftime(fmt) if local is not None else "—"


# -- list and calendar ------------------------------------------------------------------------------------


@bp.get("/")
@permission_required(VIEW)
def index():
    """Campaigns in scope: state tabs with counts, search by name, sort, pagination."""
    state = request.args.get("state") or None
    state = state if state in STATES else None
    q = (request.args.get("q") or "").strip()[:100] or None
    sort = request.args.get("sort") or "-updated"
    sort = sort if sort in SORTS else "-updated"
    page_no, _per_page = parse_page_args(request.args)
    service = _service()
    page = paginate(service.visible_campaigns(current_user, state=state, q=q, sort=sort), page_no, PER_PAGE)
    every = service.visible_campaigns(current_user, q=q).order_by(None).subquery()
    counts = dict(db.session.execute(select(every.c.state, func.count()).group_by(every.c.state)).all())
    args = {k: v for k, v in (("state", state), ("q", q), ("sort", sort)) if v}
    return render_template(TEMPLATES + "index.html", page=page, counts=counts, total=sum(counts.values()),
                           state=state, q=q or "", sort=sort, args=args, states=STATES, state_labels=STATE_LABELS)


def _month(raw: str | None) -> date:
    """``2026-12`` → its first day; junk or nothing → this month in KST."""
    try:
        year, month = (int(p) for p in (raw or "").split("-"))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return date(year, month, 1)
    except ValueError:
        pass
    today = datetime.now(KST).date()
    return today.replace(day=1)


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=KST).astimezone(UTC).replace(tzinfo=None)


@bp.get("/calendar")
@permission_required(VIEW)
def calendar():
    """The month's scheduled and sent campaigns by start date (KST), as a grid (a list on phones)."""
    first = _month(request.args.get("month"))
    after = (first + timedelta(days=32)).replace(day=1)
    before = (first - timedelta(days=1)).replace(day=1)
    stmt = (_service().visible_campaigns(current_user, sort="start")
            .where(CemCampaign.state.in_(CALENDAR_STATES), CemCampaign.start_at >= _utc(first),
                   CemCampaign.start_at < _utc(after)))
    by_day: dict[date, list[CemCampaign]] = {}
    for c in db.session.scalars(stmt.limit(1000)):
        by_day.setdefault(_kst(c.start_at).date(), []).append(c)
    weeks = calendar_mod.Calendar(firstweekday=6).monthdatescalendar(first.year, first.month)
    return render_template(TEMPLATES + "calendar.html", first=first, weeks=weeks, by_day=by_day,
                           prev=before.strftime("%Y-%m"), next=after.strftime("%Y-%m"),
                           today=datetime.now(KST).date(), state_labels=STATE_LABELS)


# -- composer ------------------------------------------------------------------------------------------


def _message_sets() -> list[CemMessageSet]:
    """Message sets to offer in the composer: those the user may read (their place's and HQ's
    shared ones — the message-set pages' rule); the service checks the chosen one again."""
    from ..voice.store import visible_condition

    stmt = (select(CemMessageSet).where(visible_condition(current_user))
            .order_by(CemMessageSet.updated_at.desc(), CemMessageSet.id.desc()).limit(200))
    return list(db.session.scalars(stmt))


def _segments() -> list[Segment]:
    """Saved segments the user may open (the core's rule: all with ``segment.manage`` everywhere,
    else their own), newest first."""
    stmt = select(Segment).order_by(Segment.updated_at.desc(), Segment.id.desc()).limit(200)
    if not has_global_permission(current_user, "segment.manage"):
        stmt = stmt.where(Segment.created_by_id == current_user.id)
    return list(db.session.scalars(stmt))


def _step1_preview(message_set_id: Any, purpose: Any) -> tuple[CemMessageSet | None, list[dict[str, Any]]]:
    """Step 1's message set (if the user may read it) and its renditions rendered side by side for
    the built-in sample customer, legal wrapper applied for marketing (the message-set preview)."""
    from ..voice.store import preview_rows, visible_condition

    try:
        set_id = int(message_set_id)
    except (TypeError, ValueError):
        return None, []
    if not 0 < set_id < 2**31:  # beyond the id column: no set (SQLite cannot even bind 2**63)
        return None, []
    ms = db.session.execute(select(CemMessageSet).where(CemMessageSet.id == set_id,
                                                        visible_condition(current_user))).scalar_one_or_none()
    if ms is None:
        return None, []
    try:
        return ms, preview_rows(ms, None, purpose != "service")
    except Exception:  # noqa: BLE001 - a half-finished set: the composer still shows, the set's page explains
        current_app.logger.warning("cem composer: preview of message set %s failed", ms.id, exc_info=True)
        return ms, []


def _builder() -> dict[str, Any] | None:
    """The core segment builder's configuration (``static/js/segment_builder.js`` turns the rules
    field into condition rows with a live count), for users who may build segments; else None and
    the rules stay a JSON field."""
    if not has_permission(current_user, "segment.manage"):
        return None
    return {"fields": segment_field_catalog(current_user), "ops": segment_op_labels(),
            "preview_url": url_for("analytics.segment_preview"),
            "messages": {"matching": _("customers match"), "contactable": _("may be contacted on this channel"),
                         "checking": _("Counting…"), "invalid": _("Fix the marked conditions to see the count."),
                         "failed": _("The count could not be computed; use the Preview button."),
                         "all": _("All conditions (AND)"), "any": _("Any condition (OR)"), "not": _("None of (NOT)"),
                         "add_condition": _("Add condition"), "add_group": _("Add group"), "remove": _("Remove"),
                         "field": _("Field"), "op": _("Operator"), "value": _("Value"), "days": _("days"),
                         "from": _("from"), "to": _("to"), "any_time": _("any time"), "choose": _("Choose…"),
                         "yes": _("yes"), "no": _("no"), "everyone": _("No conditions: every customer in your scope.")}}


def _kakao_templates() -> list[tuple[str, str]]:
    """Approved 알림톡 templates (code, name) to pick from for a service KakaoTalk step."""
    from ..models import KakaoTemplate

    return [(r.code, r.name) for r in db.session.execute(
        select(KakaoTemplate.code, KakaoTemplate.name).where(KakaoTemplate.approved_at.is_not(None))
        .order_by(KakaoTemplate.code).limit(500))]


def _reason_labels(channel: str | None = None) -> dict[str, str]:
    """Suppression reasons in the reader's language (the core's and the add-ons'), codes as fallback."""
    try:
        labels = suppression_reason_labels(channel)
    except ValueError:  # a channel the core's suppression does not know (phone, push): the general ones
        labels = suppression_reason_labels()
    return {k: str(v) for k, v in labels.items()}


def _composer(values: dict[str, Any], campaign: CemCampaign | None = None, errors: dict[str, str] | None = None,
              preview: dict[str, Any] | None = None, status: int = 200):
    step1_set, step1_rows = _step1_preview(values.get("steps-0-message_set_id"), values.get("purpose"))
    return render_template(
        TEMPLATES + "compose.html", values=values, campaign=campaign, errors=errors or {}, preview=preview,
        message_sets=_message_sets(), segments=_segments(), choices=forms.CHOICES, max_steps=forms.MAX_STEPS,
        step1_set=step1_set, step1_rows=step1_rows, kakao_templates=_kakao_templates(),
        builder=_builder(),
        reason_labels=_reason_labels(preview.get("channel")) if preview else {},
    ), status


def _percent_errors(errors: dict[str, str]) -> dict[str, str]:
    """The composer asks for percentages; say the service's share limits in percent."""
    limits = {"holdout_share": (0, 50), "ab_test_share": (5, 50)}
    for key, (low, high) in limits.items():
        if key in errors:
            errors[key] = _("A percentage from %(low)s to %(high)s.", low=low, high=high)
    return errors


def _save(campaign: CemCampaign | None):
    values = forms.posted_values(request.form)
    data, rows = forms.form_to_data(request.form)
    service = _service()
    if request.form.get("action") == "preview":
        try:
            from ..campaigns.audience import preview as audience_preview

            result = audience_preview(current_user, data)
        except CampaignError as exc:
            db.session.rollback()
            return _composer(values, campaign, _percent_errors(forms.field_errors(exc.errors, rows)),
                             status=exc.status if exc.status in (403, 409, 422) else 422)
        db.session.rollback()  # a preview writes nothing
        return _composer(values, campaign, preview=result)
    try:
        if campaign is None:
            campaign = service.create_draft(current_user, data)
        else:
            service.update_draft(current_user, campaign, data)
        db.session.commit()
    except CampaignError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        campaign = db.session.get(CemCampaign, campaign.id) if campaign is not None and campaign.id else None
        return _composer(values, campaign, _percent_errors(forms.field_errors(exc.errors, rows)), status=exc.status)
    flash(_("Campaign saved."), "success")
    return redirect(url_for(".detail", campaign_id=campaign.id), 303)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(COMPOSE)
def new():
    """Compose a new campaign (a draft until it is submitted for approval)."""
    if request.method == "POST":
        return _save(None)
    return _composer(forms.new_values())


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@permission_required(COMPOSE)
def edit(campaign_id: int):
    """Edit a campaign; an approved or scheduled one goes back to approval when saved (CE-27)."""
    campaign = _campaign(campaign_id)
    if campaign.state not in EDITABLE:
        flash(_("A campaign that is %(state)s can no longer be edited.",
                state=str(STATE_LABELS.get(campaign.state, campaign.state)).lower()), "error")
        return redirect(url_for(".detail", campaign_id=campaign.id), 303)
    if request.method == "POST":
        return _save(campaign)
    return _composer(forms.campaign_to_form(campaign), campaign)


# -- detail, actions, progress, results --------------------------------------------------------------------


def _results(campaign: CemCampaign) -> dict[str, Any] | None:
    """The campaign's results document, or None when computing it fails on this campaign (logged;
    never a 500: the rest of the page still shows)."""
    from ..campaigns.results import campaign_results

    try:
        return campaign_results(campaign)
    except Exception:  # noqa: BLE001 - logged; the rest of the page matters more
        current_app.logger.exception("cem campaign %s: results failed", campaign.id)
        db.session.rollback()
        return None


def _chart(results: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The funnel bars: sent, delivered, opened, clicked (all steps and variants), converted (treatment)."""
    if not results:
        return []
    totals = {"sent": 0, "delivered": 0, "opened": 0, "clicked": 0}
    for row in results.get("steps") or []:
        for key in totals:
            value = row.get(key) or 0
            totals[key] += value if isinstance(value, int) else 0
    arms = results.get("arms") or {}
    converted = (arms.get("treatment") or {}).get("conversions") or 0
    bars = [("sent", _("Sent")), ("delivered", _("Delivered")), ("opened", _("Opened")), ("clicked", _("Clicked"))]
    top = max([*totals.values(), converted, 1])
    out = [{"key": k, "label": label, "value": totals[k], "width": round(totals[k] / top * 300, 1)}
           for k, label in bars]
    out.append({"key": "converted", "label": _("Bought"), "value": converted, "width": round(converted / top * 300, 1)})
    return out


def _detail(campaign: CemCampaign, errors: dict[str, str] | None = None, status: int = 200):
    transitions = [t.id for t in available_transitions(campaign, current_user) if t.id in ACTIONS]
    set_ids = {s.message_set_id for s in campaign.steps} | {v.message_set_id for v in campaign.variants}
    sets = {ms.id: ms for ms in db.session.scalars(select(CemMessageSet).where(CemMessageSet.id.in_(set_ids - {None})))}
    history = workflow_history(campaign)
    approval = approval_for(campaign)
    actor_ids = ({h.actor_id for h in history} | {campaign.created_by_id, getattr(approval, "approved_by_id", None)}) - {None}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(actor_ids)))} if actor_ids else {}
    started = campaign.state in (SENDING, PAUSED, DONE) or campaign.started_at is not None
    results = _results(campaign) if started else None
    revision = current_revision(campaign) if "approve" in transitions else None
    may_choose = (bool(campaign.variants) and campaign.ab_winner is None and campaign.state in (SENDING, PAUSED)
                  and (has_permission(current_user, APPROVE, campaign) or campaign.created_by_id == current_user.id))
    return render_template(
        TEMPLATES + "detail.html", c=campaign, transitions=transitions, sets=sets, history=history, people=people,
        segment=db.session.get(Segment, campaign.segment_id) if campaign.segment_id else None,
        # a scheduled campaign shows its (empty) progress too: the polling notices the start and reloads
        progress=progress(SOURCE, campaign.source_object) if started or campaign.state == SCHEDULED else None,
        results=results,
        chart=_chart(results), revision=revision, approval=approval, errors=errors or {},
        may_choose=may_choose, state_labels=STATE_LABELS, live=campaign.state in (SCHEDULED, SENDING, PAUSED),
        final=campaign.state in (DONE, EXPIRED, CANCELLED), reason_labels=_reason_labels() if results else {},
    ), status


@bp.get("/<int:campaign_id>")
@permission_required(VIEW)
def detail(campaign_id: int):
    """Facts, the workflow's buttons and history, live progress, results."""
    return _detail(_campaign(campaign_id))


@bp.post("/<int:campaign_id>/<action>")
@permission_required(VIEW)
def act(campaign_id: int, action: str):
    """One state change through the service (it checks permission, four-eyes and state)."""
    if action not in ACTIONS:
        abort(404)
    campaign = _campaign(campaign_id)
    comment = (request.form.get("comment") or "").strip()
    service = _service()
    try:
        if action == "approve":
            service.approve(current_user, campaign, request.form.get("revision") or "", comment)
        elif action in ("schedule", "reschedule"):
            start_at = forms.start_at_value(request.form.get("start_at"))
            if action == "schedule":
                service.schedule(current_user, campaign, start_at=start_at)
            else:
                service.reschedule(current_user, campaign, start_at)
        elif action in ("reject", "cancel", "submit", "retract"):
            getattr(service, action)(current_user, campaign, comment)
        else:
            getattr(service, action)(current_user, campaign)
        db.session.commit()
    except CampaignError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        return _detail(_campaign(campaign_id), errors={k: str(v) for k, v in exc.errors.items()}, status=exc.status)
    flash(_("Campaign: %(state)s.", state=STATE_LABELS.get(campaign.state, campaign.state)), "success")
    target = request.form.get("next") or ""
    if target == "approvals":
        return redirect(url_for(".approvals"), 303)
    return redirect(url_for(".detail", campaign_id=campaign.id), 303)


@bp.get("/<int:campaign_id>/progress.json")
@permission_required(VIEW)
def progress_json(campaign_id: int):
    """Counts by message status for the live panel (polled every few seconds while sending)."""
    campaign = _campaign(campaign_id)
    p = progress(SOURCE, campaign.source_object)
    return jsonify({"id": campaign.id, "state": campaign.state,
                    "state_label": str(STATE_LABELS.get(campaign.state, campaign.state)),
                    "counts": p["counts"], "total": p["total"], "terminal": p["terminal"], "done": p["done"],
                    "paused": p["paused"],
                    "percent": round(p["terminal"] * 100 / p["total"], 1) if p["total"] else 0.0})


@bp.post("/<int:campaign_id>/winner")
@permission_required(VIEW)
def winner(campaign_id: int):
    """A person decides the A/B test when the numbers did not (fallback ``manual``)."""
    campaign = _campaign(campaign_id)
    try:
        from ..campaigns.ab import choose_winner

        choose_winner(current_user, campaign, (request.form.get("code") or "").strip().upper())
        db.session.commit()
    except CampaignError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        return _detail(_campaign(campaign_id), errors={k: str(v) for k, v in exc.errors.items()}, status=exc.status)
    flash(_("Variant %(code)s goes to the rest of the audience.", code=campaign.ab_winner), "success")
    return redirect(url_for(".detail", campaign_id=campaign.id), 303)


@bp.get("/<int:campaign_id>/export.<fmt>")
@permission_required(VIEW)
def export(campaign_id: int, fmt: str):
    """The results per step and variant as CSV or XLSX (logged like every export)."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    campaign = _campaign(campaign_id)
    from ..campaigns.results import export_rows

    header, rows = export_rows(campaign)
    titles = {"step": _("Step"), "channel": _("Channel"), "variant": _("Variant"), "queued": _("Queued"),
              "sent": _("Sent"), "delivered": _("Delivered"), "failed_permanent": _("Failed (permanent)"),
              "failed_temporary": _("Failed (temporary)"), "suppressed": _("Suppressed at send"),
              "expired": _("Expired"), "cancelled": _("Cancelled"), "pending": _("Not yet sent"),
              "opened": _("Opened"), "clicked": _("Clicked"), "opted_out": _("Opted out"),
              "deduped": _("Left out as duplicates")}
    try:
        return logged_export(fmt, f"campaign-{campaign.id}-results.{fmt}", [titles.get(h, h) for h in header],
                             lambda: rows, _("Campaign results"), len(rows), object_type="cem_campaign",
                             object_id=campaign.id, detail=f"campaign {campaign.id} results")
    except ExportTooLarge:
        flash(_("Too many rows for one spreadsheet; download the CSV instead."), "error")
        return redirect(url_for(".detail", campaign_id=campaign.id), 303)


# -- approvals and calls -----------------------------------------------------------------------------------


@bp.get("/approvals")
@permission_required(APPROVE)
def approvals():
    """Campaigns waiting for this user's approval: in scope, not their own (four-eyes)."""
    page_no, _per_page = parse_page_args(request.args)
    stmt = (_service().visible_campaigns(current_user, state=PENDING, sort="updated")
            .where(scope_filter(current_user, APPROVE, CemCampaign),
                   or_(CemCampaign.created_by_id.is_(None), CemCampaign.created_by_id != current_user.id)))
    page = paginate(stmt, page_no, PER_PAGE)
    revisions = {c.id: current_revision(c) for c in page.items}
    authors = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({c.created_by_id for c in page.items} - {None})))}
    return render_template(TEMPLATES + "approvals.html", page=page, revisions=revisions, authors=authors)


@bp.get("/calls")
@permission_required(CALL)
def calls():
    """The due calls of phone steps for the user's customers, with an outcome form per call."""
    from ..campaigns.calls import call_list

    page_no, _per_page = parse_page_args(request.args)
    campaign = None
    if request.args.get("campaign"):
        try:
            campaign = _campaign(int(request.args["campaign"]))
        except ValueError:
            abort(404)
    page = call_list(current_user, campaign=campaign, page=page_no, per_page=PER_PAGE)
    return render_template(TEMPLATES + "calls.html", page=page, campaign=campaign, outcomes=CALL_OUTCOMES)


@bp.post("/calls/<int:message_id>")
@permission_required(CALL)
def record(message_id: int):
    """Record what came of one call."""
    from ..campaigns.calls import record_call

    outcome = request.form.get("outcome") or ""
    note = (request.form.get("note") or "").strip()
    try:
        record_call(current_user, message_id, outcome, note)
        db.session.commit()
    except CampaignError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        for message in exc.errors.values():
            flash(str(message), "error")
        return redirect(url_for(".calls"), 303)
    flash(_("Call outcome recorded."), "success")
    return redirect(url_for(".calls", campaign=request.form.get("campaign") or None), 303)
