"""Campaign drafts, scope and the state changes people make.

Every state change goes through the core workflow ``cem_campaign`` (four-eyes approval, history,
audit, notifications); this module adds what the workflow cannot know: the law checks on the
message sets at submit and approve, the 080 number and the audience at schedule, and the
messaging side effects of pause, resume and cancel — each in the caller's transaction with the
state change, so both happen or neither. Refusals are ``CampaignError`` with the HTTP status
(403, 404, 409, 422) and nothing written; the caller commits.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select, text

from portal.toolkit import (
    Partner,
    WorkflowError,
    audit,
    check_transition,
    content_changed,
    db,
    has_global_permission,
    has_permission,
    legal_settings,
    owner_place,
    paginate,
    progress,
    scope_filter,
    transition,
    utcnow,
)
from portal.toolkit import approve as workflow_approve
from portal.toolkit import pause as pause_messages
from portal.toolkit import resume as resume_messages

from ..campaign_models import (
    APPROVED,
    EDITABLE,
    EXPIRED,
    PENDING,
    SCHEDULED,
    CemCampaign,
    CemCampaignStep,
    CemCampaignVariant,
)
from ..permissions import COMPOSE, VIEW
from . import CampaignError
from .validation import clean

SOURCE = "cem_channels"
#: Columns a draft's cleaned input sets directly (steps and variants are rows of their own).
COLUMNS = ("name", "purpose", "segment_id", "rules", "start_at", "max_lateness_minutes", "holdout_share",
           "use_global_control", "attribution_days", "ab_test_share", "ab_winner_metric", "ab_wait_hours",
           "ab_fallback", "cap_per_day", "cap_per_7_days", "dedupe_by_address")
SORTS = {"-updated": (CemCampaign.updated_at.desc(), CemCampaign.id.desc()),
         "updated": (CemCampaign.updated_at.asc(), CemCampaign.id.asc()),
         "-created": (CemCampaign.created_at.desc(), CemCampaign.id.desc()),
         "name": (CemCampaign.name.asc(), CemCampaign.id.asc()),
         "-name": (CemCampaign.name.desc(), CemCampaign.id.desc()),
         "start": (CemCampaign.start_at.asc(), CemCampaign.id.asc()),
         "-start": (CemCampaign.start_at.desc(), CemCampaign.id.desc())}
#: Channels whose marketing text must carry the free 080 opt-out number (CE-2).
OPTOUT_CHANNELS = ("sms", "kakao")


def _not_found() -> CampaignError:
    return CampaignError({"id": _("This page does not exist, or you do not have access to it.")}, 404)


def _require_compose(actor: Any, campaign: CemCampaign | None = None) -> None:
    if not has_permission(actor, COMPOSE, campaign):
        raise CampaignError({"permission": _("Your roles do not allow composing campaigns here.")}, 403)


def place_of(actor: Any) -> tuple[int | None, int | None]:
    """(branch_id, partner_id) of a new campaign: the toolkit's ``owner_place`` (branch staff →
    their branch, a global composer → nowhere); a leader granted on a whole partner group sits on
    the group's top partner, so the group's scope — and the leader — see the campaign."""
    if has_global_permission(actor, COMPOSE):
        return None, None
    branch_id, partner_id = owner_place(actor)
    if branch_id is None and partner_id is None:
        groups = [lr.partner_group_id for lr in actor.local_roles if lr.partner_group_id is not None]
        if groups:
            partner_id = db.session.execute(
                select(Partner.id).where(Partner.group_id == groups[0], Partner.sponsor_id.is_(None))
                .order_by(Partner.id).limit(1)).scalar_one_or_none()
    return branch_id, partner_id


# -- drafts -------------------------------------------------------------------------------------------


def _apply(campaign: CemCampaign, values: dict[str, Any]) -> None:
    """Set columns, steps (kept by position) and variants (kept by code) from cleaned values.
    Rows are updated in place where they exist, so the unique keys never collide mid-flush."""
    for name in COLUMNS:
        if name in values:
            setattr(campaign, name, values[name])
    if values.get("origin"):
        campaign.origin = values["origin"]
    existing = {s.position: s for s in campaign.steps}
    keep: list[CemCampaignStep] = []
    for step in values["steps"]:
        row = existing.get(step["position"]) or CemCampaignStep(position=step["position"])
        for key in ("channel", "message_set_id", "delay_hours", "condition", "fallback_channel", "kakao_template"):
            setattr(row, key, step[key])
        keep.append(row)
    campaign.steps = keep
    by_code = {v.code: v for v in campaign.variants}
    variants: list[CemCampaignVariant] = []
    for v in values["variants"]:
        row = by_code.get(v["code"]) or CemCampaignVariant(code=v["code"])
        row.message_set_id, row.is_default = v["message_set_id"], v["is_default"]
        variants.append(row)
    campaign.variants = variants


def create_draft(actor: Any, data: Any, *, allow_origin: bool = False) -> CemCampaign:
    """A new draft from ``data`` (see ``validation.clean``), placed where its author works, with a
    random 63-bit seed for its draws and an audit event. The caller commits."""
    _require_compose(actor)
    values = clean(data, actor=actor, allow_origin=allow_origin)
    branch_id, partner_id = place_of(actor)
    campaign = CemCampaign(branch_id=branch_id, partner_id=partner_id, created_by_id=actor.id,
                           seed=secrets.randbits(63), counts={})
    _apply(campaign, values)
    db.session.add(campaign)
    db.session.flush()
    audit.record("cem.campaign.create", campaign, summary=f"{campaign.name} ({campaign.purpose})", actor=actor)
    return campaign


def update_draft(actor: Any, campaign: CemCampaign, data: Any) -> CemCampaign:
    """Edit a campaign's content while it is editable; fields not sent keep their values. An
    edit of approved or scheduled content withdraws the approval and goes back to
    ``pending_approval`` (CE-27), through the workflow's ``edited``. The caller commits."""
    _require_compose(actor, campaign)
    if campaign.state not in EDITABLE:
        raise CampaignError({"state": _("A campaign that is sending or over cannot be edited.")}, 409)
    values = clean(data, actor=actor, existing=campaign)
    if campaign.state == SCHEDULED and values["start_at"] != campaign.start_at:
        _check_schedulable(campaign, values["start_at"], None)  # a scheduled campaign keeps a future start
    before = campaign_revision(campaign)
    _apply(campaign, values)
    db.session.flush()
    moved = content_changed(campaign, actor, reason="edited")
    changes = {k: (before.get(k), v) for k, v in campaign_revision(campaign).items() if before.get(k) != v}
    audit.record("cem.campaign.edit", campaign, summary=campaign.name + (" → pending_approval" if moved else ""),
                 changes={k: (str(a)[:200], str(b)[:200]) for k, (a, b) in changes.items()}, actor=actor)
    return campaign


