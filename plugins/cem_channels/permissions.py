"""The add-on's permissions (``portal_permissions``). Branch staff and group leaders hold them as
local roles, so what they see and send stays inside their branch or group (scope filters)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import BRANCH_STAFF, GROUP_LEADER, HQ_STAFF, REVIEWER, SITE_ADMIN

VIEW, COMPOSE, APPROVE, MANAGE, CALL = "cem.view", "cem.compose", "cem.approve", "cem.manage", "cem.call"


def permissions() -> list[dict[str, Any]]:
    return [
        {"name": VIEW, "title": _l("View campaigns and their results"),
         "roles": [SITE_ADMIN, HQ_STAFF, REVIEWER, BRANCH_STAFF, GROUP_LEADER]},
        {"name": COMPOSE, "title": _l("Compose campaigns and message sets"),
         "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF, GROUP_LEADER]},
        {"name": APPROVE, "title": _l("Approve campaigns (four-eyes)"), "roles": [SITE_ADMIN, HQ_STAFF, REVIEWER]},
        {"name": MANAGE, "title": _l("Manage channels: banned terms, caller numbers, KakaoTalk templates, opt-outs"),
         "roles": [SITE_ADMIN, HQ_STAFF]},
        {"name": CALL, "title": _l("Work call lists and record call outcomes"),
         "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF]},
    ]
