"""Funnel plots: exact binomial limits around the company rate (95 % "alert", 99.8 % "alarm").

PLACEHOLDER (area D): signatures are fixed; the owner replaces the bodies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    n: int
    lo95: float
    hi95: float
    lo998: float
    hi998: float


def limits(p0: float, n: int) -> Limits:
    """Exact binomial limits for ``n`` trials around ``p0`` (``binom.ppf(q, n, p0) / n``)."""
    raise NotImplementedError


def classify(x: int, n: int, p0: float, better: str = "high") -> str:
    """``ok`` / ``alert`` (outside 95 %) / ``alarm`` (outside 99.8 %) on the bad side only."""
    raise NotImplementedError
