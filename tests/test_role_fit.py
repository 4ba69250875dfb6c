"""Menus and forms fit the role (issue 13, item 23): no sales-report menu for those who can never
see a report, a distributor's new-customer form pre-selects their own code and offers only their
line, the downline card says how many it shows and leads to the rest, and the customer list
filters by distributor in SQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Customer, Partner, PartnerGroup
from tests.conftest import csrf_token, login, sql

HQ, STORE1, LEADER1, IBO1 = "hq@example.com", "store1@example.com", "leader1@example.com", "ibo1@example.com"


@pytest.fixture(scope="module")
def users(shared_app):
    clients = {}
    for email in (HQ, STORE1, LEADER1, IBO1):
        client = shared_app.test_client()
        assert login(client, email).status_code == 302
        clients[email] = client
    return clients


def _sidebar(html: str) -> str:
    return html.split('<nav class="sidebar"', 1)[1].split("</nav>", 1)[0]


def test_sales_report_menu_only_for_roles_that_can_see_a_report(users):
    for email, expected in ((HQ, True), (STORE1, True), (LEADER1, False), (IBO1, False)):
        nav = _sidebar(users[email].get("/dashboard").get_data(as_text=True))
        assert ('href="/sales/reports"' in nav) is expected, email
        assert 'href="/sales/lines"' in nav, email  # their customers' sale lines stay


def _options(html: str, name: str) -> list[tuple[str, bool]]:
    select_html = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, flags=re.S)
    assert select_html, f"no <select name={name}>"
    tags = re.findall(r"<option([^>]*)>", select_html.group(1))
    return [(re.search(r'value="([^"]*)"', t).group(1), bool(re.search(r"\bselected\b", t))) for t in tags]


def _line_codes(email: str) -> list[str]:
    """The distributors in the user's scope, straight from the org tables."""
    from portal.auth.service import find_user
    from portal.security import partner_scope

    user = find_user(email)
    return list(db.session.execute(select(Partner.code).where(partner_scope(user, "customer.edit"), Partner.active.is_(True))
                                   .order_by(Partner.path)).scalars())


def test_a_distributors_new_customer_form_preselects_their_code_and_offers_only_their_line(users):
    client = users[IBO1]
    html = client.get("/customers/new").get_data(as_text=True)
    options = _options(html, "partner_code")
    assert [v for v, _sel in options] == _line_codes(IBO1)
    assert [v for v, sel in options if sel] == ["G01-0002"]  # their own code, pre-selected
    assert 'name="branch_code"' in html and "<select" not in html.split('name="branch_code"')[0][-200:]
    token = csrf_token(client, "/customers/new")
    before = sql("SELECT COUNT(*) FROM customer")[0][0]
    resp = client.post("/customers/new", data={"csrf_token": token, "name": "내고객", "branch_code": "",
                                               "partner_code": "G01-0002"})
    assert resp.status_code == 302
    owner = db.session.execute(select(Partner.code).join(Customer, Customer.partner_id == Partner.id)
                               .where(Customer.name == "내고객")).scalar_one()
    assert owner == "G01-0002"
    for outside in ("G02-0001", "G01-0001", ""):  # another group, their sponsor, none
        resp = client.post("/customers/new", data={"csrf_token": token, "name": "남의고객", "branch_code": "",
                                                   "partner_code": outside})
        assert resp.status_code == 400, outside
    assert sql("SELECT COUNT(*) FROM customer")[0][0] == before + 1


def test_a_distributor_without_downline_is_locked_to_their_own_code(app, client):
    """One choice only — their own code — and a forged other code is refused, nothing saved."""
    from portal.models import Partner as P
    from portal.security import DISTRIBUTOR
    from portal.users.service import create_user, grant_local
    from tests.conftest import PASSWORD

    sponsors = select(P.sponsor_id).where(P.sponsor_id.is_not(None))
    leaf = db.session.execute(select(P).join(PartnerGroup, PartnerGroup.id == P.group_id).where(
        PartnerGroup.code == "G02", P.active.is_(True), P.level == "distributor", ~P.id.in_(sponsors))
        .order_by(P.code).limit(1)).scalar_one()
    user = create_user("leaf@example.com", "잎 디스트리뷰터", PASSWORD, partner=leaf)
    grant_local(user, DISTRIBUTOR, leaf)
    db.session.commit()
    login(client, "leaf@example.com")
    html = client.get("/customers/new").get_data(as_text=True)
    assert _options(html, "partner_code") == [(leaf.code, True)]
    token = csrf_token(client, "/customers/new")
    before = sql("SELECT COUNT(*) FROM customer")[0][0]
    resp = client.post("/customers/new", data={"csrf_token": token, "name": "위조", "partner_code": "G02-0001"})
    assert resp.status_code == 400 and sql("SELECT COUNT(*) FROM customer")[0][0] == before
    resp = client.post("/customers/new", data={"csrf_token": token, "name": "잎고객", "partner_code": leaf.code})
    assert resp.status_code == 302
    assert sql("SELECT p.code FROM customer c JOIN partner p ON p.id = c.partner_id WHERE c.name = '잎고객'") == [(leaf.code,)]


