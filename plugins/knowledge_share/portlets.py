"""Dashboard boxes (``portal_portlets``), one function per area."""

from __future__ import annotations

from typing import Any


def portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    from .sessions.portlets import portlets as session_portlets
    from .stories.portlets import portlets as story_portlets

    return [*story_portlets(manager, user), *session_portlets(manager, user)]
