"""Placeholder: signatures fixed by the lead, bodies by the stories helper."""

from __future__ import annotations

from typing import Any

from ..models import KsStory


def revision_data(story: KsStory) -> dict[str, Any]:
    """Every field the story page shows (what a reviewer's approval binds to)."""
    raise NotImplementedError
