"""Branch states and alerts: evaluate every branch's metrics, write ``mon_alert`` only on a state
change (ok → alert → alarm, and recovery), tell subscribers, acknowledge with a note.

Semantics (metabase's bugs must not happen here):

* **state, not threshold crossings, is remembered** (``mon_state``): a branch that stays in alarm
  is told once; one that recovers and relapses is told again (an alert never "disables itself",
  metabase#6647). A value exactly on a limit is inside it (metabase#10899): see ``comparison``.
* a change is a change of severity (ok 0, alert 1, alarm 2). ``insufficient`` (no denominator, too
  little history) is stored but never alerts: no judgement is not a recovery, and ok ↔
  insufficient is silent; after it, a state is judged against the last judged state (the latest
  alert), so a recovery behind a day without judgement is still recorded and told, and the same
  alarm again is not told twice. A closed day leaves the baseline state as it was.
* **who is told**: the users with a subscription (``mon_subscription``, ``immediate``) whose
  scope (org unit: the branch, its region or HQ; NULL = everything) and metric cover the change,
  cut again by ``access.branches_in_scope`` — a subscriber who cannot see the branch gets nothing.
  Nobody is told by default: with 1,000 branches a default fan-out to every region's HQ staff
  would be noise; the alerts page (and the monitor's badges) show every change to whoever may see
  the branch, and HQ staff subscribe to what they own. One notification per subscriber and
  evaluation listing their changes (dedupe key ``bm.alert:<user>:<day>:<first alert id>``).
* **weekly digest** (Monday 08:00 KST): one ``bm.digest`` per subscriber with ``digest``, their
  scope only — the past ISO week's changes and the alerts still open; dedupe key
  ``bm.digest:<user>:<ISO year>-W<week>``.

An alert is *open* until acknowledged; recoveries (to ``ok``) are recorded but need no
acknowledgement (they are never "open").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, false, func, insert, or_, select, text, update

from portal.toolkit import OrgUnit, User, audit, db, dialect_insert, is_postgres, notify, storable, utcnow

from ..access import branches_in_scope
from ..errors import MonitorError
from ..models import (
    ALARM,
    ALERT,
    INSUFFICIENT,
    OK,
    SEVERITY,
    MonAlert,
    MonKpi,
    MonRun,
    MonState,
    MonSubscription,
)
from ..months import kst_now, kst_today, month_start, to_kst
from ..permissions import ACK, MONITOR

log = logging.getLogger(__name__)

BASELINE_METRIC = "sales_baseline"
#: PostgreSQL advisory lock key of the evaluation (issue 18, area D).
EVALUATE_LOCK = 18_0004
#: PostgreSQL advisory lock (with the user's id) of one user's subscriptions: a double click is
#: one subscription (the unique index cannot tell two NULL units or metrics apart).
SUBSCRIBE_LOCK = 18_0005
NOTE_MAX = 500
ALERTS_PATH = "/monitor/alerts"
#: How many changes one notification lists before "and N more".
LIST_MAX = 20
OPEN_LEVELS = (ALERT, ALARM)
STATE_LABELS = {OK: _l("ok"), ALERT: _l("alert"), ALARM: _l("alarm"), INSUFFICIENT: _l("insufficient data")}


def alert_metrics() -> dict[str, dict[str, Any]]:
    """The metrics alerts judge: the catalogue's funnel metrics and the own sales baseline,
    ``{metric: {"label", "better", "kind": "funnel"|"baseline"}}``."""
    from ..comparison.funnel import funnel_metrics

    out = {k: {"label": v["label"], "better": v.get("better"), "kind": "funnel"} for k, v in funnel_metrics().items()}
    out[BASELINE_METRIC] = {"label": _l("Sales against own baseline"), "better": "high", "kind": "baseline"}
    return out


def metric_label(metric: str) -> str:
    spec = alert_metrics().get(metric)
    return str(spec["label"]) if spec else metric


def state_label(state: str) -> str:
    return str(STATE_LABELS.get(state, state))


# --- evaluation ---------------------------------------------------------------------------------


def _judge_funnels(day: date, ids: Select) -> dict[tuple[int, str], tuple[str, float | None, dict[str, Any]]]:
    """(branch, metric) → (state, rate, detail) for every funnel metric, month-to-date of ``day``
    (one vectorised classification per metric)."""
    from ..comparison.funnel import classify_many, company_rates, funnel_metrics

    metrics = funnel_metrics()
    if not metrics:
        return {}
    month = month_start(day)
    p0s = company_rates(list(metrics), month)
    rows = {(b, m): (num, den) for b, m, num, den in db.session.execute(
        select(MonKpi.branch_id, MonKpi.metric, MonKpi.numerator, MonKpi.denominator)
        .where(MonKpi.month == month, MonKpi.metric.in_(list(metrics)), MonKpi.branch_id.in_(ids)))}
    branches = list(db.session.scalars(ids))
    out: dict[tuple[int, str], tuple[str, float | None, dict[str, Any]]] = {}
    for metric, spec in metrics.items():
        p0 = p0s.get(metric)
        pairs = [rows.get((b, metric), (None, None)) for b in branches]
        xs, ns = [float(num or 0) for num, _ in pairs], [int(den or 0) for _, den in pairs]
        states, lims = classify_many(xs, ns, p0, spec.get("better"))
        for b, x, n, state, lim in zip(branches, xs, ns, states, lims, strict=True):
            detail: dict[str, Any] = {"month": month.isoformat(), "numerator": x, "denominator": n,
                                      "company_rate": p0}
            if lim is not None and state != INSUFFICIENT:
                detail.update(lo95=lim.lo95, hi95=lim.hi95, lo998=lim.lo998, hi998=lim.hi998)
            out[(b, metric)] = (state, x / n if n else None, detail)
    return out


def _judge_baselines(day: date, ids: Select) -> dict[tuple[int, str], tuple[str, float | None, dict[str, Any]]]:
    from ..comparison.baseline import CLOSED, baselines

    return {(b, BASELINE_METRIC): (bl.status, bl.value, bl.detail())
            for b, bl in baselines(day, ids).items() if bl.status != CLOSED}


def _active_branches() -> Select:
    return select(OrgUnit.id).where(OrgUnit.kind == "branch", OrgUnit.active.is_(True))


def evaluate(day: date | None = None, *, notify_subscribers: bool = True) -> dict[str, int]:
    """Judge every branch on ``day`` (default: yesterday, KST); returns counts of changes.

    Set-based: the KPI rows of the month, the baseline of every branch and the current states are
    read in a handful of queries; states are upserted in batches; alerts are written only for
    changes; subscribers get one notification each. Idempotent: a second run for the same day
    finds the states already there and changes nothing. Commits (recorded as a ``mon_run``)."""
    day = day or kst_today() - timedelta(days=1)
    if is_postgres():  # a manual run and the job at once would both see the old states: one waits
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVALUATE_LOCK})
    run = MonRun(kind="evaluate", detail={"day": day.isoformat()})
    db.session.add(run)
    db.session.flush()
    try:
        ids = _active_branches()
        judged = {**_judge_funnels(day, ids), **_judge_baselines(day, ids)}
        current = {(b, m): (st, since) for b, m, st, since in db.session.execute(
            select(MonState.branch_id, MonState.metric, MonState.state, MonState.since)
            .where(MonState.metric.in_(list(alert_metrics()))))}
        now = utcnow()
        rows: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        # a spell of insufficient data is transparent: after it, a state is judged against the last judged
        # state — a recovery behind it is still told, the same alarm again is not
        before = _last_judged({k for k, (st, _since) in current.items() if st == INSUFFICIENT})
        for (b, metric), (state, value, detail) in judged.items():
            old_state, old_since = current.get((b, metric), (None, None))
            since = old_since if old_state == state and old_since is not None else day
            rows.append({"branch_id": b, "metric": metric, "state": state, "since": since, "evaluated_on": day,
                         "value": value, "detail": detail, "updated_at": now})
            judged_from = old_state or OK
            if old_state == INSUFFICIENT:  # judged against the last judged state, both ways
                judged_from = before.get((b, metric), OK)
            if state != INSUFFICIENT and SEVERITY[state] != SEVERITY[judged_from]:
                changes.append({"branch_id": b, "metric": metric, "day": day, "from_state": judged_from,
                                "to_state": state, "value": value, "detail": detail, "created_at": now})
        _upsert_states(rows)
        alerts = _insert_alerts(changes)
        told = _tell(alerts, day) if notify_subscribers and alerts else 0
        run.status, run.finished_at, run.rows = "done", utcnow(), len(rows)
        run.detail = {"day": day.isoformat(), "states": len(rows), "changes": len(alerts), "notified": told}
        db.session.commit()
    except Exception:
        db.session.rollback()
        db.session.add(MonRun(kind="evaluate", status="failed", finished_at=utcnow(),
                              detail={"day": day.isoformat()}, message="evaluation failed (see the log)"))
        db.session.commit()
        raise
    worse = sum(1 for a in alerts if SEVERITY[a.to_state] > SEVERITY[a.from_state])
    return {"states": len(rows), "changes": len(alerts), "worse": worse, "recovered": len(alerts) - worse,
            "notified": told}


def _last_judged(keys: set[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """The state each (branch, metric) in ``keys`` was last judged in — its latest alert's
    ``to_state`` (absent: never judged out of ok). One query."""
    if not keys:
        return {}
    latest = (select(func.max(MonAlert.id).label("id"))
              .where(MonAlert.branch_id.in_({b for b, _m in keys}), MonAlert.metric.in_({m for _b, m in keys}))
              .group_by(MonAlert.branch_id, MonAlert.metric).subquery())
    rows = db.session.execute(select(MonAlert.branch_id, MonAlert.metric, MonAlert.to_state)
                              .where(MonAlert.id.in_(select(latest.c.id))))
    return {(b, m): s for b, m, s in rows if (b, m) in keys}


@dataclass(frozen=True)
class Change:
    """One ``mon_alert`` row just written (what the notification lists)."""

    id: int
    branch_id: int
    metric: str
    from_state: str
    to_state: str


def _insert_alerts(changes: list[dict[str, Any]]) -> list[Change]:
    """The changes as ``mon_alert`` rows in one executemany, with their new ids (in order)."""
    if not changes:
        return []
    ids = db.session.scalars(insert(MonAlert).returning(MonAlert.id, sort_by_parameter_order=True), changes).all()
    return [Change(i, c["branch_id"], c["metric"], c["from_state"], c["to_state"])
            for i, c in zip(ids, changes, strict=True)]


def _upsert_states(rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT (branch, metric) DO UPDATE as one executemany (compiled once)."""
    if not rows:
        return
    stmt = dialect_insert(MonState.__table__)
    ex = stmt.excluded
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=["branch_id", "metric"],
        set_={"state": ex.state, "since": ex.since, "evaluated_on": ex.evaluated_on, "value": ex.value,
              "detail": ex.detail, "updated_at": ex.updated_at}), rows)


