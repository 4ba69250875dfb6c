"""The loyalty pages: the customer's points tab, staff forms, approvals, family card, programme
settings and reports — with CSRF, permissions (403) and scope (404)."""

from __future__ import annotations

from datetime import date

from portal.extensions import db
from tests.conftest import ROOT, login, post_form, scalar
from tests.plugins.loyalty.conftest import balance, customer, user
from tests.plugins.loyalty.test_api import _ibo_customer_ids


def _earn(cid: int, points: int, on: date | None = None) -> None:
    from plugins.loyalty.ledger import earn

    earn(customer(cid), points, "test", on=on)
    db.session.commit()


def test_points_tab_shows_balance_tier_progress_lots_and_statement(app, client):
    _earn(1, 700)
    login(client, "hq@example.com")
    html = client.get("/customers/1?tab=points").get_data(as_text=True)
    assert 'data-testid="loyalty-balance">700 P' in html
    assert 'data-testid="loyalty-tier">실버' in html  # Korean by default
    assert "<progress" in html and html.count('data-testid="lot-row"') == 1
    assert html.count('data-testid="entry-row"') == 1
    for _i in range(25):
        _earn(1, 1)
    page2 = client.get("/customers/1?tab=points&page=2").get_data(as_text=True)
    assert page2.count('data-testid="entry-row"') == 6


def test_staff_redeem_and_adjust_through_the_forms(app, client):
    _earn(2, 1000)
    login(client, "store1@example.com")
    cid = scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' ORDER BY c.id")
    _earn(cid, 1000)
    url = f"/loyalty/customers/{cid}/redeem"
    reward = scalar("SELECT id FROM loy_reward WHERE code = 'DISC5000'")
    resp = post_form(client, url, {"reward_id": reward, "quantity": 1, "reason": "counter"}, form_page=url)
    assert resp.status_code == 302 and balance(cid) == 500
    resp = post_form(client, url, {"reward_id": 0, "points": 900, "reason": "x"}, form_page=url)
    assert resp.status_code == 200 and balance(cid) == 500  # refused with a message, nothing written
    assert client.post(url, data={"reward_id": reward, "quantity": 1}).status_code == 400  # no CSRF token
    adj = f"/loyalty/customers/{cid}/adjust"
    assert post_form(client, adj, {"points": 6000, "reason": "big"}, form_page=adj).status_code == 302
    assert balance(cid) == 500 and scalar("SELECT COUNT(*) FROM loy_approval WHERE status = 'pending'") == 1
    # store staff may not approve, nor see other branches' customers
    assert client.get("/loyalty/approvals").status_code == 403
    assert client.get("/loyalty/customers/2/redeem").status_code in (403, 404)
    assert client.get("/loyalty/programme").status_code == 403


def test_approval_queue_second_person(app, client):
    from plugins.loyalty.redemption import request_adjustment

    _state, approval = request_adjustment(customer(3), 7000, "goodwill", user("hq@example.com"))
    db.session.commit()
    login(client, "hq@example.com")
    html = client.get("/loyalty/approvals").get_data(as_text=True)
    assert 'data-testid="approval-row"' in html and "decision" not in html  # own request: no buttons
    resp = post_form(client, f"/loyalty/approvals/{approval.id}", {"decision": "approve"}, form_page="/loyalty/approvals")
    assert resp.status_code == 302 and balance(3) == 0
    other = app.test_client()
    login(other, "admin@example.com")
    assert 'value="approve"' in other.get("/loyalty/approvals").get_data(as_text=True)
    resp = post_form(other, f"/loyalty/approvals/{approval.id}", {"decision": "approve", "note": "ok"},
                     form_page="/loyalty/approvals")
    assert resp.status_code == 302 and balance(3) == 7000


