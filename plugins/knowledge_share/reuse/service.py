"""Placeholder: signatures fixed by the lead, bodies by the results/reuse helper."""

from __future__ import annotations

from typing import Any

from ..models import KsStory


def reuse_available() -> bool:
    """True when cem_channels is active (the button shows, the endpoint answers)."""
    return False


def reuse_campaign(story: KsStory, actor: Any) -> dict[str, Any]:
    """A draft campaign in ``actor``'s unit from the story's campaign; returns ``{"id", "url", ...}``."""
    raise NotImplementedError


def reuses_of(story: KsStory) -> list[dict[str, Any]]:
    """The units that reused the story's campaign, with their results once closed."""
    return []
