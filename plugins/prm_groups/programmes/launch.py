"""Starting a programme: the eligible audience, the one holdout draw, the message steps as
``cem_channels`` campaigns — all or nothing, in the caller's transaction.

:func:`start` is called by ``service.fire(programme, "start", …)`` before the workflow moves the
programme to ``running``; it refuses with ``ProgrammeError`` 409 and leaves nothing behind
(everything runs in a savepoint that is rolled back on any refusal):

1. every message step's latest content revision must be the one the leader approved
   (``content.approved_revision``), else 409 ``{"content": "content not approved"}`` — no
   extraction, no experiment, no campaign (PG-7);
2. the eligible customers (``audience.eligible_select``: the group's customers matching step 1's
   rules, contactable on at least one of the first message step's channels) — none: 409
   ``{"audience": …}``;
3. the experiment ``prm_groups / programme:<id>`` with the programme's seed and holdout share,
   stratified by distributor (largest-remainder allocation in the core), drawn once among exactly
   those customers (PG-9: 10,000 eligible, 10 %, seed 42 → 1,000 holdout, 9,000 treatment; the
   same seed and set give the same assignment); ``programme.experiment_id``;
4. per message step, per channel: a cem message set from the approved revision
   (``cem_create_message_set``, placed with the group), then a marketing campaign
   (``cem_create_campaign``) whose audience is the group + step 1's rules + the step's rules +
   ``experiment.arm = <exp>:treatment`` — so the holdout never reaches a target list
   (``extraction_member``) — starting ``run_start + offset_days`` at 10:00 KST (five minutes from
   now when that has passed), with no holdout or global control of its own (the programme's
   experiment is the measurement), created approved by the leader who approved the revision
   (cem's four-eyes: the leader, not the HQ user starting it) and scheduled. One campaign per
   channel: a cem campaign's later steps go only to its first step's recipients, and a
   DM must reach the customers without an e-mail address too. The step's ``campaign_id`` is its
   first channel's campaign (origin ``prm_groups:programme:<id>:step:<position>``); further
   channels' campaigns have the origin ``…:step:<position>:<channel>``. Each campaign's message
   source is attached to the programme's experiment, so the send-time policy holds back any
   message that would still reach a holdout customer;
5. ``started_at``.

A later step's rules may say ``{"field": "cem.engagement", "op": "eq", "value":
"step:1:opened_or_clicked"}``: the launch rewrites ``step:<n>`` to step *n*'s campaign id (its
first channel's, the one with e-mail tracking when e-mail comes first).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from portal.toolkit import (
    ExperimentError,
    RuleError,
    User,
    attach_source,
    create_experiment,
    db,
    draw,
    get_experiment,
    plugin_hook,
    utcnow,
)

from ..models import APPROVED, PrmContentRevision, PrmProgramme, PrmStep
from . import ProgrammeError
from .audience import eligibility_channels, eligible_ids, programme_rules

KST = ZoneInfo("Asia/Seoul")
OWNER = "prm_groups"
#: When a message step goes out on its day (KST), and the least lead time before a start.
SEND_AT = time(10, 0)
LEAD = timedelta(minutes=5)
#: cem's message-set fields a revision's channel block carries.
RENDITION_FIELDS = ("subject", "body", "html")
CEM_SOURCE = "cem_channels"


def owner_ref(programme: PrmProgramme) -> str:
    """The programme's experiment reference (``programme:<id>``)."""
    return f"programme:{programme.id}"


def step_origin(programme: PrmProgramme, step: PrmStep, channel: str | None = None) -> str:
    """The ``origin`` of a message step's campaign: the first channel's without, others with the channel."""
    base = f"{OWNER}:programme:{programme.id}:step:{step.position}"
    return f"{base}:{channel}" if channel else base


def step_origins(programme: PrmProgramme, step: PrmStep) -> list[str]:
    """Every campaign origin of a message step, first channel first (``cem_campaign_result`` reads
    each by its origin)."""
    channels = list(step.channels or [])
    return [step_origin(programme, step, None if i == 0 else c) for i, c in enumerate(channels)]


def start_at(programme: PrmProgramme, step: PrmStep, now: datetime | None = None) -> datetime:
    """Naive UTC: ``run_start + offset_days`` at 10:00 KST, or five minutes from now when that passed."""
    now = now or utcnow()
    day = programme.run_start + timedelta(days=int(step.offset_days or 0))
    at = datetime.combine(day, SEND_AT, tzinfo=KST).astimezone(UTC).replace(tzinfo=None)
    soonest = (now + LEAD).replace(microsecond=0)
    return at if at > soonest else soonest


def _refuse(key: str, message: str) -> ProgrammeError:
    return ProgrammeError({key: message}, 409)


