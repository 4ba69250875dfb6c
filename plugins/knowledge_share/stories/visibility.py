"""Who may see a story, as one SQL condition: lists, search, counts, the API and the 404 of a
story page all use :func:`visible_filter` (SECURITY.md: one rule, in SQL).

- ``all``: everyone holding ``ks.view``;
- ``branch``/``region``: ``scope_unit_id`` is the author's branch or its region; a user sees it
  when that unit is one of their own units, an ancestor of one (a branch sees its region's
  stories) or below one (a region's staff see their branches' stories);
- ``group``: ``scope_group_id`` is one of the user's partner groups;
- the author always sees their own stories; ``ks.see_all`` (HQ, reviewers) sees every story.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from portal.toolkit import OrgUnit, db, has_global_permission, has_permission

from ..models import KsStory
from ..permissions import SEE_ALL, VIEW


def user_units(user: Any) -> tuple[set[int], set[int]]:
    """The org unit ids and partner group ids ``user`` belongs to through local roles."""
    units: set[int] = set()
    groups: set[int] = set()
    for lr in getattr(user, "local_roles", []) or []:
        if lr.org_unit_id is not None:
            units.add(lr.org_unit_id)
        if lr.partner_group_id is not None:
            groups.add(lr.partner_group_id)
        if lr.partner_id is not None and lr.partner is not None:
            groups.add(lr.partner.group_id)
    return units, groups


def visible_unit_ids(user: Any) -> set[int]:
    """Units whose branch/region stories ``user`` sees: their own, their ancestors, their descendants."""
    own, _ = user_units(user)
    if not own:
        return set()
    rows = db.session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(own))).all()
    ids: set[int] = set()
    ranges = []
    for uid, path in rows:
        ids.add(uid)
        ids.update(int(p) for p in path.strip("/").split("/") if p)
        ranges.append(and_(OrgUnit.path >= path, OrgUnit.path < path[:-1] + "0"))
    if ranges:
        ids.update(db.session.execute(select(OrgUnit.id).where(or_(*ranges))).scalars())
    return ids


def visible_filter(user: Any, model: Any = KsStory) -> ColumnElement[bool]:
    """SQL: the stories (rows of ``model``, ``KsStory`` or an alias) ``user`` may see in any state
    the caller also filters on. Published-only is the caller's condition, not this one's."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return false()
    if has_global_permission(user, SEE_ALL):
        return true()
    if not has_permission(user, VIEW):
        return false()
    conds: list[ColumnElement[bool]] = [model.visibility == "all", model.author_id == user.id]
    unit_ids = visible_unit_ids(user)
    if unit_ids:
        conds.append(and_(model.visibility.in_(("branch", "region")), model.scope_unit_id.in_(sorted(unit_ids))))
    _, groups = user_units(user)
    if groups:
        conds.append(and_(model.visibility == "group", model.scope_group_id.in_(sorted(groups))))
    return or_(*conds)


def may_see(user: Any, story: KsStory) -> bool:
    """The same rule for one loaded story (a page already holding the row)."""
    return bool(db.session.execute(select(KsStory.id).where(KsStory.id == story.id, visible_filter(user))).first())


__all__ = ["visible_filter", "visible_unit_ids", "user_units", "may_see"]
