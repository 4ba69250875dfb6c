"""Attendance (tri-state), completion of a series and purchases attributed to attendance.

Marking rules (PG-19): nothing is marked before a session starts; from its start until
:data:`EDIT_DAYS` days after its end, check-in staff (:func:`checkin.may_checkin`) mark
``attended`` / ``no_show`` / ``not_marked``; after that only HQ (``prm.manage``) may change a
mark, and only with a reason — every mark is in the audit trail. A registrant nobody marked stays
``not_marked`` and is never counted as a no-show; "mark the rest no-show" is an explicit action
after the session.

Completion (PG-20): a customer completed a series when they attended at least
``step.completion_min`` of its sessions (k of n; cancelled sessions do not count, and k is capped
at the sessions held, so a cancelled session does not make completion impossible). All counts are
single grouped statements — a series may have thousands of registrants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, case, func, literal, select, update

from portal.toolkit import (
    Category,
    Customer,
    Partner,
    SaleLine,
    audit,
    db,
    has_permission,
    scope_filter,
    utcnow,
)

from ..models import CANCELLED as PROGRAMME_CANCELLED
from ..models import PrmProgramme, PrmStep
from ..permissions import MANAGE
from ..seminar_models import (
    ATTENDANCE,
    ATTENDED,
    EDIT_DAYS,
    NO_SHOW,
    NOT_MARKED,
    OFFERED,
    REGISTERED,
    WAITLISTED,
    PrmInvitation,
    PrmRegistration,
    PrmSession,
)
from .checkin import CheckinError, as_utc, may_checkin

MAX_REASON = 500
#: The groups of :func:`attribution`, in display order.
ATTRIBUTION_GROUPS = ("attended", "no_show", "not_marked", "not_registered")


# -- marking ------------------------------------------------------------------------------------


def edit_window(session: PrmSession, actor: Any, reason: str | None, now: datetime) -> str:
    """Who may mark now: ``"staff"`` within the window, ``"hq"`` after it; raises otherwise."""
    programme = db.session.get(PrmProgramme, session.programme_id)
    if not may_checkin(actor, session):
        raise CheckinError("not_found", _("No such session."), 404, "session")
    if session.cancelled_at is not None or (programme is not None and programme.state == PROGRAMME_CANCELLED):
        raise CheckinError("session_cancelled", _("This session was cancelled."), 409, "session")
    if now < session.starts_at:
        raise CheckinError("too_early", _("Attendance can be marked once the session has started."), 409,
                           "attendance")
    if now <= session.ends_at + timedelta(days=EDIT_DAYS):
        return "staff"
    if programme is None or not has_permission(actor, MANAGE, programme):
        raise CheckinError("locked", _("More than %(days)d days after the session only HQ can change attendance, "
                                       "with a reason.", days=EDIT_DAYS), 403, "attendance")
    if not reason:
        raise CheckinError("reason_required", _("Give a reason: the session ended more than %(days)d days ago.",
                                                days=EDIT_DAYS), 422, "reason")
    return "hq"


def _clean_reason(reason: Any) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason.strip()) > MAX_REASON or "\x00" in reason:
        raise CheckinError("invalid", _("The reason must be text of at most %(n)d characters.", n=MAX_REASON),
                           422, "reason")
    return reason.strip() or None


def mark(registration: PrmRegistration, value: Any, actor: Any, reason: Any = None, *,
         now: datetime | None = None) -> bool:
    """Set one registrant's attendance (``attended`` / ``no_show`` / ``not_marked``). Returns
    whether anything changed; every change is audited (with the reason when one is given).
    Refused with :class:`CheckinError` and nothing written. The caller commits."""
    now = as_utc(now) if now is not None else utcnow()
    if value not in ATTENDANCE:
        raise CheckinError("invalid", _("Use one of: %(values)s.", values=", ".join(ATTENDANCE)), 422,
                           "attendance")
    reason = _clean_reason(reason)
    session = db.session.get(PrmSession, registration.session_id)
    who = edit_window(session, actor, reason, now)
    if registration.status != REGISTERED:
        raise CheckinError("not_registered", _("Only confirmed seats have attendance."), 409, "attendance")
    old = registration.attendance
    if old == value:
        return False
    registration.attendance = value
    registration.checked_in_at = registration.checked_in_at if value == ATTENDED else None
    registration.marked_by_id = getattr(actor, "id", None)
    registration.marked_at = now
    registration.mark_reason = reason
    summary = f"session {session.id}: {old} → {value}"
    if who == "hq":
        summary += f" (late edit, {EDIT_DAYS}+ days after the session): {reason}"
    elif reason:
        summary += f": {reason}"
    audit.record("prm.attendance", registration, summary, {"attendance": (old, value)}, actor=actor)
    return True


def mark_rest_no_show(session: PrmSession, actor: Any, reason: Any = None, *, now: datetime | None = None) -> int:
    """After the session: every confirmed registrant still ``not_marked`` becomes ``no_show`` (one
    statement, one audit event). Returns how many were marked."""
    now = as_utc(now) if now is not None else utcnow()
    reason = _clean_reason(reason)
    edit_window(session, actor, reason, now)
    if now < session.ends_at:
        raise CheckinError("too_early", _("The rest can be marked as no-shows once the session has ended."), 409,
                           "attendance")
    r = PrmRegistration
    done = db.session.execute(
        update(r).where(r.session_id == session.id, r.status == REGISTERED, r.attendance == NOT_MARKED)
        .values(attendance=NO_SHOW, marked_by_id=getattr(actor, "id", None), marked_at=now, mark_reason=reason,
                updated_at=now)
        .execution_options(synchronize_session=False))
    count = int(done.rowcount or 0)
    if count:
        audit.record("prm.attendance.rest_no_show", session, f"{count} not marked → no_show" +
                     (f": {reason}" if reason else ""), actor=actor)
    db.session.expire_all()
    return count


# -- counts and the sheet -----------------------------------------------------------------------


def session_counts(session_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per session: registered (confirmed seats), waitlisted, offered, attended, no_show, not_marked."""
    if not session_ids:
        return {}
    r = PrmRegistration
    seat = r.status == REGISTERED
    rows = db.session.execute(
        select(r.session_id, func.count().filter(seat), func.count().filter(r.status == WAITLISTED),
               func.count().filter(r.status == OFFERED), func.count().filter(and_(seat, r.attendance == ATTENDED)),
               func.count().filter(and_(seat, r.attendance == NO_SHOW)),
               func.count().filter(and_(seat, r.attendance == NOT_MARKED)))
        .where(r.session_id.in_(session_ids)).group_by(r.session_id)).all()
    empty = dict.fromkeys(("registered", "waitlisted", "offered", "attended", "no_show", "not_marked"), 0)
    out = {sid: dict(empty) for sid in session_ids}
    for sid, reg, wait, off, att, ns, nm in rows:
        out[sid] = {"registered": reg, "waitlisted": wait, "offered": off, "attended": att, "no_show": ns,
                    "not_marked": nm}
    return out


