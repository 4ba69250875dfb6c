"""A programme's results: the holdout lift, the group-level difference-in-differences, the verdict in
plain words; interim (computed on request) and frozen snapshots (``prm_result``).

Every estimate is the core's (``lift``/``freeze``: Newcombe interval, score test, ratio with its
log-adjusted interval, Welch for spend, the merge rule; ``did``: OLS with SE clustered by customer).
This module only chooses the populations and windows and turns the figures into percentage points
and sentences. Every number is finite or None (JSON ``null``), never NaN or ∞.

Frozen means frozen: a stored snapshot is returned as stored, whatever merges, erasures or
corrected imports happen later.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import select

from portal.toolkit import (
    Category,
    Experiment,
    ExperimentError,
    PartnerGroup,
    db,
    did,
    freeze,
    lift,
    plugin_hook,
    utcnow,
)

from ..models import CANCELLED, CLOSED, MEASURING, RUNNING, PrmProgramme, PrmResult
from ..programmes import ProgrammeError
from .plan import group_customer_ids, other_groups_customer_ids

log = logging.getLogger(__name__)
KST = ZoneInfo("Asia/Seoul")
VERDICTS = ("significant_increase", "significant_decrease", "not_significant", "no_conversions_yet", "too_small",
            "not_available")
#: States in which results are measured (interim while running and measuring, final at close; a
#: programme cancelled after its start is measured too — what was sent may have had an effect).
MEASURED = (RUNNING, MEASURING, CLOSED)


def local_today() -> date:
    return datetime.now(KST).date()


def _num(value: Any, scale: float = 1.0, digits: int = 6) -> float | None:
    """A finite float (scaled and rounded) or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value) * scale
    except (TypeError, ValueError):
        return None
    if out != out or out in (float("inf"), float("-inf")):
        return None
    return round(out, digits)


def _pair(values: Any, scale: float = 1.0, shift: float = 0.0) -> list[float] | None:
    if not values or len(values) != 2:
        return None
    lo, hi = _num(values[0], scale), _num(values[1], scale)
    if lo is None or hi is None:
        return None
    return [round(lo + shift, 6), round(hi + shift, 6)]


def experiment_of(programme: PrmProgramme) -> Experiment | None:
    """The programme's core experiment (its holdout), or None before the launch drew it."""
    if programme.experiment_id is None:
        return None
    return db.session.get(Experiment, programme.experiment_id)


def measurement_window(programme: PrmProgramme, as_of: date | None = None) -> tuple[date, date] | None:
    """``[measure_start, min(measure_end, as_of)]`` — the window measured so far; None before it starts."""
    today = as_of or local_today()
    start, end = programme.measure_start, min(programme.measure_end, today)
    return (start, end) if end >= start else None


def _window(start: date, end: date) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


# -- the holdout block ----------------------------------------------------------------------------------------


def holdout_block(programme: PrmProgramme, window: tuple[date, date] | None, *, final: bool = False) -> dict[str, Any]:
    """Treatment against the holdout over the measurement window (the core's ``lift``, or ``freeze``
    for the final result): arms, lift and its interval in percentage points, p, ratio, spend."""
    exp = experiment_of(programme)
    if exp is None or exp.drawn_at is None:
        return {"available": False, "reason": "not_drawn"}
    if window is None:
        return {"available": False, "reason": "window_not_started"}
    start, end = window
    measure = freeze if final else lift
    res = measure(exp, start=start, end=end, category_id=programme.category_id)
    c = res.comparison
    arms = {}
    for arm in ("treatment", "holdout"):
        a = res.arms.get(arm) or {}
        arms[arm] = {"n": int(a.get("n") or 0), "conversions": int(a.get("converters") or 0),
                     "rate": _num(a.get("rate")), "revenue": _num(a.get("revenue"), digits=2),
                     "revenue_per_customer": _num(a.get("revenue_per_customer"), digits=2)}
    ratio = _num(c.get("relative_lift"))
    return {
        "available": True,
        "window": res.window,
        "arms": arms,
        "lift": _num(c.get("rate_diff"), 100),
        "ci_low": (_pair(c.get("rate_ci"), 100) or [None, None])[0],
        "ci_high": (_pair(c.get("rate_ci"), 100) or [None, None])[1],
        "p_value": _num(c.get("rate_p"), digits=12),
        "ratio": None if ratio is None else round(ratio + 1, 6),
        "ratio_ci": _pair(c.get("relative_ci"), shift=1.0),
        "spend_diff": _num(c.get("revenue_diff"), digits=2),
        "spend_ci": _pair(c.get("revenue_ci")),
        "spend_p": _num(c.get("revenue_p"), digits=12),
        "merged_excluded": int(res.merged_excluded or 0),
        "verdict": res.verdict,
        "direction": c.get("direction"),
        "frozen": bool(res.frozen),
        "unit": "pp",
        "method": "newcombe+score",
    }


