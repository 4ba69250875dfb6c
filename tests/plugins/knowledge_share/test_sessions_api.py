"""Knowledge-sharing sessions through the API: KS-9 (agenda of published stories only,
attendance only after the start, overdue action items offered for the owner branch), invitees
by region/branch/role, scope (404 outside the session's units), refusals (never a 500)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.plugins.knowledge_share.sessions_fixtures import (
    headers,
    make_user,
    noon_kst,
    seoul_iso,
    session_row,
    story,
    unit,
    user,
)

API = "/api/v1/ks/sessions"


def new_session(client, **extra):
    body = {"title": "1분기 지식 공유회", "starts_at": seoul_iso(7, 14), "ends_at": seoul_iso(7, 16),
            "place": "본사 대회의실"} | extra
    resp = client.post(API, json=body, headers=headers("hq@example.com"))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_create_stores_utc_and_shows_seoul(app, client):
    body = new_session(client)
    assert body["starts_at"].endswith("14:00:00+09:00")
    from plugins.knowledge_share.models import KsSession
    from portal.toolkit import db

    s = db.session.get(KsSession, body["id"])
    assert s.starts_at.hour == 5 and s.host_id == user("hq@example.com").id and s.uid.startswith("ks-session-")


def test_ks9_agenda_refuses_an_unpublished_story(app, client):
    """KS-9 (1): an unpublished story on the agenda is refused 422 at ``agenda[0].story``."""
    s = new_session(client)
    draft = story("초안 이야기", state="pending")
    pub1, pub2 = story("건강식품 세미나"), story("Kakao 친구톡 win-back")
    h = headers("hq@example.com")
    resp = client.post(f"{API}/{s['id']}/agenda", json={"agenda": [{"story": draft.id}]}, headers=h)
    assert resp.status_code == 422
    assert "agenda[0].story" in resp.get_json()["errors"]
    assert client.get(f"{API}/{s['id']}", headers=h).get_json()["agenda"] == []
    presenter = user("store1@example.com").id
    resp = client.post(f"{API}/{s['id']}/agenda", headers=h, json={"agenda": [
        {"story": pub1.id, "presenter": presenter}, {"story": pub2.id}]})
    assert resp.status_code == 200, resp.get_json()
    assert [a["story"] for a in resp.get_json()["agenda"]] == [pub1.id, pub2.id]
    # reorder: send the list again in the new order; a second entry with a draft is refused whole
    resp = client.post(f"{API}/{s['id']}/agenda", headers=h, json={"agenda": [{"story": pub2.id}, {"story": draft.id}]})
    assert resp.status_code == 422 and "agenda[1].story" in resp.get_json()["errors"]
    resp = client.post(f"{API}/{s['id']}/agenda", headers=h, json={"agenda": [{"story": pub2.id}, {"story": pub1.id}]})
    assert [a["position"] for a in resp.get_json()["agenda"]] == [1, 2]
    assert [a["story"] for a in resp.get_json()["agenda"]] == [pub2.id, pub1.id]


def test_ks9_attendance_only_after_the_start(app, client):
    """KS-9 (2): attendance before the start → 409; after the start tri-state is recorded."""
    from plugins.knowledge_share.models import KsInvitee, KsSession
    from portal.toolkit import db

    body = new_session(client)
    h = headers("hq@example.com")
    assert client.post(f"{API}/{body['id']}/invitees", json={"branches": ["B001", "B002"]}, headers=h).status_code == 200
    s1, s2 = user("store1@example.com").id, user("store2@example.com").id
    marks = {"attendance": [{"user": s1, "attended": True}, {"user": s2, "attended": False}]}
    resp = client.post(f"{API}/{body['id']}/attendance", json=marks, headers=h)
    assert resp.status_code == 409
    assert resp.get_json()["message"] == "Attendance can be marked once the session has started."
    assert db.session.scalars(select(KsInvitee.attended).where(KsInvitee.session_id == body["id"])).all() == [None, None]
    s = db.session.get(KsSession, body["id"])
    s.starts_at, s.ends_at = noon_kst(-1), noon_kst(-1) + timedelta(hours=2)
    db.session.commit()
    resp = client.post(f"{API}/{body['id']}/attendance", json=marks, headers=h)
    assert resp.status_code == 200 and resp.get_json()["attended"] == 1 and resp.get_json()["absent"] == 1
    resp = client.post(f"{API}/{body['id']}/attendance", json={"attendance": [{"user": s2, "attended": None}]}, headers=h)
    assert resp.get_json()["absent"] == 0
    stranger = user("leader1@example.com").id
    resp = client.post(f"{API}/{body['id']}/attendance", json={"attendance": [{"user": stranger, "attended": True}]},
                       headers=h)
    assert resp.status_code == 422 and "attendance[0].user" in resp.get_json()["errors"]


def test_ks9_overdue_action_item_for_the_owner_branch(app, client):
    """KS-9 (3): an action item overdue by 1 day is reported for its owner branch (the hook
    branch_monitor calls), not for another branch; done items are not."""
    from plugins.knowledge_share.sessions.service import seoul_today
    from portal.toolkit import plugin_hook

    body = new_session(client)
    h = headers("hq@example.com")
    today = seoul_today()
    resp = client.post(f"{API}/{body['id']}/actions", headers=h, json={
        "title": "재구매 안내 문자 문구 공유", "owner_branch": "B001", "due_date": (today - timedelta(days=1)).isoformat()})
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    client.post(f"{API}/{body['id']}/actions", headers=h, json={
        "title": "끝난 일", "owner_branch": "B001", "due_date": (today - timedelta(days=3)).isoformat()})
    done = client.post(f"{API}/{body['id']}/actions", headers=h, json={
        "title": "완료", "owner_branch": "B001", "due_date": (today - timedelta(days=2)).isoformat()}).get_json()
    assert client.patch(f"{API}/actions/{done['id']}", json={"status": "done"},
                        headers=headers("store1@example.com")).status_code == 200
    b001, b002 = unit("B001").id, unit("B002").id
    got = plugin_hook("ks_overdue_action_items")(on=today, unit_ids=[b001])
    items = got[0] if isinstance(got, list) and got and isinstance(got[0], list) else got
    assert [i["days_overdue"] for i in items] == [3, 1]  # oldest first
    assert items[1]["id"] == item["id"] and items[1]["owner_unit_id"] == b001
    assert items[1]["url"] == f"/stories/sessions/{body['id']}"
    other = plugin_hook("ks_overdue_action_items")(on=today, unit_ids=[b002])
    assert not (other[0] if isinstance(other, list) and other and isinstance(other[0], list) else other)


def test_overdue_job_offers_once_and_tells_the_branch(app, client):
    from plugins.knowledge_share.sessions.actions import offer_overdue
    from plugins.knowledge_share.sessions.service import seoul_today
    from portal.notify.models import Notification
    from portal.toolkit import db

    body = new_session(client)
    today = seoul_today()
    client.post(f"{API}/{body['id']}/actions", headers=headers("hq@example.com"), json={
        "title": "매장 POP 교체", "owner_branch": "B001", "due_date": (today - timedelta(days=1)).isoformat()})
    client.post(f"{API}/{body['id']}/actions", headers=headers("hq@example.com"), json={
        "title": "오래된 일", "owner_branch": "B001", "due_date": (today - timedelta(days=5)).isoformat()})
    assert offer_overdue(today)["offered"] == 1
    store1 = user("store1@example.com").id
    n = db.session.scalar(select(db.func.count()).select_from(Notification).where(
        Notification.user_id == store1, Notification.kind == "ks.action_item", Notification.url.is_not(None),
        Notification.dedupe_key.like("ks.action_item:overdue:%")))
    assert n == 1
    offer_overdue(today)  # a second run the same day tells nobody again
    assert db.session.scalar(select(db.func.count()).select_from(Notification).where(
        Notification.user_id == store1, Notification.dedupe_key.like("ks.action_item:overdue:%"))) == 1
    assert offer_overdue(today + timedelta(days=1))["offered"] == 0


def test_invitees_by_region_branch_and_role(app, client):
    from plugins.knowledge_share.models import KsInvitee
    from portal.toolkit import BRANCH_STAFF, HQ_STAFF, db

    r02_staff = make_user("b005@example.com", BRANCH_STAFF, "B005")
    r02_hq = make_user("r02hq@example.com", HQ_STAFF, "R02")
    body = new_session(client)
    h = headers("hq@example.com")
    resp = client.post(f"{API}/{body['id']}/invitees", json={"regions": ["R02"]}, headers=h)
    assert resp.status_code == 200, resp.get_json()
    invited = set(db.session.scalars(select(KsInvitee.user_id).where(KsInvitee.session_id == body["id"])))
    assert invited == {r02_staff.id, r02_hq.id}
    # by role within the region: only branch staff; r02_hq was unmarked → dropped
    resp = client.post(f"{API}/{body['id']}/invitees", json={"regions": ["R02"], "roles": ["Branch Staff"]}, headers=h)
    assert resp.get_json()["removed"] == 1
    # by branch: B001 staff, plus the region rule replaced
    resp = client.post(f"{API}/{body['id']}/invitees", json={"branches": ["B001"]}, headers=h)
    invited = set(db.session.scalars(select(KsInvitee.user_id).where(KsInvitee.session_id == body["id"])))
    assert invited == {user("store1@example.com").id}
    # a new B001 user appears: re-resolving ({}) adds them and keeps the others
    late = make_user("late@example.com", BRANCH_STAFF, "B001")
    resp = client.post(f"{API}/{body['id']}/invitees", json={}, headers=h)
    assert resp.get_json()["added"] == 1 and resp.get_json()["total"] == 2
    assert late.id in set(db.session.scalars(select(KsInvitee.user_id).where(KsInvitee.session_id == body["id"])))
    # invited users were notified once, with a link to the session
    from portal.notify.models import Notification

    n = db.session.scalars(select(Notification).where(Notification.user_id == late.id,
                                                      Notification.kind == "ks.session_invitation")).all()
    assert len(n) == 1 and n[0].url == f"/stories/sessions/{body['id']}"
    # roles only: every holder of the role
    resp = client.post(f"{API}/{body['id']}/invitees", json={"roles": ["Reviewer"]}, headers=h)
    assert user("reviewer@example.com").id in set(db.session.scalars(
        select(KsInvitee.user_id).where(KsInvitee.session_id == body["id"])))


def test_marked_invitee_is_never_dropped(app, client):
    from plugins.knowledge_share.models import KsInvitee
    from portal.toolkit import db

    s = session_row(starts_at=noon_kst(-1))
    h = headers("hq@example.com")
    client.post(f"{API}/{s.id}/invitees", json={"branches": ["B001", "B002"]}, headers=h)
    store2 = user("store2@example.com").id
    assert client.post(f"{API}/{s.id}/attendance", json={"attendance": [{"user": store2, "attended": True}]},
                       headers=h).status_code == 200
    client.post(f"{API}/{s.id}/invitees", json={"branches": ["B001"]}, headers=h)
    assert store2 in set(db.session.scalars(select(KsInvitee.user_id).where(KsInvitee.session_id == s.id)))


def test_scope_outside_the_units_is_404(app, client):
    """A session of R01 with B001 invited: an R02 user, a non-invited branch and a region organiser
    of R02 get 404 for the session, its invitees and its action items — like a missing id."""
    from portal.toolkit import BRANCH_STAFF, HQ_STAFF

    make_user("b005@example.com", BRANCH_STAFF, "B005")
    make_user("r02hq@example.com", HQ_STAFF, "R02")
    r01hq = make_user("r01hq@example.com", HQ_STAFF, "R01")
    h = headers("r01hq@example.com")
    body = client.post(API, headers=h, json={"title": "R01 공유회", "starts_at": seoul_iso(3), "ends_at": seoul_iso(3, 14),
                                             "online_url": "https://meet.example.com/r01"}).get_json()
    assert body["org_unit"] == unit("R01").id, body
    elsewhere = client.post(API, headers=h, json={"title": "R02 공유회", "starts_at": seoul_iso(3), "org_unit": "R02",
                                                  "ends_at": seoul_iso(3, 14), "place": "대전"})
    assert elsewhere.status_code == 422 and "org_unit" in elsewhere.get_json()["errors"]
    client.post(f"{API}/{body['id']}/invitees", json={"branches": ["B001"]}, headers=h)
    action = client.post(f"{API}/{body['id']}/actions", headers=h, json={
        "title": "할 일", "owner_branch": "B001", "due_date": "2030-01-31"}).get_json()
    for outsider in ("b005@example.com", "r02hq@example.com", "store2@example.com"):
        oh = headers(outsider)
        assert client.get(f"{API}/{body['id']}", headers=oh).status_code == 404, outsider
        assert client.get(f"{API}/999999", headers=oh).status_code == 404
        assert client.post(f"{API}/{body['id']}/invitees", json={}, headers=oh).status_code in (403, 404)
        assert client.patch(f"{API}/actions/{action['id']}", json={"status": "done"}, headers=oh).status_code == 404
        listed = client.get(API, headers=oh).get_json()
        assert body["id"] not in [i["id"] for i in listed["items"]] and listed["total"] == 0
    # the R02 organiser may not write it either (404: they do not see it)
    assert client.patch(f"{API}/{body['id']}", json={"title": "x"}, headers=headers("r02hq@example.com")).status_code == 404
    # invitee store1 sees it (403 on writes), HQ and the R01 organiser manage it
    sh = headers("store1@example.com")
    got = client.get(f"{API}/{body['id']}", headers=sh).get_json()
    assert got["may_manage"] is False and got["actions"][0]["title"] == "할 일"
    assert client.patch(f"{API}/{body['id']}", json={"title": "x"}, headers=sh).status_code == 403
    assert client.patch(f"{API}/actions/{action['id']}", json={"title": "x"}, headers=sh).status_code == 403
    assert client.patch(f"{API}/actions/{action['id']}", json={"status": "done"}, headers=sh).status_code == 200
    assert client.get(f"{API}/{body['id']}", headers=headers("hq@example.com")).get_json()["may_manage"] is True
    assert r01hq is not None


def test_unit_members_see_sessions_their_unit_is_invited_to(app, client):
    """Everyone with ks.view in an invited unit sees the session, even when the rule's roles
    leave them out of the invitee list."""
    from portal.toolkit import BRANCH_STAFF, HQ_STAFF

    b003 = make_user("b003@example.com", HQ_STAFF, "B003")
    assert b003
    make_user("b003s@example.com", BRANCH_STAFF, "B003")
    body = new_session(client)
    client.post(f"{API}/{body['id']}/invitees", json={"regions": ["R01"], "roles": ["Branch Staff"]},
                headers=headers("hq@example.com"))
    got = client.get(f"{API}/{body['id']}", headers=headers("b003@example.com"))
    assert got.status_code == 200
    assert client.get(f"{API}/{body['id']}", headers=headers("ibo1@example.com")).status_code == 404


JUNK = [None, [], "x", 1.5, True, -1, 10**30, "", "2027-02-30T10:00", {"a": 1}]


@pytest.mark.parametrize("field", ["title", "starts_at", "ends_at", "place", "online_url", "host", "org_unit"])
def test_create_with_junk_is_422(app, client, field):
    h = headers("hq@example.com")
    for value in JUNK:
        body = {"title": "공유회", "starts_at": seoul_iso(5), "ends_at": seoul_iso(5, 14), "place": "회의실", field: value}
        resp = client.post(API, json=body, headers=h)
        assert resp.status_code in (201, 422), (field, value, resp.status_code)
        if resp.status_code == 422:
            assert resp.get_json()["error"] == "validation_failed"


def test_refusals(app, client):
    h = headers("hq@example.com")
    base = {"title": "공유회", "starts_at": seoul_iso(5), "ends_at": seoul_iso(5, 14), "place": "회의실"}
    cases = [
        (base | {"online_url": "http://meet.example.com"}, "online_url"),
        (base | {"online_url": "javascript:alert(1)"}, "online_url"),
        (base | {"starts_at": seoul_iso(-1)}, "starts_at"),
        (base | {"ends_at": seoul_iso(5, 11)}, "ends_at"),
        ({k: v for k, v in base.items() if k != "place"}, "place"),
        (base | {"cancelled": True}, "cancelled"),
        (base | {"title": "가" * 201}, "title"),
    ]
    for body, path in cases:
        resp = client.post(API, json=body, headers=h)
        assert resp.status_code == 422 and path in resp.get_json()["errors"], (body, resp.get_json())
    assert client.post(API, data="[[[", headers=h | {"Content-Type": "application/json"}).status_code in (400, 422)
    assert client.post(API, json=[1, 2], headers=h).status_code == 422
    assert client.post(API, json=base, headers=headers("store1@example.com")).status_code == 403
    assert client.post(API, json=base).status_code == 401
    for bad in ("abc", "0", "-1", "99999999999999999999", "1.5"):
        assert client.get(f"{API}/{bad}", headers=h).status_code == 404
        assert client.patch(f"{API}/actions/{bad}", json={}, headers=h).status_code == 404
    assert client.get(f"{API}?page=0", headers=h).status_code == 422
    assert client.get(f"{API}?when=later", headers=h).status_code == 422
    s = new_session(client)
    for body, path in (({"agenda": "x"}, "agenda"), ({"agenda": [{"story": "x"}]}, "agenda[0].story"),
                       ({"agenda": [{"story": 10**40}]}, "agenda[0].story"), ({"other": 1}, "other")):
        resp = client.post(f"{API}/{s['id']}/agenda", json=body, headers=h)
        assert resp.status_code == 422 and path in resp.get_json()["errors"], resp.get_json()
    for body, path in (({"branches": ["B999"]}, "branches"), ({"regions": ["B001"]}, "regions"),
                       ({"roles": ["King"]}, "roles"), ({"regions": []}, "regions"), ({"regions": "R01"}, "regions")):
        resp = client.post(f"{API}/{s['id']}/invitees", json=body, headers=h)
        assert resp.status_code == 422 and path in resp.get_json()["errors"], resp.get_json()
    for body, path in (({"title": "x", "owner_branch": "R01", "due_date": "2030-01-01"}, "owner_branch"),
                       ({"title": "x", "owner_branch": "B001", "due_date": "2030-02-30"}, "due_date"),
                       ({"title": "x", "owner_branch": "B001", "due_date": "99999-01-01"}, "due_date"),
                       ({"title": "", "owner_branch": "B001", "due_date": "2030-01-01"}, "title")):
        resp = client.post(f"{API}/{s['id']}/actions", json=body, headers=h)
        assert resp.status_code == 422 and path in resp.get_json()["errors"], resp.get_json()
    # cancelled: nothing changes any more (409)
    assert client.post(f"{API}/{s['id']}/cancel", headers=h).status_code == 200
    assert client.patch(f"{API}/{s['id']}", json={"title": "새 제목"}, headers=h).status_code == 409
    assert client.post(f"{API}/{s['id']}/cancel", headers=h).status_code == 409


def test_minutes_and_update_bump_the_sequence(app, client):
    from portal.notify.models import Notification
    from portal.toolkit import db

    s = new_session(client)
    h = headers("hq@example.com")
    client.post(f"{API}/{s['id']}/invitees", json={"branches": ["B001"]}, headers=h)
    resp = client.patch(f"{API}/{s['id']}", json={"minutes": "## 결론\n- 문자 문구 공유"}, headers=h)
    assert resp.status_code == 200 and resp.get_json()["sequence"] == 0
    resp = client.patch(f"{API}/{s['id']}", json={"starts_at": seoul_iso(8, 14), "ends_at": seoul_iso(8, 16)}, headers=h)
    assert resp.get_json()["sequence"] == 1
    kinds = db.session.scalars(select(Notification.dedupe_key).where(
        Notification.user_id == user("store1@example.com").id, Notification.kind == "ks.session_invitation")).all()
    assert sorted(kinds) == [f"ks.session_invitation:{s['id']}:0", f"ks.session_invitation:{s['id']}:1"]
