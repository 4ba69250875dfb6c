"""The one permission check and the one SQL scope filter.

A user's roles on an object are their global roles plus the local roles granted on the
object's org unit, partner group or partner *or any ancestor* (Plone's local-role
inheritance). ``has_permission`` answers for one object; ``scope_filter`` builds the SQL
"everything of this type the user may see" that every list, search, export and API uses, so
the two can never disagree on which rows are in scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, has_request_context
from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Integer,
    and_,
    bindparam,
    false,
    literal,
    or_,
    select,
    true,
    union_all,
)

from ..auth.identity_cache import identity_cache, security_epoch
from ..extensions import db
from ..models import Customer, LocalRole, OrgUnit, Partner, PartnerGroup, SaleLine, SalesReport, User
from ..models.base import subtree_bounds


def role_map() -> dict[str, set[str]]:
    """permission → roles, merged from the core and every active plugin.

    Built once per set of active plugins (``PluginRegistry.derived``): the active set is still
    read on every request, so a plugin enabled or disabled in any worker changes the key on the
    next request, and a disabled plugin's ``portal_permissions`` is never called.
    """
    from ..plugins import collect, registry

    def build() -> dict[str, frozenset[str]]:
        mapping: dict[str, set[str]] = {}
        for perm in collect("portal_permissions"):
            mapping.setdefault(perm["name"], set()).update(perm["roles"])
        return {name: frozenset(roles) for name, roles in mapping.items()}

    return registry().derived("role_map", build)


def roles_granting(permission: str) -> frozenset[str]:
    return role_map().get(permission, frozenset())


def _grants(user: User, permission: str) -> list[LocalRole]:
    wanted = roles_granting(permission)
    return [lr for lr in user.local_roles if lr.role in wanted]


def has_global_permission(user: Any, permission: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.role_names & roles_granting(permission))


def has_permission(user: Any, permission: str, obj: Any = None) -> bool:
    """May ``user`` do ``permission`` on ``obj``? With ``obj=None``: anywhere at all."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if has_global_permission(user, permission):
        return True
    grants = _grants(user, permission)
    if obj is None:
        return bool(grants)
    return any(_grant_covers(lr, obj) for lr in grants)


def _in_subtree(node: Any, ancestor: Any) -> bool:
    return node is not None and ancestor is not None and node.path.startswith(ancestor.path)


def _grant_covers(lr: LocalRole, obj: Any) -> bool:
    units, partners = _context_of(obj)
    for unit in units:
        if lr.org_unit is not None and _in_subtree(unit, lr.org_unit):
            return True
    for partner in partners:
        if lr.partner_group_id is not None and partner.group_id == lr.partner_group_id:
            return True
        if lr.partner is not None and _in_subtree(partner, lr.partner):
            return True
    if isinstance(obj, PartnerGroup) and lr.partner_group_id == obj.id:
        return True
    return False


def _context_of(obj: Any) -> tuple[list[OrgUnit], list[Partner]]:
    """The org units and partners an object lives under."""
    if isinstance(obj, OrgUnit):
        return [obj], []
    if isinstance(obj, Partner):
        return [], [obj]
    spec = _SCOPED.get(type(obj))
    if spec is None:
        return [], []
    unit = db.session.get(OrgUnit, getattr(obj, spec.branch_attr)) if spec.branch_attr and getattr(obj, spec.branch_attr) else None
    partner = (
        db.session.get(Partner, getattr(obj, spec.partner_attr)) if spec.partner_attr and getattr(obj, spec.partner_attr) else None
    )
    return ([unit] if unit else []), ([partner] if partner else [])


# -- SQL scope ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeSpec:
    branch_attr: str | None
    partner_attr: str | None


_SCOPED: dict[type, ScopeSpec] = {}


def register_scoped(model: type, branch_attr: str | None = None, partner_attr: str | None = None) -> None:
    """Declare which columns place ``model`` rows in the org / partner trees (plugins may call this)."""
    _SCOPED[model] = ScopeSpec(branch_attr, partner_attr)


register_scoped(Customer, branch_attr="branch_id", partner_attr="partner_id")
register_scoped(SaleLine, branch_attr="branch_id", partner_attr="partner_id")
register_scoped(SalesReport, branch_attr="branch_id")


def _unit_ids_under(units: list[OrgUnit]):
    ranges = [and_(OrgUnit.path >= lo, OrgUnit.path < hi) for lo, hi in (subtree_bounds(u.path) for u in units)]
    return select(OrgUnit.id).where(or_(*ranges))


def _partner_ids_under(groups: list[int], partners: list[Partner]):
    conds = []
    if groups:
        conds.append(Partner.group_id.in_(groups))
    conds += [and_(Partner.path >= lo, Partner.path < hi) for lo, hi in (subtree_bounds(p.path) for p in partners)]
    return select(Partner.id).where(or_(*conds))


# More ids than this stay a subquery: a literal IN list that long stops being cheap to send/plan.
MAX_LITERAL_IDS = 1000


def _resolve_ids(units: list[OrgUnit], groups: list[int], partners: list[Partner]) -> tuple[list[int], list[int]] | None:
    """The ids of the org units and partners under the grants, in one small query (the trees
    are small; the customer table is not). ``None`` when there are too many to list."""
    parts = []
    if units:
        parts.append(_unit_ids_under(units).add_columns(literal("u")))
    if groups or partners:
        parts.append(_partner_ids_under(groups, partners).add_columns(literal("p")))
    rows = db.session.execute(union_all(*parts) if len(parts) > 1 else parts[0]).all()
    if len(rows) > MAX_LITERAL_IDS:
        return None
    return sorted(i for i, kind in rows if kind == "u"), sorted(i for i, kind in rows if kind == "p")


