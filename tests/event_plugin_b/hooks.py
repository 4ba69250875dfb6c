from __future__ import annotations

from typing import Any

from portal.toolkit import audit, hookimpl

CALLS: list[tuple[str, Any]] = []
FAIL: set[str] = set()  # events whose reaction raises, after writing half its work


def _react(event: str, detail: str) -> None:
    CALLS.append((event, detail))
    audit.record(f"evb.{event}", summary=detail[:200])  # half the work, rolled back with the failure
    if event in FAIL:
        raise RuntimeError(f"evb cannot handle {event}")


@hookimpl
def portal_sales_imported(report):
    _react("sales_imported", f"report {report.id}")


@hookimpl
def portal_customers_created(customer_ids, source):  # fewer arguments than the hookspec: allowed
    _react("customers_created", f"{sorted(customer_ids)} {source}")


@hookimpl
def portal_quality_changed(customer_ids, field, opened, actor, source):
    _react("quality_changed", f"{sorted(customer_ids)} {field} {opened} {source}")


@hookimpl
def portal_household_changed(customer, old_household_id, new_household_id):  # the pre-issue-14 signature
    _react("household_changed", f"{customer.id} {old_household_id} {new_household_id}")


@hookimpl
def portal_customer_changed(customer, changes):
    _react("customer_changed", f"{customer.id} {sorted(changes)}")
