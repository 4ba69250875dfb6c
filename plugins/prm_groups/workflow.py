"""The workflow ``prm_programme``: the programme's ``state`` column is the workflow state (one source
of truth), moved only by the core's ``transition`` (people) and ``system_transition`` (the daily
job moving a running programme to measuring when its run window ends).

``draft → leader_review → approved → running → measuring → closed``, ``leader_review → rejected →
draft``, ``cancelled`` from any open state. ``approve`` binds the exact revision of the content
(every message step's latest text) and is the group leader's alone: the permission ``prm.approve``
is checked on the programme's group, so only a Group Leader of that group (the top leader or a
delegate) may approve; HQ staff never can. An edit of approved content goes back to
``leader_review`` (``edited``, fired by ``content_changed``). Starting checks the audience and the
approvals in the programme service (409 "content not approved")."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import purge_type, register_type

from .models import APPROVED, CANCELLED, CLOSED, DRAFT, MEASURING, REJECTED, REVIEW, RUNNING, PrmProgramme
from .permissions import APPROVE, MANAGE, VIEW

TYPE_NAME = "prm.programme"
#: Transitions the system fires (``system_transition``): no button, no permission a person holds.
SYSTEM = "prm.system"

WORKFLOW: dict[str, Any] = {
    "name": "prm_programme",
    "title": _l("Group support programme"),
    "initial": DRAFT,
    "states": [
        {"id": DRAFT, "title": _l("Draft")},
        {"id": REVIEW, "title": _l("Waiting for the leader's approval"), "review": True},
        {"id": APPROVED, "title": _l("Approved")},
        {"id": RUNNING, "title": _l("Running")},
        {"id": MEASURING, "title": _l("Measuring")},
        {"id": CLOSED, "title": _l("Closed")},
        {"id": REJECTED, "title": _l("Sent back by the leader")},
        {"id": CANCELLED, "title": _l("Cancelled")},
    ],
    "transitions": [
        {"id": "submit", "title": _l("Send to the leader for approval"), "from": [DRAFT], "to": REVIEW,
         "permission": MANAGE, "task": False, "order": 10},
        {"id": "approve", "title": _l("Approve this text"), "from": [REVIEW], "to": APPROVED,
         "permission": APPROVE, "approves": True, "order": 20},
        {"id": "reject", "title": _l("Send back with a comment"), "from": [REVIEW], "to": REJECTED,
         "permission": APPROVE, "requires_comment": True, "order": 30},
        {"id": "retract", "title": _l("Withdraw from review"), "from": [REVIEW], "to": DRAFT,
         "permission": MANAGE, "task": False, "order": 35},
        {"id": "revise", "title": _l("Revise"), "from": [REJECTED], "to": DRAFT,
         "permission": MANAGE, "task": False, "order": 40},
        {"id": "start", "title": _l("Start the programme"), "from": [APPROVED], "to": RUNNING,
         "permission": MANAGE, "task": False, "order": 50},
        {"id": "measure", "title": _l("End the run, start measuring"), "from": [RUNNING], "to": MEASURING,
         "permission": MANAGE, "task": False, "order": 60},
        {"id": "close", "title": _l("Close with the final result"), "from": [MEASURING], "to": CLOSED,
         "permission": MANAGE, "task": False, "order": 70},
        {"id": "cancel", "title": _l("Cancel the programme"), "from": [DRAFT, REVIEW, APPROVED, RUNNING, REJECTED],
         "to": CANCELLED, "permission": MANAGE, "task": False, "order": 90},
        # the system's (the daily job at the end of the run window)
        {"id": "run_ended", "title": _l("Run window ended"), "from": [RUNNING], "to": MEASURING,
         "permission": SYSTEM, "task": False, "order": 100},
        # an edit of approved content: back to the leader (fired by content_changed, never a button)
        {"id": "edited", "title": _l("Edited after approval"), "from": [APPROVED], "to": REVIEW,
         "permission": MANAGE, "on_edit": True},
    ],
}

WORKFLOWS = [WORKFLOW]


def _title(programme: PrmProgramme) -> str:
    return programme.name


def _url(programme: PrmProgramme) -> str:
    from flask import has_request_context, url_for

    if has_request_context():
        try:
            return url_for("prm_programmes.detail", programme_id=programme.id)
        except Exception:  # noqa: BLE001 - the pages may not be registered (tests of the service alone)
            pass
    return f"/prm/programmes/{programme.id}"


def _context(programme: PrmProgramme) -> Any:
    """Permissions are checked on the programme's group: ``prm.approve`` only through a Group
    Leader grant on exactly that group."""
    return programme.group


def revision(programme: PrmProgramme) -> dict[str, Any]:
    """What the leader approves: the plan and, per message step, its latest content revision's hash."""
    from .programmes.content import programme_revision

    return programme_revision(programme)


def register() -> None:
    register_type(TYPE_NAME, PrmProgramme, workflow="prm_programme", scope_permission=VIEW, title=_title, url=_url,
                  revision=revision, label=_l("Group support programme"), state_attr="state",
                  owner_attr="created_by_id", since_attr="updated_at", context=_context,
                  endpoint=False)  # transitions run through the programme service


def purge() -> int:
    """Uninstall with purge: the programmes' workflow history goes with their tables."""
    return purge_type(TYPE_NAME)