def _covers(sub: MonSubscription, metric: str, ancestors: list[int]) -> bool:
    return (sub.metric is None or sub.metric == metric) and (sub.org_unit_id is None or sub.org_unit_id in ancestors)


def _units(branch_ids: set[int]) -> dict[int, OrgUnit]:
    return {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(list(branch_ids))))}


def _change_line(alert: MonAlert | Change, unit: OrgUnit) -> str:
    return _("%(code)s %(name)s — %(metric)s: %(to)s (was %(from)s)", code=unit.code, name=unit.name,
             metric=metric_label(alert.metric), to=state_label(alert.to_state), **{"from": state_label(alert.from_state)})


def _subscribers(flag: Any) -> dict[int, tuple[User, list[MonSubscription]]]:
    """Active users with a subscription matching ``flag``, with their subscriptions (two queries)."""
    subs = list(db.session.scalars(select(MonSubscription).where(flag).order_by(MonSubscription.id)))
    users = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({s.user_id for s in subs}), User.active.is_(True)))} if subs else {}
    out: dict[int, tuple[User, list[MonSubscription]]] = {}
    for s in subs:
        if s.user_id in users:
            out.setdefault(s.user_id, (users[s.user_id], []))[1].append(s)
    return out


def _tell(alerts: list[Change], day: date) -> int:
    """One ``bm.alert`` per subscriber whose scope covers some of ``alerts`` (and who may see them)."""
    subscribers = _subscribers(MonSubscription.immediate.is_(True))
    if not subscribers:
        return 0
    changed = {a.branch_id for a in alerts}
    units = _units(changed)
    told = 0
    for user, subs in subscribers.values():
        visible = set(db.session.scalars(branches_in_scope(user, MONITOR).where(OrgUnit.id.in_(list(changed)))))
        mine = [a for a in alerts if a.branch_id in visible
                and any(_covers(s, a.metric, units[a.branch_id].ancestor_ids()) for s in subs)]
        if not mine:
            continue
        with force_locale(getattr(user, "locale", None) or "ko"):
            lines = [_change_line(a, units[a.branch_id]) for a in mine[:LIST_MAX]]
            if len(mine) > LIST_MAX:
                lines.append(_("… and %(n)s more.", n=len(mine) - LIST_MAX))
            head = _("Branch monitoring states changed on %(day)s:", day=day.isoformat())
            text = "\n".join([head, *lines])
        obj = units[mine[0].branch_id] if len({a.branch_id for a in mine}) == 1 else None
        told += notify(user, "bm.alert", obj, text, url=ALERTS_PATH,
                       dedupe_key=f"bm.alert:{user.id}:{day.isoformat()}:{mine[0].id}")
    return told


