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
from sqlalchemy import Integer, and_, bindparam, column, func, select, text
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


#: The text conditions, per dialect: (matches with their score, matches only). Fixed SQL.
_MATCH_SQL = {
    "postgresql": (
        "SELECT story_id, CASE WHEN story_id IN (SELECT story_id FROM ks_search_doc "
        "WHERE to_tsvector('simple'::regconfig, split_part(terms, chr(10), 1)) "
        "@@ to_tsquery('simple'::regconfig, :ks_q)) THEN 0 ELSE 1 END AS score "
        "FROM ks_search_doc WHERE to_tsvector('simple'::regconfig, terms) @@ to_tsquery('simple'::regconfig, :ks_q)",
        "SELECT story_id FROM ks_search_doc "
        "WHERE to_tsvector('simple'::regconfig, terms) @@ to_tsquery('simple'::regconfig, :ks_q)",
    ),
    "sqlite": (
        "SELECT rowid AS story_id, CASE WHEN rowid IN (SELECT rowid FROM ks_search_fts "
        "WHERE ks_search_fts MATCH :ks_title_q) THEN 0 ELSE 1 END AS score "
        "FROM ks_search_fts WHERE ks_search_fts MATCH :ks_q",
        "SELECT rowid AS story_id FROM ks_search_fts WHERE ks_search_fts MATCH :ks_q",
    ),
}


def _matches(q: str, *, ranked: bool):
    """The text index's matches of ``q`` as a subquery ``(story_id[, score])`` — ``score`` 0 when
    the title holds every query term, else 1 — or None when ``q`` has no searchable word. Both
    sides are answered by the index alone (no per-row tsvector, no bm25 over every match)."""
    units = query_units(q)
    if not units:
        return None
    pg = is_postgres()
    with_score, plain = _MATCH_SQL["postgresql" if pg else "sqlite"]
    params = {"ks_q": tsquery(units) if pg else fts5_query(units)}
    if ranked and not pg:
        params["ks_title_q"] = fts5_query(units, "title")
    sql = text(with_score if ranked else plain).bindparams(**params)
    cols = [column("story_id", Integer)] + ([column("score", Integer)] if ranked else [])
    return sql.columns(*cols).subquery("ks_m" if ranked else "ks_c")


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
        m, c = _matches(q, ranked=True), _matches(q, ranked=False)
        if m is None or c is None:
            return result
        base = select(KsStory).join(m, m.c.story_id == KsStory.id)
        counted = select(func.count()).select_from(KsStory).join(c, c.c.story_id == KsStory.id)
        order = {"relevance": (m.c.score, *newest), "newest": newest,
                 "helpful": (KsStory.helpful_count.desc(), *newest)}[sort]
    else:
        base = select(KsStory)
        counted = select(func.count()).select_from(KsStory)
        order = (KsStory.helpful_count.desc(), *newest) if sort == "helpful" else newest
    where = and_(*conds)
    result.total = db.session.execute(counted.where(where)).scalar_one()
    if result.total:
        stmt = base.where(where).order_by(*order).limit(per_page).offset((page - 1) * per_page)
        result.items = list(db.session.execute(stmt).scalars())
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
