"""Keeping holdouts and the global control group out of marketing: at send time and at extraction.

**Send time** (the ``experiment.holdout`` policy the dispatcher re-runs on every claimed batch): a
*marketing* message belongs to the experiments registered for its ``(source, source_object)``
(``experiment_source``: the owner's own pair, plus pairs added by ``attach_source``). It is
suppressed with reason ``holdout`` when its customer is in the holdout of one of them, and with
``global_control`` when the customer is in the ``control`` arm — or, not drawn into any of them, is
a member of the global control group while it is switched on (``PORTAL_GLOBAL_CONTROL_SHARE`` > 0)
and no experiment of the message opted out of it (``use_global_control=False``). Treatment members
always pass. Service messages are never held back: they answer something the customer did.

**Extraction** (the ``experiment.holdout`` suppression reason): inside ``with for_experiment(exp):``
the reason keeps out the experiment's holdout and control arms and (when the experiment uses it)
global-control members not drawn into treatment; outside any experiment it keeps out the
global-control members, while the group is switched on. So a holdout member is never written to
``extraction_member`` and never becomes "recently contacted".
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, tuple_

from ..extensions import db
from ..models import Customer
from .assignment import global_control_share
from .models import Experiment, ExperimentAssignment, ExperimentSource, GlobalControl

_current: contextvars.ContextVar[int | None] = contextvars.ContextVar("portal_experiment", default=None)


@dataclass(frozen=True)
class _Verdict:
    """Stand-in with the fields of ``portal.contact.Verdict`` when that module is not importable."""

    allowed: bool
    reason: str | None = None
    deferred_until: datetime | None = None


def _verdict(reason: str) -> Any:
    try:
        from ..contact import Verdict
    except ImportError:  # pragma: no cover - the contact service ships Verdict
        return _Verdict(False, reason)
    return Verdict(allowed=False, reason=reason)


def holdout_check(messages: list[Any], now: datetime | None = None) -> dict[int, Any]:
    """The send-time policy: ``{message id: Verdict(False, "holdout" | "global_control")}`` for the
    marketing messages to hold back (see the module docstring); three small queries per batch."""
    todo = [m for m in messages if getattr(m, "customer_id", None) is not None
            and getattr(m, "purpose", None) == "marketing"]
    if not todo:
        return {}
    pairs = {(m.source or "", m.source_object or "") for m in todo}
    by_pair: dict[tuple[str, str], list[int]] = {}
    if pairs:
        for src, obj, eid in db.session.execute(select(ExperimentSource.source, ExperimentSource.source_object,
                                                       ExperimentSource.experiment_id).where(
                tuple_(ExperimentSource.source, ExperimentSource.source_object).in_(list(pairs)))):
            by_pair.setdefault((src, obj), []).append(eid)
    exp_ids = sorted({e for ids in by_pair.values() for e in ids})
    customers = sorted({int(m.customer_id) for m in todo})
    arms: dict[tuple[int, int], str] = {}
    uses_gc: dict[int, bool] = {}
    if exp_ids:
        uses_gc = dict(db.session.execute(select(Experiment.id, Experiment.use_global_control)
                                          .where(Experiment.id.in_(exp_ids))).all())
        for eid, cid, arm in db.session.execute(select(ExperimentAssignment.experiment_id,
                                                       ExperimentAssignment.customer_id, ExperimentAssignment.arm)
                                                .where(ExperimentAssignment.experiment_id.in_(exp_ids),
                                                       ExperimentAssignment.customer_id.in_(customers),
                                                       ExperimentAssignment.merged.is_(False))):
            arms[(eid, cid)] = arm
    gc: set[int] = set()
    if global_control_share() > 0:
        gc = set(db.session.scalars(select(GlobalControl.customer_id).where(GlobalControl.customer_id.in_(customers))))
    out: dict[int, Any] = {}
    for m in todo:
        cid = int(m.customer_id)
        eids = by_pair.get((m.source or "", m.source_object or ""), [])
        mine = [arms.get((e, cid)) for e in eids]
        if "holdout" in mine:
            out[m.id] = _verdict("holdout")
        elif "control" in mine:
            out[m.id] = _verdict("global_control")
        elif "treatment" in mine:
            continue
        elif cid in gc and all(uses_gc.get(e, True) for e in eids):
            out[m.id] = _verdict("global_control")
    return out


# -- extraction ------------------------------------------------------------------------------------


@contextlib.contextmanager
def for_experiment(experiment: Experiment | None) -> Iterator[None]:
    """Extractions (previews, lists) made inside this block leave out ``experiment``'s holdout and
    control arms through the ``experiment.holdout`` suppression reason."""
    token = _current.set(experiment.id if experiment is not None else None)
    try:
        yield
    finally:
        _current.reset(token)


def current_experiment_id() -> int | None:
    return _current.get()


def suppression_condition(channel: str | None = None) -> ColumnElement[bool] | None:
    """True for the customers the ``experiment.holdout`` reason keeps out (see the module docstring)."""
    eid = _current.get()
    gc_on = global_control_share() > 0
    in_gc = exists().where(GlobalControl.customer_id == Customer.id)
    if eid is None:
        return in_gc if gc_on else None
    a = ExperimentAssignment
    held = exists().where(a.experiment_id == eid, a.customer_id == Customer.id, a.merged.is_(False),
                          a.arm != "treatment")
    uses_gc = db.session.scalar(select(Experiment.use_global_control).where(Experiment.id == eid))
    if not (gc_on and uses_gc):
        return held
    treated = exists().where(a.experiment_id == eid, a.customer_id == Customer.id, a.merged.is_(False),
                             a.arm == "treatment")
    return or_(held, and_(in_gc, ~treated))


def arm_condition(op: str, value: Any) -> ColumnElement[bool]:
    """Segment field ``experiment.arm``: values ``"<experiment id>:<arm>"`` (``12:holdout``)."""
    values = value if isinstance(value, list) else [value]
    pairs = []
    for v in values:
        eid, _, arm = str(v).partition(":")
        if eid.strip().isdigit() and arm.strip() in ("treatment", "holdout", "control"):
            pairs.append((int(eid), arm.strip()))
    a = ExperimentAssignment
    if pairs:
        match = exists().where(a.customer_id == Customer.id, a.merged.is_(False),
                               or_(*[and_(a.experiment_id == e, a.arm == arm) for e, arm in pairs]))
    else:
        match = false()
    return ~match if op in ("ne", "not_in") else match


def global_control_condition(op: str, value: Any) -> ColumnElement[bool]:
    """Segment field ``experiment.in_global_control`` (bool)."""
    member = exists().where(GlobalControl.customer_id == Customer.id)
    return member if value else ~member
