"""Reminders of missing daily reports: a branch whose report for an expected day D is still missing
once its deadline passed is reminded (``bm.report_reminder``, its Branch Staff, the job's run at
D+1 10:30 KST); a day still missing a day later is escalated (``bm.report_escalation``) to the
HQ Staff granted locally on the branch's region — or, when the region has none, to the global HQ
Staff.

Safe to run at any time and again: each (branch, day, level) has the dedupe key
``bm.reminder:<code>:<day>:<level>``, so a second run sends nothing new. Closed days expect no
report and get no reminder. One pass reads the calendars, the filings and the regions' local HQ
grants in a few set-based queries; only ``notify`` is called per branch.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal.toolkit import BRANCH_STAFF, HQ_STAFF, LocalRole, OrgUnit, User, db, notify, role_in_scope, utcnow

from ..calendar.service import expected_days
from ..models import MISSING, MonRun
from ..months import month_label
from .service import _kst, day_statuses, deadline_rule

REMINDER, ESCALATION = "reminder", "escalation"
KIND = {REMINDER: "bm.report_reminder", ESCALATION: "bm.report_escalation"}
#: A missed run is caught up for this long after a level falls due (then the day is left alone).
CATCH_UP = timedelta(days=1)


def dedupe_key(code: str, day: Any, level: str) -> str:
    return f"bm.reminder:{code}:{day.isoformat()}:{level}"


def _region_hq(region_ids: set[int]) -> dict[int, list[int]]:
    """Active users holding HQ Staff locally on each region, in one query."""
    if not region_ids:
        return {}
    rows = db.session.execute(
        select(LocalRole.org_unit_id, LocalRole.user_id).join(User, User.id == LocalRole.user_id)
        .where(LocalRole.role == HQ_STAFF, LocalRole.org_unit_id.in_(region_ids), User.active.is_(True))).all()
    out: dict[int, list[int]] = {}
    for region_id, user_id in rows:
        out.setdefault(region_id, []).append(user_id)
    return out


def run_reminders(now: datetime | None = None) -> dict[str, int]:
    """One pass at ``now`` (default: the current Korean time): remind and escalate the days whose
    level fell due within the last day; returns ``{"reminders", "escalations", "notifications"}``.
    Commits."""
    moment = _kst(now)
    rule = deadline_rule()
    started = utcnow()
    # D's reminder falls due at deadline(D), its escalation a day later; look back far enough for both.
    first = moment.date() - timedelta(days=rule.days + 3)
    last = moment.date()
    branches = select(OrgUnit.id).where(OrgUnit.kind == "branch", OrgUnit.active.is_(True))
    expected = expected_days(branches, first, last)
    due: list[tuple[int, Any, str]] = []
    for s in day_statuses(list(expected), first, last, moment, expected=expected):
        if s.status != MISSING:
            continue
        deadline = rule.of(s.day)
        if deadline < moment <= deadline + CATCH_UP:
            due.append((s.branch_id, s.day, REMINDER))
        if deadline + timedelta(days=1) < moment <= deadline + timedelta(days=1) + CATCH_UP:
            due.append((s.branch_id, s.day, ESCALATION))
    counts = {"reminders": 0, "escalations": 0, "notifications": 0}
    if due:
        units = {u.id: u for u in db.session.execute(
            select(OrgUnit).where(OrgUnit.id.in_({b for b, _d, _l in due}))).scalars()}
        local_hq = _region_hq({u.parent_id for u in units.values() if u.parent_id is not None})
        with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or "ko"):  # the portal's language
            for branch_id, day, level in due:
                unit = units[branch_id]
                url = f"/monitor/compliance/?month={month_label(day)}&q={unit.code}"
                if level == REMINDER:
                    recipients: Any = role_in_scope(BRANCH_STAFF, branch_id)
                    text = _("The daily sales report of %(branch)s for %(day)s has not been filed; it was due "
                             "%(due)s.", branch=f"{unit.code} {unit.name}", day=day.isoformat(),
                             due=rule.of(day).strftime("%Y-%m-%d %H:%M"))
                else:
                    recipients = local_hq.get(unit.parent_id or -1) or role_in_scope(HQ_STAFF)
                    text = _("%(branch)s has still not filed its daily sales report for %(day)s (due %(due)s).",
                             branch=f"{unit.code} {unit.name}", day=day.isoformat(),
                             due=rule.of(day).strftime("%Y-%m-%d %H:%M"))
                sent = notify(recipients, KIND[level], unit, text, url=url,
                              dedupe_key=dedupe_key(unit.code, day, level))
                if sent:
                    counts["reminders" if level == REMINDER else "escalations"] += 1
                    counts["notifications"] += sent
    db.session.add(MonRun(kind="reminders", status="done", started_at=started, finished_at=utcnow(),
                          rows=counts["notifications"], detail={**counts, "at": moment.isoformat()}))
    db.session.commit()
    return counts
