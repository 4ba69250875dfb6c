"""Placeholder: signatures fixed by the lead, bodies by the results helper."""

from __future__ import annotations

from typing import Any

from ..models import KsStory


def result_block(story: KsStory) -> dict[str, Any]:
    """What the story shows as its result: ``{"mark": "verified"|"interim"|"self_reported", ...}``."""
    return {"mark": story.result_mark, "text": story.result_text}


def link_result(story: KsStory, *, campaign_id: int | None = None, programme_id: int | None = None,
                actor: Any = None) -> None:
    """Link a story to a measured campaign or programme and copy its result block (StoryError on an
    unknown or unseen campaign/programme)."""
    return None


def refresh_result(story: KsStory) -> bool:
    """Re-read the linked result (interim → verified once frozen); True when it changed."""
    return False
