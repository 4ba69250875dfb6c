"""The global phone suppression list (``cem_suppressed_number``): set-based reads and writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, select

from portal.toolkit import db, utcnow

from ..optout_models import CemSuppressedNumber

CHUNK = 1000


def _chunks(items: list[str], size: int = CHUNK) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def suppressed(numbers: Iterable[str]) -> set[str]:
    """Which of ``numbers`` (normalised digits) are on the list: one query per :data:`CHUNK`."""
    wanted = sorted(set(numbers))
    found: set[str] = set()
    for part in _chunks(wanted):
        found.update(db.session.execute(select(CemSuppressedNumber.number)
                                        .where(CemSuppressedNumber.number.in_(part))).scalars())
    return found


def suppress_numbers(numbers: dict[str, datetime | None], source: str) -> int:
    """Put ``numbers`` (normalised digits → when the person asked, if known) on the list, in the
    caller's transaction; numbers already listed keep their first entry. Returns how many were new."""
    known = suppressed(numbers)
    now = utcnow()
    new = [{"number": n, "source": source, "requested_at": at, "added_at": now}
           for n, at in sorted(numbers.items()) if n not in known]
    for i in range(0, len(new), CHUNK):
        db.session.execute(insert(CemSuppressedNumber), new[i:i + CHUNK])
    return len(new)
