"""The add-on's own hookspec ``prm_programme_result`` (wired in ``hooks.py`` by the lead): another
add-on (knowledge_share citing a verified result) asks for a programme's results document."""

from __future__ import annotations

from typing import Any

from portal.toolkit import db

from ..models import PrmProgramme


def programme_result(programme_id: int) -> dict[str, Any] | None:
    """The ``GET …/results`` document of programme ``programme_id``; None for an unknown one. The
    caller is an add-on, not a person: it decides who may see what it shows."""
    from .results import document

    if isinstance(programme_id, bool) or not isinstance(programme_id, int) or not 0 < programme_id < 2**31:
        return None
    programme = db.session.get(PrmProgramme, programme_id)
    return document(programme) if programme is not None else None
