"""The add-on's permissions (``portal_permissions``). HQ Staff hold them globally or locally on a
region (a local grant on R01 covers R01's branches only); Branch Staff hold ``bm.scorecard`` and
``bm.compliance`` on their branch, so they see their own scorecard and filing record and, of other
branches, only anonymous distributions (percentile bands)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import BRANCH_STAFF, HQ_STAFF, SITE_ADMIN

MONITOR = "bm.monitor"  # the HQ monitor: branches in scope by name, funnel plots, drill-down
SCORECARD = "bm.scorecard"  # a branch's scorecard (own branch for Branch Staff)
COMPLIANCE = "bm.compliance"  # daily-report filing record
MANAGE = "bm.manage"  # opening calendars, deadline and thresholds
ACK = "bm.ack"  # acknowledge alerts, subscribe to them
EXPORT = "bm.export"  # logged exports of the monitor


def permissions() -> list[dict[str, Any]]:
    hq = [SITE_ADMIN, HQ_STAFF]
    return [
        {"name": MONITOR, "title": _l("See the branch monitor of the branches in one's scope"), "roles": hq},
        {"name": SCORECARD, "title": _l("See a branch's scorecard (one's own branch for branch staff)"),
         "roles": [*hq, BRANCH_STAFF]},
        {"name": COMPLIANCE, "title": _l("See daily-report filing compliance"), "roles": [*hq, BRANCH_STAFF]},
        {"name": MANAGE, "title": _l("Edit branch opening calendars and monitoring settings"), "roles": hq},
        {"name": ACK, "title": _l("Acknowledge branch alerts and subscribe to them"), "roles": hq},
        {"name": EXPORT, "title": _l("Export the branch monitor"), "roles": hq},
    ]
