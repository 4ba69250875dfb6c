"""The partner view: a leader's dashboard (/prm/my), a distributor's customers' invitations
(/prm/my/invitations), the dashboard portlets and the partner-group tab — scoped so that a
distributor sees only their subtree's customers, a leader only their group, branch staff nothing."""

from __future__ import annotations

import re
from collections import Counter
from types import SimpleNamespace

import pytest

from tests.conftest import login, scalar
from tests.plugins.prm_groups import partner_fixtures as fx


@pytest.fixture
def world(app):
    """G01 and G02 programmes (running and in leader_review); invitations of ibo1's own customers,
    of another G01 distributor's customers and of G02 customers; registrations and attendance."""
    from portal.toolkit import db

    own_ids = fx.subtree_ids("G01-0002")
    own = fx.customers_of(own_ids, 3)
    other = fx.customers_of(fx.group_partner_ids("G01", exclude=own_ids), 2)
    g02 = fx.customers_of(fx.group_partner_ids("G02"), 2)
    assert len(own) == 3 and len(other) == 2 and len(g02) == 2
    p1 = fx.programme("G01", "G01 건강 지원")
    p2 = fx.programme("G02", "G02 뷰티 지원", category="beauty")
    r1 = fx.programme("G01", "G01 승인 대기 프로그램", state="leader_review")
    r2 = fx.programme("G02", "G02 승인 대기 프로그램", state="leader_review")
    inv_own = fx.invite(p1, own)
    inv_other = fx.invite(p1, other)
    inv_g02 = fx.invite(p2, g02)
    fx.register(inv_own[0], p1.sessions[0], attendance="attended")
    fx.register(inv_own[0], p1.sessions[1], attendance="no_show")
    fx.register(inv_own[1], p1.sessions[0])
    inv_own[2].status = "declined"
    fx.register(inv_other[0], p1.sessions[1], attendance="attended")
    fx.register(inv_other[1], p1.sessions[1], status="waitlisted")
    fx.register(inv_g02[0], p2.sessions[0], attendance="attended")
    db.session.commit()
    return SimpleNamespace(own=own, other=other, g02=g02, p1=p1, p2=p2, r1=r1, r2=r2,
                           inv_own=inv_own, g01=fx.group("G01"), g02_group=fx.group("G02"))


def as_user(app, email: str):
    """A fresh client logged in as ``email`` (one client per user in a test)."""
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _codes(html: str) -> set[str]:
    return set(re.findall(r'data-testid="prm-invitation-row" data-customer="([^"]+)"', html))


def test_distributor_sees_only_own_subtree_invitations(world, login_as):
    client = login_as("ibo1@example.com")
    resp = client.get("/prm/my/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/prm/my/invitations")
    html = client.get("/prm/my/invitations").get_data(as_text=True)
    assert _codes(html) == {c.code for c in world.own}
    for c in [*world.other, *world.g02]:
        assert c.name not in html or c.code not in html
    # The distributor may copy their own customers' registration links (the page without login).
    assert f"/prm/r/{world.inv_own[1].token}" in html
    declined = client.get("/prm/my/invitations?status=declined").get_data(as_text=True)
    assert _codes(declined) == {world.own[2].code}
    found = client.get("/prm/my/invitations", query_string={"q": world.own[1].name}).get_data(as_text=True)
    assert world.own[1].code in _codes(found) and _codes(found) <= {c.code for c in world.own}
    assert scalar("SELECT count(*) FROM access_log WHERE detail LIKE 'prm invitations%'") >= 3
    from portal.customers.labels import audit_summary

    detail = scalar("SELECT detail FROM access_log WHERE detail LIKE 'prm invitations%status=declined%'")
    with client.application.test_request_context():
        words = audit_summary("access.list", detail)
    assert "prm invitations" not in words and "declined" in words
    # The registered sessions and attendance of a row.
    row = html.split(f'data-customer="{world.own[0].code}"')[1].split("</tr>")[0]
    assert "세미나 1" in row and "세미나 2" in row and 'data-attendance="attended"' in row
    assert 'data-attendance="no_show"' in row


def test_leader_sees_group_invitations_not_other_groups(world, login_as):
    html = login_as("leader1@example.com").get("/prm/my/invitations").get_data(as_text=True)
    assert _codes(html) == {c.code for c in [*world.own, *world.other]}


