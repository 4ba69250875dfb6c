"""Placeholder: signatures fixed by the lead, bodies by the stories-service helper.

The one way stories change: create, edit, check out a working copy, fire a transition. Every
function validates everything before writing (a ``StoryError`` and nothing written) and keeps the
search index in step (``search.index.reindex_story``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import StoryError
from ..models import KsStory

__all__ = ["StoryError", "create_story", "update_story", "checkout", "fire", "revision_data",
           "get_story_or_404", "story_document"]


def create_story(data: Mapping[str, Any], actor: Any) -> KsStory:
    """A new private story from the API/form fields, authored by ``actor`` for their unit or group."""
    raise NotImplementedError


def update_story(story: KsStory, data: Mapping[str, Any], actor: Any) -> KsStory:
    """Edit a private or pending story (a published one is edited through :func:`checkout`)."""
    raise NotImplementedError


def checkout(story: KsStory, actor: Any) -> KsStory:
    """The working copy of a published story (created once; the open one is returned again)."""
    raise NotImplementedError


def fire(story: KsStory, transition: str, actor: Any, comment: str = "", *, revision: str | None = None) -> KsStory:
    """Fire a workflow transition through the core workflow, with the add-on's rules around it."""
    raise NotImplementedError


def revision_data(story: KsStory) -> dict[str, Any]:
    """Every field the story page shows (what a reviewer's approval binds to)."""
    raise NotImplementedError


def get_story_or_404(story_id: Any, user: Any) -> KsStory:
    """The story if ``user`` may see it (visibility filter); 404 otherwise, like a missing id."""
    raise NotImplementedError


def story_document(story: KsStory, user: Any) -> dict[str, Any]:
    """The API's JSON of one story, with ``result`` and its mark."""
    raise NotImplementedError
