"""Demo data (``portal_seed("demo")``): published stories with verified results, one pending
review, one session with an agenda. Owner: the lead (written last)."""

from __future__ import annotations


def seed(profile: str) -> None:
    if profile != "demo":
        return
