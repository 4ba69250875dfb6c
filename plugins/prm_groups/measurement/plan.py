"""The pre-registered measurement plan: what will be measured, over which windows, how, and whether
the audience is large enough to show the effect sought — frozen into ``programme.plan`` when the
leader approves, so the result can later be read against a plan nobody could tune after the fact.

The power check is the core's (``power_check``, ``required_sizes``: Cohen's h with
``NormalIndPower``); the baseline is the group's own purchase rate in the category over the
baseline window, counted in one set-based statement.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, distinct, func, select

from portal.toolkit import (
    Category,
    Customer,
    Partner,
    PartnerGroup,
    SaleLine,
    db,
    power_check,
    required_sizes,
    utcnow,
)

from ..models import PrmProgramme

ALPHA = 0.05
POWER = 0.8
PLAN_VERSION = 1
#: What the plan records about how each estimate is made (shown on the results page).
METHODS = {
    "holdout": "difference in category purchase rate, treatment − holdout: Newcombe 95 % interval, score test; "
               "ratio with log-adjusted interval; spend per customer with Welch's interval",
    "did_vs_groups": "OLS y ~ treated + post + treated:post (group vs the other groups, baseline vs measurement "
                     "window), standard errors clustered by customer",
    "power": "minimum detectable effect with NormalIndPower on Cohen's h (two-sided)",
}


# -- populations (SELECTs of customer ids, never loaded as objects) ---------------------------------------


def group_customer_ids(group_id: int) -> Select:
    """The customers of a partner group (through their distributor), erased customers left out."""
    return (select(Customer.id).join(Partner, Customer.partner_id == Partner.id)
            .where(Partner.group_id == group_id, Customer.pseudonymized_at.is_(None)))


def other_groups_customer_ids(group_id: int) -> Select:
    """The customers of every other partner group: the comparison of the difference-in-differences."""
    return (select(Customer.id).join(Partner, Customer.partner_id == Partner.id)
            .where(Partner.group_id != group_id, Customer.pseudonymized_at.is_(None)))


def purchase_rate(ids: Select, start: date, end: date, category_id: int) -> dict[str, Any]:
    """``{"n", "buyers", "rate"}`` of the customers in ``ids`` over ``[start, end]`` in one category:
    two counts in SQL (the rate is None for an empty population)."""
    sub = ids.subquery()
    n = int(db.session.scalar(select(func.count()).select_from(sub)) or 0)
    buyers = int(db.session.scalar(
        select(func.count(distinct(SaleLine.customer_id))).where(
            SaleLine.customer_id.in_(select(sub.c.id)), SaleLine.sold_at >= start, SaleLine.sold_at <= end,
            SaleLine.category_id == category_id)) or 0)
    return {"n": n, "buyers": buyers, "rate": buyers / n if n else None}


# -- the power check -------------------------------------------------------------------------------------


def holdout_size(eligible: int, share: float) -> int:
    """The holdout the core's draw makes of ``eligible`` customers: ⌊share × N + ½⌋."""
    return math.floor(share * eligible + 0.5)


def _pp(value: float) -> str:
    """``0.03`` → ``+3``, ``0.0432`` → ``+4.3`` (percentage points, one decimal, no trailing .0)."""
    text = f"{value * 100:+.1f}"
    return text[:-2] if text.endswith(".0") else text


def power_block(baseline_rate: float | None, eligible: int, holdout_share: float, target_mde: float,
                alpha: float = ALPHA, power: float = POWER) -> dict[str, Any]:
    """The power check of a holdout of ``holdout_share`` among ``eligible`` customers: minimum
    detectable effect (absolute), the sizes needed for ``target_mde`` at 1:1 and at the chosen
    split, and the warning sentence when under-powered (None when large enough).

    PG-15: baseline 10 %, +3 pp → 1,769 per arm at 1:1; 8,841 treated + 983 holdout at 9:1; 4,500 /
    500 detect ≈ +4.3 pp → "under-powered"."""
    n_hold = holdout_size(eligible, holdout_share) if eligible > 0 else 0
    n_treat = max(eligible - n_hold, 0)
    out: dict[str, Any] = {"alpha": alpha, "power": power, "baseline_rate": baseline_rate, "target_mde": target_mde,
                           "eligible": eligible, "n_treatment": n_treat, "n_holdout": n_hold, "mde": None,
                           "required": None, "required_1to1": None, "powered": None, "warning": None}
    if baseline_rate is None or not 0 < baseline_rate < 1:
        out["warning"] = _("No power check: the group has no baseline purchase rate in this category "
                           "(nobody or everybody bought in the baseline window).")
        return out
    if not 0 < holdout_share < 1 or target_mde is None or target_mde <= 0 or baseline_rate + target_mde >= 1:
        out["warning"] = _("No power check: the holdout share or the target effect is out of range.")
        return out
    treat_req, hold_req = required_sizes(baseline_rate, target_mde, holdout_share, alpha=alpha, power=power)
    per_arm, _same = required_sizes(baseline_rate, target_mde, 0.5, alpha=alpha, power=power)
    out["required"] = {"treatment": treat_req, "holdout": hold_req}
    out["required_1to1"] = per_arm
    mde = power_check(n_treat, n_hold, baseline_rate, alpha=alpha, power=power)
    out["mde"] = mde
    out["powered"] = mde is not None and mde <= target_mde
    if mde is None:
        out["warning"] = _("Under-powered: %(t)s treated and %(h)s held-out customers cannot show any effect "
                           "reliably; target %(target)s pp.", t=f"{n_treat:,}", h=f"{n_hold:,}",
                           target=_pp(target_mde))
    elif mde > target_mde:
        out["warning"] = _("Under-powered: detectable effect ≈ %(mde)s pp, target %(target)s pp.",
                           mde=_pp(mde), target=_pp(target_mde))
    return out


