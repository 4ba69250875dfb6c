"""SVG geometry for the monitor's charts, computed here so templates only place elements: no
JavaScript, no inline styles (the CSP refuses them) — colours come from CSS classes by state,
sizes from ``viewBox`` so a chart shrinks to a 390 px phone. Every chart gets a ``<title>`` and
``aria`` text in the template; a state is always also written in words, never colour alone.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any


def _nice_step(span: float) -> float:
    """A 1-2-5 step giving 3–6 ticks over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / 4
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def sparkline(points: list[tuple[date, float | None]], width: int = 120, height: int = 28,
              pad: int = 3) -> dict[str, Any] | None:
    """A small line of a 12-month trend: ``{"width", "height", "points" (polyline), "last":
    (cx, cy), "segments"}``; months without a value break the line. None with < 2 values."""
    vals = [v for _m, v in points if v is not None]
    if len(vals) < 2:
        return None
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or abs(hi) or 1.0
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(v: float) -> float:
        return round(height - pad - (height - 2 * pad) * (v - lo) / span, 1)

    segments: list[str] = []
    current: list[str] = []
    last = None
    for i, (_m, v) in enumerate(points):
        if v is None:
            if len(current) > 1:
                segments.append(" ".join(current))
            current = []
            continue
        pt = (round(pad + i * step, 1), y(v))
        current.append(f"{pt[0]},{pt[1]}")
        last = pt
    if len(current) > 1:
        segments.append(" ".join(current))
    return {"width": width, "height": height, "segments": segments, "last": last,
            "first_month": points[0][0], "last_month": points[-1][0], "min": lo, "max": hi}


def trend_chart(points: list[tuple[date, float | None]], rate: bool = False, width: int = 360,
                height: int = 140) -> dict[str, Any] | None:
    """A scorecard's 12-month trend with a y-axis (3–6 ticks) and month labels: ``{"width",
    "height", "left", "right", "top", "bottom", "segments", "dots": [{cx, cy, month, value}],
    "y_ticks": [(y, label)], "x_ticks": [(x, label)]}``; None with < 2 values. ``rate``: 0–1
    values labelled in per cent."""
    vals = [v for _m, v in points if v is not None]
    if len(vals) < 2:
        return None
    left, right, top, bottom = 44, 8, 8, 22
    lo, hi = min(0.0, min(vals)), max(vals)
    if rate:
        hi = min(1.0, hi * 1.1) if hi > 0 else 1.0
    step = _nice_step(hi - lo or abs(hi) or 1.0)
    hi = math.ceil(hi / step) * step if hi > 0 else step
    lo = math.floor(lo / step) * step
    pw, ph = width - left - right, height - top - bottom
    xs = pw / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return round(left + i * xs, 1)

    def y(v: float) -> float:
        return round(top + ph * (1 - (v - lo) / ((hi - lo) or 1.0)), 1)

    segments: list[str] = []
    current: list[str] = []
    dots = []
    for i, (m, v) in enumerate(points):
        if v is None:
            if len(current) > 1:
                segments.append(" ".join(current))
            current = []
            continue
        current.append(f"{x(i)},{y(v)}")
        dots.append({"cx": x(i), "cy": y(v), "month": m, "value": v})
    if len(current) > 1:
        segments.append(" ".join(current))
    ticks = []
    t = lo
    while t <= hi + step / 1000 and len(ticks) < 8:
        ticks.append((y(t), _label(t, rate)))
        t += step
    x_ticks = [(x(i), f"{m:%y.%m}") for i, (m, _v) in enumerate(points) if i % 3 == (len(points) - 1) % 3]
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top,
            "bottom": height - bottom, "segments": segments, "dots": dots, "y_ticks": ticks, "x_ticks": x_ticks}


