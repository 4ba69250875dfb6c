"""Who sees which branch — THE rule of the add-on; every page, API answer, export and
notification goes through it.

HQ Staff with a global grant see every branch; with a local grant on a region, that region's
branches (404 for any other, never 403). Branch Staff see their own branch (``bm.scorecard``,
``bm.compliance``). ``names_visible`` decides whether other branches may be *named* to the user:
only holders of ``bm.monitor``; everyone else gets anonymous distributions."""

from __future__ import annotations

import re
from typing import Any

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import Select, select

from portal.toolkit import OrgUnit, db, has_permission, unit_scope

from .permissions import MONITOR

#: What an org-unit code can be (the core stores ``B001``, ``R01``): anything else is a 404 before any
#: query — PostgreSQL refuses a NUL in a parameter outright, which would otherwise be a 500.
CODE = re.compile(r"[A-Za-z0-9_.-]{1,20}")


def branches_in_scope(user: Any, permission: str = MONITOR) -> Select:
    """``SELECT org_unit.id`` of the active branches ``user`` may see with ``permission``."""
    return select(OrgUnit.id).where(OrgUnit.kind == "branch", OrgUnit.active.is_(True), unit_scope(user, permission))


def regions_in_scope(user: Any, permission: str = MONITOR) -> list[OrgUnit]:
    """Regions with at least one branch in the user's scope, by code."""
    parents = select(OrgUnit.parent_id).where(OrgUnit.id.in_(branches_in_scope(user, permission)))
    return list(db.session.execute(select(OrgUnit).where(OrgUnit.id.in_(parents)).order_by(OrgUnit.code)).scalars())


def branch_or_404(user: Any, code: str, permission: str = MONITOR) -> OrgUnit:
    """The branch with ``code`` if ``user`` may see it with ``permission``; 404 otherwise (a missing
    and an out-of-scope branch look the same)."""
    if not isinstance(code, str) or not CODE.fullmatch(code):
        abort(404, description=_("No such branch."))
    unit = db.session.execute(select(OrgUnit).where(
        OrgUnit.code == code, OrgUnit.id.in_(branches_in_scope(user, permission)))).scalar_one_or_none()
    if unit is None:
        abort(404, description=_("No such branch."))
    return unit


def names_visible(user: Any) -> bool:
    """May other branches be named to ``user``? Only for holders of ``bm.monitor`` (anywhere)."""
    return has_permission(user, MONITOR) or db.session.execute(
        branches_in_scope(user, MONITOR).limit(1)).first() is not None
