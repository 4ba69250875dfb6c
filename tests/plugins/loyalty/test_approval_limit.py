"""The second approver (SECURITY.md 2.3.5; issue 13, item 6): the approval limit holds on the
adjustment form and on the API's earn, and cannot be split into smaller requests."""

from __future__ import annotations

from datetime import timedelta

from portal.extensions import db
from tests.conftest import api_token_for, bearer, login, post_form, scalar
from tests.plugins.loyalty.conftest import assert_ledger_ok, balance, customer, user

EARN = "/api/v1/loyalty/accounts/{}/earn"


def _b001(nth: int = 0) -> int:
    return scalar("""SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001'
                     ORDER BY c.id LIMIT 1 OFFSET :n""", n=nth)


def _pending() -> int:
    return scalar("SELECT COUNT(*) FROM loy_approval WHERE status = 'pending'")


def test_adjustments_in_a_row_cannot_split_the_limit(app, client):
    cid = _b001()
    login(client, "store1@example.com")
    url = f"/loyalty/customers/{cid}/adjust"
    for _i in range(3):
        assert post_form(client, url, {"points": 5000, "reason": "goodwill"}, form_page=url).status_code == 302
    assert balance(cid) == 5000 and _pending() == 2  # the first fits under 5,000; the next two wait
    # Debits count as well: a large correction by hand is not split into small ones either.
    assert post_form(client, url, {"points": -100, "reason": "typo"}, form_page=url).status_code == 302
    assert balance(cid) == 5000 and _pending() == 3
    # Another customer, or another person, starts from zero.
    other = _b001(1)
    assert post_form(client, f"/loyalty/customers/{other}/adjust", {"points": 5000, "reason": "x"},
                     form_page=url).status_code == 302
    assert balance(other) == 5000 and _pending() == 3
    assert_ledger_ok()


def test_the_window_is_a_setting_and_old_adjustments_fall_out_of_it(app):
    from plugins.loyalty import redemption
    from portal.plugin_settings import get_settings, save_settings

    cid, store = _b001(), user("store1@example.com")
    assert redemption.request_adjustment(customer(cid), 4000, "a", store)[0] == "done"
    assert redemption.request_adjustment(customer(cid), 2000, "b", store)[0] == "pending"
    # An entry older than the window no longer counts (the ledger is append-only: move the clock).
    from unittest import mock

    later = redemption.utcnow() + timedelta(hours=25)

    with mock.patch.object(redemption, "utcnow", return_value=later):
        assert redemption.request_adjustment(customer(cid), 2000, "c", store)[0] == "done"
        settings = {k: str(v) if not isinstance(v, bool) else ("y" if v else "") for k, v in get_settings("loyalty").items()}
        assert save_settings("loyalty", {**settings, "approval_window_hours": "48"}) == {}
        assert redemption.request_adjustment(customer(cid), 2000, "d", store)[0] == "pending"
    db.session.commit()
    assert balance(cid) == 6000


def test_api_earn_above_the_limit_waits_for_a_second_person(app, client):
    cid = _b001()
    token = api_token_for("hq@example.com")
    resp = client.post(EARN.format(cid), json={"points": 100_000_000, "reason": "oops", "idempotency_key": "big"},
                       headers=bearer(token))
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "pending_approval" and balance(cid) == 0 and _pending() == 1
    again = client.post(EARN.format(cid), json={"points": 100_000_000, "reason": "oops", "idempotency_key": "big"},
                        headers=bearer(token))
    assert again.status_code == 202 and again.get_json() == body and _pending() == 1  # replayed, not queued twice
    # Small credits add up per person, customer and window: 3 × 2,000 → the third waits.
    codes = [client.post(EARN.format(cid), json={"points": 2000, "reason": "visit", "idempotency_key": f"s{i}"},
                         headers=bearer(token)).status_code for i in range(3)]
    assert codes == [201, 201, 202] and balance(cid) == 4000 and _pending() == 2
    # A second person approves the API credit: an earn entry (it counts toward tiers).
    from plugins.loyalty import redemption
    from plugins.loyalty.models import LoyApproval

    approval = db.session.get(LoyApproval, body["approval_id"])
    redemption.decide(approval, True, user("admin@example.com"))
    db.session.commit()
    assert balance(cid) == 100_004_000
    assert scalar("SELECT kind FROM loy_entry WHERE approval_id = :a", a=approval.id) == "earn"
    # The approvals page names it as an API credit.
    login(client, "admin@example.com")
    html = client.get("/loyalty/approvals?status=approved").get_data(as_text=True)
    assert 'data-testid="api-credit"' in html
    assert_ledger_ok()


def test_imported_points_do_not_count_toward_the_limit(app):
    from plugins.loyalty import ledger, redemption

    cid = _b001()
    ledger.earn(customer(cid), 50_000, "import", actor=None)  # the system, not a person by hand
    assert redemption.request_adjustment(customer(cid), 5000, "goodwill", user("store1@example.com"))[0] == "done"
    db.session.commit()
    assert balance(cid) == 55_000
