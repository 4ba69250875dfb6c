"""``/api/v1/loyalty``: account, earn and redeem with idempotency keys; validation, scope,
permissions, and 404 while the add-on is disabled."""

from __future__ import annotations

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.loyalty.conftest import balance

BASE = "/api/v1/loyalty/accounts"


def _post(client, token, cid, op, body):
    return client.post(f"{BASE}/{cid}/{op}", json=body, headers=bearer(token))


def _ibo_customer_ids() -> tuple[int, int]:
    """(a customer of ibo1's downline, a customer outside it)."""
    inside = scalar("""SELECT c.id FROM customer c JOIN partner p ON p.id = c.partner_id
                       WHERE p.path LIKE (SELECT path FROM partner WHERE code = 'G01-0002') || '%' ORDER BY c.id""")
    outside = scalar("""SELECT c.id FROM customer c WHERE c.partner_id IS NULL OR c.partner_id NOT IN
                        (SELECT p.id FROM partner p WHERE p.path LIKE (SELECT path FROM partner WHERE code = 'G01-0002')
                         || '%') ORDER BY c.id""")
    return inside, outside


def test_earn_redeem_and_read_the_account(app, client):
    token = api_token_for("hq@example.com")
    resp = _post(client, token, 1, "earn", {"points": 1000, "reason": "welcome", "idempotency_key": "k1"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["balance"] == 1000 and body["entry"]["kind"] == "earn" and body["entry"]["points"] == 1000
    resp = _post(client, token, 1, "redeem", {"points": 300, "reason": "gift", "idempotency_key": "k2"})
    assert resp.status_code == 201 and resp.get_json()["entry"]["points"] == -300
    acct = client.get(f"{BASE}/1", headers=bearer(token)).get_json()
    assert acct["balance"] == 700 and acct["tier"] == "SILVER"  # earned 1,000 ≥ 500: up at once
    assert [(lot["points"], lot["remaining"]) for lot in acct["lots"]] == [(1000, 700)]
    resp = _post(client, token, 1, "redeem", {"points": 800, "reason": "too much", "idempotency_key": "k3"})
    assert resp.status_code == 409 and resp.get_json()["error"] == "insufficient_points"
    assert balance(1) == 700


def test_idempotency_same_body_replays_different_body_refused(app, client):
    token = api_token_for("hq@example.com")
    body = {"points": 50, "reason": "bonus", "idempotency_key": "same-key"}
    first = _post(client, token, 2, "earn", body)
    again = _post(client, token, 2, "earn", body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert scalar("SELECT COUNT(*) FROM loy_entry") == 1 and balance(2) == 50
    other = _post(client, token, 2, "earn", {**body, "points": 51})
    assert other.status_code == 422 and other.get_json()["error"] == "idempotency_key_reused"
    other_op = _post(client, token, 2, "redeem", body)
    assert other_op.status_code == 422
    assert scalar("SELECT COUNT(*) FROM loy_entry") == 1
    # A refused request stores nothing: the same key works once the balance allows it.
    red = {"points": 80, "reason": "r", "idempotency_key": "later"}
    assert _post(client, token, 2, "redeem", red).status_code == 409
    _post(client, token, 2, "earn", {"points": 100, "reason": "top up", "idempotency_key": "top"})
    assert _post(client, token, 2, "redeem", red).status_code == 201


def test_validation_and_unknown_fields(app, client):
    token = api_token_for("hq@example.com")
    cases = [
        ({"points": 0, "reason": "x", "idempotency_key": "a"}, "points"),
        ({"points": "10", "reason": "x", "idempotency_key": "a"}, "points"),
        ({"points": True, "reason": "x", "idempotency_key": "a"}, "points"),
        ({"points": 10, "reason": "", "idempotency_key": "a"}, "reason"),
        ({"points": 10, "reason": "nul\x00byte", "idempotency_key": "a"}, "reason"),
        ({"points": 10, "reason": "x"}, "idempotency_key"),
        ({"points": 10, "reason": "x", "idempotency_key": "has space"}, "idempotency_key"),
        ({"points": 10, "reason": "x", "idempotency_key": "a", "account_id": 5}, "account_id"),
    ]
    for body, field in cases:
        resp = _post(client, token, 3, "earn", body)
        assert resp.status_code == 422, body
        assert field in resp.get_json()["fields"], resp.get_json()
    resp = _post(client, token, 3, "redeem", {"points": 1, "reason": "\x00", "idempotency_key": "a"})
    assert resp.status_code == 422 and "reason" in resp.get_json()["fields"]
    resp = client.post(f"{BASE}/3/earn", data="nope", headers=bearer(token))
    assert resp.status_code == 422
    deep = '{"points": ' * 100_000 + "1" + "}" * 100_000  # the JSON parser's recursion limit: 400, not 500
    resp = client.post(f"{BASE}/3/earn", data=deep, content_type="application/json", headers=bearer(token))
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_request"
    assert scalar("SELECT COUNT(*) FROM loy_entry") == 0


def test_scope_and_permissions(app, client):
    inside, outside = _ibo_customer_ids()
    hq = api_token_for("hq@example.com")
    for cid in (inside, outside):
        _post(client, hq, cid, "earn", {"points": 100, "reason": "seed", "idempotency_key": f"s{cid}"})
    ibo = api_token_for("ibo1@example.com")
    assert client.get(f"{BASE}/{inside}", headers=bearer(ibo)).get_json()["balance"] == 100
    assert client.get(f"{BASE}/{outside}", headers=bearer(ibo)).status_code == 404
    assert client.get(f"{BASE}/999999", headers=bearer(ibo)).status_code == 404
    # Distributors may redeem for their customers but not credit points.
    assert _post(client, ibo, inside, "redeem", {"points": 10, "reason": "r", "idempotency_key": "i1"}).status_code == 201
    assert _post(client, ibo, outside, "redeem", {"points": 10, "reason": "r", "idempotency_key": "i2"}).status_code == 404
    assert _post(client, ibo, inside, "earn", {"points": 10, "reason": "r", "idempotency_key": "i3"}).status_code == 403
    reviewer = api_token_for("reviewer@example.com")
    assert client.get(f"{BASE}/{inside}", headers=bearer(reviewer)).status_code == 403
    assert client.get(f"{BASE}/{inside}").status_code == 401


def test_disabled_addon_answers_404(app, client):
    from portal.plugins_lifecycle import set_enabled

    token = api_token_for("hq@example.com")
    assert client.get(f"{BASE}/1", headers=bearer(token)).status_code == 200
    set_enabled("loyalty", False)
    assert client.get(f"{BASE}/1", headers=bearer(token)).status_code == 404
    assert _post(client, token, 1, "earn", {"points": 1, "reason": "x", "idempotency_key": "d"}).status_code == 404
    set_enabled("loyalty", True)
    assert client.get(f"{BASE}/1", headers=bearer(token)).status_code == 200


def test_redeem_answers_in_full(app, client):
    """Every answer of ``.../redeem`` — on PostgreSQL written by the database function
    ``loy_api_redeem``, on SQLite by the ledger in Python — in the same shape: the entry exactly
    as ``entry_dict`` renders it, replays, refusals that replay a first success, expired lots,
    a customer without an account, a family card member, and ids that cannot exist."""
    from datetime import date, timedelta

    from plugins.loyalty import family, ledger
    from plugins.loyalty.models import LoyEntry
    from plugins.loyalty.summary import entry_dict
    from portal.extensions import db
    from portal.models import Household
    from tests.plugins.loyalty.conftest import assert_ledger_ok, customer

    token = api_token_for("hq@example.com")
    assert _post(client, token, 4, "earn", {"points": 500, "reason": "seed", "idempotency_key": "e4"}).status_code == 201
    body = {"points": 120, "reason": "  gift   card ", "idempotency_key": "r1"}
    first = _post(client, token, 4, "redeem", body)
    assert first.status_code == 201 and first.mimetype == "application/json"
    answer = first.get_json()
    entry = db.session.get(LoyEntry, answer["entry"]["id"])
    assert answer == {"entry": entry_dict(entry, 380), "balance": 380, "customer_id": 4,
                      "account_id": entry.account_id}
    assert answer["entry"]["reason"] == "gift card" and answer["entry"]["points"] == -120
    again = _post(client, token, 4, "redeem", body)
    assert again.status_code == 200 and again.get_json() == answer and again.headers["Idempotent-Replayed"] == "true"
    assert _post(client, token, 4, "redeem", {**body, "points": 121}).status_code == 422
    # Spend the rest, then retry that request: the balance refuses it, the key replays its success.
    rest = {"points": 380, "reason": "all", "idempotency_key": "r2"}
    assert _post(client, token, 4, "redeem", rest).status_code == 201 and balance(4) == 0
    retry = _post(client, token, 4, "redeem", rest)
    assert retry.status_code == 200 and retry.get_json()["balance"] == 0
    # No account at all: refused, nothing written.
    entries = scalar("SELECT COUNT(*) FROM loy_entry")
    resp = _post(client, token, 5, "redeem", {"points": 1, "reason": "x", "idempotency_key": "n1"})
    assert resp.status_code == 409 and resp.get_json()["error"] == "insufficient_points"
    # Points whose lot has expired are in the balance until the expiry run, but cannot be spent.
    ledger.earn(customer(6), 300, "old", on=date.today() - timedelta(days=3 * 366))
    db.session.commit()
    resp = _post(client, token, 6, "redeem", {"points": 100, "reason": "x", "idempotency_key": "x1"})
    assert resp.status_code == 409 and resp.get_json() == {
        "error": "insufficient_points", "message": "Not enough points that are still valid."}
    assert balance(6) == 300 and scalar("SELECT COUNT(*) FROM loy_entry") == entries + 1
    assert scalar("SELECT COUNT(*) FROM loy_request WHERE key IN ('n1', 'x1')") == 0
    # A family card member redeems from the pool.
    home = Household(name="API family")
    db.session.add(home)
    db.session.flush()
    for cid in (7, 8):
        customer(cid).household_id = home.id
    ledger.earn(customer(7), 200, "seed")
    card = family.issue_card(home, actor=None)
    db.session.commit()
    resp = _post(client, token, 8, "redeem", {"points": 150, "reason": "pooled", "idempotency_key": "f1"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["account_id"] == card.id and resp.get_json()["balance"] == 50
    missing = scalar("SELECT MAX(id) FROM customer") + 1
    assert _post(client, token, missing, "redeem", {"points": 1, "reason": "x", "idempotency_key": "m"}).status_code == 404
    assert _post(client, token, missing, "redeem", {"points": 0}).status_code == 404  # 404 before 422
    assert _post(client, token, 4, "redeem", {"points": 0}).status_code == 422
    for bad in ("abc", "0", "-1", "99999999999999999999", "٣"):
        assert _post(client, token, bad, "redeem", {"points": 1, "reason": "x", "idempotency_key": "b"}).status_code == 404
    assert_ledger_ok()
