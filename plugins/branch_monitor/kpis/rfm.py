"""The monthly RFM snapshot (``mon_rfm_snapshot``): each customer's ``customer_score.rfm_segment``
at a month's end, and the one before it. ``rfm_up`` / ``rfm_down`` compare the two on the segment
ladder (``service.RFM_LADDER``). Only two snapshots are kept per customer (a narrow table of one
row per customer): the nightly job takes one on the first of each month, labelled with the month
that just ended."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, func, insert, literal, select, update

from portal.toolkit import Customer, CustomerScore, db

from ..models import MonRfmSnapshot


def snapshot_rfm(month: date) -> dict[str, int]:
    """Take the snapshot of ``month``'s end from the current scores, set-based: rows of an earlier
    month shift to ``prev_*``; rows already of ``month`` are re-read (a second run is harmless);
    scored customers without a row get one. Returns ``{"shifted", "refreshed", "added"}``. The
    caller commits."""
    month = month.replace(day=1)
    segment = (select(CustomerScore.rfm_segment).where(CustomerScore.customer_id == MonRfmSnapshot.customer_id)
               .scalar_subquery())
    branch = select(Customer.branch_id).where(Customer.id == MonRfmSnapshot.customer_id).scalar_subquery()
    refreshed = db.session.execute(
        update(MonRfmSnapshot).where(MonRfmSnapshot.month == month)
        .values(segment=segment, branch_id=branch)
        .execution_options(synchronize_session=False)).rowcount or 0
    shifted = db.session.execute(
        update(MonRfmSnapshot).where(MonRfmSnapshot.month < month)
        .values(prev_month=MonRfmSnapshot.month, prev_segment=MonRfmSnapshot.segment, month=month,
                segment=segment, branch_id=branch)
        .execution_options(synchronize_session=False)).rowcount or 0
    unsnapped = ~select(MonRfmSnapshot.customer_id).where(MonRfmSnapshot.customer_id == CustomerScore.customer_id) \
        .exists()
    missing = (select(CustomerScore.customer_id, Customer.branch_id, CustomerScore.rfm_segment, literal(month, Date))
               .join(Customer, Customer.id == CustomerScore.customer_id).where(unsnapped))
    # Counted first: PostgreSQL's driver reports no row count for an INSERT … SELECT here.
    added = int(db.session.execute(select(func.count()).select_from(missing.subquery())).scalar_one())
    if added:
        db.session.execute(insert(MonRfmSnapshot.__table__).from_select(
            ["customer_id", "branch_id", "segment", "month"], missing))
    return {"shifted": max(shifted, 0), "refreshed": max(refreshed, 0), "added": max(added, 0)}
