"""Hooks prm_groups declares for other add-ons (``portal_add_hookspecs``): knowledge_share turns a
closed programme with a significant result into a success-story draft (the hand-off)."""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("portal")


@hookspec
def prm_programme_closed(programme: dict[str, Any], result: dict[str, Any], actor: Any) -> None:
    """A programme was closed with its final, frozen ``result`` (the ``GET …/results`` document:
    ``verdict``, ``holdout`` and ``did`` blocks). ``programme``: ``id``, ``name``, ``group``,
    ``category``, ``url``. Called inside the closing transaction; raise nothing."""


@hookspec(firstresult=True)
def prm_programme_result(programme_id: int) -> dict[str, Any] | None:
    """The results document of programme ``programme_id`` (as ``GET /api/v1/prm/programmes/<id>/results``),
    for another add-on showing a verified result; None for an unknown programme."""


@hookspec(firstresult=True)
def prm_programme_summary(programme_id: int, actor: Any) -> dict[str, Any] | None:
    """``{"id", "name", "group", "category", "state", "url"}`` of programme ``programme_id`` when
    ``actor`` may see it (HQ every programme, a group's leaders their group's; ``actor=None``: the
    system, no check); None otherwise — knowledge_share lets a leader cite their own programme."""
