"""Set-based reads of the partner view: every list is scoped in SQL (``scope_filter``) and every
count is one grouped query over the page's programmes, never a query per customer — a group can
have 100,000 customers. Holdout customers are never invited, and nothing here lists customers of a
programme's audience: the leader sees counts only, the distributor their own customers' invitations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, distinct, func, select

from portal.toolkit import (
    GROUP_LEADER,
    Category,
    Customer,
    Partner,
    PartnerGroup,
    db,
    has_global_permission,
    has_permission,
    plugin_hook,
    scope_filter,
)

from ..models import CLOSED, REVIEW, PrmProgramme, PrmStep
from ..permissions import APPROVE, INVITATIONS, VIEW
from ..seminar_models import (
    ATTENDED,
    INVITATION_STATUSES,
    NO_SHOW,
    OFFERED,
    REGISTERED,
    WAITLISTED,
    PrmInvitation,
    PrmRegistration,
    PrmSession,
)

#: Counters read from a cem campaign's results document (summed over its steps and channels).
CAMPAIGN_COUNTERS = ("queued", "sent", "delivered", "opened", "clicked")


# -- groups -----------------------------------------------------------------------------------


def led_group_ids(user: Any) -> list[int]:
    """The groups where ``user`` holds the Group Leader local role (their "own" groups)."""
    return sorted({lr.partner_group_id for lr in getattr(user, "local_roles", ())
                   if lr.role == GROUP_LEADER and lr.partner_group_id is not None})


def programme_scope(user: Any) -> Any:
    """The one SQL condition on :class:`PrmProgramme` this view uses: HQ everything, a leader only
    the programmes of the groups they lead."""
    return scope_filter(user, VIEW, PrmProgramme)


def selectable_groups(user: Any) -> list[PartnerGroup]:
    """Groups the dashboard may be narrowed to: those with a programme the user may see, plus the
    groups they lead (so a leader with no programme yet still sees their downline)."""
    with_programmes = select(PrmProgramme.partner_group_id).where(programme_scope(user))
    ids = set(led_group_ids(user))
    stmt = select(PartnerGroup).where(PartnerGroup.id.in_(with_programmes) | PartnerGroup.id.in_(ids or [-1]))
    return list(db.session.execute(stmt.order_by(PartnerGroup.code)).scalars())


def top_partner(group_id: int) -> Partner | None:
    """The root of a group's sponsor line (the ``Partner`` without a sponsor): where its
    programmes are placed for the scope filter."""
    return db.session.execute(select(Partner).where(Partner.group_id == group_id, Partner.sponsor_id.is_(None))
                              .order_by(Partner.id).limit(1)).scalar_one_or_none()


def may_view_group(user: Any, group: PartnerGroup) -> bool:
    """May ``user`` see ``group``'s programmes? HQ anywhere; a leader on their own group only."""
    if has_global_permission(user, VIEW):
        return True
    root = top_partner(group.id)
    return root is not None and has_permission(user, VIEW, root)


# -- programmes -------------------------------------------------------------------------------


def programmes_query(user: Any, group_id: int | None = None, state: str | None = None) -> Select:
    """The user's programmes (scoped), newest first; narrowed to one group and state if given."""
    stmt = select(PrmProgramme).where(programme_scope(user))
    if group_id is not None:
        stmt = stmt.where(PrmProgramme.partner_group_id == group_id)
    if state:
        stmt = stmt.where(PrmProgramme.state == state)
    return stmt.order_by(PrmProgramme.created_at.desc(), PrmProgramme.id.desc())


def state_counts(user: Any, group_id: int | None = None) -> dict[str, int]:
    """Programmes per state (for the state tabs), one grouped query."""
    stmt = select(PrmProgramme.state, func.count()).where(programme_scope(user))
    if group_id is not None:
        stmt = stmt.where(PrmProgramme.partner_group_id == group_id)
    return {s: int(n) for s, n in db.session.execute(stmt.group_by(PrmProgramme.state)).all()}


def approvals_waiting(user: Any, group_id: int | None = None, limit: int = 20) -> list[PrmProgramme]:
    """Programmes in ``leader_review`` that ``user`` may approve (Group Leader of that group with
    ``prm.approve``): the leader's to-do list. Few rows, so the per-object check is cheap."""
    if not has_permission(user, APPROVE):
        return []
    stmt = select(PrmProgramme).where(programme_scope(user), PrmProgramme.state == REVIEW)
    if group_id is not None:
        stmt = stmt.where(PrmProgramme.partner_group_id == group_id)
    rows = db.session.execute(stmt.order_by(PrmProgramme.updated_at.desc()).limit(limit)).scalars()
    return [p for p in rows if has_permission(user, APPROVE, p)]


def count_approvals_waiting(user: Any) -> int:
    return len(approvals_waiting(user, limit=200))


def category_names(ids: set[int]) -> dict[int, Category]:
    if not ids:
        return {}
    return {c.id: c for c in db.session.execute(select(Category).where(Category.id.in_(ids))).scalars()}