def test_a_leaders_form_offers_the_groups_distributors_and_a_store_keeps_the_free_field(users):
    html = users[LEADER1].get("/customers/new").get_data(as_text=True)
    options = _options(html, "partner_code")
    assert options[0] == ("", True)  # a leader picks: nothing pre-selected
    assert [v for v, _sel in options[1:]] == _line_codes(LEADER1)
    assert all(code.startswith("G01-") for code, _sel in options[1:])
    html = users[STORE1].get("/customers/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="partner_code"', html)  # stores may name any distributor in scope


def _downline_card(client) -> str:
    html = client.get("/dashboard").get_data(as_text=True)
    return html.split('data-testid="downline"', 1)[1].split("</section>", 1)[0]


def test_the_downline_card_says_what_it_shows_and_leads_to_the_whole_line(users):
    g01 = db.session.execute(select(PartnerGroup).where(PartnerGroup.code == "G01")).scalar_one()
    total = db.session.execute(select(func.count()).select_from(Partner).where(Partner.group_id == g01.id)).scalar_one()
    assert total > 8
    card = _downline_card(users[LEADER1])
    assert re.search(r'class="stat">(\d+)<', card).group(1) == str(total)
    listed = re.findall(r'href="/org/partners/\d+"', card)
    assert len(listed) == 8
    more = re.search(r'data-testid="downline-more">(.*?)<a', card, flags=re.S).group(1)
    assert re.findall(r"\d+", more) == ["8", str(total)]  # "showing the top 8 of 14" (in either language)
    assert "매출 상위 8명" in more and "See all" not in card  # Korean by default
    see_all = re.search(r'href="([^"]+)" data-testid="downline-see-all"', card).group(1)
    assert see_all == f"/org/groups/{g01.id}"
    page = users[LEADER1].get(see_all).get_data(as_text=True)
    assert len(re.findall(r'href="/org/partners/\d+"', page)) == total  # the whole line, as counted
    # Every distributor leads to their own customers (the list filtered by distributor).
    assert len(re.findall(r'href="/customers/\?partner=G01-\d{4}"', card)) == 8
    assert len(re.findall(r'href="/customers/\?partner=G01-\d{4}"', page)) == total


def test_the_card_says_more_only_when_it_shows_fewer_than_it_counts(users):
    for email in (LEADER1, IBO1):
        card = _downline_card(users[email])
        total = int(re.search(r'class="stat">(\d+)<', card).group(1))
        shown = len(re.findall(r'href="/org/partners/\d+"', card))
        assert shown == min(total, 8), email
        assert ("downline-more" in card) is (total > shown), email


def test_the_customer_list_filters_by_distributor_in_scope(users):
    code = "G01-0005"
    mine = db.session.execute(select(func.count()).select_from(Customer).join(Partner, Partner.id == Customer.partner_id)
                              .where(Partner.code == code)).scalar_one()
    assert mine > 0
    for email in (LEADER1, HQ):
        html = users[email].get(f"/customers/?partner={code}&per_page=100").get_data(as_text=True)
        count = re.search(r'data-testid="result-count">([^<]*)<', html).group(1)
        assert re.findall(r"[\d,]+", count) == [f"{mine:,}"], email
        assert set(re.findall(r"<td>(G\d\d-\d{4})</td>", html)) == {code}
    menu = _options(users[LEADER1].get("/customers/").get_data(as_text=True), "partner")
    assert [v for v, _sel in menu[1:]] == _line_codes(LEADER1)
    # Outside the scope: nothing listed, and nothing tells whether that distributor has customers.
    html = users[LEADER1].get("/customers/?partner=G02-0001").get_data(as_text=True)
    assert 'data-testid="customer-row"' not in html
    html = users[IBO1].get(f"/customers/?partner={code}").get_data(as_text=True)
    in_ibo_line = code in _line_codes(IBO1)
    assert ('data-testid="customer-row"' in html) is in_ibo_line
    # HQ and stores type a code (HQ: every distributor, too many for a menu); the scope still holds.
    html = users[STORE1].get(f"/customers/?partner={code.lower()}").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="partner"[^>]*value="g01-0005"', html)
    assert set(re.findall(r"<td>(G\d\d-\d{4})</td>", html)) <= {code}
    assert set(re.findall(r"<td>(B\d{3})</td>", html)) <= {"B001"}
    html = users[HQ].get("/customers/?partner=nonsense").get_data(as_text=True)
    assert 'data-testid="customer-row"' not in html
