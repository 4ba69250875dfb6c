"""The demo seed on the test template (area F): customer scores as the demo computes them (the
template has none), then ``seed("demo")`` — shared by the seed and browser tests."""

from __future__ import annotations

from typing import Any


def run_demo_seed(*, scores: bool = True) -> dict[str, Any]:
    """Scores as of the demo's "today" (what ``flask portal demo`` does before installing the
    add-ons), then the add-on's demo seed, strict: a failing step fails the test."""
    from plugins.branch_monitor.seed import demo_today, seed
    from portal.analytics.scoring import refresh_scores

    if scores:
        refresh_scores(as_of=demo_today(), source="demo")
    done = seed("demo", strict=True)
    assert done is not None
    return done
