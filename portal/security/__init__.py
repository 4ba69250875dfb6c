"""Roles, permissions, local roles and scope queries (see docs/security.md)."""

from .decorators import permission_required
from .permissions import (
    get_scoped_or_404,
    has_global_permission,
    has_permission,
    id_or_404,
    not_found_message,
    partner_scope,
    register_scoped,
    role_map,
    scope_filter,
    unit_scope,
)
from .roles import ALL_ROLES, BRANCH_STAFF, DISTRIBUTOR, GROUP_LEADER, HQ_STAFF, REVIEWER, ROLES, SITE_ADMIN

__all__ = [
    "ALL_ROLES", "BRANCH_STAFF", "DISTRIBUTOR", "GROUP_LEADER", "HQ_STAFF", "REVIEWER", "ROLES", "SITE_ADMIN",
    "get_scoped_or_404", "has_global_permission", "has_permission", "id_or_404", "not_found_message", "partner_scope", "permission_required",
    "register_scoped", "role_map", "scope_filter", "unit_scope",
]