def create_from_hook(draft: dict[str, Any], actor: Any) -> dict[str, Any] | None:
    """``cem_create_campaign``: another add-on (prm_groups, knowledge_share) creates a draft in
    the actor's name and scope; ``origin`` says where it came from, and an ``approval`` made
    elsewhere (plus ``schedule``) creates it approved and scheduled (``bridge.create_from_hook``).
    Raises ``CampaignError``."""
    from .bridge import create_from_hook as create

    return create(draft, actor)


# -- scope ----------------------------------------------------------------------------------------------


def visible_campaigns(actor: Any, *, state: str | None = None, q: str | None = None,
                      sort: str = "-updated") -> Select:
    """The campaigns ``actor`` may see (branch staff: their branch's, leaders: their group's,
    HQ: all), filtered by ``state`` and a name search ``q``, in ``sort`` order."""
    stmt = select(CemCampaign).where(scope_filter(actor, VIEW, CemCampaign))
    if state:
        stmt = stmt.where(CemCampaign.state == state)
    if q:
        term = q.strip()[:100].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(CemCampaign.name).like(f"%{term.lower()}%", escape="\\"))
    return stmt.order_by(*SORTS.get(sort, SORTS["-updated"]))


def campaign_or_404(actor: Any, ident: Any) -> CemCampaign:
    """The campaign if ``actor`` may see it; ``CampaignError`` 404 otherwise (also for a bad id)."""
    text = str(ident)
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**31:
        raise _not_found()
    found = db.session.execute(select(CemCampaign).where(
        CemCampaign.id == int(text), scope_filter(actor, VIEW, CemCampaign))).scalar_one_or_none()
    if found is None:
        raise _not_found()
    return found


