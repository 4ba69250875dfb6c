"""Search customers by any part of their name, through the suffix index.

``customer_name_suffix`` holds every suffix of each name, case-folded (A–Z only, identically on
SQLite and PostgreSQL); database triggers keep it in step with every write (migration 0008). A
substring of a name is a prefix of one of its suffixes, so "지호" is the range
``['지호', '지호' + U+10FFFF)`` of ``ix_customer_name_suffix_suffix`` — an index range scan however
short the query, and the same rows on both databases.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import Boolean, ColumnElement, Select, and_, any_, func, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from ..extensions import db
from ..models import Customer, CustomerNameSuffix

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
#: Sorts after every character: the upper end of a prefix range.
_LAST_CHAR = "\U0010ffff"
#: The longest stored suffix is a whole name (``Customer.name`` holds 120 characters).
MAX_QUERY = 120


def fold(text: str) -> str:
    """The case folding the triggers apply (ASCII letters only, like SQLite's ``lower``)."""
    return text.translate(_ASCII_UPPER)


def matching_ids(q: str) -> Select:
    """``SELECT customer_id`` of the customers whose name contains ``q`` (case-insensitive A–Z).
    A customer whose name contains ``q`` twice is listed twice: use it with ``IN``."""
    return select(CustomerNameSuffix.customer_id).where(starts_with(CustomerNameSuffix.suffix, fold(q)[:MAX_QUERY]))


def starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """A prefix as an index range (byte order on both databases): SQLite's LIKE cannot use a plain
    index (it folds case), so ``LIKE 'abc%'`` would scan the whole index there."""
    return and_(column >= prefix, column < prefix + _LAST_CHAR)


class folded_contains(FunctionElement):  # noqa: N801  (an SQL function, named like one)
    """``fold(text)`` contains ``key`` — the same test as the suffix index, on the text itself."""

    type = Boolean()
    inherit_cache = True


class plain_contains(folded_contains):  # noqa: N801
    """``text`` contains ``key``: the same as :class:`folded_contains` when ``key`` has no ASCII
    letter (folding changes nothing a match could see), and cheaper — no folded copy per row."""

    inherit_cache = True


@compiles(folded_contains, "sqlite")
def _contains_sqlite(element: folded_contains, compiler: Any, **kw: Any) -> str:
    text, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"(instr({text}, {key}) > 0)" if isinstance(element, plain_contains) else f"(instr(lower({text}), {key}) > 0)"


@compiles(folded_contains)
def _contains_default(element: folded_contains, compiler: Any, **kw: Any) -> str:
    text, key = (compiler.process(c, **kw) for c in element.clauses)
    if isinstance(element, plain_contains):
        return f"(strpos({text}, {key}) > 0)"
    return f"(strpos(translate({text}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), {key}) > 0)"


#: A name part with at least this many suffix entries is "common" (``PORTAL_NAME_SEARCH_COMMON``).
COMMON_DEFAULT = 30_000


def is_common(q: str) -> bool:
    """Does ``q`` start at least ``PORTAL_NAME_SEARCH_COMMON`` suffixes? Counted on the suffix index
    up to that limit (an index-only range of at most 30,000 entries: a few milliseconds)."""
    limit = max(1, int(current_app.config.get("PORTAL_NAME_SEARCH_COMMON") or COMMON_DEFAULT))
    found = select(func.count()).select_from(matching_ids(q).limit(limit).subquery())
    return db.session.execute(found).scalar_one() >= limit


def name_contains(q: str) -> ColumnElement[bool]:
    """Condition on ``customer``: its name contains ``q`` anywhere (the same rows either way).

    A rare part ("지호", about 1 customer in 900): the suffix range gives the few customers, and the
    text test rechecks them for free. A common part ("김", every fourth customer; "지"): the
    list walks its name index in order (or the branch's / distributor's) and tests the name text it
    already holds, until the page and the capped count are full — starting from 235,000 suffixes
    and hashing them would cost more than the whole walk."""
    key = fold(q)[:MAX_QUERY]
    has_letter = any("a" <= ch <= "z" for ch in key)
    text_test = (folded_contains if has_letter else plain_contains)(Customer.name, key)
    if is_common(q):
        return text_test
    return and_(text_test, Customer.id.in_(matching_ids(q)))


def name_or(q: str, others: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """Name contains ``q`` OR any of ``others`` (code / e-mail / phone conditions on ``customer``),
    shaped so each database keeps using its indexes — the same rows either way.

    PostgreSQL: the suffix range's ids as one array (``id = ANY(ARRAY(…))``, computed once), so the
    OR stays a bitmap OR of index scans; an OR around a semi-join would scan the whole table.
    SQLite: one ``IN`` over the union of the suffix range and the others' index lookups; SQLite
    would otherwise walk the scope's index testing the OR on every row (store1's phone search:
    86 ms instead of 0.2 ms)."""
    if db.engine.dialect.name == "postgresql":
        return or_(*others, Customer.id == any_(func.array(matching_ids(q).scalar_subquery())))
    return Customer.id.in_(union_all(matching_ids(q), select(Customer.id).where(or_(*others))))
