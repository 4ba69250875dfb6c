"""Demo data (``portal_seed("demo")``): what ``make run`` shows on the monitor from the first visit.

The demo's month is the last complete Korean month before the demo's "today" (the day after its
last sales day). In it:

- **Compliance** — most reports are on time (the loader files each day's report that night), some
  branches filed a few reports after the deadline (``LATE``: moved past D+1 10:00 KST with the
  core's ``demo_backdate_report``), and the days a branch sold nothing have no report: missing.
- **Calendars** — 분당점 (B002) opens on public holidays except the Seollal and Chuseok days
  (``major_closed``), and HQ closed it for one day of the month (an override with a note).
- **At-risk contact rate** — every branch's staff logged calls to most of their ``at_risk`` and
  ``cannot_lose`` customers during the month (``record_contacts``), except 일산점 (B003), which
  called almost none: on the funnel plot it falls below the 99.8 % limit, an **alarm** with an
  unacknowledged alert.

hq@ subscribes to every branch's alerts. Then the add-on's own services run as the nightly jobs
would: calendars, the aggregates, the KPIs of the last months, the alert evaluation of the demo's
last sales day (hq@ finds the alarm in its notifications). Everything goes through
services (the core's and the add-on's); nothing here writes a core table with its own SQL.
Idempotent: a second run finds the calls, the calendar and the late filings as they are and the
evaluation sees no state change, so it adds nothing. knowledge_share's seed (installed before this
add-on) leaves one action item overdue for 강남점, which its care index shows.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from portal.toolkit import (
    Contact,
    Customer,
    OrgUnit,
    SalesReport,
    User,
    db,
    demo_backdate_report,
    record_contacts,
    segment_query,
)

from .models import DEFAULT_OPEN_WEEKDAYS, HOLIDAYS_MAJOR_CLOSED, MonBranch, MonCalendarOverride
from .months import KST, kst_to_utc_naive, kst_today, month_end, month_start, prev_month

#: The branch that calls almost none of its at-risk customers (the funnel plot's alarm) — when it
#: has ``ALARM_MIN`` of them; in a smaller data set (the tests' 400 customers) the branch with the
#: most, so that a 0 % rate is still outside the 99.8 % limit.
ALARM_BRANCH, ALARM_MIN = "B003", 8
#: The branch open on public holidays except Seollal and Chuseok, with one HQ override.
HOLIDAY_BRANCH = "B002"
#: Reports filed after the deadline in the demo month: branch → how many (its first open days).
LATE = {"B001": 2, "B003": 1, "B004": 3, "B006": 1, "B009": 2, "B011": 1}
AT_RISK = ["at_risk", "cannot_lose"]
#: Of the other branches' at-risk customers, every ``SKIP_EVERY``-th is not called (about 83 % are);
#: of the alarm branch's, only every ``ALARM_CALL_EVERY``-th is.
SKIP_EVERY, ALARM_CALL_EVERY = 6, 10
CONTACT_REF = "branch_monitor:demo"  # marks the demo's calls: a second run finds them
OUTCOMES = ("answered", "answered", "left_message", "visited", "no_answer")
CALL_NOTE = "이탈 위험 고객 안부 전화 (재방문 안내)"
OVERRIDE_NOTE = "매장 내부 공사로 휴무 (본사 승인)"
STAFF = {"B001": "store1@example.com", "B002": "store2@example.com"}


def seed(profile: str, *, strict: bool = False) -> dict[str, Any] | None:
    """Fill the demo (``profile == "demo"``); returns what each step did. ``strict`` (tests) lets a
    failing step raise; otherwise it is logged and the next step runs (a demo never stops the
    loader)."""
    if profile != "demo":
        return None
    hq = _user("hq@example.com")
    if hq is None:
        return None  # a demo without its accounts
    db.session.commit()  # the install so far stays, whatever a step below does
    today = demo_today()
    month = prev_month(month_start(today))
    done: dict[str, Any] = {"month": month.isoformat()}
    from .aggregates.service import rebuild
    from .alerts.service import evaluate
    from .calendar.service import ensure_branches
    from .kpis.service import compute_month

    steps: list[tuple[str, Any]] = [
        ("branches", ensure_branches),
        ("calendar", lambda: _calendar(hq, month)),
        ("late", lambda: _late_reports(month)),
        ("calls", lambda: _calls(hq, month)),
        ("aggregates", rebuild),
        ("kpis", lambda: {m.isoformat(): compute_month(m) for m in _kpi_months(month, today)}),
        ("subscription", lambda: _subscribe(hq)),
        ("alerts", lambda: evaluate(today - timedelta(days=1))),
    ]
    for name, step in steps:
        try:
            done[name] = step()
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - the demo goes on; the log says which step failed
            db.session.rollback()
            if strict:
                raise
            current_app.logger.warning("branch_monitor demo, step %s: %s", name, exc)
            done[name] = None
    return done


def demo_today() -> date:
    """The demo's "today": the day after its last sales day (Korean time when there are no sales)."""
    last = db.session.execute(select(func.max(SalesReport.report_date))).scalar_one_or_none()
    return last + timedelta(days=1) if last else kst_today()


