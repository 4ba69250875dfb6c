"""Placeholder: signatures fixed by the lead, bodies by the search helper."""

from __future__ import annotations


def reindex_story(story_id: int) -> None:
    """Bring the search document of a base story in step with its published content (call after
    every write that changes a story's text, tags, state or visibility; same transaction)."""
    return None


def remove_story(story_id: int) -> None:
    """Drop a story's search document."""
    return None


def reindex_all() -> int:
    """Rebuild every search document; returns how many."""
    return 0
