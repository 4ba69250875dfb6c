"""The daily job ``ks.results.refresh`` (06:20 Asia/Seoul): interim results move on, and reuses get
their measured result once their campaign closed.

Set-based: one query for the distinct campaigns and programmes behind stories not yet verified,
one hook call per campaign/programme (never per story: a campaign cited by 50 stories is read
once), one UPDATE per campaign for all its stories. Reuses (``ks_reuse``) without a result get the
block of their campaign once it is frozen — "reused by N units, with their measured results once
closed". Each campaign commits on its own: one that fails is rolled back and logged.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from portal.toolkit import db, utcnow

from ..models import VERIFIED, KsReuse, KsStory
from .service import _mark, read_campaign, read_programme

log = logging.getLogger(__name__)


def _each(ids: list[int], work: Any, stats: dict[str, int], what: str) -> None:
    for ident in ids:
        try:
            stats["updated"] += work(ident)
            db.session.commit()
        except Exception:  # noqa: BLE001 - one campaign's failure must not stop the others
            db.session.rollback()
            stats["failed"] += 1
            log.exception("ks.results.refresh: %s %s failed", what, ident)


def refresh_results() -> dict[str, int]:
    """Refresh every interim story result and every reuse still waiting for its closed result;
    returns ``{"read", "updated", "failed"}`` (hook calls, rows changed, campaigns that failed)."""
    not_final = KsStory.result_mark != VERIFIED
    campaigns = list(db.session.scalars(select(KsStory.campaign_id).where(
        KsStory.campaign_id.is_not(None), not_final).distinct().order_by(KsStory.campaign_id)))
    programmes = list(db.session.scalars(select(KsStory.programme_id).where(
        KsStory.programme_id.is_not(None), KsStory.campaign_id.is_(None), not_final)
        .distinct().order_by(KsStory.programme_id)))
    reused = list(db.session.scalars(select(KsReuse.campaign_id).where(KsReuse.result.is_(None))
                                     .distinct().order_by(KsReuse.campaign_id)))
    db.session.rollback()
    stats = {"read": len(campaigns) + len(programmes) + len(reused), "updated": 0, "failed": 0}
    now = utcnow()

    def campaign(cid: int) -> int:
        block = read_campaign(cid, None, scoped=False)
        if block is None:
            return 0
        return db.session.execute(update(KsStory).where(KsStory.campaign_id == cid, KsStory.result_mark != VERIFIED)
                                  .values(result=block, result_mark=_mark(block), result_checked_at=now)
                                  .execution_options(synchronize_session=False)).rowcount or 0

    def programme(pid: int) -> int:
        block = read_programme(pid)
        if block is None:
            return 0
        # keep each story's own source name/url (the hand-off knew the programme's name)
        rows = db.session.execute(select(KsStory.id, KsStory.result).where(
            KsStory.programme_id == pid, KsStory.campaign_id.is_(None), KsStory.result_mark != VERIFIED)).all()
        for sid, old in rows:
            source = {**block["source"], **{k: v for k, v in ((old or {}).get("source") or {}).items()
                                            if k in ("name", "url") and v}}
            db.session.execute(update(KsStory).where(KsStory.id == sid).values(
                result={**block, "source": source}, result_mark=_mark(block), result_checked_at=now)
                .execution_options(synchronize_session=False))
        return len(rows)

    def reuse(cid: int) -> int:
        block = read_campaign(cid, None, scoped=False)
        if block is None or not block.get("frozen"):
            return 0
        return db.session.execute(update(KsReuse).where(KsReuse.campaign_id == cid, KsReuse.result.is_(None))
                                  .values(result=block).execution_options(synchronize_session=False)).rowcount or 0

    _each(campaigns, campaign, stats, "campaign")
    _each(programmes, programme, stats, "programme")
    _each(reused, reuse, stats, "reused campaign")
    return stats


JOBS: list[dict[str, Any]] = [
    {"name": "ks.results.refresh", "func": refresh_results,
     "schedule": {"minute": "20", "hour": "6", "tz": "Asia/Seoul"}, "retries": 1, "time_limit": 1800},
]