# -- the difference-in-differences block -------------------------------------------------------------------


def did_block(programme: PrmProgramme, window: tuple[date, date] | None, *, treated: Any = None,
              control: Any = None) -> dict[str, Any]:
    """The group against every other group, baseline window against measurement window (the core's
    ``did``; SE clustered by customer). Purchase rate in pp, or spend per customer for the
    ``category_spend`` metric. ``treated``/``control`` default to the group's customers and the
    other groups' customers (SELECTs: nothing is loaded as objects)."""
    if window is None:
        return {"available": False, "reason": "window_not_started"}
    spend = programme.objective_metric == "category_spend"
    scale = 1.0 if spend else 100.0
    pre = (programme.baseline_start, programme.baseline_end)
    res = did(treated=group_customer_ids(programme.partner_group_id) if treated is None else treated,
              control=other_groups_customer_ids(programme.partner_group_id) if control is None else control,
              pre=pre, post=window, category_id=programme.category_id,
              metric="revenue" if spend else "purchase")
    ci = _pair(res.ci, scale)
    verdict = res.verdict
    direction = None
    if verdict == "significant":
        direction = "up" if (res.estimate or 0) > 0 else "down"
    return {
        "available": True,
        "metric": "spend_per_customer" if spend else "purchase_rate",
        "unit": "KRW" if spend else "pp",
        "pre": _window(*pre), "post": _window(*window),
        "estimate": _num(res.estimate, scale), "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None,
        "p_value": _num(res.p, digits=12), "se": _num(res.se, scale),
        "n_treated": int(res.n_treated), "n_control": int(res.n_control),
        "means": {k: _num(v, scale) for k, v in (res.means or {}).items()},
        "verdict": verdict, "direction": direction,
        "clustered_by": "customer", "method": "ols_cluster",
    }


# -- the verdict ----------------------------------------------------------------------------------------------


def _code(block: dict[str, Any] | None, spend: bool = False) -> str:
    if not block or not block.get("available"):
        return "not_available"
    verdict = block.get("verdict")
    if spend and "spend_p" in block and verdict not in ("too_small", "no_conversions_yet"):
        p, ci = block.get("spend_p"), block.get("spend_ci")
        if p is not None and ci and p < 0.05 and (ci[0] > 0 or ci[1] < 0):
            return "significant_increase" if ci[0] > 0 else "significant_decrease"
        return "not_significant"
    if verdict == "significant":
        return "significant_decrease" if block.get("direction") == "down" else "significant_increase"
    return verdict if verdict in VERDICTS else "not_significant"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "KRW":
        return f"{value:+,.0f} ₩"
    return _("%(value)s pp", value=f"{value:+.1f}")