# --- reading states and alerts ------------------------------------------------------------------


def states_for(branch_ids: list[int] | Any) -> dict[int, dict[str, Any]]:
    """``{branch_id: {metric: MonState}}`` plus ``{"overall": worst state}`` per branch (``ok``
    when every metric is ok or insufficient; branches without any state are absent). One query."""
    ids = branch_ids if isinstance(branch_ids, Select) else list(branch_ids)
    out: dict[int, dict[str, Any]] = {}
    for s in db.session.scalars(select(MonState).where(MonState.branch_id.in_(ids))):
        mine = out.setdefault(s.branch_id, {"overall": OK})
        mine[s.metric] = s
        if SEVERITY[s.state] > SEVERITY[mine["overall"]]:
            mine["overall"] = s.state
    return out


def alerts_query(user: Any, *, state: str = "open", level: str | None = None, region: str | None = None,
                 metric: str | None = None, branch: str | None = None) -> Select:
    """``SELECT (MonAlert, OrgUnit)`` of the alerts the user may see, newest first.
    ``state``: ``open`` (unacknowledged alert/alarm), ``acknowledged``, ``all``; ``level``: the
    state changed to; ``region``/``branch``: org unit codes. Filters are validated by the caller."""
    q = (select(MonAlert, OrgUnit).join(OrgUnit, OrgUnit.id == MonAlert.branch_id)
         .where(MonAlert.branch_id.in_(branches_in_scope(user, MONITOR))))
    if state == "open":
        q = q.where(MonAlert.ack_at.is_(None), MonAlert.to_state.in_(OPEN_LEVELS))
    elif state == "acknowledged":
        q = q.where(MonAlert.ack_at.is_not(None))
    if level:
        q = q.where(MonAlert.to_state == level)
    if metric:
        q = q.where(MonAlert.metric == metric)
    if region:
        parent = select(OrgUnit.id).where(OrgUnit.code == region).scalar_subquery()
        q = q.where(OrgUnit.parent_id == parent)
    if branch:
        q = q.where(OrgUnit.code == branch)
    return q.order_by(MonAlert.created_at.desc(), MonAlert.id.desc())


