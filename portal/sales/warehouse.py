"""Set-based upkeep of the warehouse's derived customer columns."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, func, select, update

from ..extensions import db
from ..models import Customer, SaleLine


def refresh_customer_totals(customer_ids: Iterable[int] | Select | None = None) -> None:
    """Recompute ``customer.total_spend`` / ``last_purchase_on`` from the sale lines.

    ``customer_ids``: ``None`` (everyone), ids, or a ``SELECT`` of ids. Used after a merge, a
    replaced report and the demo load; a normal import adds its own sums instead (cheaper at a
    million lines).
    """
    spend = select(func.coalesce(func.sum(SaleLine.amount), 0)).where(SaleLine.customer_id == Customer.id)
    last = select(func.max(SaleLine.sold_at)).where(SaleLine.customer_id == Customer.id)
    stmt = update(Customer).values(total_spend=spend.scalar_subquery(), last_purchase_on=last.scalar_subquery())
    if customer_ids is None:
        db.session.execute(stmt, execution_options={"synchronize_session": False})
        return
    if isinstance(customer_ids, Select):
        db.session.execute(stmt.where(Customer.id.in_(customer_ids)), execution_options={"synchronize_session": False})
        return
    ids = sorted({int(i) for i in customer_ids})
    for start in range(0, len(ids), 500):
        db.session.execute(stmt.where(Customer.id.in_(ids[start:start + 500])),
                           execution_options={"synchronize_session": False})
