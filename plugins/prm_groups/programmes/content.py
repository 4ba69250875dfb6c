"""Leader-voiced content revisions (owner: content helper — replace freely, but keep the names
below: the launch and the workflow use them).

Placeholder with the shared interface: :func:`latest_revision`, :func:`approved_revision`,
:func:`programme_revision`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.toolkit import db

from ..models import PrmContentRevision, PrmProgramme, PrmStep


def latest_revision(step: PrmStep) -> PrmContentRevision | None:
    """The step's newest content revision (the one the leader is asked to approve), or None."""
    return db.session.scalar(select(PrmContentRevision).where(PrmContentRevision.step_id == step.id)
                             .order_by(PrmContentRevision.number.desc()).limit(1))


def approved_revision(step: PrmStep) -> PrmContentRevision | None:
    """The step's latest revision if the leader approved exactly it, else None (an edit after the
    approval adds a newer, unapproved revision)."""
    rev = latest_revision(step)
    return rev if rev is not None and rev.approved_at is not None else None


def programme_revision(programme: PrmProgramme) -> dict[str, Any]:
    """What the leader's approval binds to: the plan (group, category, windows, design, holdout,
    seed, budget) and, per message step, its latest revision's number and hash. Editing any of it
    withdraws the approval and sends the programme back to the leader."""
    p = programme
    plan = {"group": p.partner_group_id, "category": p.category_id, "metric": p.objective_metric,
            "baseline": [p.baseline_start, p.baseline_end], "run": [p.run_start, p.run_end],
            "measure": [p.measure_start, p.measure_end], "design": sorted(p.design or []),
            "holdout_share": p.holdout_share, "seed": p.seed, "budget": p.budget, "target_mde": p.target_mde}
    return {"programme": programme.id, "plan": plan,
            "steps": [{"position": s.position, "revision": (r.number, r.sha256) if (r := latest_revision(s)) else None}
                      for s in programme.steps if s.kind == "message"]}