FILTER_STATES = ("open", "acknowledged", "all")
FILTER_LEVELS = (ALARM, ALERT, OK)


def check_filters(args: Any) -> dict[str, str | None]:
    """The list filters from query args, validated: ``MonitorError`` (422) at the bad field."""
    errors: dict[str, str] = {}
    out: dict[str, str | None] = {"state": args.get("state") or "open", "level": args.get("level") or None,
                                  "metric": args.get("metric") or None, "region": args.get("region") or None,
                                  "branch": args.get("branch") or None}
    if out["state"] not in FILTER_STATES:
        errors["state"] = _("Choose one of: %(choices)s.", choices=", ".join(FILTER_STATES))
    if out["level"] is not None and out["level"] not in FILTER_LEVELS:
        errors["level"] = _("Choose one of: %(choices)s.", choices=", ".join(FILTER_LEVELS))
    if out["metric"] is not None and out["metric"] not in alert_metrics():
        errors["metric"] = _("Unknown metric.")
    for name in ("region", "branch"):
        if out[name] is not None and (len(out[name]) > 20 or not out[name].isprintable()):  # type: ignore[union-attr]
            errors[name] = _("Unknown org unit code.")
    if errors:
        raise MonitorError(errors)
    return out


def alert_dict(alert: MonAlert, unit: OrgUnit) -> dict[str, Any]:
    """The API's view of one alert (times as ISO, Korean time for acknowledgement)."""
    return {"id": alert.id, "branch": {"code": unit.code, "name": unit.name}, "metric": alert.metric,
            "day": alert.day.isoformat(), "from_state": alert.from_state, "to_state": alert.to_state,
            "value": alert.value, "detail": alert.detail or {},
            "created_at": to_kst(alert.created_at).isoformat(timespec="seconds"),
            "acknowledged": alert.ack_at is not None,
            "ack_at": to_kst(alert.ack_at).isoformat(timespec="seconds") if alert.ack_at else None,
            "ack_by": alert.ack_by_id, "ack_note": alert.ack_note}


