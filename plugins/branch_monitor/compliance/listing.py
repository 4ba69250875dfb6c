"""The branches a compliance page or API answer lists: the caller's scope (``access.py``), filtered
by region and a code/name search, by code, one page at a time — then the page's days and counts in
one pass (a page of 50 branches × a month is one calendar read and one grouped filings query)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import aliased

from portal.toolkit import OrgUnit, paginate

from ..access import branches_in_scope
from ..calendar.service import expected_days
from .service import DayStatus, day_statuses, summarise

Region = aliased(OrgUnit)


def scoped_branches(user: Any, permission: str, *, region_id: int | None = None, q: str | None = None,
                    branch_id: int | None = None) -> Select:
    """``SELECT org_unit`` (branches) in the user's scope, optionally of one region and matching
    ``q`` in code or name, by code."""
    stmt = select(OrgUnit).where(OrgUnit.id.in_(branches_in_scope(user, permission)))
    if region_id is not None:
        stmt = stmt.where(OrgUnit.parent_id == region_id)
    if branch_id is not None:
        stmt = stmt.where(OrgUnit.id == branch_id)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(OrgUnit.code.ilike(like, escape="\\"), OrgUnit.name.ilike(like, escape="\\")))
    return stmt.order_by(OrgUnit.code)


@dataclass
class BranchRow:
    """One branch of a page: its unit, its days (date → status; closed days absent) and counts."""

    unit: Any
    days: dict[date, DayStatus]
    counts: dict[str, Any]


def page_rows(user: Any, permission: str, start: date, end: date, page: int, per_page: int, *,
              region_id: int | None = None, q: str | None = None, branch_id: int | None = None,
              now: datetime | None = None) -> tuple[Any, list[BranchRow]]:
    """(the page, its rows) of the branches in scope between ``start`` and ``end``."""
    stmt = scoped_branches(user, permission, region_id=region_id, q=q, branch_id=branch_id)
    result = paginate(stmt, page, per_page, key=OrgUnit.id)
    units = list(result.items)
    ids = [u.id for u in units]
    expected = expected_days(ids, start, end)
    statuses = day_statuses(ids, start, end, now, expected=expected)
    counts = summarise(statuses, ids)
    by_branch: dict[int, dict[date, DayStatus]] = {i: {} for i in ids}
    for s in statuses:
        by_branch[s.branch_id][s.day] = s
    return result, [BranchRow(u, by_branch[u.id], counts[u.id]) for u in units]
