"""Organisation trees: scoped browsing, editing, materialized paths and subtree queries."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import OrgUnit, Partner, PartnerGroup
from tests.conftest import login, post_form


def _unit(code: str) -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one()


def test_paths_and_subtree_queries(app):
    hq, r01, b001 = _unit("HQ"), _unit("R01"), _unit("B001")
    assert b001.path.startswith(r01.path) and r01.path.startswith(hq.path)
    under_r01 = set(db.session.execute(select(OrgUnit.code).where(r01.subtree_clause())).scalars())
    assert under_r01 == {"R01", "B001", "B002", "B003", "B004"}
    top = db.session.execute(select(Partner).where(Partner.code == "G01-0001")).scalar_one()
    line = db.session.execute(select(Partner).where(top.subtree_clause())).scalars().all()
    g01 = db.session.execute(select(PartnerGroup).where(PartnerGroup.code == "G01")).scalar_one()
    assert {p.group_id for p in line} == {g01.id}
    assert len(line) == db.session.execute(select(db.func.count()).where(Partner.group_id == g01.id)).scalar_one()


def test_subtree_bounds_do_not_leak_into_siblings_with_longer_ids(app):
    """'/1/4/' must not match '/1/40/': the range upper bound is '/1/40' (exclusive)."""
    from portal.models.base import subtree_bounds

    low, high = subtree_bounds("/1/4/")
    assert low <= "/1/4/99/" < high
    assert not (low <= "/1/40/" < high)
    assert not (low <= "/1/5/" < high)


def test_store_sees_only_its_branch(app, client):
    login(client, "store1@example.com")
    page = client.get("/org/").get_data(as_text=True)
    assert "B001" in page and "B002" not in page and "R01" not in page
    assert client.get(f"/org/units/{_unit('B002').id}").status_code == 404
    assert client.get(f"/org/units/{_unit('B001').id}").status_code == 200
    resp = post_form(client, f"/org/units/{_unit('B001').id}", {"name": "해킹", "code": "B001", "kind": "branch",
                                                                 "parent_code": "R01"})
    assert resp.status_code == 403
    assert _unit("B001").name == "강남점"


def test_leader_sees_own_group_only(app, client):
    login(client, "leader1@example.com")
    page = client.get("/org/").get_data(as_text=True)
    assert "G01" in page and "G02" not in page
    g02 = db.session.execute(select(PartnerGroup).where(PartnerGroup.code == "G02")).scalar_one()
    assert client.get(f"/org/groups/{g02.id}").status_code == 404


def test_hq_creates_branch_and_partner(app, client):
    login(client, "hq@example.com")
    resp = post_form(client, "/org/units/new", {"code": "b013", "name": "수원점", "kind": "branch", "parent_code": "R01"},
                     form_page="/org/units/new")
    assert resp.status_code == 302
    b013 = _unit("B013")
    assert b013.path == _unit("R01").path + f"{b013.id}/" and b013.depth == 2
    dup = post_form(client, "/org/units/new", {"code": "B013", "name": "x", "kind": "branch", "parent_code": "R01"},
                    form_page="/org/units/new")
    assert dup.status_code == 400 and "B013은(는) 이미 사용 중입니다." in dup.get_data(as_text=True)
    under_branch = post_form(client, "/org/units/new", {"code": "B014", "name": "x", "kind": "branch", "parent_code": "B001"},
                             form_page="/org/units/new")
    assert under_branch.status_code == 400
    g01 = db.session.execute(select(PartnerGroup).where(PartnerGroup.code == "G01")).scalar_one()
    resp = post_form(client, f"/org/groups/{g01.id}", {"name": "새 디스트리뷰터", "sponsor_code": "G01-0002"},
                     form_page=f"/org/groups/{g01.id}")
    assert resp.status_code == 302
    newest = db.session.execute(select(Partner).where(Partner.group_id == g01.id).order_by(Partner.id.desc())).scalars().first()
    sponsor = db.session.execute(select(Partner).where(Partner.code == "G01-0002")).scalar_one()
    assert newest.sponsor_id == sponsor.id and newest.path.startswith(sponsor.path) and newest.level == "distributor"


def test_new_partner_in_downline_is_in_distributor_scope(app, client):
    """ibo1 holds a local role on G01-0002: a customer of a partner added below it becomes visible."""
    from portal.org.service import create_partner

    g01 = db.session.execute(select(PartnerGroup).where(PartnerGroup.code == "G01")).scalar_one()
    partner = create_partner(g01, "하위 디스트리뷰터", "G01-0002", None)
    from portal.models import Customer

    c = Customer(code="C9999999", name="하위고객", partner_id=partner.id)
    db.session.add(c)
    db.session.commit()
    login(client, "ibo1@example.com")
    assert client.get(f"/customers/{c.id}").status_code == 200
    other = app.test_client()
    login(other, "store1@example.com")
    assert other.get(f"/customers/{c.id}").status_code == 404


def test_move_partner_moves_whole_downline_and_scope_follows(app, client):
    """Moving G01-0002 (ibo1's node) under G01-0003 rewrites the subtree paths in one update."""
    login(client, "hq@example.com")
    node = db.session.execute(select(Partner).where(Partner.code == "G01-0002")).scalar_one()
    below = set(db.session.execute(select(Partner.id).where(node.subtree_clause())).scalars())
    target = db.session.execute(select(Partner).where(Partner.group_id == node.group_id, Partner.level == "leader",
                                                      Partner.id != node.id)).scalars().first()
    into_own_downline = db.session.execute(select(Partner).where(node.subtree_clause(), Partner.id != node.id)).scalars().first()
    bad = post_form(client, f"/org/partners/{node.id}", {"name": node.name, "active": "y", "sponsor_code": into_own_downline.code},
                    form_page=f"/org/partners/{node.id}")
    assert bad.status_code == 400
    resp = post_form(client, f"/org/partners/{node.id}", {"name": node.name, "active": "y", "sponsor_code": target.code},
                     form_page=f"/org/partners/{node.id}")
    assert resp.status_code == 302
    db.session.expire_all()
    node = db.session.get(Partner, node.id)
    assert node.sponsor_id == target.id and node.path == f"{target.path}{node.id}/" and node.depth == target.depth + 1
    assert set(db.session.execute(select(Partner.id).where(node.subtree_clause())).scalars()) == below
    for p in db.session.execute(select(Partner).where(Partner.id.in_(below))).scalars():
        assert p.path.startswith(node.path) and p.depth == p.path.count("/") - 2


def test_move_branch_to_another_region(app, client):
    login(client, "hq@example.com")
    b004 = _unit("B004")
    resp = post_form(client, f"/org/units/{b004.id}", {"name": b004.name, "code": "B004", "kind": "branch", "parent_code": "R02",
                                                        "active": "y"}, form_page=f"/org/units/{b004.id}")
    assert resp.status_code == 302
    db.session.expire_all()
    assert _unit("B004").path.startswith(_unit("R02").path)
    assert "B004" in set(db.session.execute(select(OrgUnit.code).where(_unit("R02").subtree_clause())).scalars())