def verdict(holdout: dict[str, Any] | None, did_res: dict[str, Any] | None, metric: str) -> dict[str, Any]:
    """The plain verdict: the primary estimate (the holdout when there is one, else the group
    comparison), its code, one sentence, and ``success`` only for a significant increase."""
    spend = metric == "category_spend"
    basis = None
    if holdout and holdout.get("available"):
        basis = "holdout"
    elif did_res and did_res.get("available"):
        basis = "did_vs_groups"
    block = holdout if basis == "holdout" else did_res
    code = _code(block, spend) if basis else "not_available"
    if basis == "holdout":
        if spend:
            est, ci, unit = block.get("spend_diff"), block.get("spend_ci"), "KRW"
        else:
            est, ci, unit = block.get("lift"), [block.get("ci_low"), block.get("ci_high")], "pp"
        against = _("against the holdout")
    elif basis:
        est, ci, unit = block.get("estimate"), [block.get("ci_low"), block.get("ci_high")], block.get("unit", "pp")
        against = _("against the other groups (difference-in-differences)")
    else:
        est, ci, unit, against = None, None, "pp", ""
    figures = {"est": _fmt(est, unit), "lo": _fmt((ci or [None])[0], unit),
               "hi": _fmt((ci or [None, None])[1], unit), "against": against}
    texts = {
        "significant_increase": _("Significant increase: %(est)s %(against)s (95 %% interval %(lo)s to %(hi)s).",
                                  **figures),
        "significant_decrease": _("Significant decrease: %(est)s %(against)s (95 %% interval %(lo)s to %(hi)s).",
                                  **figures),
        "not_significant": _("Not significant: %(est)s %(against)s, but the 95 %% interval (%(lo)s to %(hi)s) "
                             "includes no effect — the difference may be chance.", **figures),
        "no_conversions_yet": _("No conversions yet: nobody has bought in the category in the measurement window."),
        "too_small": _("Too few customers to tell: each compared group needs at least 30."),
        "not_available": _("No result yet: the programme has not been started or its measurement window has not "
                           "begun."),
    }
    return {"code": code, "text": texts[code], "basis": basis, "success": code == "significant_increase"}


# -- compute, snapshot, finalize ------------------------------------------------------------------------------


def _attribution(programme: PrmProgramme, window: tuple[date, date]) -> dict[str, Any] | None:
    """The seminar attendance attribution of the check-in area, when it exists (descriptive only:
    attendees chose to attend, so this is no causal estimate)."""
    try:
        from ..seminars import attendance  # type: ignore[attr-defined]
    except ImportError:
        return None
    fn = getattr(attendance, "attribution", None)
    if fn is None:
        return None
    try:
        with db.session.begin_nested():
            out = fn(programme, start=window[0], end=window[1])
    except Exception:  # noqa: BLE001 — another area's figures must never break the results
        log.exception("prm_groups: seminar attribution failed for programme %s", programme.id)
        return None
    if not isinstance(out, dict):
        return None
    return {**out, "descriptive": True}


def compute(programme: PrmProgramme, as_of: date | None = None, *, final: bool = False) -> dict[str, Any]:
    """The result now (interim, not stored): holdout and DiD blocks per the design, the verdict and
    the seminar attribution. ``final`` freezes the core's holdout result for the window."""
    window = measurement_window(programme, as_of)
    design = programme.design or []
    if programme.state in MEASURED or (programme.state == CANCELLED and programme.started_at is not None):
        holdout = holdout_block(programme, window, final=final) if "holdout" in design else None
        did_res = did_block(programme, window) if "did_vs_groups" in design else None
    else:  # nothing was sent yet (or the programme was cancelled before its start): nothing to measure
        window = None
        idle = {"available": False, "reason": "not_started"}
        holdout = dict(idle) if "holdout" in design else None
        did_res = dict(idle) if "did_vs_groups" in design else None
    v = verdict(holdout, did_res, programme.objective_metric)
    return {
        "programme_id": programme.id,
        "metric": programme.objective_metric,
        "window": _window(*window) if window else None,
        "holdout": holdout,
        "did": did_res,
        "verdict": v["code"],
        "verdict_text": v["text"],
        "basis": v["basis"],
        "success": v["success"],
        "attribution": _attribution(programme, window) if window else None,
        "computed_at": utcnow().isoformat(timespec="seconds") + "Z",
    }


def snapshots(programme: PrmProgramme) -> list[PrmResult]:
    """Every stored snapshot of the programme, oldest first."""
    return list(db.session.scalars(select(PrmResult).where(PrmResult.programme_id == programme.id)
                                   .order_by(PrmResult.computed_at, PrmResult.id)))


def final_result(programme: PrmProgramme) -> PrmResult | None:
    return db.session.scalar(select(PrmResult).where(PrmResult.programme_id == programme.id,
                                                     PrmResult.kind == "final").order_by(PrmResult.id).limit(1))


