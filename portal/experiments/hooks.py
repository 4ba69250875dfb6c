"""The experiments service's own hook implementations, registered as ``core.experiments`` — always
active, like ``core``: the ``experiment.holdout`` send-time policy, the segment fields
``experiment.arm`` / ``experiment.in_global_control``, the suppression reason ``experiment.holdout``,
the merge rule, global-control membership for new customers, its nightly job and its permission."""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from ..extensions import db
from ..hookspecs import hookimpl
from ..security import HQ_STAFF, SITE_ADMIN

log = logging.getLogger(__name__)

VIEW_PERMISSION = "experiments.view"


@hookimpl
def portal_permissions() -> list[dict[str, Any]]:
    return [{"name": VIEW_PERMISSION, "title": _l("View experiment results (holdouts and lift)"),
             "roles": [SITE_ADMIN, HQ_STAFF]}]


@hookimpl
def portal_menu_items(user: Any) -> list[dict[str, Any]]:
    return [{"label": _l("Experiments"), "endpoint": "experiments.index", "permission": VIEW_PERMISSION, "order": 18,
             "icon": "chart", "match": ("experiments.",)}]


@hookimpl
def portal_message_policies() -> list[dict[str, Any]]:
    from .policy import holdout_check

    return [{"name": "experiment.holdout", "order": 50, "check": holdout_check}]


@hookimpl
def portal_segment_fields() -> list[dict[str, Any]]:
    from .policy import arm_condition, global_control_condition

    return [
        {"name": "experiment.arm", "label": _l("Experiment arm"), "type": "code", "ops": ["eq", "ne", "in", "not_in"],
         "order": 80, "hint": "12:holdout", "condition": arm_condition},
        {"name": "experiment.in_global_control", "label": _l("In the global control group"), "type": "bool",
         "order": 81, "condition": global_control_condition},
    ]


@hookimpl
def portal_suppression_reasons() -> list[dict[str, Any]]:
    from .policy import suppression_condition

    return [{"name": "experiment.holdout", "label": _l("Experiment holdout or global control"), "order": 50,
             "condition": suppression_condition}]


@hookimpl
def portal_customers_merged(survivor: Any, merged_id: int) -> None:
    """Merge rule: the survivor keeps its own arm in every experiment; the duplicate's assignments
    stay, marked ``merged``, and are left out of every analysis (results say how many)."""
    from .models import ExperimentAssignment

    db.session.execute(update(ExperimentAssignment).where(ExperimentAssignment.customer_id == merged_id)
                       .values(merged=True), execution_options={"synchronize_session": False})


@hookimpl
def portal_personal_data(customer: Any) -> dict[str, Any] | None:
    """The data-subject export lists the customer's experiment arms and global-control membership."""
    from sqlalchemy import select

    from .models import Experiment, ExperimentAssignment, GlobalControl

    rows = db.session.execute(select(Experiment.owner_plugin, Experiment.owner_ref, ExperimentAssignment.arm,
                                     ExperimentAssignment.merged)
                              .join(Experiment, Experiment.id == ExperimentAssignment.experiment_id)
                              .where(ExperimentAssignment.customer_id == customer.id)
                              .order_by(Experiment.id)).all()
    member = db.session.get(GlobalControl, customer.id)
    if not rows and member is None:
        return None
    return {"name": "experiments", "data": {
        "assignments": [{"owner": f"{p}:{r}", "arm": arm, "merged": bool(m)} for p, r, arm, m in rows],
        "global_control_since": member.assigned_at.isoformat() if member else None}}


@hookimpl
def portal_customers_created(customer_ids: list[int], actor: Any, source: str) -> None:
    """New customers join the global control group by their bucket at once (when it is switched on)."""
    from .assignment import ensure_global_control, global_control_share

    if global_control_share() > 0 and customer_ids:
        ensure_global_control(customer_ids)


def refresh_global_control() -> int:
    """The nightly job's body: every customer not yet a member, by bucket; commits."""
    from .assignment import ensure_global_control

    added = ensure_global_control()
    db.session.commit()
    log.info("global control group: %s customers added", added)
    return added


@hookimpl
def portal_jobs() -> list[dict[str, Any]]:
    return [{"name": "experiments.global_control", "func": refresh_global_control, "retries": 2,
             "retry_delay": 300, "time_limit": 1800, "schedule": {"minute": "30", "hour": "17"}}]  # 02:30 KST
