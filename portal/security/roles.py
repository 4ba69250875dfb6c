"""Global roles and the core permissions with their default role map."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

SITE_ADMIN = "Site Administrator"
HQ_STAFF = "HQ Staff"
REVIEWER = "Reviewer"
GROUP_LEADER = "Group Leader"
DISTRIBUTOR = "Distributor"
BRANCH_STAFF = "Branch Staff"

ROLES: list[dict] = [
    {"name": SITE_ADMIN, "title": _l("Site Administrator"), "local": False},
    {"name": HQ_STAFF, "title": _l("HQ Staff"), "local": True},
    {"name": REVIEWER, "title": _l("Reviewer"), "local": False},
    {"name": GROUP_LEADER, "title": _l("Group Leader"), "local": True},
    {"name": DISTRIBUTOR, "title": _l("Distributor"), "local": True},
    {"name": BRANCH_STAFF, "title": _l("Branch Staff"), "local": True},
]

ALL_ROLES = [r["name"] for r in ROLES]
FIELD = [BRANCH_STAFF, GROUP_LEADER, DISTRIBUTOR]

CORE_PERMISSIONS: list[dict] = [
    {"name": "portal.view", "title": _l("Use the portal"), "roles": ALL_ROLES},
    {"name": "customer.view", "title": _l("View customers"), "roles": [SITE_ADMIN, HQ_STAFF, *FIELD]},
    {"name": "customer.edit", "title": _l("Create and edit customers"), "roles": [SITE_ADMIN, HQ_STAFF, *FIELD]},
    {"name": "customer.export", "title": _l("Export customers"), "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF, GROUP_LEADER]},
    {"name": "customer.flag", "title": _l("Set complaint and data-quality flags"), "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF]},
    {"name": "customer.privacy", "title": _l("Handle data-subject requests (export, erase)"), "roles": [SITE_ADMIN, HQ_STAFF]},
    {"name": "customer.merge", "title": _l("Merge duplicate customers"), "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF]},
    {"name": "sales.view", "title": _l("View sales"), "roles": [SITE_ADMIN, HQ_STAFF, *FIELD]},
    {"name": "sales.import", "title": _l("Import daily sales reports"), "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF]},
    {"name": "sales.export", "title": _l("Export sale lines"), "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF, GROUP_LEADER]},
    {"name": "analytics.view", "title": _l("View customer analytics (RFM, lifetime value)"), "roles": [SITE_ADMIN, HQ_STAFF, *FIELD]},
    {"name": "segment.manage", "title": _l("Build and save customer segments"), "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF, GROUP_LEADER]},
    {"name": "extraction.create", "title": _l("Extract and export target lists"), "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF, GROUP_LEADER]},
    {"name": "analytics.refresh", "title": _l("Recompute customer scores"), "roles": [SITE_ADMIN, HQ_STAFF]},
    {"name": "org.view", "title": _l("View organisation"), "roles": [SITE_ADMIN, HQ_STAFF, REVIEWER, BRANCH_STAFF, GROUP_LEADER, DISTRIBUTOR]},
    {"name": "org.manage", "title": _l("Manage organisation"), "roles": [SITE_ADMIN, HQ_STAFF]},
    {"name": "users.manage", "title": _l("Manage users and roles"), "roles": [SITE_ADMIN]},
    {"name": "audit.view", "title": _l("View audit and access logs"), "roles": [SITE_ADMIN]},
    {"name": "addons.manage", "title": _l("Manage add-ons"), "roles": [SITE_ADMIN]},
    {"name": "content.review", "title": _l("Review content"), "roles": [SITE_ADMIN, REVIEWER]},
]


def all_roles() -> list[dict]:
    """Core roles plus those active plugins add through ``portal_roles``."""
    from ..plugins import collect

    seen: dict[str, dict] = {}
    for role in collect("portal_roles"):
        seen.setdefault(role["name"], role)
    return list(seen.values())


def role_names() -> list[str]:
    return [r["name"] for r in all_roles()]