def scope_filter(user: Any, permission: str, model: type) -> ColumnElement[bool]:
    """SQL condition selecting the ``model`` rows ``user`` may ``permission``.

    For local roles, the (few) org unit and partner ids under the grants are resolved first and
    the condition names them literally, in the SQL text (``branch_id IN (5)``): PostgreSQL then
    plans with the real ids — an ordered walk of ``(branch_id, name)`` / ``(name, id)`` indexes with a cheap
    filter — instead of a semi-join against the tree on every row. Same rows as the subquery
    form, which is still used when the grants cover more than ``MAX_LITERAL_IDS`` nodes.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return false()
    if has_global_permission(user, permission):
        return true()
    spec = _SCOPED.get(model)
    if spec is None:
        raise LookupError(f"{model.__name__} has no scope declared (register_scoped)")
    grants = _grants(user, permission)
    units = [lr.org_unit for lr in grants if lr.org_unit is not None] if spec.branch_attr else []
    groups = [lr.partner_group_id for lr in grants if lr.partner_group_id is not None] if spec.partner_attr else []
    partners = [lr.partner for lr in grants if lr.partner is not None] if spec.partner_attr else []
    if not (units or groups or partners):
        return false()
    cache = identity_cache() if has_request_context() else None
    if cache is not None:
        key = (tuple(u.id for u in units), tuple(groups), tuple(p.id for p in partners))
        resolved = cache.scope(key, security_epoch(), lambda: _resolve_ids(units, groups, partners))
    else:
        resolved = _resolve_ids(units, groups, partners)
    conds = []
    if resolved is None:
        if units:
            conds.append(getattr(model, spec.branch_attr).in_(_unit_ids_under(units)))
        if groups or partners:
            conds.append(getattr(model, spec.partner_attr).in_(_partner_ids_under(groups, partners)))
    else:
        unit_ids, partner_ids = resolved
        if unit_ids:
            conds.append(getattr(model, spec.branch_attr).in_(_literal_ids(unit_ids)))
        if partner_ids:
            conds.append(getattr(model, spec.partner_attr).in_(_literal_ids(partner_ids)))
    return or_(*conds) if conds else false()


def _literal_ids(ids: list[int]) -> BindParameter:
    """Ids written into the SQL text, not bound: a prepared list statement is planned once and its
    plan reused (see ``portal.pagination.fixed``); with bound ids that generic plan would not know
    them, and would test ``= ANY(ARRAY[$1, …])`` per index entry (60 % slower on a distributor's
    deep page). Safe to inline: ints read from the org and partner tables, never user text."""
    return bindparam(None, [int(i) for i in ids], expanding=True, literal_execute=True, type_=Integer)


def unit_scope(user: Any, permission: str) -> ColumnElement[bool]:
    """Org units the user may see: their granted subtrees (plus ancestors are *not* included)."""
    if has_global_permission(user, permission):
        return true()
    units = [lr.org_unit for lr in _grants(user, permission) if lr.org_unit is not None]
    if not units:
        return false()
    return OrgUnit.id.in_(_unit_ids_under(units))


def partner_scope(user: Any, permission: str) -> ColumnElement[bool]:
    if has_global_permission(user, permission):
        return true()
    grants = _grants(user, permission)
    groups = [lr.partner_group_id for lr in grants if lr.partner_group_id is not None]
    partners = [lr.partner for lr in grants if lr.partner is not None]
    if not groups and not partners:
        return false()
    return Partner.id.in_(_partner_ids_under(groups, partners))


def _max_id(model: type) -> int:
    """The largest value the id column holds: bigger ids cannot exist, and sending one makes
    the driver fail (SQLite: OverflowError; PostgreSQL: "integer out of range") — a 500."""
    return 2**63 - 1 if isinstance(model.__table__.c.id.type, BigInteger) else 2**31 - 1


def not_found_message(model: type) -> str:
    return f"No {getattr(model, '__tablename__', 'object').replace('_', ' ')} with this id."


def id_or_404(model: type, ident: Any) -> int:
    """An id from a URL as ``model``'s id column can hold it, or 404 (never a driver error)."""
    if isinstance(ident, str):
        # Plain ASCII digits only: int() would also take " 12", "1_2" or non-ASCII digits.
        if not (ident.isascii() and ident.isdigit()):
            abort(404, description=not_found_message(model))
    try:
        ident = int(ident)
    except (TypeError, ValueError):
        abort(404, description=not_found_message(model))
    if not 0 < ident <= _max_id(model):
        abort(404, description=not_found_message(model))
    return ident


def get_scoped_or_404(model: type, ident: Any, user: Any, permission: str, *options: Any) -> Any:
    """Load one object through the scope filter: out of scope and missing look the same (404).
    ``options`` are loader options (e.g. ``load_only`` for a hot path that needs a few columns)."""
    ident = id_or_404(model, ident)
    obj = db.session.execute(select(model).where(model.id == ident, scope_filter(user, permission, model))
                             .options(*options)).scalar_one_or_none()
    if obj is None:
        abort(404, description=not_found_message(model))  # the same answer as a missing id: existence does not leak
    return obj
