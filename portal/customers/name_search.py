"""Search customers by any part of their name, through the suffix index.

``customer_name_suffix`` holds every suffix of each name, case-folded (A–Z only, identically on
SQLite and PostgreSQL); database triggers keep it in step with every write (migration 0008). A
substring of a name is a prefix of one of its suffixes, so "지호" is the range
``['지호', '지호' + U+10FFFF)`` of ``ix_customer_name_suffix_suffix`` — an index range scan however
short the query, and the same rows on both databases.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, select

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
    key = fold(q)[:MAX_QUERY]
    return select(CustomerNameSuffix.customer_id).where(CustomerNameSuffix.suffix >= key,
                                                        CustomerNameSuffix.suffix < key + _LAST_CHAR)


def name_contains(q: str) -> ColumnElement[bool]:
    """Condition on ``customer``: its name contains ``q`` anywhere (a semi-join on the suffix index)."""
    return Customer.id.in_(matching_ids(q))
