"""The search documents: one ``ks_search_doc`` row per *published base story* (state published,
``base_id`` NULL) holding its terms (``search/tokens.py``) over the title, summary, the body
fields and the tags (category names and code, RFM segment, season, channels, keywords).

The application writes ``ks_search_doc`` only; the database keeps its text index in step
(migration ``ks_0002``): on SQLite triggers mirror the rows into the contentless FTS5 table
``ks_search_fts(title, body)`` (``rowid`` = ``story_id``; ``terms`` split at its newline), on
PostgreSQL the STORED column ``tsv`` = ``to_tsvector('simple', terms)`` with its GIN index
(``ks_0003``) and a GIN expression index over the title line
``to_tsvector('simple', split_part(terms, chr(10), 1))``. A story that is not published (pending,
retracted, archived) or is a working copy has no document, so it can never be found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update

from portal.toolkit import Category, db, utcnow

from ..models import PUBLISHED, TEXT_FIELDS, KsSearchDoc, KsStory
from .tokens import MAX_TERMS, document_terms

CHUNK = 1000

_COLUMNS = (KsStory.id, KsStory.title, *(getattr(KsStory, f) for f in TEXT_FIELDS), KsStory.rfm_segment,
            KsStory.season, KsStory.channels, KsStory.keywords, Category.code, Category.name_ko,
            Category.name_en)


def _source():
    """Published base stories with their category names, as one SELECT (no per-row queries)."""
    return (select(*_COLUMNS).outerjoin(Category, Category.id == KsStory.category_id)
            .where(KsStory.state == PUBLISHED, KsStory.base_id.is_(None)))


def terms_of(row: Sequence[Any]) -> str:
    """The ``terms`` text of one row of :func:`_source`: the title's terms on the first line, the
    body's and the tags' on the second (the title line has its own index, for ranking)."""
    n = len(TEXT_FIELDS)
    title, texts = row[1], row[2:2 + n]
    rfm, season, channels, keywords, code, name_ko, name_en = row[2 + n:]
    tags = [rfm or "", season or "", " ".join(channels or []), " ".join(keywords or []), code or "",
            name_ko or "", name_en or ""]
    head = document_terms(title or "")
    rest = document_terms(*(t or "" for t in texts), *tags)[: max(0, MAX_TERMS - len(head))]
    return " ".join(head) + "\n" + " ".join(rest)


def reindex_story(story_id: int) -> None:
    """Bring the search document of a base story in step with its published content (call after
    every write that changes a story's text, tags, state or visibility; same transaction)."""
    row = db.session.execute(_source().where(KsStory.id == story_id)).first()
    if row is None:
        remove_story(story_id)
        return
    terms = terms_of(row)
    current = db.session.execute(select(KsSearchDoc.terms).where(KsSearchDoc.story_id == story_id)).first()
    if current is None:
        db.session.execute(insert(KsSearchDoc).values(story_id=story_id, terms=terms, updated_at=utcnow()))
    elif current[0] != terms:
        db.session.execute(update(KsSearchDoc).where(KsSearchDoc.story_id == story_id)
                           .values(terms=terms, updated_at=utcnow()))


def remove_story(story_id: int) -> None:
    """Drop a story's search document."""
    db.session.execute(delete(KsSearchDoc).where(KsSearchDoc.story_id == story_id))


def _write_chunk(rows: Iterable[Sequence[Any]]) -> int:
    """Insert or update the documents of ``rows`` (those whose terms changed only)."""
    wanted = {row[0]: terms_of(row) for row in rows}
    if not wanted:
        return 0
    have = dict(db.session.execute(select(KsSearchDoc.story_id, KsSearchDoc.terms)
                                   .where(KsSearchDoc.story_id.in_(list(wanted)))).all())
    now = utcnow()
    new = [{"story_id": sid, "terms": t, "updated_at": now} for sid, t in wanted.items() if sid not in have]
    if new:
        db.session.execute(insert(KsSearchDoc), new)
    for sid, t in wanted.items():
        if sid in have and have[sid] != t:
            db.session.execute(update(KsSearchDoc).where(KsSearchDoc.story_id == sid).values(terms=t, updated_at=now))
    return len(wanted)


def reindex_all(chunk: int = CHUNK) -> int:
    """Rebuild every search document; returns how many. Documents of stories no longer published
    go in one DELETE; the others are written in chunks of ``chunk`` stories (only changed terms
    are rewritten, so a rebuild with nothing changed costs reads only)."""
    published = select(KsStory.id).where(KsStory.state == PUBLISHED, KsStory.base_id.is_(None))
    db.session.execute(delete(KsSearchDoc).where(KsSearchDoc.story_id.not_in(published)))
    total, last = 0, 0
    while True:
        rows = db.session.execute(_source().where(KsStory.id > last).order_by(KsStory.id).limit(chunk)).all()
        if not rows:
            break
        total += _write_chunk(rows)
        last = rows[-1][0]
    return total


__all__ = ["reindex_story", "remove_story", "reindex_all", "terms_of"]
