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

from collections.abc import Mapping
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
    #: the total is :data:`COUNT_CAP` and there are more (shown as "1,000+")
    total_is_capped: bool = False
    #: a capped total's page is full: there may be a next page beyond ``pages``
    more: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or self.more

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


#: The text index's matches (``story_id``), per dialect. Fixed SQL, the query text bound. On
#: PostgreSQL ``tsv`` is the STORED tsvector column of migration ``ks_0003`` (GIN-indexed).
_MATCH_SQL = {
    "postgresql": "SELECT story_id FROM ks_search_doc WHERE tsv @@ to_tsquery('simple'::regconfig, :ks_q)",
    "sqlite": "SELECT rowid AS story_id FROM ks_search_fts WHERE ks_search_fts MATCH :ks_q",
}
#: The stories whose title holds every term (the title line's own index).
_TITLE_SQL = {
    "postgresql": "SELECT story_id FROM ks_search_doc WHERE to_tsvector('simple'::regconfig, "
                  "split_part(terms, chr(10), 1)) @@ to_tsquery('simple'::regconfig, :ks_tq)",
    "sqlite": "SELECT rowid AS story_id FROM ks_search_fts WHERE ks_search_fts MATCH :ks_tq",
}

#: A text query counts at most this many stories: the page shows "1,000+", the API ``total`` =
#: 1000 with ``total_is_capped``. A common word is in a third of the library; counting all of them
#: is most of a search's time and tells a reader nothing more than "many".
COUNT_CAP = 1000


def _match_select(q: str, title: bool = False):
    """The text index's matches of ``q`` (or of its title line) as a SELECT of ``story_id``, or None
    when ``q`` has no searchable word (answered by the index alone: no per-row tsvector, no bm25)."""
    units = query_units(q)
    if not units:
        return None
    dialect = "postgresql" if is_postgres() else "sqlite"
    sql = text((_TITLE_SQL if title else _MATCH_SQL)[dialect])
    if is_postgres():
        sql = sql.bindparams(**{"ks_tq" if title else "ks_q": tsquery(units)})
    elif title:
        sql = sql.bindparams(ks_tq=fts5_query(units, "title"))
    else:
        sql = sql.bindparams(ks_q=fts5_query(units))
    return select(sql.columns(column("story_id", Integer)).subquery("ks_mt" if title else "ks_mq").c.story_id)


def _title_first(q: str) -> ColumnElement[int]:
    """0 for a story whose title holds every term of ``q``, else 1 (the title line's own index;
    evaluated once per query as a set, not per row)."""
    return case((KsStory.id.in_(_match_select(q, title=True)), 0), else_=1)


def _driven(matches, where: ColumnElement[bool], *cols: Any):
    """SELECT ``cols`` of the visible stories among ``matches``, the matches read first (once, as a
    set) and each joined to its story by primary key: the cost follows the number of matches."""
    m = matches.cte("ks_m").prefix_with("MATERIALIZED")
    return select(*cols).select_from(m).join(KsStory, KsStory.id == m.c.story_id).where(where)


def _capped_count(matches, where: ColumnElement[bool], cap: int) -> int:
    """How many visible stories ``matches`` holds, counting at most ``cap + 1``."""
    inner = _driven(matches, where, KsStory.id).limit(cap + 1).subquery()
    return db.session.execute(select(func.count()).select_from(inner)).scalar_one()


#: One search document's test of a query, per row (PostgreSQL's walk), by kind: every term
#: anywhere, every term in the title, every term but not all in the title. ``:ks_q`` / ``:ks_tq``.
_DOC = "FROM ks_search_doc d WHERE d.story_id = ks_story.id)"
_ALL = "d.tsv @@ to_tsquery('simple'::regconfig, :ks_q)"
_TITLE = ("to_tsvector('simple'::regconfig, split_part(d.terms, chr(10), 1)) "
          "@@ to_tsquery('simple'::regconfig, :ks_tq)")
_ROW_SQL = {
    "all": "(SELECT " + _ALL + " " + _DOC,
    "title": "(SELECT " + _TITLE + " " + _DOC,
    "rest": "(SELECT " + _ALL + " AND NOT " + _TITLE + " " + _DOC,
}


def _row_test(q: str, kind: str) -> ColumnElement[bool]:
    """PostgreSQL: does this story's document match (``kind`` all, title, rest), as a scalar
    subquery evaluated per walked row — a primary-key read and one ``@@``. A semi-join instead
    would read every match first (measured 65–110 ms for a common word, 630 ms for ``차:*``)."""
    tq = tsquery(query_units(q))
    sql = text(_ROW_SQL[kind])
    params = {"ks_q": tq} if kind == "all" else ({"ks_tq": tq} if kind == "title" else {"ks_q": tq, "ks_tq": tq})
    return sql.bindparams(*(bindparam(k, v, unique=True) for k, v in params.items()))


