"""Dashboard boxes of the monitor: HQ sees the branches of its scope now in alarm or alert (worst
first, with links); Branch Staff see their own branch's care index and report filing this month.
A few small set-based queries; a box with nothing to say is left out."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import has_permission

from ..access import names_visible
from ..models import ALARM, ALERT
from ..months import kst_now, month_label, month_start, prev_month
from ..permissions import MONITOR, SCORECARD

ORDER = 45
LIMIT = 5


def portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    if manager != "dashboard" or not getattr(user, "is_authenticated", False):
        return []
    from . import scorecard as sc

    now = kst_now()
    month = month_start(now.date())
    if has_permission(user, MONITOR) and names_visible(user):
        flagged = [sc.monitor_rows(user, month, state=state, per_page=LIMIT, trends=(), now=now) for state in (ALARM, ALERT)]
        if not any(p.total for p in flagged):
            return []
        items = [{"code": r.code, "name": r.name, "state": r.state, "open_alerts": r.open_alerts}
                 for p in flagged for r in p.items][:LIMIT]
        return [{"title": _l("Branches in alarm or alert"), "template": "branch_monitor/monitor/portlet_hq.html",
                 "order": ORDER, "permission": MONITOR,
                 "context": {"alarm": flagged[0].total, "alert": flagged[1].total, "items": items,
                             "month": month_label(month)}}]
    if has_permission(user, SCORECARD):
        own = sc.own_branches(user)
        if not own:
            return []
        rows = [sc.BranchRow(branch_id=b.id, code=b.code, name=b.name, region_code=None, region_name=None,
                             state=sc.NONE) for b in own[:LIMIT]]
        sc.fill(rows, month, now=now, trends=())
        last = prev_month(month)  # early in a month its index is not computed yet: show last month's
        before = sc.kpi_values([r.branch_id for r in rows], [last], ["care_index"])
        items = []
        for r in rows:
            ci = r.kpis.get("care_index")
            value, shown_month = (ci.value if ci is not None else None), month
            if value is None and "care_index" in before.get(r.branch_id, {}).get(last, {}):
                value, shown_month = before[r.branch_id][last]["care_index"].value, last
            comp = r.compliance or {}
            items.append({"code": r.code, "name": r.name, "care_index": None if value is None else f"{value:.1f}",
                          "care_month": month_label(shown_month), "expected": comp.get("expected"),
                          "on_time": comp.get("on_time"), "late": comp.get("late"), "missing": comp.get("missing"),
                          "filed_rate": None if comp.get("filed_rate") is None else f"{comp['filed_rate'] * 100:.1f} %",
                          "open_alerts": r.open_alerts})
        return [{"title": _l("My branch this month"), "template": "branch_monitor/monitor/portlet_branch.html",
                 "order": ORDER, "permission": SCORECARD, "context": {"items": items, "month": month_label(month)}}]
    return []
