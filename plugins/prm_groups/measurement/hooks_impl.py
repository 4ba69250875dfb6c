"""The add-on's own hookspec ``prm_programme_result`` (wired in ``hooks.py`` by the lead): another
add-on (knowledge_share citing a verified result) asks for a programme's results document."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.toolkit import db, scope_filter

from ..models import PrmProgramme
from ..permissions import VIEW


def programme_result(programme_id: int) -> dict[str, Any] | None:
    """The ``GET …/results`` document of programme ``programme_id``; None for an unknown one. The
    caller is an add-on, not a person: it decides who may see what it shows."""
    from .results import document

    if isinstance(programme_id, bool) or not isinstance(programme_id, int) or not 0 < programme_id < 2**31:
        return None
    programme = db.session.get(PrmProgramme, programme_id)
    return document(programme) if programme is not None else None


def programme_summary(programme_id: int, actor: Any) -> dict[str, Any] | None:
    """Name, group, category, state and page of a programme ``actor`` may see (the programmes
    list's scope: ``prm.view`` through the programme's group); None for an unknown or unseen one."""
    from .results import programme_ref

    if isinstance(programme_id, bool) or not isinstance(programme_id, int) or not 0 < programme_id < 2**31:
        return None
    query = select(PrmProgramme).where(PrmProgramme.id == programme_id)
    if actor is not None:
        query = query.where(scope_filter(actor, VIEW, PrmProgramme))
    programme = db.session.execute(query).scalar_one_or_none()
    return {**programme_ref(programme), "state": programme.state} if programme is not None else None