def campaign_page(actor: Any, page: int = 1, per_page: int = 25, **filters: Any) -> Any:
    """One page of :func:`visible_campaigns` (the toolkit's ``paginate``)."""
    return paginate(visible_campaigns(actor, **filters), page, per_page)


# -- state changes ------------------------------------------------------------------------------------------


def _fire(actor: Any, campaign: CemCampaign, name: str, comment: str = "") -> None:
    try:
        transition(campaign, name, actor, comment)
    except WorkflowError as exc:
        raise CampaignError({"state": str(exc.message)}, exc.status) from None


def message_sets_of(campaign: CemCampaign) -> list[tuple[str, Any, set[str]]]:
    """(field path, message set, channels used) for every message set of the campaign."""
    from ..voice_models import CemMessageSet

    out: list[tuple[str, Any, set[str]]] = []
    for i, step in enumerate(campaign.steps):
        if step.message_set_id:
            channels = {step.channel} | ({step.fallback_channel} if step.fallback_channel else set())
            out.append((f"steps[{i}].message_set_id", db.session.get(CemMessageSet, step.message_set_id), channels))
    first = campaign.steps[0].channel if campaign.steps else None
    for i, v in enumerate(campaign.variants):
        if v.message_set_id:
            out.append((f"variants[{i}].message_set_id", db.session.get(CemMessageSet, v.message_set_id),
                        {first} if first else set()))
    return out


def law_problems(campaign: CemCampaign) -> dict[str, str]:
    """What blocks approval in the campaign's message sets, by field: the one-voice
    ``check_approvable`` (render errors, literal prices and dates, HQ banned terms) and, for
    marketing, each used rendition wrapped as it will be sent (ad label, sender, 080, CP949)."""
    from ..voice import blocking, check_approvable, preview

    errors: dict[str, str] = {}
    for path, ms, channels in message_sets_of(campaign):
        if ms is None:
            errors[path] = _("The message set no longer exists.")
            continue
        problems = blocking(check_approvable(ms))
        if campaign.purpose == "marketing":
            problems += [p for r in preview(ms, marketing=True) if r.channel in channels for p in blocking(r.problems)
                         if p.code == "law"]
        if problems:
            errors[path] = " ".join(dict.fromkeys(p.message for p in problems))
    return errors


def submit(actor: Any, campaign: CemCampaign, comment: str = "") -> CemCampaign:
    """Draft → waiting for approval; refused (422) while a message set could not be approved."""
    problems = law_problems(campaign)
    if problems:
        raise CampaignError(problems, 422)
    _fire(actor, campaign, "submit", comment)
    return campaign


def approve(actor: Any, campaign: CemCampaign, revision: Any, comment: str = "") -> CemCampaign:
    """Approve exactly ``revision`` (the hash the approver saw, from ``GET``'s ``revision``): the
    author never (four-eyes, 403), a changed campaign not (409), an unlawful text not (422)."""
    if not isinstance(revision, str) or not revision:
        raise CampaignError({"revision": _("The revision you approve is missing.")}, 422)
    if campaign.state == PENDING and _edited_by(campaign, actor):
        raise CampaignError({"permission": _("You changed this campaign's content: another person must approve it.")},
                            403)
    try:
        if campaign.state == PENDING:
            check_transition(campaign, "approve", actor, comment, revision)  # scope, four-eyes, revision first
            problems = law_problems(campaign)
            if problems:
                raise CampaignError(problems, 422)
        workflow_approve(campaign, actor, revision, comment)
    except WorkflowError as exc:
        raise CampaignError({"state" if exc.status != 403 else "permission": str(exc.message)}, exc.status) from None
    return campaign


def _edited_by(campaign: CemCampaign, actor: Any) -> bool:
    """Whether ``actor`` changed the campaign's content (an audited edit with changes): four-eyes
    means nobody approves what they wrote, not only the author of the draft."""
    rows = db.session.execute(text(
        "SELECT changes FROM audit_event WHERE action = 'cem.campaign.edit' AND object_type = 'cem_campaign' "
        "AND object_id = :oid AND actor_id = :aid"), {"oid": str(campaign.id), "aid": getattr(actor, "id", None)})
    return any(changes not in (None, "null", {}, "{}") for (changes,) in rows)


