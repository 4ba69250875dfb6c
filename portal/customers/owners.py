"""Who may own a customer, as the forms and filters offer it: distributors in the user's scope.

Distributors and group leaders serve customers of their own line only. Their new-customer form
offers the distributors of that line (a distributor's own code first and pre-selected; a
distributor without a downline gets exactly one choice), instead of a free-text code to guess.
The customer list's distributor filter offers the same, scoped in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Partner
from ..security import has_global_permission, partner_scope
from ..security.permissions import roles_granting

# Longer lines (HQ: every distributor) get a text field, not a menu of thousands.
MENU_CAP = 200


@dataclass(frozen=True)
class LineOwners:
    """The distributors a line user may make a customer's owner, and the pre-selected one."""

    choices: list[tuple[str, str]]  # (code, "code name"), in sponsor-line order
    default: str  # the user's own distributor code, or "" (a leader picks)

    @property
    def locked(self) -> bool:
        return len(self.choices) == 1


def serves_own_line_only(user: Any, permission: str = "customer.edit") -> bool:
    """``permission`` only through partner-group or distributor grants: no global role, no branch."""
    if has_global_permission(user, permission):
        return False
    granting = roles_granting(permission)
    grants = [lr for lr in user.local_roles if lr.role in granting]
    return bool(grants) and not any(lr.org_unit_id for lr in grants)


def _distributors(user: Any, permission: str, cap: int) -> list[Any]:
    return list(db.session.execute(
        select(Partner.id, Partner.code, Partner.name).where(partner_scope(user, permission), Partner.active.is_(True))
        .order_by(Partner.path).limit(cap + 1)).all())


def line_owners(user: Any) -> LineOwners | None:
    """For a user who serves their own line only (see :func:`serves_own_line_only`): the line's
    distributors to choose from; ``None`` for everyone else, or when the line is longer than
    :data:`MENU_CAP` (then the code is typed, and checked against the scope as always)."""
    if not serves_own_line_only(user):
        return None
    rows = _distributors(user, "customer.edit", MENU_CAP)
    if not rows or len(rows) > MENU_CAP:
        return None
    # Pre-selected: the user's own distributor record, else the distributor they were granted.
    granting = roles_granting("customer.edit")
    candidates = [user.partner_id, *(lr.partner_id for lr in user.local_roles if lr.role in granting)]
    codes = {r.id: r.code for r in rows}
    own = next((codes[i] for i in candidates if i in codes), "")
    return LineOwners([(r.code, f"{r.code} {r.name}") for r in rows], own)


def distributor_filter_choices(user: Any, permission: str = "customer.view") -> list[Any] | None:
    """Distributors (``code``, ``name``) for the customer list's filter menu: a line user's own
    line, scoped in SQL. ``None`` — the filter is a text field for a code — for HQ and stores
    (every distributor, or none of their own: no query on each list page) and for a line longer
    than :data:`MENU_CAP`."""
    if not serves_own_line_only(user, permission):
        return None
    rows = _distributors(user, permission, MENU_CAP)
    return None if len(rows) > MENU_CAP else rows