def test_distributor_sees_only_their_customers_points(app, client):
    inside, outside = _ibo_customer_ids()
    _earn(inside, 10)
    _earn(outside, 10)
    login(client, "ibo1@example.com")
    assert client.get(f"/customers/{inside}?tab=points").status_code == 200
    assert client.get(f"/customers/{outside}?tab=points").status_code == 404
    assert client.get(f"/loyalty/customers/{inside}/redeem").status_code == 200
    assert client.get(f"/loyalty/customers/{outside}/redeem").status_code == 404
    assert client.get(f"/loyalty/customers/{inside}/adjust").status_code == 403
    html = client.get("/loyalty/").get_data(as_text=True)
    members = scalar("""SELECT COUNT(*) FROM loy_account a JOIN customer c ON c.id = a.customer_id
                        JOIN partner p ON p.id = c.partner_id
                        WHERE p.path LIKE (SELECT path FROM partner WHERE code = 'G01-0002') || '%'""")
    assert f'data-testid="loyalty-members">{members}<' in html
    hh = scalar("SELECT MIN(household_id) FROM customer WHERE household_id IS NOT NULL AND id = :c", c=outside)
    if hh:
        assert client.get(f"/loyalty/family/{hh}").status_code == 404


def test_family_card_page(app, client):
    from portal.models import Household

    h = Household(name="Page family")
    db.session.add(h)
    db.session.flush()
    db.session.execute(db.text("UPDATE customer SET household_id = :h WHERE id IN (21, 22)"), {"h": h.id})
    db.session.commit()
    _earn(21, 100)
    login(client, "hq@example.com")
    url = f"/loyalty/family/{h.id}"
    assert 'data-testid="issue-card"' in client.get(url).get_data(as_text=True)
    assert post_form(client, f"{url}/issue", {}, form_page=url).status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert html.count('data-testid="member-row"') == 2 and 'data-testid="card-balance">100 P' in html
    resp = post_form(client, f"{url}/transfer", {"source_id": 21, "target_id": 22, "points": 30, "reason": "gift"},
                     form_page=url)
    assert resp.status_code == 302
    assert post_form(client, f"{url}/members/21/remove", {}, form_page=url).status_code == 302
    assert balance(21) == 70 and balance(22) == 30


