"""Data-subject requests: export and pseudonymize, scoped and audited without keeping PII."""

from __future__ import annotations

import json

from sqlalchemy import select

from portal.extensions import db
from portal.models import AccessLog, AuditEvent, Consent, Customer, OrgUnit, QualityIssue, SaleLine
from tests.conftest import login, post_form


def _b001_customer() -> Customer:
    return db.session.execute(select(Customer).join(OrgUnit, OrgUnit.id == Customer.branch_id)
                              .where(OrgUnit.code == "B001", Customer.phone.is_not(None)).order_by(Customer.id)).scalars().first()


def test_export_contains_everything_and_is_logged(app, client):
    c = _b001_customer()
    login(client, "hq@example.com")
    resp = client.get(f"/customers/{c.id}/privacy/export.json")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    data = json.loads(resp.get_data(as_text=True))
    assert data["customer"]["phone"] == c.phone and data["customer"]["code"] == c.code
    lines = db.session.execute(select(db.func.count()).where(SaleLine.customer_id == c.id)).scalar_one()
    assert len(data["purchases"]) == lines
    assert db.session.execute(select(AccessLog).where(AccessLog.action == "dsr_export", AccessLog.object_id == str(c.id))).first()


def test_store_staff_cannot_handle_requests(app, client):
    c = _b001_customer()
    login(client, "store1@example.com")
    assert client.get(f"/customers/{c.id}/privacy/export.json").status_code == 403
    resp = post_form(client, f"/customers/{c.id}/privacy/pseudonymize", {"confirm_code": c.code})
    assert resp.status_code == 403
    db.session.expire_all()
    assert db.session.get(Customer, c.id).pseudonymized_at is None


def test_pseudonymize_needs_confirmation_then_removes_identifiers(app, client):
    c = _b001_customer()
    old_phone, old_name = c.phone, c.name
    lines_before = db.session.execute(select(db.func.count()).where(SaleLine.customer_id == c.id)).scalar_one()
    db.session.add(QualityIssue(customer_id=c.id, field="address", reason="returned mail"))
    db.session.commit()
    login(client, "hq@example.com")
    post_form(client, f"/customers/{c.id}/privacy/pseudonymize", {"confirm_code": "WRONG"})
    db.session.expire_all()
    assert db.session.get(Customer, c.id).phone == old_phone
    resp = post_form(client, f"/customers/{c.id}/privacy/pseudonymize", {"confirm_code": c.code.lower(), "reason": "REQ-7"})
    assert resp.status_code == 302
    db.session.expire_all()
    c = db.session.get(Customer, c.id)
    assert c.pseudonymized_at is not None and c.phone is None and c.email is None and c.address is None
    assert old_name not in c.name and c.birth_date is None
    assert db.session.execute(select(db.func.count()).where(SaleLine.customer_id == c.id)).scalar_one() == lines_before
    current = {k.channel: k.granted for k in db.session.execute(select(Consent).where(
        Consent.customer_id == c.id, Consent.note == "data-subject request: erased")).scalars()}
    assert current and not any(current.values())
    open_issues = select(db.func.count()).where(QualityIssue.customer_id == c.id, QualityIssue.resolved_at.is_(None))
    assert db.session.execute(open_issues).scalar_one() == 0  # nothing left to fix on an erased record
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "customer.pseudonymized")).scalar_one()
    assert old_phone not in json.dumps(event.changes, ensure_ascii=False) and "phone" in event.changes
    search = client.get(f"/customers/?q={old_phone}").get_data(as_text=True)
    assert c.code not in search
