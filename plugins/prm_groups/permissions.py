"""The add-on's permissions (``portal_permissions``). Group leaders hold theirs through the local
role Group Leader on their group, so what they see and approve stays inside that group."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import BRANCH_STAFF, DISTRIBUTOR, GROUP_LEADER, HQ_STAFF, SITE_ADMIN

VIEW, MANAGE, APPROVE = "prm.view", "prm.manage", "prm.approve"
CHECKIN, INVITATIONS = "prm.checkin", "prm.invitations"


def permissions() -> list[dict[str, Any]]:
    return [
        {"name": VIEW, "title": _l("View group support programmes and their results"),
         "roles": [SITE_ADMIN, HQ_STAFF, GROUP_LEADER]},
        {"name": MANAGE, "title": _l("Create and run group support programmes, see the weak-category radar"),
         "roles": [SITE_ADMIN, HQ_STAFF]},
        {"name": APPROVE, "title": _l("Approve messages written in the group leader's voice"),
         "roles": [GROUP_LEADER]},
        {"name": CHECKIN, "title": _l("Check seminar attendees in and mark attendance"),
         "roles": [SITE_ADMIN, HQ_STAFF, GROUP_LEADER, BRANCH_STAFF]},
        {"name": INVITATIONS, "title": _l("See the seminar invitations of one's own customers"),
         "roles": [SITE_ADMIN, HQ_STAFF, GROUP_LEADER, DISTRIBUTOR]},
    ]
