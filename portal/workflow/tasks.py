""""My tasks": what waits for this user's decision, in their scope, scoped in SQL.

For every registered type whose workflow is active: the objects in a *review* state (``"review":
True``) from which the user may fire some transition — the transition's permission granted on the
object (its scope condition, so local roles count) and, for the built-in guards (``not_owner``:
not your own request; ``owner_only``), their SQL form. One ``UNION ALL`` over the types, ordered
newest first and paginated by the database; add-ons add other items through ``portal_my_tasks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Select, String, and_, cast, func, literal, null, or_, select, union_all

from ..extensions import db
from ..pagination import COUNT_CAP, Page, paginate
from .models import WorkflowState
from .service import Binding, registered_types, users_may, workflows


@dataclass
class Task:
    """One row of the page: the object, where to open it, and since when it waits."""

    type_name: str
    kind: Any
    title: str
    url: str
    state: Any
    since: datetime | None
    obj: Any = None


def _source(binding: Binding, user: Any) -> Select | None:
    """SELECT (object_type, object_id, since, state) of this type's objects waiting for ``user``."""
    wf = workflows().get(binding.workflow)
    if wf is None or not wf.review_states:
        return None
    model = binding.model
    joined = binding.state_attr is None
    # An object waits only once it left the initial state (unless the initial state is a review
    # state): then an inner join from the (type, state, updated_at) index finds the few waiting
    # rows instead of reading every object of the type.
    outer = joined and wf.initial in wf.review_states
    if not joined:
        state = getattr(model, binding.state_attr)
    else:
        state = func.coalesce(WorkflowState.state, literal(wf.initial)) if outer else WorkflowState.state
    own_since = getattr(model, binding.since_attr) if binding.since_attr else None
    if joined:
        since = func.coalesce(WorkflowState.updated_at, own_since) if outer and own_since is not None else \
            WorkflowState.updated_at
    else:
        since = own_since if own_since is not None else cast(null(), DateTime)
    conds = []
    for state_id in wf.review_states:
        for t in wf.tasks_from(state_id):
            if not users_may(binding, t, user):
                continue
            cond = and_(state == state_id, binding.scope_sql(user, binding.permission(t.permission)))
            guard_sql = getattr(t.guard, "sql", None)
            if t.guard is not None and guard_sql is not None and binding.owner_attr:
                cond = and_(cond, guard_sql(getattr(model, binding.owner_attr), user))
            conds.append(cond)
    if not conds:
        return None
    stmt = select(cast(literal(binding.type_name), String(60)).label("object_type"), model.id.label("object_id"),
                  since.label("since"), cast(state, String(40)).label("state")).select_from(model)
    if joined:
        on = and_(WorkflowState.object_type == binding.type_name, WorkflowState.object_id == model.id)
        stmt = stmt.outerjoin(WorkflowState, on) if outer else stmt.join(WorkflowState, on)
    return stmt.where(or_(*conds), binding.scope_sql(user, binding.scope_permission))


def _sources(user: Any, type_name: str | None = None) -> list[Select]:
    found = []
    for binding in registered_types():
        if type_name is not None and binding.type_name != type_name:
            continue
        stmt = _source(binding, user)
        if stmt is not None:
            found.append(stmt)
    return found


def may_review_anything(user: Any) -> bool:
    """Does ``user`` hold a review transition's permission on some registered type (the menu)?"""
    for binding in registered_types():
        wf = workflows().get(binding.workflow)
        if wf is None:
            continue
        if any(users_may(binding, t, user) for s in wf.review_states for t in wf.tasks_from(s)):
            return True
    return False


def counts(user: Any) -> dict[str, int]:
    """Waiting objects per type name (each count capped at ``COUNT_CAP + 1``)."""
    result: dict[str, int] = {}
    for binding in registered_types():
        stmt = _source(binding, user)
        if stmt is None:
            continue
        n = db.session.execute(select(func.count()).select_from(stmt.limit(COUNT_CAP + 1).subquery())).scalar_one()
        if n:
            result[binding.type_name] = n
    return result


def count(user: Any) -> int:
    """How many objects wait for ``user`` (the portlet's figure)."""
    return sum(counts(user).values())


def page(user: Any, page_no: int, per_page: int, type_name: str | None = None) -> Page:
    """One page of the waiting objects, newest first, with each object loaded (scoped already)."""
    sources = _sources(user, type_name)
    if not sources:
        return Page([], page_no, per_page, 0, False)
    union = (union_all(*sources) if len(sources) > 1 else sources[0]).subquery()
    stmt = (select(union.c.object_type, union.c.object_id, union.c.since, union.c.state)
            .order_by(union.c.since.desc().nulls_last(), union.c.object_type, union.c.object_id.desc()))
    rows = paginate(stmt, page_no, per_page, scalars=False)
    by_type: dict[str, list[int]] = {}
    for row in rows.items:
        by_type.setdefault(row.object_type, []).append(row.object_id)
    loaded: dict[tuple[str, int], Any] = {}
    for name, ids in by_type.items():
        binding = next(b for b in registered_types() if b.type_name == name)
        for obj in db.session.execute(select(binding.model).where(binding.model.id.in_(ids))).scalars():
            loaded[(name, obj.id)] = obj
    wfs = workflows()
    tasks = []
    for row in rows.items:
        obj = loaded.get((row.object_type, row.object_id))
        if obj is None:  # deleted between the two queries
            continue
        binding = next(b for b in registered_types() if b.type_name == row.object_type)
        wf = wfs[binding.workflow]
        st = wf.state(row.state)
        tasks.append(Task(binding.type_name, binding.label, str(binding.title(obj)), binding.url(obj),
                          st.title if st else row.state, row.since, obj))
    rows.items = tasks
    return rows


def hook_tasks(user: Any) -> list[dict[str, Any]]:
    """Add-ons' own items (``portal_my_tasks``), checked and sorted newest first."""
    from ..plugins import collect

    items = [i for i in collect("portal_my_tasks", user=user)
             if isinstance(i, dict) and i.get("title") and isinstance(i.get("url"), str)]
    return sorted(items, key=lambda i: (i.get("since") is None, -(i["since"].timestamp()) if isinstance(
        i.get("since"), datetime) else 0, i.get("order", 100)))
