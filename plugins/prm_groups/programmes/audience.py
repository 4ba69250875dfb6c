"""Who a programme may reach: its eligible customers as one SQL ``SELECT`` of customer ids.

Eligible = the customers of the group's distributors (``Customer.partner_id`` in the group, the
core segment field ``partner_group``), matching the programme-wide rules of step 1 (if any), seen
through the starting user's customer scope, and contactable for marketing on **at least one of
the first message step's channels** after every suppression reason of that channel (consent,
opt-out, consent expiry, address, complaint, the contact cool-down, the add-ons' reasons such as
the 080 list) — the union over the channels, because each channel goes out as its own campaign,
so a customer reachable by DM only still gets the DM. A programme without a message step uses
e-mail (how seminar invitations go out). The holdout is drawn among exactly these customers, so a
suppressed customer is in neither arm.

Nothing is loaded as ORM objects and nothing is looped over per customer: the ids are read once
(as plain integers) for the draw."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select, union

from portal.toolkit import Customer, RuleError, channel_suppression, db, segment_query

from ..models import PrmProgramme, PrmStep

#: The channel of a programme without a message step (seminar invitations go out by e-mail).
DEFAULT_CHANNELS = ("email",)
#: Channels that take target lists (the core's EXTRACTION_CHANNELS); others cannot be suppressed.
LIST_CHANNELS = ("sms", "email", "dm", "phone")


def group_rule(programme: PrmProgramme) -> dict[str, Any]:
    """The core segment condition "the customer's distributor belongs to the programme's group"."""
    return {"field": "partner_group", "op": "eq", "value": programme.group.code}


def first_step(programme: PrmProgramme) -> PrmStep | None:
    steps = sorted(programme.steps, key=lambda s: s.position)
    return steps[0] if steps else None


def first_message_step(programme: PrmProgramme) -> PrmStep | None:
    return next((s for s in sorted(programme.steps, key=lambda s: s.position) if s.kind == "message"), None)


def programme_rules(programme: PrmProgramme, *extra: Any) -> dict[str, Any]:
    """``{"all": [group, step 1's rules, *extra]}`` — the audience every step starts from."""
    parts: list[Any] = [group_rule(programme)]
    step = first_step(programme)
    if step is not None and step.rules:
        parts.append(step.rules)
    parts.extend(e for e in extra if e)
    return {"all": parts}


def eligibility_channels(programme: PrmProgramme) -> tuple[str, ...]:
    """The first message step's channels that take target lists (see the module docstring)."""
    step = first_message_step(programme)
    if step is None:
        return DEFAULT_CHANNELS
    return tuple(c for c in (step.channels or []) if c in LIST_CHANNELS)


def eligible_select(programme: PrmProgramme, actor: Any) -> Select:
    """``SELECT customer.id`` of the eligible customers (one column, no order). Raises the core's
    ``RuleError`` when step 1's rules no longer validate (a field of a disabled add-on)."""
    seg = segment_query(actor, programme_rules(programme))
    parts = []
    for channel in eligibility_channels(programme):
        sup = channel_suppression(channel)
        parts.append(sup.apply(seg.select(Customer.id.label("customer_id"))).where(sup.allowed()))
    if not parts:
        raise RuleError([])
    return parts[0] if len(parts) == 1 else select(union(*parts).subquery().c[0])


def eligible_ids(programme: PrmProgramme, actor: Any) -> list[int]:
    """The eligible customer ids, sorted (plain integers: a group of 100,000 is 100,000 ints)."""
    sub = eligible_select(programme, actor).subquery()
    return [int(i) for i in db.session.scalars(select(sub.c[0]).order_by(sub.c[0]))]


def eligible_count(programme: PrmProgramme, actor: Any) -> int:
    """How many are eligible now (one aggregate; for pages and the power check)."""
    sub = eligible_select(programme, actor).subquery()
    return int(db.session.scalar(select(func.count()).select_from(sub)) or 0)