@dataclass
class SessionCounts:
    """One seminar session of a programme, with its counts (never names)."""

    id: int
    title: str
    starts_at: datetime
    capacity: int | None
    cancelled: bool
    registered: int = 0
    waitlisted: int = 0
    offered: int = 0
    attended: int = 0
    no_show: int = 0


@dataclass
class Progress:
    """A programme's progress: its message steps' campaign counts, its invitations by status and
    its sessions' seat and attendance counts."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    invitations: dict[str, int] = field(default_factory=dict)
    attendees: int = 0
    sessions: list[SessionCounts] = field(default_factory=list)

    @property
    def invited(self) -> int:
        return sum(self.invitations.values())


def campaign_counts(campaign_id: int | None) -> dict[str, Any] | None:
    """A message step's campaign counts from ``cem_channels`` (through its hook: this add-on never
    imports it): the campaign's state and its sent/delivered/opened/clicked totals."""
    if campaign_id is None:
        return None
    try:
        doc = plugin_hook("cem_campaign_result")(ref=campaign_id)
    except Exception:  # noqa: BLE001  (a broken results document must not take the dashboard down)
        db.session.rollback()
        return None
    if not doc:
        return None
    totals = {k: 0 for k in CAMPAIGN_COUNTERS}
    for row in doc.get("steps") or ():
        for k in CAMPAIGN_COUNTERS:
            value = row.get(k)
            totals[k] += int(value) if isinstance(value, int | float) else 0
    return {"state": doc.get("state"), **totals}


def progress(programmes: list[PrmProgramme]) -> dict[int, Progress]:
    """Progress of a page of programmes: three grouped queries whatever the audience size, plus one
    hook call per message step that has a campaign."""
    ids = [p.id for p in programmes]
    out = {pid: Progress() for pid in ids}
    if not ids:
        return out
    for p in programmes:
        for step in p.steps:
            if step.kind == "message":
                out[p.id].messages.append({"step": step, "campaign": campaign_counts(step.campaign_id)})
    for pid, status, n in db.session.execute(
            select(PrmInvitation.programme_id, PrmInvitation.status, func.count())
            .where(PrmInvitation.programme_id.in_(ids))
            .group_by(PrmInvitation.programme_id, PrmInvitation.status)).all():
        out[pid].invitations[status] = int(n)
    for pid, n in db.session.execute(
            select(PrmInvitation.programme_id, func.count(distinct(PrmRegistration.invitation_id)))
            .select_from(PrmInvitation)
            .join(PrmRegistration, PrmRegistration.invitation_id == PrmInvitation.id)
            .where(PrmInvitation.programme_id.in_(ids), PrmRegistration.attendance == ATTENDED)
            .group_by(PrmInvitation.programme_id)).all():
        out[pid].attendees = int(n)
    sessions = db.session.execute(select(PrmSession).where(PrmSession.programme_id.in_(ids))
                                  .order_by(PrmSession.starts_at, PrmSession.position, PrmSession.id)).scalars().all()
    by_id: dict[int, SessionCounts] = {}
    for s in sessions:
        counts = SessionCounts(s.id, s.title, s.starts_at, s.capacity, s.cancelled_at is not None)
        by_id[s.id] = counts
        out[s.programme_id].sessions.append(counts)
    if by_id:
        stmt = (select(PrmRegistration.session_id,
                       func.sum(case((PrmRegistration.status == REGISTERED, 1), else_=0)),
                       func.sum(case((PrmRegistration.status == WAITLISTED, 1), else_=0)),
                       func.sum(case((PrmRegistration.status == OFFERED, 1), else_=0)),
                       func.sum(case((PrmRegistration.attendance == ATTENDED, 1), else_=0)),
                       func.sum(case((and_(PrmRegistration.attendance == NO_SHOW,
                                           PrmRegistration.status == REGISTERED), 1), else_=0)))
                .where(PrmRegistration.session_id.in_(list(by_id)))
                .group_by(PrmRegistration.session_id))
        for sid, reg, wait, offered, attended, no_show in db.session.execute(stmt).all():
            c = by_id[sid]
            c.registered, c.waitlisted, c.offered = int(reg or 0), int(wait or 0), int(offered or 0)
            c.attended, c.no_show = int(attended or 0), int(no_show or 0)
    return out


def result_documents(programmes: list[PrmProgramme], user: Any) -> dict[int, dict[str, Any]]:
    """The measurement helper's results document of each closed programme (its frozen final
    snapshot: cheap to read); empty for a programme whose document fails, so the dashboard still
    shows everything else. Aggregates only — the document lists no customer."""
    wanted = [p for p in programmes if p.state == CLOSED]
    if not wanted:
        return {}
    try:
        from ..measurement.results import document
    except ImportError:
        return {}
    docs: dict[int, dict[str, Any]] = {}
    for p in wanted:
        try:
            doc = document(p, user)
        except Exception:  # noqa: BLE001  (the results page shows the problem; the dashboard goes on)
            db.session.rollback()
            continue
        if isinstance(doc, dict):
            docs[p.id] = doc
    return docs


# -- downline attendance ---------------------------------------------------------------------