def _user(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def _branches() -> dict[str, OrgUnit]:
    return {u.code: u for u in db.session.execute(select(OrgUnit).where(OrgUnit.kind == "branch")).scalars()}


def _subscribe(hq: User) -> bool:
    """hq@ follows every branch it may see (immediate and weekly digest), so the evaluation below
    leaves the alarm in its inbox; True when the subscription is new."""
    from .alerts.service import subscribe

    return subscribe(hq, {"org_unit": None, "metric": None, "immediate": True, "digest": True})[1]


def _kpi_months(month: date, today: date) -> list[date]:
    """The demo month, the two before it (trends, RFM movement) and the month of "today"."""
    return [prev_month(prev_month(month)), prev_month(month), month, month_start(today)]


def _calendar(hq: User, month: date) -> dict[str, Any]:
    """B002: open on public holidays except Seollal/Chuseok, and closed by HQ on one day of the
    month it filed nothing (the first such open weekday; else the month's last Saturday)."""
    from .calendar.service import set_override, set_pattern

    branch = _branches().get(HOLIDAY_BRANCH)
    if branch is None:
        return {}
    row = db.session.get(MonBranch, branch.id)
    if row is None or row.holiday_policy != HOLIDAYS_MAJOR_CLOSED:
        set_pattern(hq, branch, DEFAULT_OPEN_WEEKDAYS, HOLIDAYS_MAJOR_CLOSED)
    existing = db.session.execute(select(MonCalendarOverride.day).where(
        MonCalendarOverride.branch_id == branch.id, MonCalendarOverride.day.between(month, month_end(month)))).first()
    if existing is not None:
        return {"override": existing[0].isoformat()}
    filed = set(db.session.execute(select(SalesReport.report_date).where(
        SalesReport.branch_id == branch.id, SalesReport.report_date.between(month, month_end(month)))).scalars())
    days = [month + timedelta(days=i) for i in range((month_end(month) - month).days + 1)]
    day = next((d for d in days if d.weekday() < 5 and d not in filed),
               max(d for d in days if d.weekday() == 5))
    set_override(hq, branch, day, False, OVERRIDE_NOTE)
    return {"override": day.isoformat()}


def _late_reports(month: date) -> int:
    """The first open-day reports of the ``LATE`` branches in ``month`` filed after the deadline:
    alternately the next afternoon and the morning after that (KST). Deterministic, so a second
    run moves them to the same times."""
    from .calendar.service import expected_days

    branches = _branches()
    ids = {branches[c].id: c for c in LATE if c in branches}
    if not ids:
        return 0
    open_days = expected_days(list(ids), month, month_end(month))
    reports = db.session.execute(
        select(SalesReport.id, SalesReport.branch_id, SalesReport.report_date)
        .where(SalesReport.branch_id.in_(list(ids)), SalesReport.report_date.between(month, month_end(month)),
               SalesReport.status == "committed", SalesReport.replaces_id.is_(None))
        .order_by(SalesReport.branch_id, SalesReport.report_date)).all()
    moved: dict[int, int] = {}
    for report_id, branch_id, day in reports:
        if day not in open_days.get(branch_id, set()) or moved.get(branch_id, 0) >= LATE[ids[branch_id]]:
            continue
        n = moved[branch_id] = moved.get(branch_id, 0) + 1
        filed = datetime.combine(day + timedelta(days=1), time(14, 20)) if n % 2 else \
            datetime.combine(day + timedelta(days=2), time(9, 5))
        demo_backdate_report(report_id, kst_to_utc_naive(filed.replace(tzinfo=KST)))
    return sum(moved.values())


def alarm_branch(customers: list[Any], codes: dict[int, str]) -> str | None:
    """``ALARM_BRANCH`` if it has ``ALARM_MIN`` at-risk customers, else the branch with the most
    (the lowest code on a tie). ``customers``: (customer id, branch id) rows."""
    counts: dict[str, int] = {}
    for _customer_id, branch_id in customers:
        if branch_id in codes:
            counts[codes[branch_id]] = counts.get(codes[branch_id], 0) + 1
    if counts.get(ALARM_BRANCH, 0) >= ALARM_MIN or not counts:
        return ALARM_BRANCH
    return min(counts, key=lambda code: (-counts[code], code))


def _calls(hq: User, month: date) -> dict[str, Any]:
    """Branch staff call their at-risk and cannot-lose customers during ``month`` (logged with
    ``record_contacts``); the alarm branch calls almost none of them. Skipped when done before."""
    if db.session.execute(select(Contact.id).where(Contact.ref == CONTACT_REF).limit(1)).first() is not None:
        return {"calls": 0}
    codes = {u.id: u.code for u in _branches().values()}
    staff = {code: _user(email) for code, email in STAFF.items()}
    seg = segment_query(hq, {"field": "rfm_segment", "op": "in", "value": AT_RISK})
    customers = db.session.execute(seg.select(Customer.id, Customer.branch_id)
                                   .where(Customer.branch_id.is_not(None)).order_by(Customer.id)).all()
    alarm = alarm_branch(customers, codes)
    span = max((month_end(month) - month).days - 4, 1)
    seen: dict[int, int] = {}
    rows: list[dict[str, Any]] = []
    for customer_id, branch_id in customers:
        i = seen[branch_id] = seen.get(branch_id, 0) + 1
        code = codes.get(branch_id)
        call = (i % ALARM_CALL_EVERY == 0) if code == alarm else (i % SKIP_EVERY != 0)
        if not call:
            continue
        day = month + timedelta(days=2 + (customer_id * 7) % span)
        at = datetime.combine(day, time(11 + customer_id % 7, (customer_id * 13) % 60), tzinfo=KST)
        actor = staff.get(code or "") or hq
        rows.append({"customer_id": customer_id, "channel": "phone", "purpose": "marketing", "source": "staff",
                     "at": at, "actor_id": actor.id, "ref": CONTACT_REF,
                     "outcome": OUTCOMES[customer_id % len(OUTCOMES)], "note": CALL_NOTE})
    return {"calls": record_contacts(rows), "alarm_branch": alarm}