def reject(actor: Any, campaign: CemCampaign, comment: str = "") -> CemCampaign:
    """Send back to the author as a draft (a comment is required)."""
    _fire(actor, campaign, "reject", comment)
    return campaign


def retract(actor: Any, campaign: CemCampaign, comment: str = "") -> CemCampaign:
    """The author withdraws a campaign waiting for approval back to draft."""
    _fire(actor, campaign, "retract", comment)
    return campaign


def _start_value(start_at: Any, required: bool) -> datetime | None:
    from .validation import parse_start

    if start_at is None:
        if required:
            raise CampaignError({"start_at": _("Choose the start time.")}, 422)
        return None
    value = parse_start(start_at)
    if value is None:
        raise CampaignError({"start_at": _("A date and time in ISO 8601, e.g. 2026-06-12T10:00:00+09:00 "
                                           "(without offset: KST).")}, 422)
    return value


def _check_schedulable(campaign: CemCampaign, start: datetime | None, now: datetime | None) -> None:
    now = now or utcnow()
    if start is None:
        raise CampaignError({"start_at": _("Choose the start time.")}, 422)
    if start <= now:
        raise CampaignError({"start_at": _("The start time is in the past.")}, 422)
    if campaign.purpose == "marketing" and any(s.channel in OPTOUT_CHANNELS or s.fallback_channel in OPTOUT_CHANNELS
                                               for s in campaign.steps):
        if not legal_settings().get("optout_number"):
            raise CampaignError({"optout_number": _("080 opt-out number not configured")}, 422)


def _check_audience(actor: Any, campaign: CemCampaign) -> None:
    from .audience import preview

    if preview(actor, campaign)["eligible"] <= 0:
        raise CampaignError({"audience": _("no recipients")}, 409)


def schedule(actor: Any, campaign: CemCampaign, start_at: Any = None, *, now: datetime | None = None) -> CemCampaign:
    """Approved → scheduled at ``start_at`` (or the start time already set): refused without a
    080 number for marketing SMS/KakaoTalk (CE-2), for a start in the past (422) and for an
    audience with nobody eligible (409 "no recipients", CE-29)."""
    _require_compose(actor, campaign)
    if campaign.state != APPROVED:
        _fire(actor, campaign, "schedule")  # raises the workflow's 409 (or 404/403)
    start = _start_value(start_at, required=False) or campaign.start_at
    _check_schedulable(campaign, start, now)
    _check_audience(actor, campaign)
    campaign.start_at = start
    _fire(actor, campaign, "schedule")
    return campaign


def unschedule(actor: Any, campaign: CemCampaign, comment: str = "") -> CemCampaign:
    """Scheduled → approved: it will not start until scheduled again."""
    _fire(actor, campaign, "unschedule", comment)
    return campaign


def reschedule(actor: Any, campaign: CemCampaign, start_at: Any, *, now: datetime | None = None) -> CemCampaign:
    """Expired → scheduled at a new start time (CE-18: an expired campaign never restarts by itself)."""
    _require_compose(actor, campaign)
    if campaign.state != EXPIRED:
        _fire(actor, campaign, "reschedule")
    start = _start_value(start_at, required=True)
    _check_schedulable(campaign, start, now)
    _check_audience(actor, campaign)
    campaign.start_at = start
    _fire(actor, campaign, "reschedule")
    return campaign


def pause(actor: Any, campaign: CemCampaign, comment: str = "") -> CemCampaign:
    """Sending → paused; the dispatcher stops claiming its messages in the same transaction."""
    _fire(actor, campaign, "pause", comment)
    pause_messages(SOURCE, campaign.source_object, actor=actor)
    return campaign


def resume(actor: Any, campaign: CemCampaign, comment: str = "") -> CemCampaign:
    """Paused → sending; its messages are claimed again (terminal ones never re-sent)."""
    _fire(actor, campaign, "resume", comment)
    resume_messages(SOURCE, campaign.source_object)
    return campaign


def cancel(actor: Any, campaign: CemCampaign, comment: str = "") -> CemCampaign:
    """Any live state → cancelled; every message of the campaign not yet handed to a provider is
    cancelled in the same transaction (``cancel_source``)."""
    from portal.toolkit import cancel_source

    _fire(actor, campaign, "cancel", comment)
    n = cancel_source(SOURCE, campaign.source_object, reason="campaign_cancelled")
    campaign.counts = {**(campaign.counts or {}), "cancelled_pending": n}
    return campaign


