"""What other add-ons reach through cem_channels' hooks beyond a plain draft: a campaign whose
content was approved elsewhere, created approved and scheduled (``cem_create_campaign`` with
``approval`` and ``schedule``), and a message set created from data (``cem_create_message_set``).

prm_groups is the caller: the group's leader approves the exact revision of a leader-voiced text
in prm_groups, so the campaign sending it must not wait for a second approval in cem — but the
four-eyes rule still holds (the approver is not the person creating the campaign), the law checks
of an approval still run (ad label, sender, 080, banned terms), and the history names who
approved and where. Only the hook takes these keys: the public API and the composer never do.
Everything is written in the caller's transaction; on a refusal the caller rolls back.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from portal.toolkit import PartnerGroup, User, db, system_transition

from . import CampaignError

#: Keys only the hook accepts on top of the draft's fields.
HOOK_KEYS = ("approval", "schedule")
MAX_NOTE = 500


def _approver(actor: Any, approval: Any) -> tuple[User, str]:
    """The approving user and the note, checked: an object ``{"approved_by": <user id>, "note"}``,
    an existing active user, not the actor (four-eyes: nobody approves what they create)."""
    if not isinstance(approval, dict) or set(approval) - {"approved_by", "note"}:
        raise CampaignError({"approval": _("An object with approved_by (a user id) and note.")}, 422)
    uid, note = approval.get("approved_by"), approval.get("note") or ""
    if isinstance(uid, bool) or not isinstance(uid, int) or not 0 < uid < 2**31:
        raise CampaignError({"approval.approved_by": _("The id of the user who approved the content.")}, 422)
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise CampaignError({"approval.note": _("At most %(n)s characters.", n=MAX_NOTE)}, 422)
    user = db.session.get(User, uid)
    if user is None or not getattr(user, "active", True):
        raise CampaignError({"approval.approved_by": _("No active user with this id.")}, 422)
    if uid == getattr(actor, "id", None):
        raise CampaignError({"approval.approved_by": _(
            "The person creating the campaign cannot be its approver: another person must approve it.")}, 403)
    return user, note.strip()


def create_from_hook(draft: dict[str, Any], actor: Any) -> dict[str, Any]:
    """``cem_create_campaign``: a draft in the actor's name and scope (``origin`` names the caller's
    object). With ``approval`` the draft is submitted and approved by the system at once (history:
    "approved in <origin> by <name>: <note>") after the law checks an approval runs; with
    ``schedule: true`` (needs ``approval``) it is then scheduled at its ``start_at`` like
    ``service.schedule`` (a future start, the 080 number for SMS/KakaoTalk, someone to send to).
    Raises ``CampaignError`` (422 bad input or unlawful text, 403 approver = actor, 409 nobody
    eligible); the caller rolls back."""
    from .service import _check_audience, _check_schedulable, create_draft, law_problems
    from .workflow import _url

    if not isinstance(draft, dict):
        raise CampaignError({"": _("Send a JSON object with the campaign's fields.")})
    fields = {k: v for k, v in draft.items() if k not in HOOK_KEYS}
    approval, schedule = draft.get("approval"), draft.get("schedule", False)
    if not isinstance(schedule, bool):
        raise CampaignError({"schedule": _("true or false.")}, 422)
    if schedule and approval is None:
        raise CampaignError({"schedule": _("Only approved content can be scheduled: give the approval.")}, 422)
    approver, note = _approver(actor, approval) if approval is not None else (None, "")
    campaign = create_draft(actor, fields, allow_origin=True)
    if approver is not None:
        problems = law_problems(campaign)
        if problems:
            raise CampaignError(problems, 422)
        where = campaign.origin or _("another add-on")
        name = getattr(approver, "name", None) or getattr(approver, "email", None) or f"#{approver.id}"
        comment = _("Approved in %(where)s by %(name)s (user #%(id)s)", where=where, name=name, id=approver.id)
        if note:
            comment = f"{comment}: {note}"
        system_transition(campaign, "submit", comment=str(comment))
        system_transition(campaign, "approve", comment=str(comment))
        if schedule:
            _check_schedulable(campaign, campaign.start_at, None)
            _check_audience(actor, campaign)
            system_transition(campaign, "schedule", comment=str(comment))
    return {"id": campaign.id, "state": campaign.state, "url": _url(campaign)}


def create_message_set(data: dict[str, Any], actor: Any) -> dict[str, Any]:
    """``cem_create_message_set``: a message set from ``data`` (the ``POST /api/v1/message-sets``
    fields: ``name``, ``category``, ``master``, ``renditions``, ``place``) saved by
    ``voice.store.save`` as ``actor`` — the same validation, render check and lint. ``place`` may
    also be ``"group:<id>"`` for any existing partner group (a leader-voiced text sits with its
    group, so the group's composers see it): the hook's caller decided that. Returns ``{"id",
    "revision"}``. Raises ``SetError`` (``errors``, ``status``)."""
    from ..voice.store import SetError, save

    if not isinstance(data, dict):
        raise SetError({"": _("Send a JSON object with the message set's fields.")})
    place = data.get("place")
    group_id: int | None = None
    if isinstance(place, str) and place.startswith("group:"):
        ident = place.split(":", 1)[1]
        group_id = int(ident) if ident.isascii() and ident.isdigit() and 0 < int(ident) < 2**31 else None
        if group_id is None or db.session.scalar(select(PartnerGroup.id).where(PartnerGroup.id == group_id)) is None:
            raise SetError({"place": _("No partner group with this id.")}, 422)
        data = {k: v for k, v in data.items() if k != "place"}
    ms, _problems = save(actor, data)
    if group_id is not None and ms.partner_group_id != group_id:
        ms.org_unit_id, ms.partner_group_id = None, group_id
        db.session.flush()
    return {"id": ms.id, "revision": ms.revision}


def cancel_from_hook(ref: Any, actor: Any, comment: str = "") -> dict[str, Any] | None:
    """``cem_cancel_campaign``: cancel the campaign ``ref`` (its id, or the newest with that
    ``origin``) as ``actor`` through ``service.cancel`` — the workflow's permission and scope, and
    every message not yet handed to a provider cancelled in the same transaction. A campaign
    already over (done, expired, cancelled) is left as it is. Returns ``{"id", "state"}``; None
    when there is no such campaign ``actor`` may see. Raises ``CampaignError``."""
    from ..campaign_models import FINAL, CemCampaign
    from .service import campaign_or_404, cancel

    if isinstance(ref, bool) or not isinstance(ref, int | str) or not isinstance(comment, str):
        return None
    ident: Any = ref
    if isinstance(ref, str) and not (ref.isascii() and ref.isdigit()):
        if not 0 < len(ref) <= 120:
            return None
        ident = db.session.scalar(select(CemCampaign.id).where(CemCampaign.origin == ref)
                                  .order_by(CemCampaign.id.desc()).limit(1))
        if ident is None:
            return None
    try:
        campaign = campaign_or_404(actor, ident)
    except CampaignError:
        return None
    if campaign.state not in FINAL:
        cancel(actor, campaign, comment[:MAX_NOTE])
    return {"id": campaign.id, "state": campaign.state}
