"""Programme pages for HQ and group leaders: the list (state tabs, search, group filter, sort,
pagination), the new/edit form, the detail page with the workflow's buttons, steps and history.

Thin handlers over ``programmes.service``: the form is turned into the API's JSON shape and
cleaned by the same ``validation.clean``, so the page and the API refuse the same input with the
same words, shown next to the fields. Programmes load through the service's scope (another
group's programme is 404). Buttons post to ``/prm/programmes/<id>/transition`` (the core's
workflow form endpoint is off for this type: every transition goes through ``service.fire``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal.toolkit import (
    User,
    approval_for,
    current_revision,
    db,
    has_permission,
    parse_page_args,
    permission_required,
    register_labels,
    workflow_history,
)

from ..models import DESIGNS, EDITABLE, MESSAGE_CHANNELS, METRICS, STATES, PrmProgramme
from ..permissions import MANAGE, VIEW
from . import ProgrammeError

bp = Blueprint("prm_programmes", __name__, url_prefix="/prm/programmes", template_folder="../templates",
               static_folder="../static/programmes", static_url_path="/programmes-static")

KST = ZoneInfo("Asia/Seoul")
PER_PAGE = 25
MAX_STEP_ROWS = 5
MAX_SESSION_ROWS = 6
SORTS = ("-updated", "updated", "-created", "name", "-name", "run", "-run")
#: Channel text fields of a message step on the form: (channel, field).
TEXT_FIELDS = [("email", "subject"), ("email", "body"), ("email", "html"), ("dm", "body"), ("sms", "body"),
               ("kakao", "subject"), ("kakao", "body"), ("push", "subject"), ("push", "body")]
SESSION_FIELDS = ("title", "starts_at", "ends_at", "venue_branch", "address", "online_url", "capacity",
                  "registration_deadline")

STATE_LABELS = {
    "draft": _l("Draft"), "leader_review": _l("Waiting for the leader's approval"), "approved": _l("Approved"),
    "running": _l("Running"), "measuring": _l("Measuring"), "closed": _l("Closed"),
    "rejected": _l("Sent back by the leader"), "cancelled": _l("Cancelled"),
}
METRIC_LABELS = {"category_purchase_rate": _l("Category purchase rate"),
                 "category_spend": _l("Category spend per customer"), "category_buyers": _l("Category buyers")}
DESIGN_LABELS = {"holdout": _l("Randomised holdout"),
                 "did_vs_groups": _l("Comparison with the other groups (difference-in-differences)")}
KIND_LABELS = {"message": _l("Message in the leader's voice"), "seminar_series": _l("Seminar series")}
CHANNEL_LABELS = {"email": _l("E-mail"), "dm": _l("Postal mail"), "sms": _l("SMS/LMS"), "kakao": _l("KakaoTalk"),
                  "push": _l("Push")}
register_labels("prm_state", STATE_LABELS)
register_labels("audit_action", {"prm.programme.create": _l("Group programme created"),
                                 "prm.programme.update": _l("Group programme edited")})


def _service() -> Any:
    from . import service

    return service


def _programme(programme_id: int) -> PrmProgramme:
    """The programme if it is in the user's scope, else 404 (the service's rule, as in the API)."""
    try:
        return _service().programme_or_404(current_user, programme_id)
    except ProgrammeError:
        abort(404)


def _endpoint(name: str) -> bool:
    return name in current_app.view_functions


@bp.app_template_filter("prm_kst")
def kst_filter(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored naive-UTC time in Asia/Seoul."""
    return at.replace(tzinfo=UTC).astimezone(KST).strftime(fmt) if at is not None else "—"


# -- list ----------------------------------------------------------------------------------------------


