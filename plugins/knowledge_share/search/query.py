"""Search and list published stories, scoped in SQL.

One statement finds the page and one counts it; both join the matches of the text index with
``ks_story`` under :func:`visible_filter` and the filters, so a story the user may not see is
neither listed nor counted. The text condition is the only per-dialect part: FTS5 ``MATCH`` on
SQLite, ``@@ to_tsquery('simple', …)`` over a GIN index on PostgreSQL; both are fed by the same
:func:`~.tokens.query_units`, so they answer the same stories in the same order.

Relevance is deliberately simple and index-only: stories whose *title* holds every query term
first, then the newest. bm25 / ts_rank were measured and dropped: ``ts_rank`` must rebuild the
tsvector of every matching story (a common two-syllable word matches a third of the library:
seconds over 100,000 stories), and the two functions order stories differently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Integer, and_, bindparam, case, column, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from portal.toolkit import db, is_postgres

from ..errors import StoryError
from ..models import PUBLISHED, SEASONS, STORY_CHANNELS, KsStory
from ..stories.visibility import visible_filter
from .tokens import fts5_query, query_units, tsquery

SORTS = ("relevance", "newest", "helpful")
MARKS = ("verified", "interim", "self_reported")
FILTERS = ("category_id", "channel", "season", "rfm_segment", "keyword", "author_unit_id", "mark")
MAX_PER_PAGE = 100
#: Pages beyond this are refused (OFFSET that deep is a scraper, not a reader).
MAX_PAGE = 10_000
MAX_QUERY = 200


@dataclass
class SearchPage:
    items: list[Any] = field(default_factory=list)  # KsStory rows, best first
    total: int = 0
    page: int = 1
    per_page: int = 20
    q: str = ""
    sort: str = "newest"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _int(value: Any, name: str, errors: dict[str, str]) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        errors[name] = _("Choose one of the offered values.")
        return None
    if not 0 < number < 2**31:
        errors[name] = _("Choose one of the offered values.")
        return None
    return number


def clean_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The filters that are set, checked; :class:`StoryError` (422, by filter name) otherwise."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    raw = dict(filters or {})
    for name in ("category_id", "author_unit_id"):
        number = _int(raw.get(name), name, errors)
        if number is not None:
            out[name] = number
    choices = {"channel": STORY_CHANNELS, "season": SEASONS, "mark": MARKS}
    for name, allowed in choices.items():
        value = raw.get(name)
        if value in (None, ""):
            continue
        if value not in allowed:
            errors[name] = _("Choose one of the offered values.")
        else:
            out[name] = value
    for name, limit in (("rfm_segment", 40), ("keyword", 30)):
        value = raw.get(name)
        if value in (None, ""):
            continue
        value = str(value).strip()
        if len(value) > limit:
            errors[name] = _("At most %(n)d characters.", n=limit)
        elif value:
            out[name] = value
    if errors:
        raise StoryError(errors, 422)
    return out


#: ``:v`` is one element of the JSON list column (set-based, in SQL); keys are the column names.
_JSON_HAS = {
    "postgresql": {
        "channels": "EXISTS (SELECT 1 FROM json_array_elements_text(ks_story.channels) AS e(v) WHERE e.v = :v)",
        "keywords": "EXISTS (SELECT 1 FROM json_array_elements_text(ks_story.keywords) AS e(v) WHERE e.v = :v)",
    },
    "sqlite": {
        "channels": "EXISTS (SELECT 1 FROM json_each(ks_story.channels) AS e WHERE e.value = :v)",
        "keywords": "EXISTS (SELECT 1 FROM json_each(ks_story.keywords) AS e WHERE e.value = :v)",
    },
}


def _json_contains(col_name: str, value: str) -> ColumnElement[bool]:
    sql = _JSON_HAS["postgresql" if is_postgres() else "sqlite"][col_name]
    return text(sql).bindparams(bindparam("v", value, unique=True))


def _conditions(user: Any, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [KsStory.state == PUBLISHED, KsStory.base_id.is_(None), visible_filter(user)]
    if "category_id" in filters:
        conds.append(KsStory.category_id == filters["category_id"])
    if "author_unit_id" in filters:
        conds.append(KsStory.author_unit_id == filters["author_unit_id"])
    if "season" in filters:
        conds.append(KsStory.season == filters["season"])
    if "rfm_segment" in filters:
        conds.append(KsStory.rfm_segment == filters["rfm_segment"])
    if "mark" in filters:
        conds.append(KsStory.result_mark == filters["mark"])
    if "channel" in filters:
        conds.append(_json_contains("channels", filters["channel"]))
    if "keyword" in filters:
        conds.append(_json_contains("keywords", filters["keyword"]))
    return conds


#: The text index's matches (``story_id``), per dialect. Fixed SQL, the query text bound.
_MATCH_SQL = {
    "postgresql": "SELECT story_id FROM ks_search_doc "
                  "WHERE to_tsvector('simple'::regconfig, terms) @@ to_tsquery('simple'::regconfig, :ks_q)",
    "sqlite": "SELECT rowid AS story_id FROM ks_search_fts WHERE ks_search_fts MATCH :ks_q",
}
#: The stories whose title holds every term (the title line's own index).
_TITLE_SQL = {
    "postgresql": "SELECT story_id FROM ks_search_doc WHERE to_tsvector('simple'::regconfig, "
                  "split_part(terms, chr(10), 1)) @@ to_tsquery('simple'::regconfig, :ks_tq)",
    "sqlite": "SELECT rowid AS story_id FROM ks_search_fts WHERE ks_search_fts MATCH :ks_tq",
}


def _matches(q: str):
    """The text index's matches of ``q`` as a subquery ``(story_id)``, or None when ``q`` has no
    searchable word (answered by the index alone: no per-row tsvector, no bm25)."""
    units = query_units(q)
    if not units:
        return None
    if is_postgres():
        sql = text(_MATCH_SQL["postgresql"]).bindparams(ks_q=tsquery(units))
    else:
        sql = text(_MATCH_SQL["sqlite"]).bindparams(ks_q=fts5_query(units))
    # MATERIALIZED: the index answers first, once; otherwise PostgreSQL may walk the stories and
    # rebuild each one's tsvector to test it (measured: 21 s instead of milliseconds)
    return select(sql.columns(column("story_id", Integer)).subquery("ks_mq").c.story_id) \
        .cte("ks_m").prefix_with("MATERIALIZED")


def _title_first(q: str) -> ColumnElement[int]:
    """0 for a story whose title holds every term of ``q``, else 1 (the title line's own index;
    evaluated once per query as a set, not per row)."""
    units = query_units(q)
    if is_postgres():
        sql = text(_TITLE_SQL["postgresql"]).bindparams(ks_tq=tsquery(units))
    else:
        sql = text(_TITLE_SQL["sqlite"]).bindparams(ks_tq=fts5_query(units, "title"))
    titles = select(sql.columns(column("story_id", Integer)).subquery("ks_t").c.story_id)
    return case((KsStory.id.in_(titles), 0), else_=1)


@contextmanager
def _index_first(text_query: bool) -> Iterator[None]:
    """On PostgreSQL, keep the planner off a sequential scan of ``ks_search_doc`` for a text query:
    it prices ``to_tsvector`` per row far too low and, for a word in most stories, scans the table
    rebuilding every tsvector (measured 14–20 s over 100,000 stories) instead of reading the GIN
    index. ``enable_seqscan`` is switched off for this statement only (``set_config(…, true)``,
    restored after it)."""
    if not (text_query and is_postgres()):
        yield
        return
    before = db.session.execute(text("SELECT current_setting('enable_seqscan'), "
                                     "set_config('enable_seqscan', 'off', true)")).first()[0]
    try:
        yield
    finally:
        db.session.execute(text("SELECT set_config('enable_seqscan', :v, true)"), {"v": before})


def search(user: Any, q: str = "", *, filters: Mapping[str, Any] | None = None, sort: str = "relevance",
           page: int = 1, per_page: int = 20) -> SearchPage:
    """Published base stories ``user`` may see matching ``q`` (Korean bigrams, Latin words in any
    case) and ``filters`` (``category_id``, ``channel``, ``season``, ``rfm_segment``, ``keyword``,
    ``author_unit_id``, ``mark``), counted and paged in SQL.

    ``sort``: ``relevance`` (best match, then newest; the newest first without ``q``), ``newest``,
    ``helpful``. A query with no word to search (only punctuation) finds nothing rather than
    everything. Bad filters, sorts or pages: :class:`StoryError` (422)."""
    q = (q or "").strip()
    errors: dict[str, str] = {}
    if len(q) > MAX_QUERY:
        errors["q"] = _("At most %(n)d characters.", n=MAX_QUERY)
    if sort not in SORTS:
        errors["sort"] = _("Choose one of the offered values.")
    if not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        errors["page"] = _("Choose a page between 1 and %(n)d.", n=MAX_PAGE)
    if not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        errors["per_page"] = _("Choose between 1 and %(n)d per page.", n=MAX_PER_PAGE)
    try:
        clean = clean_filters(filters)
    except StoryError as exc:
        errors.update(exc.errors)
    if errors:
        raise StoryError(errors, 422)

    result = SearchPage(page=page, per_page=per_page, q=q, sort=sort if q else ("newest" if sort == "relevance" else sort))
    conds = _conditions(user, clean)
    newest = (KsStory.published_at.desc(), KsStory.id.desc())
    if q:
        m = _matches(q)
        if m is None:
            return result
        ids = select(KsStory.id, func.count().over().label("total")).join(m, m.c.story_id == KsStory.id)
        counted = select(func.count()).select_from(KsStory).join(m, m.c.story_id == KsStory.id)
        order = {"relevance": (_title_first(q), *newest), "newest": newest,
                 "helpful": (KsStory.helpful_count.desc(), *newest)}[sort]
    else:
        ids = select(KsStory.id, func.count().over().label("total"))
        counted = select(func.count()).select_from(KsStory)
        order = (KsStory.helpful_count.desc(), *newest) if sort == "helpful" else newest
    where = and_(*conds)
    # one pass over the matches gives the page's ids and the total (a window count); the stories
    # themselves are loaded for those ids only (a sort of narrow rows, not of whole stories)
    stmt = ids.where(where).order_by(*order).limit(per_page).offset((page - 1) * per_page)
    with _index_first(bool(q)):
        rows = db.session.execute(stmt).all()
    if rows:
        result.total = rows[0].total
        by_id = {s.id: s for s in db.session.execute(select(KsStory).where(KsStory.id.in_([r.id for r in rows])))
                 .scalars()}
        result.items = [by_id[r.id] for r in rows if r.id in by_id]
    elif page > 1:  # past the last page: the total still tells the reader how far to go back
        with _index_first(bool(q)):
            result.total = db.session.execute(counted.where(where)).scalar_one()
    return result


def visible_ids(user: Any, q: str, **kwargs: Any) -> list[int]:
    """Every matching story id (tests and the benchmark compare backends with it)."""
    page = search(user, q, per_page=MAX_PER_PAGE, **kwargs)
    ids = [s.id for s in page.items]
    n = 2
    while len(ids) < page.total:
        ids += [s.id for s in search(user, q, per_page=MAX_PER_PAGE, page=n, **kwargs).items]
        n += 1
    return ids


__all__ = ["SearchPage", "search", "clean_filters", "visible_ids", "SORTS", "FILTERS"]