# -- views of a campaign ----------------------------------------------------------------------------------


def campaign_revision(campaign: CemCampaign) -> dict[str, Any]:
    """Everything an approver approves: audience, purpose, lateness, measurement, caps, steps with
    each message set's revision, variants. The start time is not part of it: it is chosen when
    scheduling, after approval, and moving it needs no second approval."""
    from ..voice_models import CemMessageSet

    ids = {s.message_set_id for s in campaign.steps} | {v.message_set_id for v in campaign.variants}
    ids.discard(None)
    revisions = dict(db.session.execute(select(CemMessageSet.id, CemMessageSet.revision)
                                        .where(CemMessageSet.id.in_(sorted(ids)))).all()) if ids else {}
    return {
        "name": campaign.name, "purpose": campaign.purpose, "segment_id": campaign.segment_id,
        "rules": campaign.rules, "max_lateness_minutes": campaign.max_lateness_minutes,
        "holdout_share": campaign.holdout_share, "use_global_control": campaign.use_global_control,
        "attribution_days": campaign.attribution_days, "cap_per_day": campaign.cap_per_day,
        "cap_per_7_days": campaign.cap_per_7_days, "dedupe_by_address": campaign.dedupe_by_address,
        "ab": [campaign.ab_test_share, campaign.ab_winner_metric, campaign.ab_wait_hours, campaign.ab_fallback],
        "steps": [[s.position, s.channel, s.message_set_id, revisions.get(s.message_set_id), s.delay_hours,
                   s.condition, s.fallback_channel, s.kakao_template] for s in campaign.steps],
        "variants": [[v.code, v.message_set_id, revisions.get(v.message_set_id), v.is_default]
                     for v in campaign.variants],
    }


def iso_utc(value: datetime | None) -> str | None:
    """Naive UTC → ``2026-06-12T01:00:00Z``."""
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z") if value else None


def campaign_dict(campaign: CemCampaign, detail: bool = False) -> dict[str, Any]:
    """The API's JSON of a campaign; ``detail`` adds the approvable ``revision`` and the message
    counts by status (the core messaging ``progress``)."""
    body: dict[str, Any] = {
        "id": campaign.id, "name": campaign.name, "purpose": campaign.purpose, "state": campaign.state,
        "origin": campaign.origin, "start_at": iso_utc(campaign.start_at),
        "max_lateness_minutes": campaign.max_lateness_minutes,
        "audience": {"segment_id": campaign.segment_id, "rules": campaign.rules},
        "steps": [{"position": s.position, "channel": s.channel, "message_set_id": s.message_set_id,
                   "delay_hours": s.delay_hours, "condition": s.condition, "fallback_channel": s.fallback_channel,
                   "kakao_template": s.kakao_template, "queued_count": s.queued_count,
                   "queued_at": iso_utc(s.queued_at)} for s in campaign.steps],
        "variants": [{"code": v.code, "message_set_id": v.message_set_id, "is_default": v.is_default}
                     for v in campaign.variants],
        "ab_test": ({"share": campaign.ab_test_share, "winner_metric": campaign.ab_winner_metric,
                     "wait_hours": campaign.ab_wait_hours, "fallback": campaign.ab_fallback,
                     "winner": campaign.ab_winner, "decided_at": iso_utc(campaign.ab_decided_at)}
                    if campaign.variants else None),
        "holdout": {"share": campaign.holdout_share, "use_global_control": campaign.use_global_control},
        "attribution_days": campaign.attribution_days,
        "caps": {"per_day": campaign.cap_per_day, "per_7_days": campaign.cap_per_7_days,
                 "dedupe_by_address": campaign.dedupe_by_address},
        "created_by_id": campaign.created_by_id, "created_at": iso_utc(campaign.created_at),
        "updated_at": iso_utc(campaign.updated_at), "started_at": iso_utc(campaign.started_at),
        "finished_at": iso_utc(campaign.finished_at),
    }
    if detail:
        from portal.toolkit import current_revision

        body["revision"] = current_revision(campaign)
        body["counts"] = {**(campaign.counts or {}), "messages": progress(SOURCE, campaign.source_object)}
    return body

