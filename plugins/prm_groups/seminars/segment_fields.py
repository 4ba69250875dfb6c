"""Segment fields of the add-on (``portal_segment_fields``): a later step's audience may say
"attended ≥ 1 session", "completed the series" or "registered" (PG-20).

Each ``condition(op, value)`` returns SQL over ``customer`` (``customer.id IN (grouped select)``),
so a segment stays one scoped statement however many registrants a programme has. The values
name the programme by id (the rule builder's hint shows the form); a value that does not parse
matches nobody (``eq``) or everybody (``ne``), like the core's ``experiment.arm``.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select

from portal.toolkit import Customer

from ..models import PrmStep
from ..seminar_models import ATTENDED, REGISTERED, PrmRegistration, PrmSession

CODE_OPS = ("eq", "ne", "in", "not_in")
_MAX_ID = 2**31 - 1


def _ints(text: str, parts: int) -> tuple[int, ...] | None:
    bits = str(text).strip().split(":")
    if len(bits) != parts or not all(b.strip().isascii() and b.strip().isdigit() for b in bits):
        return None
    nums = tuple(int(b) for b in bits)
    return nums if all(0 <= n <= _MAX_ID for n in nums) else None


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _apply(op: str, matches: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    match = or_(*matches) if matches else false()
    return ~match if op in ("ne", "not_in") else match


def attended_at_least(programme_id: int, n: int) -> ColumnElement[bool]:
    """Customers who attended at least ``n`` sessions (any series) of the programme."""
    r = PrmRegistration
    if n <= 0:
        return Customer.id.is_not(None)
    sub = (select(r.customer_id).join(PrmSession, PrmSession.id == r.session_id)
           .where(PrmSession.programme_id == programme_id, PrmSession.cancelled_at.is_(None), r.status == REGISTERED,
                  r.attendance == ATTENDED, r.customer_id.is_not(None))
           .group_by(r.customer_id).having(func.count(func.distinct(r.session_id)) >= n))
    return Customer.id.in_(sub)


def completed_series(programme_id: int) -> ColumnElement[bool]:
    """Customers who completed a seminar series of the programme (attended ≥ k of its n held
    sessions; k = ``completion_min`` capped at n, all sessions when blank)."""
    r = PrmRegistration
    held = (select(PrmSession.step_id.label("step_id"), func.count().label("n"))
            .where(PrmSession.programme_id == programme_id, PrmSession.cancelled_at.is_(None))
            .group_by(PrmSession.step_id)).subquery()
    per = (select(r.customer_id.label("cid"), PrmSession.step_id.label("step_id"),
                  func.count(func.distinct(r.session_id)).label("n"))
           .join(PrmSession, PrmSession.id == r.session_id)
           .where(PrmSession.programme_id == programme_id, PrmSession.cancelled_at.is_(None), r.status == REGISTERED,
                  r.attendance == ATTENDED, r.customer_id.is_not(None))
           .group_by(r.customer_id, PrmSession.step_id)).subquery()
    need = case((PrmStep.completion_min.is_(None), held.c.n), (PrmStep.completion_min <= 0, held.c.n),
                (PrmStep.completion_min > held.c.n, held.c.n), else_=PrmStep.completion_min)
    sub = (select(per.c.cid).join(held, held.c.step_id == per.c.step_id).join(PrmStep, PrmStep.id == per.c.step_id)
           .where(and_(per.c.n >= need, need > 0)))
    return Customer.id.in_(sub)


def registered(programme_id: int) -> ColumnElement[bool]:
    """Customers holding a confirmed seat at any session of the programme."""
    r = PrmRegistration
    sub = (select(r.customer_id).join(PrmSession, PrmSession.id == r.session_id)
           .where(PrmSession.programme_id == programme_id, r.status == REGISTERED, r.customer_id.is_not(None)))
    return Customer.id.in_(sub)


def sessions_attended_condition(op: str, value: Any) -> ColumnElement[bool]:
    """``prm.sessions_attended``: ``"<programme id>:<n>"`` = attended at least n of its sessions."""
    pairs = [p for p in (_ints(v, 2) for v in _values(value)) if p is not None]
    return _apply(op, [attended_at_least(pid, n) for pid, n in pairs])


def completed_series_condition(op: str, value: Any) -> ColumnElement[bool]:
    """``prm.completed_series``: ``"<programme id>"``."""
    ids = [p[0] for p in (_ints(v, 1) for v in _values(value)) if p is not None]
    return _apply(op, [completed_series(pid) for pid in ids])


def registered_condition(op: str, value: Any) -> ColumnElement[bool]:
    """``prm.registered``: ``"<programme id>"``."""
    ids = [p[0] for p in (_ints(v, 1) for v in _values(value)) if p is not None]
    return _apply(op, [registered(pid) for pid in ids])


def _step_engagement_condition(op: str, value: Any) -> ColumnElement[bool]:
    """``prm.step_engagement`` (``"<message step number>:opened|clicked|opened_or_clicked"``) is
    declared here so rules naming it validate; the seminars area translates it into cem_channels'
    ``cem.engagement`` for the step's campaign before a programme's rules run
    (``seminars.invitations.translate_rules``). Evaluated untranslated — a saved segment, the rule
    builder's preview — it matches nobody, whatever the operator, so it can never widen an audience."""
    return false()


def segment_fields() -> list[dict[str, Any]]:
    return [
        {"name": "prm.sessions_attended", "label": _l("Seminar sessions attended (programme:at least n)"),
         "type": "code", "ops": CODE_OPS, "order": 70, "hint": "12:1",
         "condition": sessions_attended_condition},
        {"name": "prm.completed_series", "label": _l("Completed the seminar series (programme)"), "type": "code",
         "ops": CODE_OPS, "order": 71, "hint": "12", "condition": completed_series_condition},
        {"name": "prm.registered", "label": _l("Registered for a seminar (programme)"), "type": "code",
         "ops": CODE_OPS, "order": 72, "hint": "12", "condition": registered_condition},
        {"name": "prm.step_engagement", "label": _l("Opened or clicked a message step of this programme"),
         "type": "code", "ops": ("eq",), "order": 73, "hint": "1:opened_or_clicked",
         "condition": _step_engagement_condition},
    ]