def _alert_in_scope(actor: Any, alert_id: Any, permission: str) -> MonAlert:
    try:
        ident = int(alert_id)
        if not 0 < ident < 2**31:
            raise ValueError
    except (TypeError, ValueError):
        raise MonitorError({"": _("No such alert.")}, 404) from None
    alert = db.session.execute(select(MonAlert).where(
        MonAlert.id == ident, MonAlert.branch_id.in_(branches_in_scope(actor, permission)))).scalar_one_or_none()
    if alert is None:
        raise MonitorError({"": _("No such alert.")}, 404)
    return alert


def alert_or_404(actor: Any, alert_id: Any) -> MonAlert:
    """One alert the actor may see (``bm.monitor`` on its branch); ``MonitorError`` 404 otherwise."""
    return _alert_in_scope(actor, alert_id, MONITOR)


def acknowledge(actor: Any, alert_id: int, note: str) -> Any:
    """Acknowledge one alert in the actor's scope (404 outside it; 422 for a bad note; 409 when it
    is already acknowledged — also when two people race: the UPDATE claims only an unacknowledged
    row). Audited; does not commit."""
    alert = _alert_in_scope(actor, alert_id, ACK)
    text = note.strip() if isinstance(note, str) else None
    if text is None or not text:
        raise MonitorError({"note": _("Write a note (1 to 500 characters).")})
    if len(text) > NOTE_MAX:
        raise MonitorError({"note": _("Write a note (1 to 500 characters).")})
    if not storable(text):
        raise MonitorError({"note": _("Remove the characters that cannot be stored.")})
    if alert.ack_at is not None:
        raise MonitorError({"": _("This alert is already acknowledged.")}, 409)
    now = utcnow()
    claimed = db.session.execute(update(MonAlert).where(MonAlert.id == alert.id, MonAlert.ack_at.is_(None))
                                 .values(ack_at=now, ack_by_id=actor.id, ack_note=text)
                                 .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise MonitorError({"": _("This alert is already acknowledged.")}, 409)
    db.session.refresh(alert)
    audit.record("bm.alert.ack", alert, summary=f"{alert.metric} {alert.from_state}→{alert.to_state}", actor=actor)
    return alert


# --- subscriptions --------------------------------------------------------------------------------


def subscriptions_for(user: Any) -> list[tuple[MonSubscription, OrgUnit | None]]:
    """The user's own subscriptions with their org unit, by unit code and metric."""
    return list(db.session.execute(
        select(MonSubscription, OrgUnit).outerjoin(OrgUnit, OrgUnit.id == MonSubscription.org_unit_id)
        .where(MonSubscription.user_id == user.id).order_by(OrgUnit.code.is_not(None), OrgUnit.code,
                                                             MonSubscription.metric, MonSubscription.id)))


def subscription_dict(sub: MonSubscription, unit: OrgUnit | None) -> dict[str, Any]:
    return {"id": sub.id, "org_unit": unit.code if unit else None, "org_unit_name": unit.name if unit else None,
            "metric": sub.metric, "immediate": sub.immediate, "digest": sub.digest}


def _flag(data: dict[str, Any], name: str, errors: dict[str, str]) -> bool:
    value = data.get(name, True)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false", "on", "1", "0", "y", "n"):
        return value in ("true", "on", "1", "y")
    errors[name] = _("Give true or false.")
    return False


def subscribe(user: Any, data: dict[str, Any]) -> tuple[MonSubscription, bool]:
    """Create (or, for the same unit and metric, update) the user's subscription from ``{"org_unit":
    code or null, "metric": name or null, "immediate": bool, "digest": bool}``; returns
    (subscription, created). The unit must be a region or branch with a branch in the user's scope
    (an unknown or out-of-scope code is the same 422). Does not commit."""
    errors: dict[str, str] = {}
    code, metric = data.get("org_unit"), data.get("metric")
    unit: OrgUnit | None = None
    if code not in (None, ""):
        if isinstance(code, str) and len(code) <= 20:
            scope = branches_in_scope(user, MONITOR)
            cand = db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one_or_none()
            if cand is not None and db.session.execute(select(OrgUnit.id).where(
                    OrgUnit.id.in_(scope), cand.subtree_clause()).limit(1)).first() is not None:
                unit = cand
        if unit is None:
            errors["org_unit"] = _("Choose a region or branch you may see.")
    if metric in ("", None):
        metric = None
    elif not isinstance(metric, str) or metric not in alert_metrics():
        errors["metric"] = _("Unknown metric.")
    immediate, digest = _flag(data, "immediate", errors), _flag(data, "digest", errors)
    if not errors and not immediate and not digest:
        errors["immediate"] = _("Choose immediate notifications, the weekly digest or both.")
    if errors:
        raise MonitorError(errors)
    unit_id = unit.id if unit else None
    if is_postgres():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key, :user)"), {"key": SUBSCRIBE_LOCK, "user": user.id})
    sub = db.session.execute(select(MonSubscription).where(
        MonSubscription.user_id == user.id,
        MonSubscription.org_unit_id.is_(None) if unit_id is None else MonSubscription.org_unit_id == unit_id,
        MonSubscription.metric.is_(None) if metric is None else MonSubscription.metric == metric)
    ).scalar_one_or_none()
    created = sub is None
    if sub is None:
        sub = MonSubscription(user_id=user.id, org_unit_id=unit_id, metric=metric)
        db.session.add(sub)
    sub.immediate, sub.digest = immediate, digest
    db.session.flush()
    return sub, created


