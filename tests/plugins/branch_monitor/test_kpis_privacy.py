"""The data-subject export carries the add-on's complaint dates and RFM snapshot of a customer."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select


def test_export_has_complaint_dates_and_segments(app):
    from plugins.branch_monitor.models import MonComplaint, MonRfmSnapshot
    from portal.toolkit import Customer, db

    customer = db.session.scalar(select(Customer).order_by(Customer.id).limit(1))
    db.session.execute(MonComplaint.__table__.delete().where(MonComplaint.customer_id == customer.id))
    db.session.execute(MonRfmSnapshot.__table__.delete().where(MonRfmSnapshot.customer_id == customer.id))
    db.session.add(MonComplaint(customer_id=customer.id, branch_id=customer.branch_id,
                                opened_at=datetime(2026, 3, 2, 1, 0), closed_at=datetime(2026, 3, 20, 5, 0)))
    db.session.add(MonRfmSnapshot(customer_id=customer.id, branch_id=customer.branch_id, month=date(2026, 4, 1),
                                  segment="at_risk", prev_month=date(2026, 3, 1), prev_segment="loyal"))
    db.session.commit()
    from plugins.branch_monitor.kpis.privacy import export_customer

    out = export_customer(customer)
    assert out == {"name": "branch_monitor", "data": {
        "complaints": [{"opened_at": "2026-03-02T01:00:00", "closed_at": "2026-03-20T05:00:00"}],
        "rfm_segments": [{"month": "2026-04-01", "segment": "at_risk"}, {"month": "2026-03-01", "segment": "loyal"}]}}


def test_nothing_to_export_is_none(app):
    from plugins.branch_monitor.kpis.privacy import export_customer
    from plugins.branch_monitor.models import MonComplaint, MonRfmSnapshot
    from portal.toolkit import Customer, db

    customer = db.session.scalar(select(Customer).order_by(Customer.id.desc()).limit(1))
    db.session.execute(MonComplaint.__table__.delete().where(MonComplaint.customer_id == customer.id))
    db.session.execute(MonRfmSnapshot.__table__.delete().where(MonRfmSnapshot.customer_id == customer.id))
    db.session.commit()
    assert export_customer(customer) is None
