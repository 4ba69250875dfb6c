"""Family cards across scopes (issue 13, item 1) and household changes (item 14).

A household may span branches: branch staff see and act on their own branch's members only; the
others are a count. Every action needs ``loyalty.family`` on each customer it touches, and a
foreign card number answers exactly like an unknown one.
"""

from __future__ import annotations

from portal.extensions import db
from tests.conftest import login, post_form, scalar
from tests.plugins.loyalty.conftest import assert_ledger_ok, balance, customer, user


def _in_branch(code: str, nth: int = 0) -> int:
    return scalar("""SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id
                     WHERE o.code = :b AND c.household_id IS NULL ORDER BY c.id LIMIT 1 OFFSET :n""", b=code, n=nth)


def _mixed_household(points: dict[int, int]) -> tuple[int, object]:
    """A household of the given customers, their points earned, a card issued by the system."""
    from plugins.loyalty import family, ledger
    from portal.models import Household

    home = Household(name="Cross-branch family")
    db.session.add(home)
    db.session.flush()
    for cid, pts in points.items():
        customer(cid).household_id = home.id
        if pts:
            ledger.earn(customer(cid), pts, "before the card")
    card = family.issue_card(home, actor=None)
    db.session.commit()
    return home.id, card


def test_household_page_shows_only_members_in_scope(app, client):
    mine, foreign = _in_branch("B002"), _in_branch("B001")
    hid, card = _mixed_household({mine: 100, foreign: 1000})
    foreign_c = customer(foreign)
    login(client, "store2@example.com")
    html = client.get(f"/loyalty/family/{hid}").get_data(as_text=True)
    assert html.count('data-testid="member-row"') == 1 and customer(mine).code in html
    assert foreign_c.code not in html and foreign_c.name not in html  # no identity: not in rows, lots or statement
    assert 'data-testid="hidden-members"' in html and "1,000 P" in html  # a count and the points, nothing else
    # The same for a household without a card.
    from portal.models import Household

    bare = Household(name="No card yet")
    db.session.add(bare)
    db.session.flush()
    other_mine, other_foreign = _in_branch("B002", 1), _in_branch("B001", 1)
    customer(other_mine).household_id = customer(other_foreign).household_id = bare.id
    db.session.commit()
    html = client.get(f"/loyalty/family/{bare.id}").get_data(as_text=True)
    assert html.count('data-testid="person"') == 1 and customer(other_foreign).code not in html
    assert 'data-testid="hidden-people"' in html


def test_staff_cannot_move_or_remove_a_foreign_members_points(app, client):
    """The attack: B002 staff move 1,000 points from a B001 member to their own, then redeem."""
    mine, foreign = _in_branch("B002"), _in_branch("B001")
    hid, card = _mixed_household({mine: 0, foreign: 1000})
    entries = scalar("SELECT COUNT(*) FROM loy_entry")
    login(client, "store2@example.com")
    url = f"/loyalty/family/{hid}"
    resp = post_form(client, f"{url}/transfer", {"source_id": foreign, "target_id": mine, "points": 1000,
                                                 "reason": "mine now"}, form_page=url)
    assert resp.status_code == 302
    assert client.get(url).get_data(as_text=True).count("mine now") == 0
    assert post_form(client, f"{url}/members/{foreign}/remove", {}, form_page=url).status_code == 404
    # Adding a foreign customer (even one in the household) is refused like any invalid choice.
    resp = post_form(client, f"{url}/members", {"customer_id": foreign}, form_page=url)
    assert resp.status_code == 302
    assert scalar("SELECT COUNT(*) FROM loy_entry") == entries
    from plugins.loyalty.family import member_shares

    db.session.expire_all()
    assert member_shares(card) == {foreign: 1000}
    assert_ledger_ok()


def test_service_refuses_a_user_without_permission_on_every_customer(app):
    import pytest

    from plugins.loyalty import family
    from portal.models import Household

    mine, foreign = _in_branch("B002"), _in_branch("B001")
    hid, card = _mixed_household({mine: 10, foreign: 1000})
    store2 = user("store2@example.com")
    for action in (lambda: family.transfer_between_members(card, customer(foreign), customer(mine), 5, "x", store2),
                   lambda: family.remove_member(card, customer(foreign), store2)):
        with pytest.raises(family.FamilyForbidden):
            action()
        db.session.rollback()
    # Issuing a card brings in only the members the issuer may manage.
    home = Household(name="Issued by a branch")
    db.session.add(home)
    db.session.flush()
    a, b = _in_branch("B002", 1), _in_branch("B001", 1)
    customer(a).household_id = customer(b).household_id = home.id
    new_card = family.issue_card(home, store2)
    db.session.commit()
    assert [m.customer_id for m in family.members(new_card)] == [a]


def test_own_branch_members_are_still_managed_through_the_page(app, client):
    a, b, foreign = _in_branch("B002"), _in_branch("B002", 1), _in_branch("B001")
    hid, card = _mixed_household({a: 100, b: 0, foreign: 50})
    login(client, "store2@example.com")
    url = f"/loyalty/family/{hid}"
    resp = post_form(client, f"{url}/transfer", {"source_id": a, "target_id": b, "points": 40, "reason": "gift"},
                     form_page=url)
    assert resp.status_code == 302
    assert post_form(client, f"{url}/members/{b}/remove", {}, form_page=url).status_code == 302
    assert balance(b) == 40 and balance(a) == 110  # a still sees the pool: 60 own + 50 of the foreign member
    assert_ledger_ok()


