"""Downloads of personal data go through the core's logged export (issue 13, item 4), and text no
database can store is refused with a message, never a 500 (item 11)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AccessLog
from tests.conftest import api_token_for, bearer, login, post_form, scalar
from tests.plugins.loyalty.conftest import balance, customer
from tests.plugins.loyalty.test_api import _ibo_customer_ids


def _expiring(cid: int, points: int) -> None:
    """Points that expire at the end of this month: within the 30-day reminder horizon."""
    from plugins.loyalty.config import add_months
    from plugins.loyalty.ledger import earn

    earn(customer(cid), points, "old", on=add_months(date.today(), -24))
    db.session.commit()


def _exports() -> list[AccessLog]:
    db.session.expire_all()
    return list(db.session.execute(select(AccessLog).where(AccessLog.action == "export")).scalars())


def test_expiring_points_export_needs_customer_export(app, client):
    inside, _outside = _ibo_customer_ids()
    _expiring(inside, 70)
    login(client, "ibo1@example.com")  # a Distributor: loyalty.view but not customer.export
    page = client.get("/loyalty/reports/expiring")
    assert page.status_code == 200 and customer(inside).code in page.get_data(as_text=True)
    assert 'data-testid="export-csv"' not in page.get_data(as_text=True)
    for fmt in ("csv", "xlsx"):
        resp = client.get(f"/loyalty/reports/expiring?format={fmt}")
        assert resp.status_code == 403 and customer(inside).name not in resp.get_data(as_text=True)
    assert _exports() == []


def test_expiring_points_export_is_logged_with_its_count(app, client):
    b001 = scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' ORDER BY c.id")
    b002 = scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B002' ORDER BY c.id")
    _expiring(b001, 70)
    _expiring(b002, 30)
    login(client, "store1@example.com")
    resp = client.get("/loyalty/reports/expiring?format=csv")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and customer(b001).code in text and customer(b002).code not in text
    assert text.lstrip("\ufeff").startswith("고객 번호,이름,소멸 예정 포인트,첫 소멸일")  # headers in the UI's language
    logs = _exports()
    assert len(logs) == 1 and logs[0].count == 1 and logs[0].user_id is not None
    xlsx = client.get("/loyalty/reports/expiring?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    assert [log.count for log in _exports()] == [1, 1]


LONE = "\ud800"


def test_api_refuses_a_lone_surrogate_with_a_422(app, client):
    token = api_token_for("hq@example.com")
    raw = '{"points": 10, "reason": "bad \\ud800 text", "idempotency_key": "s1"}'  # valid JSON, unstorable text
    for op in ("earn", "redeem"):
        resp = client.post(f"/api/v1/loyalty/accounts/1/{op}", data=raw, content_type="application/json",
                           headers=bearer(token))
        assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
        assert "reason" in resp.get_json()["fields"]
    assert scalar("SELECT COUNT(*) FROM loy_entry") == 0 and balance(1) == 0


@pytest.mark.parametrize("form_name, data", [
    ("AdjustForm", {"points": "10", "reason": f"x{LONE}"}),
    ("RedeemForm", {"reward_id": "0", "points": "10", "reason": LONE}),
    ("ReverseForm", {"reason": LONE}),
    ("TransferForm", {"source_id": "1", "target_id": "2", "points": "1", "reason": LONE}),
    ("DecideForm", {"note": LONE}),
])
def test_forms_refuse_a_lone_surrogate_with_a_message(app, form_name, data):
    from flask_babel import force_locale
    from werkzeug.datastructures import MultiDict

    from plugins.loyalty import forms

    with app.test_request_context(method="POST"), force_locale("en"):
        form = getattr(forms, form_name)(formdata=MultiDict(data), meta={"csrf": False})
        for name in ("reward_id", "source_id", "target_id"):
            if hasattr(form, name):
                getattr(form, name).choices = [(0, "-"), (1, "a"), (2, "b")]
        assert not form.validate()
        field = "note" if form_name == "DecideForm" else "reason"
        assert "cannot be stored" in str(form.errors[field])


def test_services_refuse_a_lone_surrogate_and_write_nothing(app):
    from plugins.loyalty import ledger, redemption
    from tests.plugins.loyalty.conftest import user

    for call in (lambda: ledger.earn(customer(1), 10, LONE),
                 lambda: redemption.request_adjustment(customer(1), 10, f"a{LONE}", user("hq@example.com"))):
        with pytest.raises(ledger.LedgerError) as info:
            call()
        assert info.value.status == 422
        db.session.rollback()
    assert scalar("SELECT COUNT(*) FROM loy_entry") == 0


def test_adjust_page_with_undecodable_bytes_answers_without_a_500(app, client):
    """A browser cannot send a lone surrogate; the bytes that would encode one are replaced."""
    login(client, "hq@example.com")
    url = "/loyalty/customers/1/adjust"
    post_form(client, url, {"points": 1, "reason": "warm-up"}, form_page=url)
    from tests.conftest import csrf_token

    token = csrf_token(client, url)
    resp = client.post(url, data=f"points=10&reason=%ED%A0%80&csrf_token={token}".encode(),
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code in (200, 302)