def _approved_revisions(programme: PrmProgramme) -> dict[int, PrmContentRevision]:
    """Step id → its approved latest revision; 409 "content not approved" for any message step without."""
    from . import content

    out: dict[int, PrmContentRevision] = {}
    for step in sorted(programme.steps, key=lambda s: s.position):
        if step.kind != "message":
            continue
        rev = content.approved_revision(step)
        if rev is None:
            raise _refuse("content", _("content not approved"))
        if rev.approved_by_id is None:
            raise _refuse("content", _("The person who approved the content no longer exists: "
                                       "ask the leader to approve it again."))
        out[step.id] = rev
    return out


def message_set_data(programme: PrmProgramme, step: PrmStep, revision: PrmContentRevision,
                     channel: str) -> dict[str, Any]:
    """The cem message set of one channel of an approved revision. The content module's
    ``message_set_data`` when it defines one (what the leader previewed is what goes out);
    else the revision's text for the channel as written, the signer as the brand footer."""
    from . import content

    custom = getattr(content, "message_set_data", None)
    if custom is not None:
        data = dict(custom(programme, step, revision))
        renditions = data.get("renditions") or {}
        data["renditions"] = {channel: renditions[channel]} if channel in renditions else {}
    else:
        block = (revision.content or {}).get(channel) or {}
        data = {"master": {"brand_footer": revision.signer} if revision.signer else {},
                "renditions": {channel: {k: block[k] for k in RENDITION_FIELDS if isinstance(block.get(k), str)}}}
    data.setdefault("category", programme.category.name_ko if programme.category is not None else None)
    name = f"{programme.name} · {step.position}. {step.title or ''} · {channel} · r{revision.number}"
    data["name"] = " ".join(name.split())[:200]
    data["place"] = f"group:{programme.partner_group_id}"
    return data


def _rewrite(node: Any, campaigns: dict[int, int]) -> Any:
    """``cem.engagement`` values ``step:<n>:<what>`` → ``<step n's campaign id>:<what>``."""
    if isinstance(node, dict):
        if node.get("field") == "cem.engagement":
            node = dict(node)
            values = node.get("value")
            many = isinstance(values, list)
            out = []
            for v in values if many else [values]:
                head, _sep, rest = str(v).partition(":")
                if head == "step":
                    n, _sep2, what = rest.partition(":")
                    cid = campaigns.get(int(n)) if n.isdigit() else None
                    if cid is None:
                        raise _refuse("steps", _("A step's rules refer to step %(n)s, which sends no campaign before it.",
                                                 n=n))
                    v = f"{cid}:{what}"
                out.append(v)
            node["value"] = out if many else out[0]
            return node
        return {k: _rewrite(v, campaigns) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, campaigns) for v in node]
    return node


def _errors_of(exc: Exception, prefix: str) -> dict[str, str]:
    errors = getattr(exc, "errors", None) or {"": str(exc)}
    return {f"{prefix}.{k}" if k else prefix: str(v) for k, v in errors.items()}


def _call(name: str, prefix: str, **kwargs: Any) -> dict[str, Any]:
    """A cem_channels hook; its refusal (``errors``, ``status``) becomes a 409 naming the step."""
    try:
        answer = plugin_hook(name)(**kwargs)
    except (ValueError, LookupError) as exc:
        if getattr(exc, "errors", None) is None:
            raise
        raise ProgrammeError(_errors_of(exc, prefix), 409) from None
    if not answer:
        raise _refuse(prefix, _("Campaigns cannot be created: the add-on cem_channels is not active."))
    return answer


def _campaign_draft(programme: PrmProgramme, step: PrmStep, channel: str, message_set_id: int, exp_id: int,
                    revision: PrmContentRevision, campaigns: dict[int, int], origin: str,
                    now: datetime) -> dict[str, Any]:
    treatment = {"field": "experiment.arm", "op": "eq", "value": f"{exp_id}:treatment"}
    rules = programme_rules(programme, _rewrite(copy.deepcopy(step.rules), campaigns) if step.position != 1 else None,
                            treatment)
    name = " ".join(f"{programme.name} · {step.position}. {step.title or ''} · {channel}".split())[:200]
    note = revision.approval_note or ""
    return {
        "name": name, "purpose": "marketing", "rules": rules,
        "start_at": start_at(programme, step, now).replace(tzinfo=UTC).isoformat(),
        "holdout_share": 0.0, "use_global_control": False,
        "steps": [{"channel": channel, "message_set_id": message_set_id}],
        "origin": origin,
        "approval": {"approved_by": revision.approved_by_id,
                     "note": _("Revision %(n)s approved in the programme", n=revision.number)
                     + (f": {note}" if note else "")},
        "schedule": True,
    }


