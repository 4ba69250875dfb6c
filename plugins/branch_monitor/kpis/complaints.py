"""Complaint opening and closing dates (``mon_complaint``), which the core does not keep.

PLACEHOLDER (area C): signatures are fixed; the owner replaces the bodies."""

from __future__ import annotations

from typing import Any


def on_customer_changed(customer: Any, changes: dict[str, Any]) -> None:
    """``portal_customer_changed``: a raised complaint flag opens a row, a cleared one closes it."""


def on_customers_merged(survivor: Any, merged_id: int) -> None:
    """``portal_customers_merged``: the merged customer's complaint rows move to the survivor."""


def backfill() -> int:
    """At install: an open row for each customer flagged today, dated by the audit trail's last
    ``customer.complaint`` (or the customer's ``updated_at``); returns rows made."""
    return 0
