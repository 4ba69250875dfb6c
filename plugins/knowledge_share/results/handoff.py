"""The hand-off from prm_groups (hook ``prm_programme_closed``): a programme closed with a
significant increase becomes a private draft story for HQ to complete — linked, its result block
already verified, so the success is written up from the measured figures rather than from memory.

Idempotent per programme (a second close, a replayed hook: the existing story is kept). Written in
a savepoint of the closing transaction: a failure here is logged and undoes only the draft, never
the close.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from portal.toolkit import Category, PartnerGroup, db

from ..models import PRIVATE, TITLE_MAX, KsStory
from .service import _mark, programme_block

log = logging.getLogger(__name__)
#: Verdicts that make a success story (a significant decrease is a lesson, not a success to copy).
SUCCESS_VERDICTS = ("significant_increase",)


def _id_of(model: Any, code: Any) -> int | None:
    if not isinstance(code, str) or not code:
        return None
    return db.session.scalar(select(model.id).where(model.code == code))


def on_programme_closed(programme: dict[str, Any], result: dict[str, Any], actor: Any) -> None:
    """A private draft story linked to the closed programme when its result is a significant
    increase (``result["verdict"]``); nothing otherwise, nothing when one already exists."""
    if not isinstance(programme, Mapping) or not isinstance(result, Mapping):
        return
    pid = programme.get("id")
    if isinstance(pid, bool) or not isinstance(pid, int) or result.get("verdict") not in SUCCESS_VERDICTS:
        return
    if db.session.scalar(select(KsStory.id).where(KsStory.programme_id == pid, KsStory.base_id.is_(None)).limit(1)):
        return
    try:
        with db.session.begin_nested():
            name = str(programme.get("name") or f"#{pid}")
            block = programme_block(result, pid, name, programme.get("url"))
            group_id = _id_of(PartnerGroup, programme.get("group"))
            story = KsStory(
                title=name[:TITLE_MAX],
                summary=str(result.get("verdict_text") or ""),
                result_text="",
                channels=[], keywords=[],
                author_id=getattr(actor, "id", None),
                author_group_id=group_id,
                visibility="group" if group_id else "all",
                scope_group_id=group_id,
                category_id=_id_of(Category, programme.get("category")),
                programme_id=pid,
                result=block,
                result_mark=_mark(block),
                state=PRIVATE,
            )
            db.session.add(story)
            db.session.flush()
            from ..search.index import reindex_story

            reindex_story(story.id)
    except Exception:  # noqa: BLE001 - the hook raises nothing: the close goes on without the draft
        log.exception("knowledge_share: hand-off of programme %s failed", pid)