def _launch(programme: PrmProgramme, actor: Any, revisions: dict[int, PrmContentRevision],
            now: datetime) -> dict[str, Any]:
    if not eligibility_channels(programme):
        raise _refuse("audience", _("The first message step has no channel that takes target lists "
                                    "(e-mail, SMS, DM, phone)."))
    try:
        ids = eligible_ids(programme, actor)
    except RuleError:
        raise _refuse("audience", _("The programme's audience rules no longer validate.")) from None
    if not ids:
        raise _refuse("audience", _("Nobody in the group may be contacted: the eligible audience is empty."))
    if programme.experiment_id is not None or get_experiment(OWNER, owner_ref(programme)) is not None:
        raise _refuse("experiment", _("The programme's holdout was drawn already: it is never drawn again."))
    try:
        exp = create_experiment(OWNER, owner_ref(programme), seed=int(programme.seed or 0),
                                holdout_share=float(programme.holdout_share), strata=["partner"])
        counts = draw(exp, ids)
    except ExperimentError as exc:
        raise ProgrammeError(dict(exc.errors), exc.status if exc.status in (409, 422) else 409) from None
    del ids
    programme.experiment_id = exp.id
    db.session.flush()
    campaigns: dict[int, int] = {}
    created: list[dict[str, Any]] = []
    for step in sorted(programme.steps, key=lambda s: s.position):
        if step.kind != "message":
            continue
        revision = revisions[step.id]
        path = f"steps[{step.position - 1}]"
        first: int | None = None
        for i, channel in enumerate(step.channels or []):
            data = message_set_data(programme, step, revision, channel)
            if not data["renditions"].get(channel):
                raise _refuse(f"{path}.content.{channel}", _("The approved content has no text for this channel."))
            ms = _call("cem_create_message_set", f"{path}.content", data=data, actor=actor)
            origin = step_origin(programme, step, None if i == 0 else channel)
            draft = _campaign_draft(programme, step, channel, int(ms["id"]), exp.id, revision, campaigns, origin, now)
            answer = _call("cem_create_campaign", f"{path}.{channel}", draft=draft, actor=actor)
            cid = int(answer["id"])
            attach_source(exp, CEM_SOURCE, f"campaign:{cid}")
            created.append({"step": step.position, "channel": channel, "campaign": cid, "origin": origin,
                            "state": answer.get("state")})
            if first is None:
                first = cid
        step.campaign_id = first
        if first is not None:
            campaigns[step.position] = first
    programme.started_at = now
    db.session.flush()
    return {"experiment": exp.id, "counts": counts, "campaigns": created}


def start(programme: PrmProgramme, actor: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """Launch ``programme`` (see the module docstring) as ``actor`` (HQ staff with ``prm.manage``).

    Returns ``{"experiment": id, "counts": {"treatment", "holdout", "control"}, "campaigns":
    [{"step", "channel", "campaign", "origin", "state"}]}``. Raises ``ProgrammeError`` 409 (content
    not approved, empty audience, already drawn, cem refused a campaign — its field paths under
    ``steps[i]``) with nothing written. Does not commit."""
    if programme.state != APPROVED:
        raise _refuse("state", _("Only an approved programme can start."))
    if not isinstance(actor, User) and getattr(actor, "id", None) is None:
        raise ProgrammeError({"actor": _("Sign in to start the programme.")}, 403)
    now = (now or utcnow()).replace(tzinfo=None)
    revisions = _approved_revisions(programme)  # reads only: nothing to undo when it refuses
    savepoint = db.session.begin_nested()
    try:
        result = _launch(programme, actor, revisions, now)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result


def cancel(programme: PrmProgramme, actor: Any, comment: str = "") -> list[dict[str, Any]]:
    """Cancel the campaigns of a started programme (``service.fire(…, "cancel")`` from
    ``running``): each message step's campaigns by origin through ``cem_cancel_campaign``, as
    ``actor`` — their unsent messages are cancelled in the same transaction, so a cancelled
    programme sends nothing more. Campaigns already over stay as they are; the holdout draw stays
    (never re-drawn). Returns ``[{"id", "state"}]``. Raises ``ProgrammeError`` 409 when cem refuses;
    the caller rolls back. Does not commit."""
    out: list[dict[str, Any]] = []
    note = comment or _("The programme was cancelled.")
    for step in sorted(programme.steps, key=lambda s: s.position):
        if step.kind != "message" or step.campaign_id is None:
            continue
        for origin in step_origins(programme, step):
            try:
                answer = plugin_hook("cem_cancel_campaign")(ref=origin, actor=actor, comment=str(note))
            except (ValueError, LookupError) as exc:
                if getattr(exc, "errors", None) is None:
                    raise
                raise ProgrammeError(_errors_of(exc, f"steps[{step.position - 1}]"), 409) from None
            if answer:
                out.append(answer)
    return out
