"""Demo data of the add-on (``portal_seed``; placeholder until the demo lands)."""

from __future__ import annotations


def seed(profile: str) -> None:
    return None
