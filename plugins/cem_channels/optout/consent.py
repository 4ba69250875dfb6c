"""Withdrawing SMS marketing consent for everyone behind a set of phone numbers (set-based)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from portal.toolkit import Customer, db, may_contact_many, record_consents

CHUNK = 1000


def customers_by_number(numbers: Iterable[str]) -> dict[str, list[int]]:
    """Normalised number → ids of the (not erased) customers with that phone; one query a chunk."""
    wanted = sorted(set(numbers))
    found: dict[str, list[int]] = {}
    for i in range(0, len(wanted), CHUNK):
        rows = db.session.execute(select(Customer.phone, Customer.id)
                                  .where(Customer.phone.in_(wanted[i:i + CHUNK]),
                                         Customer.pseudonymized_at.is_(None))
                                  .order_by(Customer.id))
        for phone, cid in rows:
            found.setdefault(phone, []).append(cid)
    return found


def withdraw_sms_marketing(customer_ids: Iterable[int], *, method: str, source: str, actor: Any = None,
                           note: str | None = None) -> tuple[int, int]:
    """Withdraw SMS marketing consent for ``customer_ids`` unless already withdrawn (idempotent).

    Goes through ``record_consents`` (consent history, audit, and the core cancels their queued
    marketing SMS in the same transaction). Returns ``(withdrawn, already)``.
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return 0, 0
    todo: list[int] = []
    already = 0
    for i in range(0, len(ids), CHUNK):
        verdicts = may_contact_many(ids[i:i + CHUNK], "sms", "marketing")
        for cid in ids[i:i + CHUNK]:
            verdict = verdicts.get(cid)
            if verdict is not None and verdict.reason in ("opted_out", "unknown_customer", "erased"):
                already += 1
            else:
                todo.append(cid)
    written = 0
    for i in range(0, len(todo), CHUNK):
        rows = [{"customer_id": cid, "channel": "sms", "purpose": "marketing", "granted": False,
                 "method": method, "source": source, "actor": actor, "note": note} for cid in todo[i:i + CHUNK]]
        written += record_consents(rows, skipped=[])
    return written, already