def downline_query(user: Any, group_id: int) -> Select:
    """Per distributor of ``group_id`` (only partners of that group, only the user's programmes):
    how many distinct customers were invited, registered for at least one session, and attended at
    least one. Counts only — no customer is named, and holdout customers are never invited."""
    progs = select(PrmProgramme.id).where(programme_scope(user), PrmProgramme.partner_group_id == group_id)
    registered = (select(PrmRegistration.invitation_id.label("iid"),
                         func.max(case((PrmRegistration.status == REGISTERED, 1), else_=0)).label("reg"),
                         func.max(case((PrmRegistration.attendance == ATTENDED, 1), else_=0)).label("att"))
                  .group_by(PrmRegistration.invitation_id).subquery())
    invited = func.count(distinct(PrmInvitation.customer_id))
    reg = func.count(distinct(case((registered.c.reg == 1, PrmInvitation.customer_id))))
    att = func.count(distinct(case((registered.c.att == 1, PrmInvitation.customer_id))))
    return (select(Partner.id, Partner.code, Partner.name, Partner.level, invited.label("invited"),
                   reg.label("registered"), att.label("attended"))
            .select_from(Partner)
            .join(PrmInvitation, PrmInvitation.partner_id == Partner.id)
            .outerjoin(registered, registered.c.iid == PrmInvitation.id)
            .where(Partner.group_id == group_id, PrmInvitation.programme_id.in_(progs),
                   PrmInvitation.customer_id.is_not(None))
            .group_by(Partner.id, Partner.code, Partner.name, Partner.level)
            .order_by(invited.desc(), Partner.code))


# -- a distributor's customers' invitations ------------------------------------------------------


INVITATION_SORTS = {"name": Customer.name, "invited": PrmInvitation.invited_at, "status": PrmInvitation.status}


def invitations_query(user: Any, q: str = "", status: str | None = None, sort: str = "-invited") -> Select:
    """Invitations of the customers ``user`` may see for ``prm.invitations`` (a distributor: the
    customers of their own subtree), with the programme and series titles; searchable by the
    customer's name or code, filterable by status."""
    stmt = (select(PrmInvitation.id, PrmInvitation.status, PrmInvitation.invited_at, PrmInvitation.token,
                   PrmInvitation.responded_at, Customer.id.label("customer_id"), Customer.name.label("customer_name"),
                   Customer.code.label("customer_code"), PrmProgramme.name.label("programme_name"),
                   PrmProgramme.state.label("programme_state"), PrmStep.title.label("series_title"))
            .select_from(PrmInvitation)
            .join(Customer, Customer.id == PrmInvitation.customer_id)
            .join(PrmProgramme, PrmProgramme.id == PrmInvitation.programme_id)
            .join(PrmStep, PrmStep.id == PrmInvitation.step_id)
            .where(scope_filter(user, INVITATIONS, Customer)))
    q = (q or "").strip()[:100]
    if q:
        stmt = stmt.where(Customer.name.contains(q, autoescape=True) | (Customer.code == q.upper()))
    if status in INVITATION_STATUSES:
        stmt = stmt.where(PrmInvitation.status == status)
    key = sort.lstrip("-")
    column = INVITATION_SORTS.get(key, PrmInvitation.invited_at)
    desc = sort.startswith("-") if key in INVITATION_SORTS else True
    return stmt.order_by(column.desc() if desc else column.asc(), PrmInvitation.id.desc())


def invitation_status_counts(user: Any) -> dict[str, int]:
    stmt = (select(PrmInvitation.status, func.count()).join(Customer, Customer.id == PrmInvitation.customer_id)
            .where(scope_filter(user, INVITATIONS, Customer)).group_by(PrmInvitation.status))
    return {s: int(n) for s, n in db.session.execute(stmt).all()}


def registrations_for(invitation_ids: list[int]) -> dict[int, list[Any]]:
    """The sessions each invitation registered for (or waits for), in session order: one query for
    a page of invitations."""
    if not invitation_ids:
        return {}
    rows = db.session.execute(
        select(PrmRegistration.invitation_id, PrmRegistration.status, PrmRegistration.attendance,
               PrmRegistration.waitlist_position, PrmSession.title, PrmSession.starts_at,
               PrmSession.cancelled_at)
        .join(PrmSession, PrmSession.id == PrmRegistration.session_id)
        .where(PrmRegistration.invitation_id.in_(invitation_ids))
        .order_by(PrmSession.starts_at, PrmSession.id)).all()
    out: dict[int, list[Any]] = {}
    for r in rows:
        out.setdefault(r.invitation_id, []).append(r)
    return out


def attended_count(user: Any) -> int:
    """Distinct customers in the user's scope who attended at least one session."""
    stmt = (select(func.count(distinct(PrmInvitation.customer_id)))
            .select_from(PrmRegistration)
            .join(PrmInvitation, PrmInvitation.id == PrmRegistration.invitation_id)
            .join(Customer, Customer.id == PrmInvitation.customer_id)
            .where(scope_filter(user, INVITATIONS, Customer), PrmRegistration.attendance == ATTENDED))
    return int(db.session.execute(stmt).scalar_one() or 0)