def test_programme_settings_and_reports(app, client):
    _earn(4, 2000)
    login(client, "hq@example.com")
    html = client.get("/loyalty/programme").get_data(as_text=True)
    assert html.count('data-testid="tier-row"') == 4 and html.count('data-testid="reward-row"') == 4
    resp = post_form(client, "/loyalty/programme/tiers", {"code": "PLATINUM", "name_ko": "플래티넘", "name_en": "Platinum",
                                                          "threshold": 10000, "multiplier_pct": 175},
                     form_page="/loyalty/programme")
    assert resp.status_code == 302 and scalar("SELECT COUNT(*) FROM loy_tier") == 5
    health = scalar("SELECT id FROM category WHERE code = 'health'")
    post_form(client, "/loyalty/programme/rates", {"category_id": health, "multiplier_pct": 150},
              form_page="/loyalty/programme")
    post_form(client, "/loyalty/programme/promotions", {"name": "Spring", "starts_on": "2027-03-01",
                                                        "ends_on": "2027-03-31", "multiplier_pct": 200,
                                                        "category_id": 0}, form_page="/loyalty/programme")
    post_form(client, "/loyalty/programme/rewards", {"code": "MUG", "name_ko": "머그", "name_en": "Mug", "kind": "item",
                                                     "points_cost": 300, "krw_value": 0, "active": "y"},
              form_page="/loyalty/programme")
    assert scalar("SELECT multiplier_pct FROM loy_category_rate WHERE category_id = :c", c=health) == 150
    assert scalar("SELECT COUNT(*) FROM loy_promotion") == 1 and scalar("SELECT COUNT(*) FROM loy_reward") == 5
    html = client.get("/loyalty/reports/tiers?by=group").get_data(as_text=True)
    assert 'data-chart="chart-tier-ladder"' in html and '<script type="application/json"' in html
    assert "<script>" not in html  # no inline JS (CSP)
    assert client.get("/loyalty/reports/expiring").status_code == 200
    csv = client.get("/loyalty/reports/expiring?format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert client.get("/loyalty/").status_code == 200
    client.post("/language", data={"lang": "en", "next": "/"})
    assert client.get("/loyalty/?q=C0000004").status_code == 302


def test_every_refusal_of_the_ledger_reads_in_korean_on_the_pages(app):
    """Each reason the ledger, redemption and family services refuse with has a page message in
    the user's language (the English ``message`` stays for the API)."""
    import re

    from flask_babel import force_locale

    from plugins.loyalty.ledger import LedgerError
    from plugins.loyalty.views import _ledger_message

    source = "\n".join(p.read_text() for p in (ROOT / "plugins" / "loyalty").glob("*.py"))
    keys = set(re.findall(r'(?:key|code)="(\w+)"', source)) | {"insufficient_points", "forbidden"}
    assert {"points_range", "no_reason", "not_reversible", "conflict"} <= keys
    with app.test_request_context("/"), force_locale("ko"):
        for key in sorted(keys):
            text = str(_ledger_message(LedgerError("English text", key=key)))
            assert re.search("[가-힣]", text), (key, text)
            assert "English text" not in text


def test_every_audit_summary_the_add_on_writes_reads_in_korean(app):
    """The audit log and a customer's history show the add-on's summaries in the reader's language
    (stored in English, one shape per action): no shape is left to show as written."""
    import re

    from flask_babel import force_locale

    from portal.customers.labels import audit_summary

    written = {  # the shapes family.py, redemption.py and views.py write
        "loyalty.card_issued": "family card 9410000000000017",
        "loyalty.card_member_added": "card 9410000000000017: 120 points pooled",
        "loyalty.card_member_removed": "card 9410000000000017: 120 points taken out",
        "loyalty.card_transfer": "300 points C0001 → C0002: 생일 선물",
        "loyalty.redeemed": "-500 points: DISC5000 × 1",
        "loyalty.adjusted": "+300 points: 보상",
        "loyalty.adjustment_requested": "earn +20000 points: 보상",
        "loyalty.adjustment_approved": "+8000 points: 보상",
        "loyalty.reversed": "entry #12: 잘못 적립",
        "loyalty.tier_saved": "SILVER ≥ 1000 × 120%",
        "loyalty.rate_saved": "category 3 × 150%",
        "loyalty.promotion_toggled": "디지털 위크: on",
        "loyalty.reward_saved": "DISC5000: 500 points",
    }
    with app.test_request_context("/"), force_locale("ko"):
        for action, summary in written.items():
            shown = audit_summary(action, summary)
            assert not re.search(r"\b(points?|card|entry|earn|on|category|pooled)\b|≥", shown), (action, shown)


def test_a_tier_added_or_renamed_by_an_administrator_shows_its_name_not_its_code(app, client):
    """The customer overview and the tier history name tiers from the programme's own table."""
    from plugins.loyalty.models import LoyTier

    db.session.add(LoyTier(code="PLATINUM", name_ko="플래티넘", name_en="Platinum", threshold=99_999, multiplier_pct=300))
    db.session.execute(db.text("UPDATE loy_tier SET name_ko = '실버 플러스' WHERE code = 'SILVER'"))
    db.session.execute(db.text("UPDATE customer SET tier = 'PLATINUM' WHERE id = 1"))
    db.session.execute(db.text("UPDATE customer SET tier = 'SILVER' WHERE id = 2"))
    db.session.commit()
    login(client, "hq@example.com")
    first = client.get("/customers/1").get_data(as_text=True)
    assert "플래티넘" in first and "PLATINUM" not in first
    assert "실버 플러스" in client.get("/customers/2").get_data(as_text=True)
