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
    """What the leader's approval binds to: per message step, its latest revision's number and hash."""
    return {"programme": programme.id,
            "steps": [{"position": s.position, "revision": (r.number, r.sha256) if (r := latest_revision(s)) else None}
                      for s in programme.steps if s.kind == "message"]}