def test_leader_dashboard_is_scoped_to_group(world, login_as):
    client = login_as("leader1@example.com")
    resp = client.get("/prm/my/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "G01 건강 지원" in html and "G02 뷰티 지원" not in html
    approvals = html.split('data-testid="prm-approvals"')[1].split("</section>")[0]
    assert "G01 승인 대기 프로그램" in approvals and "G02" not in approvals
    assert f'data-programme="{world.r1.id}"' in approvals
    # Counts only: never a customer's name or code on the dashboard.
    for c in [*world.own, *world.other]:
        assert c.code not in html
    # Sessions of the running programme: registered / attended counts.
    card = html.split(f'data-testid="prm-programme" data-programme="{world.p1.id}"')[1].split("</section>")[0]
    s1 = card.split(f'data-session="{world.p1.sessions[0].id}"')[1].split("</tr>")[0]
    assert re.findall(r'class="num"[^>]*>([^<]+)<', s1) == ["2 / 30", "0", "1"]
    # Another group's dashboard: 404, as for a missing group.
    assert client.get("/prm/my/?group=G02").status_code == 404
    assert client.get("/prm/my/?group=NOPE").status_code == 404


def test_leader_downline_attendance_counts(world, login_as):
    from portal.toolkit import Partner, db

    html = login_as("leader1@example.com").get("/prm/my/").get_data(as_text=True)
    table = html.split('data-testid="prm-downline"')[1].split("</table>")[0]
    rows = dict(re.findall(r'data-partner="([^"]+)">(.*?)</tr>', table, re.S))
    invited: Counter[str] = Counter()
    registered: Counter[str] = Counter()
    attended: Counter[str] = Counter()
    code = {p.id: p.code for p in db.session.query(Partner).all()}
    for c in [*world.own, *world.other]:
        invited[code[c.partner_id]] += 1
    registered[code[world.own[0].partner_id]] += 1
    registered[code[world.own[1].partner_id]] += 1
    registered[code[world.other[0].partner_id]] += 1
    attended[code[world.own[0].partner_id]] += 1
    attended[code[world.other[0].partner_id]] += 1
    assert set(rows) == set(invited)
    assert all(p.startswith("G01-") for p in rows)
    for p, body in rows.items():
        nums = re.findall(r'class="num"[^>]*>([^<]+)<', body)
        assert nums[:3] == [str(invited[p]), str(registered[p]), str(attended[p])], p


def test_hq_sees_every_group_and_picks_one(world, login_as):
    client = login_as("hq@example.com")
    html = client.get("/prm/my/").get_data(as_text=True)
    assert "G01 건강 지원" in html and "G02 뷰티 지원" in html
    assert 'data-testid="prm-downline"' not in html  # no group chosen: no per-distributor table
    g02 = client.get("/prm/my/?group=G02").get_data(as_text=True)
    assert "G02 뷰티 지원" in g02 and "G01 건강 지원" not in g02
    table = g02.split('data-testid="prm-downline"')[1].split("</table>")[0]
    assert set(re.findall(r'data-partner="([^"]+)"', table)) == {
        fx.partner_code(c.partner_id) for c in world.g02}


def test_branch_staff_have_no_menu_and_403(world, login_as):
    client = login_as("store1@example.com")
    assert client.get("/prm/my/").status_code == 403
    assert client.get("/prm/my/invitations").status_code == 403
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "/prm/my" not in dashboard and "prm-portlet" not in dashboard


def test_menu_entries(world, login_as):
    leader = login_as("leader1@example.com").get("/dashboard").get_data(as_text=True)
    assert 'href="/prm/my/"' in leader


def test_distributor_menu_and_portlet(world, login_as):
    html = login_as("ibo1@example.com").get("/dashboard").get_data(as_text=True)
    assert 'href="/prm/my/invitations"' in html
    portlet = html.split('data-testid="prm-portlet-invitations"')[1].split("</div>")[0]
    assert "3" in portlet and "prm-portlet-approvals" not in html


def test_leader_portlet_lists_own_group_approvals(world, login_as):
    html = login_as("leader1@example.com").get("/dashboard").get_data(as_text=True)
    portlet = html.split('data-testid="prm-portlet-approvals"')[1].split("</div>")[0]
    assert "G01 승인 대기 프로그램" in portlet and "G02" not in portlet


def test_group_tab_for_hq_and_own_leader(world, app, login_as):
    client = login_as("hq@example.com")
    for g, name in ((world.g01, "G01 건강 지원"), (world.g02_group, "G02 뷰티 지원")):
        page = client.get(f"/org/groups/{g.id}").get_data(as_text=True)
        assert "tab=prm-programmes" in page
        tab = client.get(f"/org/groups/{g.id}?tab=prm-programmes").get_data(as_text=True)
        assert 'data-testid="prm-group-programmes"' in tab and name in tab
    leader = as_user(app, "leader1@example.com")
    tab = leader.get(f"/org/groups/{world.g01.id}?tab=prm-programmes").get_data(as_text=True)
    assert "G01 건강 지원" in tab and "G02" not in tab.split('data-testid="prm-group-programmes"')[1]


def test_group_tab_not_offered_to_distributor(world, app):
    from plugins.prm_groups.partner.portlets import group_tabs
    from portal.toolkit import User, db

    ibo = db.session.query(User).filter_by(email="ibo1@example.com").one()
    hq = db.session.query(User).filter_by(email="hq@example.com").one()
    leader = db.session.query(User).filter_by(email="leader1@example.com").one()
    with app.test_request_context():
        assert group_tabs(world.g01, ibo) == []
        assert group_tabs(world.g02_group, leader) == []
        assert [t["id"] for t in group_tabs(world.g01, leader)] == ["prm-programmes"]
        assert [t["id"] for t in group_tabs(world.g02_group, hq)] == ["prm-programmes"]


def test_empty_states(app, login_as):
    client = login_as("leader1@example.com")
    html = client.get("/prm/my/").get_data(as_text=True)
    assert 'data-testid="prm-no-approvals"' in html and 'class="empty"' in html
    assert 'data-testid="prm-no-downline"' in html
    inv = as_user(app, "ibo1@example.com").get("/prm/my/invitations").get_data(as_text=True)
    assert 'class="empty"' in inv


def test_anonymous_goes_to_login(app, client):
    resp = client.get("/prm/my/")
    assert resp.status_code in (302, 401)


def test_closed_programme_shows_its_final_verdict(app, login_as):
    """A closed programme's card shows the measurement document's verdict (its frozen final
    snapshot), aggregates only."""
    from plugins.prm_groups.models import PrmResult
    from portal.toolkit import db

    p = fx.programme("G01", "G01 종료 프로그램", state="closed")
    holdout = {"available": True, "lift": 8.1, "ci_low": 5.07, "ci_high": 11.13, "p_value": 1.9e-7,
               "verdict": "significant", "direction": "up", "unit": "pp",
               "arms": {"treatment": {"n": 1000, "conversions": 181}, "holdout": {"n": 1000, "conversions": 100}}}
    db.session.add(PrmResult(programme_id=p.id, kind="final", snapshot={"holdout": holdout, "did": None,
                                                                        "verdict": "significant_increase",
                                                                        "success": True}))
    db.session.commit()
    html = login_as("leader1@example.com").get("/prm/my/").get_data(as_text=True)
    card = html.split(f'data-testid="prm-programme" data-programme="{p.id}"')[1].split("</section>")[0]
    result = card.split('data-testid="prm-result"')[1]
    assert 'data-verdict="significant_increase"' in result.split(">")[0]
    assert "8.1" in result and "5.1" in result and "11.1" in result
    assert f"/prm/programmes/{p.id}/results" in card


@pytest.mark.browser
def test_in_chromium_on_a_phone(world, app):
    """Real Chromium at 390 px: the leader's dashboard and the distributor's invitations fit the
    screen (no sideways scrolling), "copy link" copies without a script error or CSP violation."""
    from pathlib import Path

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    from portal.toolkit import db
    from tests.conftest import PASSWORD
    from tests.live_server import serve

    db.session.close()  # SQLite: no read transaction of the test may hold the lock the server writes under
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        errors: list[str] = []
        try:
            for email, url, testid in (("leader1@example.com", "/prm/my/", "prm-downline"),
                                       ("ibo1@example.com", "/prm/my/invitations", "prm-invitations")):
                context = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844})
                context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("console", lambda msg: errors.append(msg.text)
                        if msg.type == "error" and "Content Security Policy" in msg.text else None)
                page.goto("/login")
                page.fill("input[name=email]", email)
                page.fill("input[name=password]", PASSWORD)
                with page.expect_navigation():
                    page.get_by_test_id("login-submit").click()
                page.goto(url)
                expect(page.get_by_test_id(testid)).to_be_visible()
                width = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, width: innerWidth})")
                assert width["scroll"] <= width["width"], (url, width)
                if testid == "prm-downline":  # Korean category names in the Korean UI
                    expect(page.get_by_test_id("prm-programme").first).to_contain_text("건강식품")
                if testid == "prm-invitations":
                    button = page.locator("[data-copy-target]").first
                    button.click()
                    expect(button).to_have_text("복사됨")
                    copied = page.evaluate("() => navigator.clipboard.readText()")
                    assert "/prm/r/" in copied
                context.close()
            assert errors == [], errors
        finally:
            browser.close()


def test_dashboard_links_to_own_programmes_and_other_groups_are_404(world, login_as):
    client = login_as("leader1@example.com")
    html = client.get("/prm/my/").get_data(as_text=True)
    assert f'href="/prm/programmes/{world.p1.id}"' in html
    assert f'href="/prm/programmes/{world.r1.id}/approval"' in html
    assert f"/prm/programmes/{world.p2.id}" not in html and f"/prm/programmes/{world.r2.id}" not in html
    assert client.get(f"/prm/programmes/{world.p1.id}").status_code == 200
    for url in (f"/prm/programmes/{world.p2.id}", f"/prm/programmes/{world.r2.id}/approval"):
        assert client.get(url).status_code == 404, url