# -- the plan ------------------------------------------------------------------------------------------------


def _window(start: date, end: date) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def _reader(actor: Any) -> Any:
    """The actor given, else the signed-in user of the request (None outside a request)."""
    if actor is not None:
        return actor
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user
    return None


def eligible_estimate(programme: PrmProgramme, actor: Any = None) -> dict[str, Any]:
    """How many customers the holdout is drawn from: the drawn counts once the experiment exists;
    before that the programme's eligible audience now (after every suppression reason, counted in
    one aggregate by the programmes area, in ``actor``'s scope); failing that the group's customers
    (an upper bound)."""
    from portal.toolkit import Experiment

    if programme.experiment_id is not None:
        exp = db.session.get(Experiment, programme.experiment_id)
        if exp is not None and exp.drawn_counts:
            counts = {k: int(v) for k, v in exp.drawn_counts.items()}
            return {"n": counts.get("treatment", 0) + counts.get("holdout", 0), "source": "drawn"}
    reader = _reader(actor)
    if reader is not None:
        try:
            from ..programmes.audience import eligible_count
        except ImportError:
            eligible_count = None
        if eligible_count is not None:
            try:
                with db.session.begin_nested():
                    return {"n": int(eligible_count(programme, reader)), "source": "eligible"}
            except Exception:  # noqa: BLE001 — rules that no longer validate: fall back to the upper bound
                pass
    n = int(db.session.scalar(select(func.count()).select_from(
        group_customer_ids(programme.partner_group_id).subquery())) or 0)
    return {"n": n, "source": "group_customers"}


def build_plan(programme: PrmProgramme, eligible: int | None = None, actor: Any = None) -> dict[str, Any]:
    """The pre-registered plan as JSON: metric, windows, design, holdout share, seed, eligible
    estimate, the group's baseline rate, the target effect, α, power and the power check.
    ``eligible`` overrides the estimate; ``actor`` is whose scope counts the eligible audience
    (default: the signed-in user)."""
    p = programme
    design = [d for d in ("holdout", "did_vs_groups") if d in (p.design or [])]
    baseline = purchase_rate(group_customer_ids(p.partner_group_id), p.baseline_start, p.baseline_end, p.category_id)
    est = eligible_estimate(p, actor) if eligible is None else {"n": int(eligible), "source": "given"}
    power = None
    if "holdout" in design:
        power = power_block(baseline["rate"], est["n"], float(p.holdout_share), float(p.target_mde))
    category = db.session.get(Category, p.category_id)
    group = db.session.get(PartnerGroup, p.partner_group_id)
    return {
        "version": PLAN_VERSION,
        "metric": p.objective_metric,
        "group": group.code if group else None,
        "category": category.code if category else None,
        "windows": {"baseline": _window(p.baseline_start, p.baseline_end), "run": _window(p.run_start, p.run_end),
                    "measurement": _window(p.measure_start, p.measure_end)},
        "design": design,
        "primary": "holdout" if "holdout" in design else ("did_vs_groups" if design else None),
        "holdout_share": float(p.holdout_share),
        "seed": int(p.seed),
        "eligible": est,
        "baseline": baseline,
        "target_mde": float(p.target_mde),
        "alpha": ALPHA,
        "power": POWER,
        "power_check": power,
        "methods": {k: v for k, v in METHODS.items() if k in design or k == "power"},
        "frozen_at": None,
    }


def freeze_plan(programme: PrmProgramme, actor: Any = None) -> dict[str, Any]:
    """Store the plan in ``programme.plan`` at the leader's approval (the programmes service calls
    it after ``approve``). A re-approval before the start (the plan or the text was edited and the
    leader approved again) stores the newly approved plan; once the programme started, the plan is
    never changed again. Writes in the caller's transaction."""
    current = programme.plan or {}
    if current.get("frozen_at") and (programme.started_at is not None or programme.experiment_id is not None):
        return current
    plan = build_plan(programme, actor=actor)
    plan["frozen_at"] = utcnow().isoformat(timespec="seconds") + "Z"
    programme.plan = plan
    return plan


def power_summary(programme: PrmProgramme, actor: Any = None) -> dict[str, Any] | None:
    """The power check for the approval page: the frozen plan's when there is one, else computed
    now from the programme's current values. None when the design has no holdout."""
    plan = programme.plan if (programme.plan or {}).get("frozen_at") else build_plan(programme, actor=actor)
    return plan.get("power_check")


def plan_kept(programme: PrmProgramme) -> list[dict[str, Any]]:
    """Where the programme departs from its frozen plan (metric, windows, design, share, seed):
    ``[{"field", "planned", "actual"}]`` — empty when the plan was kept (or none is frozen yet)."""
    plan = programme.plan or {}
    if not plan.get("frozen_at"):
        return []
    p = programme
    actual = {"metric": p.objective_metric,
              "windows.baseline": _window(p.baseline_start, p.baseline_end),
              "windows.run": _window(p.run_start, p.run_end),
              "windows.measurement": _window(p.measure_start, p.measure_end),
              "design": [d for d in ("holdout", "did_vs_groups") if d in (p.design or [])],
              "holdout_share": float(p.holdout_share), "seed": int(p.seed)}
    planned = {"metric": plan.get("metric"), "design": plan.get("design"),
               "holdout_share": plan.get("holdout_share"), "seed": plan.get("seed")}
    for name in ("baseline", "run", "measurement"):
        planned[f"windows.{name}"] = (plan.get("windows") or {}).get(name)
    return [{"field": k, "planned": planned[k], "actual": v} for k, v in actual.items() if planned.get(k) != v]