def unsubscribe(user: Any, sub_id: Any) -> None:
    """Delete one of the user's own subscriptions (anyone else's, or a missing one: 404)."""
    try:
        ident = int(sub_id)
        if not 0 < ident < 2**31:
            raise ValueError
    except (TypeError, ValueError):
        raise MonitorError({"": _("No such subscription.")}, 404) from None
    sub = db.session.execute(select(MonSubscription).where(
        MonSubscription.id == ident, MonSubscription.user_id == user.id)).scalar_one_or_none()
    if sub is None:
        raise MonitorError({"": _("No such subscription.")}, 404)
    db.session.delete(sub)
    db.session.flush()


# --- weekly digest --------------------------------------------------------------------------------


def send_digest(now: datetime | None = None) -> dict[str, int]:
    """The weekly digest: for the ISO week before ``now`` (KST), one ``bm.digest`` per subscriber
    with ``digest`` who has anything in scope — the week's changes and the alerts still open.
    Commits per user (one user's failure is logged and does not stop the others); a rerun sends
    nothing twice (dedupe key per user and ISO week)."""
    local = to_kst(now) if now is not None else kst_now()
    this_monday = local.date() - timedelta(days=local.date().weekday())
    start, end = this_monday - timedelta(days=7), this_monday
    iso = start.isocalendar()
    key = f"{iso[0]}-W{iso[1]:02d}"
    subscribers = _subscribers(MonSubscription.digest.is_(True))
    db.session.rollback()
    stats = {"users": 0, "sent": 0, "failed": 0}
    for user_id in list(subscribers):
        try:
            user = db.session.get(User, user_id)
            subs = list(db.session.scalars(select(MonSubscription).where(
                MonSubscription.user_id == user_id, MonSubscription.digest.is_(True))))
            if user is None or not subs:
                continue
            stats["users"] += 1
            stats["sent"] += _digest_one(user, subs, start, end, key)
            db.session.commit()
        except Exception:  # noqa: BLE001 - one user's failure must not stop the others
            db.session.rollback()
            stats["failed"] += 1
            log.exception("bm.digest: user %s failed", user_id)
    return stats


