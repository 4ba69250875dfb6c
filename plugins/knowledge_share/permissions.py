"""The add-on's permissions (``portal_permissions``). Reviewing uses the core's ``content.review``
(Site Administrator, Reviewer); branch staff and group leaders write and submit, never publish.
Local roles place a writer: a branch staff member writes for their branch, a leader for their group."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import BRANCH_STAFF, DISTRIBUTOR, GROUP_LEADER, HQ_STAFF, REVIEWER, SITE_ADMIN

VIEW, WRITE, SEE_ALL = "ks.view", "ks.write", "ks.see_all"
REVIEW = "content.review"  # the core's: publish, reject, archive
SESSIONS, MODERATE, REUSE = "ks.sessions", "ks.moderate", "ks.reuse"
ALL_ROLES = [SITE_ADMIN, HQ_STAFF, REVIEWER, GROUP_LEADER, DISTRIBUTOR, BRANCH_STAFF]


def permissions() -> list[dict[str, Any]]:
    return [
        {"name": VIEW, "title": _l("Read published success stories visible to one's unit"), "roles": ALL_ROLES},
        {"name": WRITE, "title": _l("Write success stories and submit them for review"),
         "roles": [SITE_ADMIN, HQ_STAFF, GROUP_LEADER, BRANCH_STAFF]},
        {"name": SEE_ALL, "title": _l("See every success story, whatever its visibility"),
         "roles": [SITE_ADMIN, HQ_STAFF, REVIEWER]},
        {"name": SESSIONS, "title": _l("Organise knowledge-sharing sessions and their action items"),
         "roles": [SITE_ADMIN, HQ_STAFF]},
        {"name": MODERATE, "title": _l("Hide comments on success stories"), "roles": [SITE_ADMIN, REVIEWER]},
        {"name": REUSE, "title": _l("Reuse a story's campaign in one's own unit"),
         "roles": [SITE_ADMIN, HQ_STAFF, GROUP_LEADER, BRANCH_STAFF]},
    ]
