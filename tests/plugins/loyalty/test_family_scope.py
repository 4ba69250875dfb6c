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
