"""The JSON body of every knowledge_share API write: the core's ``json_object`` (toolkit), which
also refuses what no database stores — a lone surrogate (JSON ``"\\ud800"``) or a NUL, in a value
or a key — at its field path (``title``, ``agenda[0].note``) before any service reads the body."""

from __future__ import annotations

from typing import Any

from portal.toolkit import json_object

from .errors import StoryError


def json_body(*, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object, or a ``StoryError`` (422) naming each refused field."""
    return json_object(StoryError, empty_ok=empty_ok)


__all__ = ["json_body"]