def _digest_one(user: User, subs: list[MonSubscription], start: date, end: date, key: str) -> int:
    """One user's digest (two queries: the week's changes and the open alerts in their scope)."""
    scope = branches_in_scope(user, MONITOR)
    cover = or_(*[and_(true_if(s.metric is None, MonAlert.metric == s.metric),
                       true_if(s.org_unit_id is None, OrgUnit.path.like(f"%/{s.org_unit_id}/%"))) for s in subs]) \
        if subs else false()
    base = (select(MonAlert, OrgUnit).join(OrgUnit, OrgUnit.id == MonAlert.branch_id)
            .where(MonAlert.branch_id.in_(scope), cover))
    week = list(db.session.execute(base.where(MonAlert.day >= start, MonAlert.day < end)
                                   .order_by(MonAlert.day, OrgUnit.code, MonAlert.metric)))
    still_open = list(db.session.execute(base.where(MonAlert.ack_at.is_(None), MonAlert.to_state.in_(OPEN_LEVELS))
                                         .order_by(MonAlert.day.desc(), OrgUnit.code)))
    if not week and not still_open:
        return 0
    with force_locale(getattr(user, "locale", None) or "ko"):
        lines = [_("Week %(start)s – %(end)s: %(changes)s changes, %(open)s alerts open.", start=start.isoformat(),
                   end=(end - timedelta(days=1)).isoformat(), changes=len(week), open=len(still_open))]
        if week:
            lines.append(_("Changes this week:"))
            lines += [f"{a.day.isoformat()} {_change_line(a, u)}" for a, u in week[:LIST_MAX]]
            if len(week) > LIST_MAX:
                lines.append(_("… and %(n)s more.", n=len(week) - LIST_MAX))
        if still_open:
            lines.append(_("Open alerts:"))
            lines += [f"{a.day.isoformat()} {_change_line(a, u)}" for a, u in still_open[:LIST_MAX]]
            if len(still_open) > LIST_MAX:
                lines.append(_("… and %(n)s more.", n=len(still_open) - LIST_MAX))
        text = "\n".join(lines)
    return notify(user, "bm.digest", None, text, url=ALERTS_PATH, dedupe_key=f"bm.digest:{user.id}:{key}")


def true_if(condition: bool, clause: Any) -> Any:
    """``clause``, or no restriction when ``condition`` holds (a subscription without a metric or unit)."""
    from sqlalchemy import true

    return true() if condition else clause


def open_counts(branch_ids: list[int] | Select) -> dict[int, int]:
    """Open (unacknowledged alert/alarm) alerts per branch, one query — for badges on other pages."""
    from sqlalchemy import func

    ids = branch_ids if isinstance(branch_ids, Select) else list(branch_ids)
    return dict(db.session.execute(select(MonAlert.branch_id, func.count()).where(
        MonAlert.branch_id.in_(ids), MonAlert.ack_at.is_(None), MonAlert.to_state.in_(OPEN_LEVELS))
        .group_by(MonAlert.branch_id)).all())


def latest_open(branch_id: int) -> list[MonAlert]:
    """A branch's open alerts, newest first (the scorecard's ack forms)."""
    return list(db.session.scalars(select(MonAlert).where(
        MonAlert.branch_id == branch_id, MonAlert.ack_at.is_(None), MonAlert.to_state.in_(OPEN_LEVELS))
        .order_by(MonAlert.created_at.desc(), MonAlert.id.desc())))


__all__ = ["evaluate", "states_for", "acknowledge", "alerts_query", "alert_dict", "alert_or_404", "check_filters",
           "subscribe", "unsubscribe", "subscriptions_for", "subscription_dict", "send_digest", "alert_metrics",
           "open_counts", "latest_open"]
