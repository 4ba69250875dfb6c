"""The workflow ``cem_campaign``: the campaign's ``state`` column is the workflow state (one source
of truth), moved only by the core's ``transition`` (people: four-eyes approval, pause, cancel) and
``system_transition`` (the tick job: start, expire, finish).

``draft → pending_approval → approved → scheduled → sending ⇄ paused → done | expired | cancelled``;
an edit of approved or scheduled content goes back to ``pending_approval`` (``edited``, fired by
``content_changed``); an expired campaign needs an explicit ``reschedule`` (CE-18).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import not_owner, owner_only, purge_type, register_type

from ..campaign_models import (
    APPROVED,
    CANCELLED,
    DONE,
    DRAFT,
    EXPIRED,
    PAUSED,
    PENDING,
    SCHEDULED,
    SENDING,
    CemCampaign,
)
from ..permissions import APPROVE, COMPOSE, VIEW

TYPE_NAME = "cem.campaign"

#: Transitions the system fires (``system_transition``): no button, no permission a person holds.
SYSTEM = "cem.system"

WORKFLOW: dict[str, Any] = {
    "name": "cem_campaign",
    "title": _l("Campaign"),
    "initial": DRAFT,
    "states": [
        {"id": DRAFT, "title": _l("Draft")},
        {"id": PENDING, "title": _l("Waiting for approval"), "review": True},
        {"id": APPROVED, "title": _l("Approved")},
        {"id": SCHEDULED, "title": _l("Scheduled")},
        {"id": SENDING, "title": _l("Sending")},
        {"id": PAUSED, "title": _l("Paused")},
        {"id": DONE, "title": _l("Done")},
        {"id": EXPIRED, "title": _l("Expired — not sent")},
        {"id": CANCELLED, "title": _l("Cancelled")},
    ],
    "transitions": [
        {"id": "submit", "title": _l("Submit for approval"), "from": [DRAFT], "to": PENDING,
         "permission": COMPOSE, "task": False, "order": 10},
        {"id": "approve", "title": _l("Approve"), "from": [PENDING], "to": APPROVED,
         "permission": APPROVE, "guard": not_owner, "approves": True, "order": 20},
        {"id": "reject", "title": _l("Send back"), "from": [PENDING], "to": DRAFT,
         "permission": APPROVE, "guard": not_owner, "requires_comment": True, "order": 30},
        {"id": "retract", "title": _l("Withdraw"), "from": [PENDING], "to": DRAFT,
         "permission": COMPOSE, "guard": owner_only, "task": False, "order": 35},
        {"id": "schedule", "title": _l("Schedule"), "from": [APPROVED], "to": SCHEDULED,
         "permission": COMPOSE, "task": False, "order": 40},
        {"id": "unschedule", "title": _l("Unschedule"), "from": [SCHEDULED], "to": APPROVED,
         "permission": COMPOSE, "task": False, "order": 45},
        {"id": "pause", "title": _l("Pause"), "from": [SENDING], "to": PAUSED,
         "permission": COMPOSE, "task": False, "order": 50},
        {"id": "resume", "title": _l("Resume"), "from": [PAUSED], "to": SENDING,
         "permission": COMPOSE, "task": False, "order": 60},
        {"id": "reschedule", "title": _l("Reschedule"), "from": [EXPIRED], "to": SCHEDULED,
         "permission": COMPOSE, "task": False, "order": 70},
        {"id": "cancel", "title": _l("Cancel campaign"), "from": [DRAFT, PENDING, APPROVED, SCHEDULED, SENDING, PAUSED],
         "to": CANCELLED, "permission": COMPOSE, "task": False, "order": 90},
        # the system's (system_transition from the tick job)
        {"id": "start", "title": _l("Start sending"), "from": [SCHEDULED], "to": SENDING, "permission": SYSTEM,
         "task": False, "order": 100},
        {"id": "expire", "title": _l("Expire"), "from": [SCHEDULED], "to": EXPIRED, "permission": SYSTEM,
         "task": False, "order": 110},
        {"id": "finish", "title": _l("Finish"), "from": [SENDING], "to": DONE, "permission": SYSTEM,
         "task": False, "order": 120},
        # an edit of approved content: back to review (fired by content_changed, never a button)
        {"id": "edited", "title": _l("Edited after approval"), "from": [APPROVED, SCHEDULED], "to": PENDING,
         "permission": COMPOSE, "on_edit": True},
    ],
}

WORKFLOWS = [WORKFLOW]


def _title(campaign: CemCampaign) -> str:
    return campaign.name


def _url(campaign: CemCampaign) -> str:
    from flask import has_request_context, url_for

    if has_request_context():
        try:
            return url_for("cem_campaigns.detail", campaign_id=campaign.id)
        except Exception:  # noqa: BLE001 - the pages may not be registered (tests of the service alone)
            pass
    return f"/campaigns/{campaign.id}"


def revision(campaign: CemCampaign) -> dict[str, Any]:
    """What an approver approves: audience, purpose, schedule, measurement, caps, steps with the
    revision of each message set, variants. Editing any of it withdraws the approval (CE-27)."""
    from .service import campaign_revision

    return campaign_revision(campaign)


def register() -> None:
    register_type(TYPE_NAME, CemCampaign, workflow="cem_campaign", scope_permission=VIEW, title=_title, url=_url,
                  revision=revision, label=_l("Campaign"), state_attr="state", owner_attr="created_by_id",
                  since_attr="updated_at", endpoint=False)  # transitions run through the campaign service


def purge() -> int:
    """Uninstall with purge: the campaigns' workflow history goes with their tables."""
    return purge_type(TYPE_NAME)