def test_a_foreign_card_number_answers_like_an_unknown_one(app, client):
    from plugins.loyalty.family import card_number

    mine, foreign = _in_branch("B002"), _in_branch("B001")
    _hid, foreign_card = _mixed_household({foreign: 10})
    hid2, own_card = _mixed_household({mine: 10})
    unknown = card_number(scalar("SELECT MAX(id) FROM loy_account") + 1000)
    login(client, "store2@example.com")
    client.post("/language", data={"lang": "en", "next": "/"})

    def answer(number: str) -> tuple[int, str]:
        resp = client.get(f"/loyalty/?q={number}")
        return resp.status_code, resp.get_data(as_text=True).replace(number, "NUMBER")

    assert answer(foreign_card.card_no) == answer(unknown)
    assert answer(foreign_card.card_no)[0] == 200
    resp = client.get(f"/loyalty/?q={own_card.card_no}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/loyalty/family/{hid2}")
    assert client.get(f"/loyalty/family/{_hid}").status_code == 404


# -- household changes (item 14) ----------------------------------------------------------------------


def test_leaving_the_household_takes_the_member_off_the_card(app, client):
    """The customer page's household form fires portal_household_changed: the leaver takes their
    unspent points out and can no longer spend the family's (API redeem)."""
    a, b = _in_branch("B001"), _in_branch("B001", 1)
    hid, card = _mixed_household({a: 300, b: 700})
    login(client, "store1@example.com")
    page = f"/customers/{a}"
    resp = post_form(client, f"/customers/{a}/household", {"household_id": "", "new_name": ""}, form_page=page)
    assert resp.status_code == 302
    db.session.expire_all()
    assert customer(a).household_id is None
    assert balance(a) == 300 and balance(b) == 700  # a's own account now; the pool keeps b's
    from plugins.loyalty.family import members

    assert [m.customer_id for m in members(card)] == [b]
    from tests.conftest import api_token_for, bearer

    token = api_token_for("hq@example.com")
    resp = client.post(f"/api/v1/loyalty/accounts/{a}/redeem", json={"points": 301, "reason": "pool?",
                                                                       "idempotency_key": "leaver"},
                       headers=bearer(token))
    assert resp.status_code == 409 and balance(b) == 700
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'loyalty.card_member_removed'") == 1
    assert_ledger_ok()


def test_moving_to_another_household_or_being_erased_leaves_the_card(app):
    from plugins.loyalty.family import members
    from portal.customers.privacy import pseudonymize
    from portal.customers.service import set_household

    a, b, c = _in_branch("B001"), _in_branch("B001", 1), _in_branch("B001", 2)
    _hid, card = _mixed_household({a: 10, b: 20, c: 30})
    hq = user("hq@example.com")
    set_household(hq, customer(a), None, "New home")
    pseudonymize(hq, customer(b), "REQ-1")
    db.session.commit()
    assert [m.customer_id for m in members(card)] == [c]
    assert balance(a) == 10 and balance(b) == 20 and balance(c) == 30
    assert_ledger_ok()


def test_data_subject_export_includes_the_loyalty_ledger(app, client):
    import json

    from plugins.loyalty import ledger

    a, b = _in_branch("B001"), _in_branch("B001", 1)
    ledger.earn(customer(a), 40, "own before the card")
    db.session.commit()
    _hid, card = _mixed_household({a: 60, b: 5})
    ledger.earn(customer(a), 7, "in the pool")
    db.session.commit()
    login(client, "hq@example.com")
    resp = client.get(f"/customers/{a}/privacy/export.json")
    assert resp.status_code == 200
    data = json.loads(resp.get_data(as_text=True))["add_ons"]["loyalty"]
    assert data["account"]["family_card"] == card.card_no and data["account"]["family_card_balance"] == 112
    reasons = [e["reason"] for e in data["entries"]]
    assert "own before the card" in reasons and "in the pool" in reasons and "before the card" in reasons
    pooled = [e for e in data["entries"] if e["on_family_card"]]
    assert pooled and {e["kind"] for e in pooled} <= {"earn", "transfer"}
    assert sum(lot["remaining"] for lot in data["lots"] if lot["on_family_card"]) == 107
    assert "actor" not in json.dumps(data)  # staff identities are not the customer's data
    # A customer loyalty holds nothing on has no loyalty part.
    other = _in_branch("B001", 3)
    resp = client.get(f"/customers/{other}/privacy/export.json")
    assert "loyalty" not in json.loads(resp.get_data(as_text=True))["add_ons"]


def test_a_pool_members_points_tab_and_api_show_nothing_of_a_foreign_member(app, client):
    from plugins.loyalty import ledger
    from tests.conftest import api_token_for, bearer

    mine, foreign = _in_branch("B002"), _in_branch("B001")
    _hid, card = _mixed_household({mine: 10, foreign: 0})
    ledger.earn(customer(foreign), 500, "present for Kim Minji")
    ledger.earn(customer(mine), 5, "own visit")
    db.session.commit()
    login(client, "store2@example.com")
    html = client.get(f"/customers/{mine}?tab=points").get_data(as_text=True)
    assert "own visit" in html and "Kim Minji" not in html
    assert 'data-testid="loyalty-balance">515 P' in html  # the pool's balance is what they can spend
    token = api_token_for("store2@example.com")
    lots = client.get(f"/api/v1/loyalty/accounts/{mine}", headers=bearer(token)).get_json()["lots"]
    assert sum(lot["remaining"] for lot in lots) == 515
    assert {lot["member_id"] for lot in lots} == {mine, None}
