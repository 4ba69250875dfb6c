"""Point-adjustment approvals on the core workflow service (issue 14).

``LoyApproval`` rows stay the domain object; their ``status`` column *is* the workflow state (the
one source of truth: ``register_type(state_attr="status")``, no ``workflow_state`` row), and only
``portal.toolkit.transition`` writes it — with the four-eyes guard, the compare-and-set that keeps
two approvers from both applying one request, history, audit and the
``portal_workflow_transitioned`` event. The pending requests show on the core's "my tasks" page for
people with ``loyalty.approve`` on the customer, except their own.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists

from portal.toolkit import Customer, not_owner, purge_type, register_type, scope_filter

from .models import LoyApproval

TYPE_NAME = "loyalty.approval"

LOYALTY_APPROVAL: dict[str, Any] = {
    "name": "loyalty_approval",
    "title": _l("Point adjustment approval"),
    "initial": "pending",
    "states": [
        {"id": "pending", "title": _l("Pending"), "review": True},
        {"id": "approved", "title": _l("Approved")},
        {"id": "rejected", "title": _l("Rejected")},
    ],
    "transitions": [
        {"id": "approve", "title": _l("Approve"), "from": ["pending"], "to": "approved",
         "permission": "loyalty.approve", "guard": not_owner, "approves": True, "order": 10},
        {"id": "reject", "title": _l("Reject"), "from": ["pending"], "to": "rejected",
         "permission": "loyalty.approve", "guard": not_owner, "order": 20},
    ],
}


def _scope(user: Any, permission: str):
    """Approvals on customers the user may ``permission`` (the customer's scope)."""
    return exists().where(Customer.id == LoyApproval.customer_id, scope_filter(user, permission, Customer))


def _title(approval: LoyApproval) -> str:
    code = approval.customer.code if approval.customer is not None else f"#{approval.customer_id}"
    return f"{code} · {approval.points:+,} P · {approval.reason}"


def _url(approval: LoyApproval) -> str:
    from flask import has_request_context, url_for

    base = url_for("loyalty.approvals") if has_request_context() else "/loyalty/approvals"
    return f"{base}#approval-{approval.id}"


def revision(approval: LoyApproval) -> dict[str, Any]:
    """What an approver approves: the customer, the points, the reason and the operation."""
    return {"customer_id": approval.customer_id, "points": approval.points, "reason": approval.reason,
            "operation": approval.operation}


def register() -> None:
    register_type(TYPE_NAME, LoyApproval, workflow="loyalty_approval", scope_permission="loyalty.view",
                  title=_title, url=_url, revision=revision, label=_l("Point adjustment"), state_attr="status",
                  owner_attr="requested_by_id", since_attr="requested_at", scope=_scope,
                  context=lambda approval: approval.customer,
                  endpoint=False)  # approving applies the points: only redemption.decide may fire it


def purge() -> int:
    """Uninstall with purge: the approvals' workflow history goes with their table."""
    return purge_type(TYPE_NAME)
