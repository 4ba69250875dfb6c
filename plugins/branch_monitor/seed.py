"""Demo data of the add-on (``portal_seed``). PLACEHOLDER (area F)."""

from __future__ import annotations


def seed(profile: str) -> None:
    return None
