"""Placeholder (owner: content)."""

from typing import Any


def programme_revision(programme: Any) -> dict[str, Any]:
    return {"id": programme.id}
