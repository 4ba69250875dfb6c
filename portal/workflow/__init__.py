"""Table-driven workflows for reviewable things: guarded transitions, history, revision-bound
approvals and the "my tasks" page (docs/platform/workflow.md).

The public names are re-exported by ``portal.toolkit``; add-ons import them from there.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from .definitions import SIMPLE_PUBLICATION, Transition, Workflow, not_owner, owner_only
from .notifications import notify_waiting
from .service import (
    WorkflowConflict,
    WorkflowError,
    WorkflowForbidden,
    WorkflowInvalid,
    WorkflowNotFound,
    approval_for,
    approve,
    available_transitions,
    check_transition,
    content_changed,
    current_revision,
    history,
    purge_type,
    register_type,
    revision_hash,
    state_of,
    system_transition,
    transition,
    workflows,
)
from .views import bp

__all__ = [
    "SIMPLE_PUBLICATION", "Transition", "Workflow", "WorkflowConflict", "WorkflowError", "WorkflowForbidden",
    "WorkflowInvalid", "WorkflowNotFound", "approval_for", "approve", "available_transitions", "bp",
    "check_transition", "content_changed", "current_revision", "history", "init_app", "not_owner", "notify_waiting", "owner_only",
    "purge_type", "register_type", "revision_hash", "state_of", "system_transition", "transition", "workflow_info", "workflows",
]


def workflow_info(obj: Any, user: Any) -> dict[str, Any]:
    """What an object's workflow panel shows (``workflow/macros.html``): its state, the buttons
    ``user`` may press, the history and whether the current revision is approved."""
    from .service import binding_of, workflow_for

    binding = binding_of(obj)
    wf = workflow_for(binding)
    state = state_of(obj)
    found = wf.state(state)
    return {"type_name": binding.type_name, "object_id": obj.id, "state": state,
            "state_title": found.title if found else state, "transitions": available_transitions(obj, user),
            "history": history(obj), "revision": current_revision(obj), "approval": approval_for(obj), "workflow": wf}


def _state_name(code: str) -> str | None:
    for wf in workflows().values():
        state = wf.state(code)
        if state is not None:
            return str(state.title)
    return None


def _transition_name(code: str) -> str | None:
    if code == "approval_withdrawn":
        return str(_l("Approval withdrawn"))
    for wf in workflows().values():
        t = wf.transitions.get(code)
        if t is not None:
            return str(t.title)
    return None


def _type_name(code: str) -> str | None:
    from .service import _TYPES

    binding = _TYPES.get(code)
    return str(binding.label) if binding is not None else None


def init_app(app: Flask) -> None:
    from flask_login import current_user

    from ..customers.labels import register, register_resolver, register_summary

    app.jinja_env.globals["workflow_info"] = lambda obj: workflow_info(obj, current_user)
    register("audit_action", {"workflow.transition": _l("Workflow step")})
    register("workflow_reason", {"edited": _l("edited"), "superseded": _l("approved again")})
    register_resolver("workflow_type", _type_name)
    register_resolver("workflow_state", _state_name)
    register_resolver("workflow_to_state", _state_name)
    register_resolver("workflow_transition", _transition_name)
    register_summary("workflow.transition",
                     r"(?P<workflow_type>[\w.]+): (?P<workflow_state>\w+) → (?P<workflow_to_state>\w+) "
                     r"\((?P<workflow_transition>\w+)\)",
                     _l("%(workflow_type)s: %(workflow_state)s → %(workflow_to_state)s (%(workflow_transition)s)"))