def snapshot(programme: PrmProgramme, kind: str, actor: Any, as_of: date | None = None) -> PrmResult:
    """Freeze the result now as a ``prm_result`` row (``interim`` while running or measuring,
    ``final`` once — a second final returns the first). The final one also freezes the core's
    holdout result for the window. ``ProgrammeError`` 409 when there is nothing to measure yet.
    Writes in the caller's transaction; the caller commits."""
    if kind not in ("interim", "final"):
        raise ProgrammeError({"kind": _("must be interim or final.")})
    if kind == "final":
        existing = final_result(programme)
        if existing is not None:
            return existing
    elif programme.state not in (RUNNING, MEASURING):
        raise ProgrammeError({"state": _("Interim results are frozen only while the programme is running or "
                                         "being measured.")}, 409)
    if measurement_window(programme, as_of) is None and kind == "interim":
        raise ProgrammeError({"state": _("The measurement window has not begun yet.")}, 409)
    try:
        data = compute(programme, as_of, final=kind == "final")
    except ExperimentError as exc:
        raise ProgrammeError(exc.errors, exc.status) from None
    data["kind"] = kind
    data["frozen"] = True
    row = PrmResult(programme_id=programme.id, kind=kind, snapshot=data, frozen=True, computed_at=utcnow(),
                    computed_by_id=getattr(actor, "id", None))
    db.session.add(row)
    db.session.flush()
    return row


def programme_ref(programme: PrmProgramme) -> dict[str, Any]:
    group = db.session.get(PartnerGroup, programme.partner_group_id)
    category = db.session.get(Category, programme.category_id)
    return {"id": programme.id, "name": programme.name, "group": group.code if group else None,
            "category": category.code if category else None, "url": f"/prm/programmes/{programme.id}/results"}


def finalize(programme: PrmProgramme, actor: Any, as_of: date | None = None) -> PrmResult:
    """At ``close`` (the programmes service calls it): the final snapshot, then the add-on's hook
    ``prm_programme_closed`` with the results document (inside the closing transaction)."""
    row = snapshot(programme, "final", actor, as_of)
    doc = document(programme, actor)
    try:
        plugin_hook("prm_programme_closed")(programme=programme_ref(programme), result=doc, actor=actor)
    except Exception:  # noqa: BLE001 — the hook says "raise nothing"; a listener's bug must not undo the close
        log.exception("prm_groups: a prm_programme_closed listener failed for programme %s", programme.id)
    return row


def _history(rows: list[PrmResult]) -> list[dict[str, Any]]:
    return [{"id": r.id, "kind": r.kind, "computed_at": r.computed_at.isoformat(timespec="seconds") + "Z",
             "computed_by_id": r.computed_by_id, "verdict": (r.snapshot or {}).get("verdict"),
             "window": (r.snapshot or {}).get("window")} for r in rows]


def document(programme: PrmProgramme, viewer: Any = None, as_of: date | None = None) -> dict[str, Any]:
    """``GET /api/v1/prm/programmes/<id>/results``: the plan, the latest interim snapshot, the
    final one (or null), and the current figures — the final snapshot once there is one (frozen),
    else computed now (interim). Aggregates only: no endpoint lists the customers of an arm.
    ``viewer`` is the reader (already checked for scope by the caller)."""
    rows = snapshots(programme)
    final = next((r for r in rows if r.kind == "final"), None)
    interims = [r for r in rows if r.kind == "interim"]
    if final is not None:
        current = dict(final.snapshot)
        frozen = True
    else:
        current = compute(programme, as_of)
        frozen = False
    # the sentence in the reader's language, from the stored figures (a snapshot keeps its numbers)
    words = verdict(current.get("holdout"), current.get("did"), current.get("metric") or programme.objective_metric)
    return {
        "programme_id": programme.id,
        "state": programme.state,
        "plan": programme.plan,
        "interim": dict(interims[-1].snapshot) if interims else None,
        "final": dict(final.snapshot) if final else None,
        "window": current.get("window"),
        "holdout": current.get("holdout"),
        "did": current.get("did"),
        "attribution": current.get("attribution"),
        "verdict": current.get("verdict"),
        "verdict_text": words["text"],
        "basis": current.get("basis"),
        "success": bool(current.get("success")),
        "frozen": frozen,
        "computed_at": current.get("computed_at"),
        "snapshots": _history(rows),
    }