#: The core permission whose scope decides whose names a viewer may read in full.
CUSTOMER_VIEW = "customer.view"


def mask_name(name: str | None) -> str:
    """``김정훈`` → ``김*훈``, ``김정`` → ``김*``: enough to match a face to a ticket, no more."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@dataclass(frozen=True)
class SheetRow:
    """One line of the attendance sheet as shown: a registrant outside the viewer's customer
    scope (another branch's customer at this branch's seminar) appears masked, without a code."""

    id: int
    name: str
    code: str
    attendance: str
    checked_in_at: datetime | None
    marked_at: datetime | None
    mark_reason: str | None
    masked: bool


def present(row: Any) -> SheetRow:
    visible = bool(row.visible)
    return SheetRow(row.id, row.name if visible else mask_name(row.name), row.code if visible else "",
                    row.attendance, row.checked_in_at, row.marked_at, row.mark_reason, not visible)


def sheet_statement(session: PrmSession, viewer: Any = None, *, q: str | None = None,
                    attendance: str | None = None, sort: str = "name") -> Select:
    """The attendance sheet's rows: confirmed seats of the session with the registrant's name and
    code (a customer, or an invited distributor) and ``visible`` — whether ``viewer`` may read the
    customer in full (their customer scope; an invited distributor always). Show rows through
    :func:`present`; a search matches visible rows only, so it cannot confirm a hidden name."""
    r = PrmRegistration
    name = func.coalesce(Customer.name, Partner.name, literal(""))
    code = func.coalesce(Customer.code, Partner.code, literal(""))
    if viewer is None:
        visible = literal(True)
    else:
        visible = case((r.customer_id.is_(None), literal(True)),
                       (scope_filter(viewer, CUSTOMER_VIEW, Customer), literal(True)), else_=literal(False))
    stmt = (select(r.id, name.label("name"), code.label("code"), r.attendance, r.checked_in_at,
                   r.marked_at, r.mark_reason, visible.label("visible"))
            .select_from(r).join(PrmInvitation, PrmInvitation.id == r.invitation_id)
            .outerjoin(Customer, Customer.id == r.customer_id)
            .outerjoin(Partner, Partner.id == PrmInvitation.partner_invitee_id)
            .where(r.session_id == session.id, r.status == REGISTERED))
    if attendance in ATTENDANCE:
        stmt = stmt.where(r.attendance == attendance)
    if q and q.strip():
        needle = q.strip()[:60].lower()
        stmt = stmt.where(visible == literal(True), func.lower(name).contains(needle, autoescape=True)
                          | func.lower(code).contains(needle, autoescape=True))
    order = {"name": (name, r.id), "-name": (name.desc(), r.id.desc()),
             "checked_in": (r.checked_in_at.desc(), r.id), "attendance": (r.attendance, name, r.id)}
    return stmt.order_by(*order.get(sort, order["name"]))


# -- completion ---------------------------------------------------------------------------------


def _held_sessions(step_id: int) -> int:
    return int(db.session.scalar(select(func.count()).select_from(PrmSession).where(
        PrmSession.step_id == step_id, PrmSession.cancelled_at.is_(None))) or 0)


def required_sessions(step: PrmStep, held: int | None = None) -> int:
    """k of the "k of n" rule: ``completion_min`` (all sessions when blank), capped at the sessions held."""
    held = _held_sessions(step.id) if held is None else held
    k = step.completion_min if step.completion_min and step.completion_min > 0 else held
    return min(k, held)


def attended_per_invitee(step_id: int) -> Select:
    """``(invitation_id, customer_id, sessions attended)`` for the step's held sessions."""
    r = PrmRegistration
    return (select(r.invitation_id, func.max(r.customer_id).label("customer_id"),
                   func.count(func.distinct(r.session_id)).label("n"))
            .join(PrmSession, PrmSession.id == r.session_id)
            .where(PrmSession.step_id == step_id, PrmSession.cancelled_at.is_(None), r.status == REGISTERED,
                   r.attendance == ATTENDED)
            .group_by(r.invitation_id))