@bp.get("/")
@permission_required(VIEW)
def index():
    """Programmes in scope: state tabs with counts, search by name, group filter, sort, pages."""
    service = _service()
    state = request.args.get("state") or None
    state = state if state in STATES else None
    q = (request.args.get("q") or "").strip()[:100] or None
    group = (request.args.get("group") or "").strip()[:20] or None
    sort = request.args.get("sort") or "-updated"
    sort = sort if sort in SORTS else "-updated"
    page_no, _per_page = parse_page_args(request.args)
    page = service.page(current_user, page_no, PER_PAGE, state=state, q=q, group=group, sort=sort)
    counts = service.state_counts(current_user, q=q, group=group)
    args = {k: v for k, v in (("state", state), ("q", q), ("group", group), ("sort", sort)) if v}
    groups = service.group_choices(current_user) if has_permission(current_user, MANAGE) else []
    return render_template("prm/programme_index.html", page=page, counts=counts, total=sum(counts.values()),
                           state=state, q=q or "", group=group or "", sort=sort, args=args, states=STATES,
                           state_labels=STATE_LABELS, groups=groups, may_manage=has_permission(current_user, MANAGE),
                           radar=_endpoint("prm_radar.index"))


# -- form ----------------------------------------------------------------------------------------------


def _number(raw: str | None, *, scale: float = 1.0, integer: bool = False) -> Any:
    """A form number: '' → None, a number (scaled), else the text itself (the service says why)."""
    text = (raw or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    if integer:
        return int(value) if value.is_integer() and abs(value) < 2**64 else text
    return round(value * scale, 10)


def _rules(raw: str | None) -> Any:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # "[[[[…" deeper than the parser's stack is not a rule set either
        return text  # the rules check answers "expected a rule set"


def form_to_data(form: Any, *, with_sessions: bool) -> tuple[dict[str, Any], list[int], list[int]]:
    """The posted form as the API's JSON shape, with the form rows the steps and sessions came
    from (empty rows are skipped, so ``steps[0]`` may be the form's second row)."""
    def window(name: str) -> dict[str, str] | None:
        start, end = form.get(f"{name}_start", "").strip(), form.get(f"{name}_end", "").strip()
        return {"start": start, "end": end} if start or end else None

    data: dict[str, Any] = {
        "name": form.get("name", ""), "group": form.get("group", ""), "category": form.get("category", ""),
        "objective_metric": form.get("objective_metric") or None, "objective": form.get("objective", ""),
        "baseline_window": window("baseline"), "run_window": window("run"),
        "design": [d for d in DESIGNS if d in form.getlist("design")],
        "holdout_share": _number(form.get("holdout_pct"), scale=0.01),
        "seed": _number(form.get("seed"), integer=True), "budget": _number(form.get("budget"), integer=True),
        "target_mde": _number(form.get("target_mde_pp"), scale=0.01),
    }
    measure = window("measure")
    if measure is not None:
        data["measurement_window"] = measure
    if data["target_mde"] is None:
        data.pop("target_mde")
    steps, step_rows = [], []
    for i in range(MAX_STEP_ROWS):
        kind = form.get(f"steps-{i}-kind", "")
        if not kind:
            continue
        step: dict[str, Any] = {"kind": kind, "title": form.get(f"steps-{i}-title", ""),
                                "rules": _rules(form.get(f"steps-{i}-rules")),
                                "offset_days": _number(form.get(f"steps-{i}-offset_days"), integer=True) or 0}
        if kind == "message":
            step["channels"] = [c for c in MESSAGE_CHANNELS if c in form.getlist(f"steps-{i}-channels")]
            content: dict[str, Any] = {"signer": form.get(f"steps-{i}-signer", "")}
            for channel, fld in TEXT_FIELDS:
                value = form.get(f"steps-{i}-{channel}-{fld}", "")
                if channel in step["channels"] and (value.strip() or fld == "body"
                                                    or (channel, fld) == ("email", "subject")):
                    content.setdefault(channel, {})[fld] = value
            if any(k != "signer" for k in content) or content["signer"].strip():
                step["content"] = content
        else:
            step["completion_min"] = _number(form.get(f"steps-{i}-completion_min"), integer=True)
        steps.append(step)
        step_rows.append(i)
    data["steps"] = steps
    session_rows: list[int] = []
    if with_sessions:
        sessions = []
        for j in range(MAX_SESSION_ROWS):
            row = {f: form.get(f"sessions-{j}-{f}", "").strip() for f in SESSION_FIELDS}
            if not any(row.values()):
                continue
            item: dict[str, Any] = {k: (v or None) for k, v in row.items()}
            item["capacity"] = _number(row["capacity"], integer=True)
            sessions.append(item)
            session_rows.append(j)
        if sessions:
            data["sessions"] = sessions
    return data, step_rows, session_rows


def field_errors(errors: dict[str, str], step_rows: list[int], session_rows: list[int]) -> dict[str, str]:
    """Service paths (``steps[0].content.email.body``) → the form's rows (``steps[1].content…``),
    percentages said in percent."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        for prefix, rows in (("steps", step_rows), ("sessions", session_rows)):
            if key.startswith(prefix + "["):
                head, _sep, rest = key[len(prefix) + 1:].partition("]")
                if head.isdigit() and int(head) < len(rows):
                    key = f"{prefix}[{rows[int(head)]}]{rest}"
        if key == "holdout_share":
            message = _("A percentage from 0 to 50.")
        elif key == "target_mde":
            message = _("Percentage points above 0 and below 100.")
        out[key] = message
    return out


def _step_values(i: int, step: Any) -> dict[str, Any]:
    from .content import latest_revision

    values = {f"steps-{i}-kind": step.kind, f"steps-{i}-title": step.title,
              f"steps-{i}-rules": json.dumps(step.rules, ensure_ascii=False) if step.rules is not None else "",
              f"steps-{i}-offset_days": str(step.offset_days or 0),
              f"steps-{i}-completion_min": "" if step.completion_min is None else str(step.completion_min),
              f"steps-{i}-channels": list(step.channels or [])}
    rev = latest_revision(step) if step.kind == "message" else None
    if rev is not None:
        values[f"steps-{i}-signer"] = rev.signer
        for channel, fld in TEXT_FIELDS:
            values[f"steps-{i}-{channel}-{fld}"] = ((rev.content or {}).get(channel) or {}).get(fld, "")
    return values


def programme_to_form(p: PrmProgramme) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": p.name, "group": p.group.code, "category": p.category.code, "objective_metric": p.objective_metric,
        "objective": p.objective or "", "baseline_start": p.baseline_start.isoformat(),
        "baseline_end": p.baseline_end.isoformat(), "run_start": p.run_start.isoformat(),
        "run_end": p.run_end.isoformat(), "measure_start": p.measure_start.isoformat(),
        "measure_end": p.measure_end.isoformat(), "design": list(p.design or []),
        "holdout_pct": f"{p.holdout_share * 100:g}", "seed": str(p.seed),
        "budget": "" if p.budget is None else str(p.budget), "target_mde_pp": f"{p.target_mde * 100:g}"}
    for i, step in enumerate(p.steps):
        values.update(_step_values(i, step))
    return values


def new_values() -> dict[str, Any]:
    """A new programme's form: group and category from the radar's "create programme" link."""
    values: dict[str, Any] = {"design": list(DESIGNS), "holdout_pct": "10", "target_mde_pp": "3",
                              "objective_metric": "category_purchase_rate",
                              "steps-0-kind": "message", "steps-0-channels": ["email", "dm"],
                              "steps-1-kind": "seminar_series", "steps-1-offset_days": "14",
                              "steps-1-completion_min": "2"}
    for key in ("group", "category"):
        raw = (request.args.get(key) or "").strip()[:20]
        if raw:
            values[key] = raw
    return values


def posted_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: form.get(k) for k in form}
    values["design"] = form.getlist("design")
    for i in range(MAX_STEP_ROWS):
        values[f"steps-{i}-channels"] = form.getlist(f"steps-{i}-channels")
    return values


def _form(values: dict[str, Any], programme: PrmProgramme | None = None, errors: dict[str, str] | None = None,
          status: int = 200):
    service = _service()
    return render_template(
        "prm/programme_form.html", values=values, p=programme, errors=errors or {},
        groups=service.group_choices(current_user), categories=service.category_choices(), metrics=METRICS,
        metric_labels=METRIC_LABELS, designs=DESIGNS, design_labels=DESIGN_LABELS, kind_labels=KIND_LABELS,
        channels=MESSAGE_CHANNELS, channel_labels=CHANNEL_LABELS, text_fields=TEXT_FIELDS,
        step_rows=range(MAX_STEP_ROWS), session_rows=range(MAX_SESSION_ROWS) if programme is None else range(0),
        seminars=programme is not None and _endpoint("prm_seminars.index"),
    ), status


def _save(programme: PrmProgramme | None):
    data, step_rows, session_rows = form_to_data(request.form, with_sessions=programme is None)
    service = _service()
    try:
        if programme is None:
            programme = service.create(current_user, data)
        else:
            service.update(current_user, programme, data)
        db.session.commit()
    except ProgrammeError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        programme = db.session.get(PrmProgramme, programme.id) if programme is not None and programme.id else None
        return _form(posted_values(request.form), programme, field_errors(exc.errors, step_rows, session_rows),
                     status=exc.status if exc.status in (403, 409, 422) else 422)
    flash(_("Programme saved."), "success")
    return redirect(url_for(".detail", programme_id=programme.id), 303)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new():
    """A new programme (a draft until it is sent to the group's leader); ``?group=&category=``
    come from the radar."""
    if request.method == "POST":
        return _save(None)
    return _form(new_values())


@bp.route("/<int:programme_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit(programme_id: int):
    """Edit the plan and the texts; an approved programme goes back to the leader when saved."""
    programme = _programme(programme_id)
    if programme.state not in EDITABLE or not has_permission(current_user, MANAGE, programme.group):
        flash(_("A programme that has started can no longer be edited."), "error")
        return redirect(url_for(".detail", programme_id=programme.id), 303)
    if request.method == "POST":
        return _save(programme)
    return _form(programme_to_form(programme), programme)


# -- detail and transitions -----------------------------------------------------------------------------


def _detail(programme: PrmProgramme, errors: dict[str, str] | None = None, status: int = 200):
    from .content import latest_revision

    service = _service()
    transitions = service.transitions_for(programme, current_user)
    history = workflow_history(programme)
    approval = approval_for(programme)
    ids = ({h.actor_id for h in history} | {programme.created_by_id, getattr(approval, "approved_by_id", None)}) - {None}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    steps = [{"step": s, "revision": latest_revision(s) if s.kind == "message" else None} for s in programme.steps]
    links = {name: url_for(endpoint, programme_id=programme.id) for name, endpoint in
             (("approval", "prm_content.approval"), ("seminars", "prm_seminars.index"),
              ("results", "prm_results.detail")) if _endpoint(endpoint)}
    return render_template(
        "prm/programme_detail.html", p=programme, transitions=transitions, history=history, people=people,
        approval=approval, steps=steps, links=links, errors=errors or {},
        revision=current_revision(programme) if "approve" in transitions else None,
        state_labels=STATE_LABELS, metric_labels=METRIC_LABELS, design_labels=DESIGN_LABELS,
        kind_labels=KIND_LABELS, channel_labels=CHANNEL_LABELS,
        may_edit=programme.state in EDITABLE and has_permission(current_user, MANAGE, programme.group),
    ), status


@bp.get("/<int:programme_id>")
@permission_required(VIEW)
def detail(programme_id: int):
    """The plan, steps with their texts' revisions, the workflow's buttons and history."""
    return _detail(_programme(programme_id))


@bp.post("/<int:programme_id>/transition")
@permission_required(VIEW)
def act(programme_id: int):
    """One transition through ``service.fire`` (it checks scope, permission, state, comment)."""
    programme = _programme(programme_id)
    name = request.form.get("transition") or ""
    try:
        _service().fire(programme, name, current_user, (request.form.get("comment") or "").strip(),
                        request.form.get("revision") or None)
        db.session.commit()
    except ProgrammeError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        return _detail(db.session.get(PrmProgramme, programme_id), exc.errors,
                       status=exc.status if exc.status in (403, 409, 422) else 422)
    flash(_("Done: the programme is now “%(state)s”.", state=STATE_LABELS.get(programme.state, programme.state)),
          "success")
    return redirect(url_for(".detail", programme_id=programme.id), 303)