def _label(v: float, rate: bool) -> str:
    if rate:
        return f"{v * 100:.0f} %"
    if abs(v) >= 1_000_000:
        return f"{v / 1_000_000:,.1f}M".replace(".0M", "M")
    if abs(v) >= 10_000:
        return f"{v / 1_000:,.0f}k"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def funnel_chart(data: dict[str, Any] | None, labels: dict[int, tuple[str, str]] | None = None, width: int = 520,
                 height: int = 340) -> dict[str, Any] | None:
    """A funnel plot from ``comparison.funnel.funnel(...)``: x = denominator, y = rate; the
    company rate as a line, the 95 % and 99.8 % limits as polylines (lower and upper), each
    branch a dot classed by its state. ``labels`` (branch id → (code, name)) names the dots for
    viewers who may see names; without it a dot has no name. None without points."""
    if not data or not data.get("points"):
        return None
    left, right, top, bottom = 48, 12, 12, 40
    pw, ph = width - left - right, height - top - bottom
    x_max = max(int(data.get("x_max") or 0), 1)
    p0 = data.get("company_rate")
    ys = [p["y"] for p in data["points"] if p.get("y") is not None]
    curves = data.get("curves") or []
    hi_vals = [c["hi998"] for c in curves if c.get("hi998") is not None]
    y_max = max([*ys, *(hi_vals[-1:] if hi_vals else []), p0 or 0, 0.01])
    y_max = min(1.0, y_max * 1.08)
    step = _nice_step(y_max)
    y_max = min(1.0, math.ceil(y_max / step) * step) or 1.0

    def x(n: float) -> float:
        return round(left + pw * n / x_max, 1)

    def y(r: float) -> float:
        return round(top + ph * (1 - max(0.0, min(r, y_max)) / y_max), 1)

    def line(key: str) -> str:
        return " ".join(f"{x(c['n'])},{y(c[key])}" for c in curves if c.get(key) is not None)

    lines = {k: line(k) for k in ("lo95", "hi95", "lo998", "hi998")} if curves else {}
    ticks, t = [], 0.0
    while t <= y_max + step / 1000 and len(ticks) < 12:
        ticks.append((y(t), f"{t * 100:.0f} %"))
        t += step
    x_step = _nice_step(x_max)
    x_ticks, n = [], 0.0
    while n <= x_max and len(x_ticks) < 8:
        x_ticks.append((x(n), f"{n:,.0f}"))
        n += x_step
    names = labels or {}
    points = [{**p, "cx": x(p["x"]), "cy": y(p["y"] or 0.0),
               "code": names[p["branch_id"]][0] if p["branch_id"] in names else None,
               "label": " ".join(names[p["branch_id"]]) if p["branch_id"] in names else None}
              for p in data["points"]]
    # dots in alarm last so they are drawn on top
    points.sort(key=lambda p: {"alarm": 2, "alert": 1}.get(p.get("state"), 0))
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top,
            "bottom": height - bottom, "centre_y": y(p0) if p0 is not None else None, "lines": lines,
            "y_ticks": ticks, "x_ticks": x_ticks, "points": points, "company_rate": p0}


def limit_strip(position: dict[str, Any] | None, width: int = 320, height: int = 44) -> dict[str, Any] | None:
    """One branch against its funnel limits as a strip 0–100 %: the 99.8 % band, the 95 % band
    inside it, the company rate and the branch's rate. Shows no other branch."""
    if not position or position.get("rate") is None:
        return None
    pad = 16  # room for the "0 %" and "100 %" labels
    lim = position.get("limits") or {}

    def x(r: float | None) -> float | None:
        if r is None:
            return None
        return round(pad + (width - 2 * pad) * max(0.0, min(1.0, r)), 1)

    out = {"width": width, "height": height, "rate_x": x(position["rate"]),
           "company_x": x(position.get("company_rate")), "bands": []}
    if lim.get("lo998") is not None and lim.get("hi998") is not None:
        out["bands"].append({"cls": "bm-band-998", "x": x(lim["lo998"]), "w": round(x(lim["hi998"]) - x(lim["lo998"]), 1)})
    if lim.get("lo95") is not None and lim.get("hi95") is not None:
        out["bands"].append({"cls": "bm-band-95", "x": x(lim["lo95"]), "w": round(x(lim["hi95"]) - x(lim["lo95"]), 1)})
    out["ticks"] = [(x(t / 4), f"{t * 25} %") for t in range(5)]
    return out


def band_bar(band: dict[str, Any] | None, width: int = 320, height: int = 40) -> dict[str, Any] | None:
    """Percentile bands as a box plot strip: p10–p90 whiskers, p25–p75 box, the median, and the
    branch's own value; scaled between p10 and p90 widened to include the own value."""
    if not band:
        return None
    pad = 10
    lo = min(band["p10"], band["value"] if band.get("value") is not None else band["p10"])
    hi = max(band["p90"], band["value"] if band.get("value") is not None else band["p90"])
    span = (hi - lo) or abs(hi) or 1.0
    lo, hi = lo - span * 0.05, hi + span * 0.05

    def x(v: float) -> float:
        return round(pad + (width - 2 * pad) * (v - lo) / (hi - lo), 1)

    return {"width": width, "height": height, "p10": x(band["p10"]), "p25": x(band["p25"]), "p50": x(band["p50"]),
            "p75": x(band["p75"]), "p90": x(band["p90"]),
            "own": x(band["value"]) if band.get("value") is not None else None}