def completed_customers(step: PrmStep) -> Select:
    """Customer ids that completed the series (a select for ``IN`` clauses and segments)."""
    k = required_sessions(step)
    sub = attended_per_invitee(step.id).subquery()
    stmt = select(sub.c.customer_id).where(sub.c.customer_id.is_not(None))
    return stmt.where(sub.c.n >= k) if k > 0 else stmt.where(literal(False))


def completion(step: PrmStep) -> dict[str, Any]:
    """The series' completion: sessions held (n), required (k), invitees, registered, attended at
    least one, completed (attended ≥ k), and how many attended exactly 1, 2, … sessions."""
    held = _held_sessions(step.id)
    k = required_sessions(step, held)
    sub = attended_per_invitee(step.id).subquery()
    dist = dict(db.session.execute(select(sub.c.n, func.count()).group_by(sub.c.n)).all())
    invited = db.session.scalar(select(func.count()).select_from(PrmInvitation)
                                .where(PrmInvitation.step_id == step.id)) or 0
    registered = db.session.scalar(
        select(func.count(func.distinct(PrmRegistration.invitation_id)))
        .join(PrmSession, PrmSession.id == PrmRegistration.session_id)
        .where(PrmSession.step_id == step.id, PrmRegistration.status == REGISTERED)) or 0
    return {"sessions": held, "required": k, "invited": int(invited), "registered": int(registered),
            "attended_any": int(sum(dist.values())),
            "completed": int(sum(c for n, c in dist.items() if k > 0 and n >= k)),
            "attended_sessions": {int(n): int(c) for n, c in sorted(dist.items())}}