def _page_ids(matches, where: ColumnElement[bool], order: tuple[Any, ...], offset: int, limit: int,
              walk: bool, row_test: ColumnElement[bool] | None = None) -> list[int]:
    """The ids of one page of the visible ``matches`` in ``order``.

    ``walk=False`` (the ordinary path): read every match, join, sort, cut — the cost follows the
    number of matches. ``walk=True`` (the fast path, for a common word: more than
    :data:`COUNT_CAP` visible matches): walk the stories in ``order`` through ``ix_ks_story_list``
    and keep those in the match set (read once), stopping at the page's end — with that many
    matches the page fills after a few hundred stories. Both answer the same ids in the same order
    (``test_search_speed.py`` holds them to it)."""
    if walk and row_test is not None:
        stmt = select(KsStory.id).where(where, row_test)
    elif walk:
        stmt = select(KsStory.id).where(where, KsStory.id.in_(matches))
    else:
        stmt = _driven(matches, where, KsStory.id)
    return list(db.session.execute(stmt.order_by(*order).limit(limit).offset(offset)).scalars())


def _test(q: str, kind: str) -> ColumnElement[bool] | None:
    return _row_test(q, kind) if is_postgres() else None


def _text_page(q: str, matches, where: ColumnElement[bool], sort: str, offset: int, limit: int,
               cap: int, fast: bool) -> tuple[list[int], int]:
    """The page's ids and the capped total of a text query (see :func:`search`)."""
    total = _capped_count(matches, where, cap)
    newest = (KsStory.published_at.desc(), KsStory.id.desc())
    common = fast and total > cap
    if sort == "helpful":
        return _page_ids(matches, where, (KsStory.helpful_count.desc(), *newest), offset, limit, False), total
    if sort == "newest":
        return _page_ids(matches, where, newest, offset, limit, common, _test(q, "all")), total
    if not fast:  # relevance in one sorted statement: the ordinary path the fast one is held to
        return _page_ids(matches, where, (_title_first(q), *newest), offset, limit, False), total
    # relevance, bounded: the stories whose title holds every term, newest first, then the others
    titles = _match_select(q, title=True)
    title_total = _capped_count(titles, where, cap)
    ids = _page_ids(titles, where, newest, offset, limit, title_total > cap, _test(q, "title"))
    if len(ids) == limit:
        return ids, total
    if ids:  # the title matches end on this page
        title_total = offset + len(ids)
    elif title_total > cap:  # past a capped title count (a deep page): the exact count
        title_total = db.session.execute(select(func.count()).select_from(
            _driven(titles, where, KsStory.id).subquery())).scalar_one()
    mq = matches.subquery("ks_mr")
    rest = select(mq.c.story_id).where(mq.c.story_id.not_in(titles))
    rest_offset = max(0, offset - title_total)
    ids += _page_ids(rest, where, newest, rest_offset, limit - len(ids), common, _test(q, "rest"))
    return ids, total


def search(user: Any, q: str = "", *, filters: Mapping[str, Any] | None = None, sort: str = "relevance",
           page: int = 1, per_page: int = 20, fast: bool = True) -> SearchPage:
    """Published base stories ``user`` may see matching ``q`` (Korean bigrams, Latin words in any
    case) and ``filters`` (``category_id``, ``channel``, ``season``, ``rfm_segment``, ``keyword``,
    ``author_unit_id``, ``mark``), counted and paged in SQL.

    ``sort``: ``relevance`` (best match, then newest; the newest first without ``q``), ``newest``,
    ``helpful``. A query with no word to search (only punctuation) finds nothing rather than
    everything. A text query's total is capped at :data:`COUNT_CAP` (``total_is_capped``; the pages
    go on while they are full). ``fast=False`` takes the ordinary path only (tests hold the fast
    path to it). Bad filters, sorts or pages: :class:`StoryError` (422)."""
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
    where = and_(*_conditions(user, clean))
    newest = (KsStory.published_at.desc(), KsStory.id.desc())
    offset = (page - 1) * per_page
    if q:
        matches = _match_select(q)
        if matches is None:
            return result
        ids, total = _text_page(q, matches, where, sort, offset, per_page, COUNT_CAP, fast)
        result.total_is_capped = total > COUNT_CAP
        result.total = min(total, COUNT_CAP)
        if result.total_is_capped and len(ids) == per_page:
            result.more = True
    else:  # the whole library: an exact count, the page through ix_ks_story_list
        order = (KsStory.helpful_count.desc(), *newest) if sort == "helpful" else newest
        ids = list(db.session.execute(select(KsStory.id).where(where).order_by(*order)
                                      .limit(per_page).offset(offset)).scalars())
        result.total = db.session.execute(select(func.count()).select_from(KsStory).where(where)).scalar_one()
    if ids:
        by_id = {s.id: s for s in db.session.execute(select(KsStory).where(KsStory.id.in_(ids))).scalars()}
        result.items = [by_id[i] for i in ids if i in by_id]
    return result


def visible_ids(user: Any, q: str, **kwargs: Any) -> list[int]:
    """Every matching story id, past a capped total too (tests compare backends with it)."""
    page = search(user, q, per_page=MAX_PER_PAGE, **kwargs)
    ids = [s.id for s in page.items]
    while page.has_next:
        page = search(user, q, per_page=MAX_PER_PAGE, page=page.page + 1, **kwargs)
        ids += [s.id for s in page.items]
    return ids


__all__ = ["SearchPage", "search", "clean_filters", "visible_ids", "SORTS", "FILTERS"]