# -- purchases attributed to attendance ---------------------------------------------------------


def _groups_of_invitees(programme_id: int) -> Select:
    """``(customer_id, grp)`` for every invited customer of the programme: ``attended`` (≥ 1
    session), ``no_show`` (a confirmed seat, marked no-show, never attended), ``not_marked``
    (confirmed seats, none marked yet), ``not_registered`` (invited, no confirmed seat)."""
    r = PrmRegistration
    seat = r.status == REGISTERED
    att = func.max(case((and_(seat, r.attendance == ATTENDED), 1), else_=0))
    ns = func.max(case((and_(seat, r.attendance == NO_SHOW), 1), else_=0))
    reg = func.max(case((seat, 1), else_=0))
    grp = case((att == 1, literal("attended")), (ns == 1, literal("no_show")), (reg == 1, literal("not_marked")),
               else_=literal("not_registered"))
    return (select(PrmInvitation.customer_id.label("cid"), grp.label("grp"))
            .select_from(PrmInvitation).outerjoin(r, r.invitation_id == PrmInvitation.id)
            .where(PrmInvitation.programme_id == programme_id, PrmInvitation.customer_id.is_not(None))
            .group_by(PrmInvitation.customer_id))


def attribution(programme: PrmProgramme, *, start: date, end: date) -> dict[str, Any]:
    """Category purchases of the invitees by attendance group within ``[start, end]``: customers,
    buyers, purchase rate, spend and spend per customer. Descriptive, **not causal**: people who
    come to seminars differ from those who do not (the holdout lift is the causal estimate)."""
    groups = _groups_of_invitees(programme.id).subquery()
    invited = select(PrmInvitation.customer_id).where(PrmInvitation.programme_id == programme.id,
                                                      PrmInvitation.customer_id.is_not(None))
    lines = (select(SaleLine.customer_id.label("cid"), func.sum(SaleLine.amount).label("rev"))
             .where(SaleLine.sold_at >= start, SaleLine.sold_at <= end, SaleLine.category_id == programme.category_id,
                    SaleLine.customer_id.in_(invited))
             .group_by(SaleLine.customer_id)).subquery()
    rows = db.session.execute(
        select(groups.c.grp, func.count(), func.count(lines.c.cid), func.coalesce(func.sum(lines.c.rev), 0))
        .select_from(groups).outerjoin(lines, lines.c.cid == groups.c.cid).group_by(groups.c.grp)).all()
    found = {grp: (int(n), int(buyers), int(spend)) for grp, n, buyers, spend in rows}
    out: dict[str, Any] = {}
    for grp in ATTRIBUTION_GROUPS:
        n, buyers, spend = found.get(grp, (0, 0, 0))
        out[grp] = {"customers": n, "buyers": buyers, "rate": (buyers / n) if n else None, "spend": spend,
                    "spend_per_customer": (spend / n) if n else None}
    category = db.session.get(Category, programme.category_id)
    return {"start": start.isoformat(), "end": end.isoformat(), "category": category.code if category else None,
            "groups": out, "causal": False,
            "note": _("Descriptive, not causal: people who attend seminars differ from those who do not. "
                      "The holdout comparison measures the programme's effect.")}
