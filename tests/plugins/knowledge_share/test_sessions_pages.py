"""Session pages and the .ics: the list's tabs, the detail page by role, the organisers' forms,
the owner branch marking its action item done, the invitation file parsed back with icalendar,
the dashboard portlets, and 404 outside the session's units."""

from __future__ import annotations

from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import post_form
from tests.plugins.knowledge_share.sessions_fixtures import (
    headers,
    make_user,
    noon_kst,
    seoul_iso,
    session_row,
    story,
    user,
)

API = "/api/v1/ks/sessions"
PAGES = "/stories/sessions"


def test_create_through_the_form_and_manage_on_the_page(app, client, login_as):
    from plugins.knowledge_share.models import KsActionItem, KsAgendaItem, KsInvitee, KsSession
    from portal.toolkit import db

    login_as("hq@example.com")
    assert client.get(f"{PAGES}/new").status_code == 200
    resp = post_form(client, f"{PAGES}/new", {"title": "", "starts_at": seoul_iso(3), "ends_at": seoul_iso(3, 14)},
                     form_page=f"{PAGES}/new")
    assert resp.status_code == 422
    resp = post_form(client, f"{PAGES}/new", {"title": "영업 노하우 공유회", "starts_at": seoul_iso(3),
                                              "ends_at": seoul_iso(3, 14), "place": "본사 2층", "online_url": "",
                                              "host": str(user("hq@example.com").id), "description": "**함께** 배워요",
                                              "org_unit": ""}, form_page=f"{PAGES}/new")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    s = db.session.scalar(select(KsSession).where(KsSession.title == "영업 노하우 공유회"))
    page = f"{PAGES}/{s.id}"
    st = story("건강식품 세미나로 재구매율 상승")
    post_form(client, f"{page}/agenda", {"op": "add", "story": str(st.id), "presenter": ""}, form_page=page)
    assert db.session.scalar(select(KsAgendaItem.story_id).where(KsAgendaItem.session_id == s.id)) == st.id
    draft = story("초안", state="private")
    post_form(client, f"{page}/agenda", {"op": "add", "story": str(draft.id)}, form_page=page)
    assert db.session.scalar(select(db.func.count()).where(KsAgendaItem.session_id == s.id)) == 1
    post_form(client, f"{page}/invitees", {"branches": ["B001"], "roles": ["Branch Staff"]}, form_page=page)
    assert user("store1@example.com").id in db.session.scalars(select(KsInvitee.user_id).where(KsInvitee.session_id == s.id)).all()
    post_form(client, f"{page}/minutes", {"minutes": "# 결론\n<script>alert(1)</script>"}, form_page=page)
    post_form(client, f"{page}/actions", {"title": "POP 교체", "owner_branch": "B001",
                                          "due_date": (noon_kst(10)).date().isoformat()}, form_page=page)
    assert db.session.scalar(select(KsActionItem.title).where(KsActionItem.session_id == s.id)) == "POP 교체"
    html = client.get(page).get_data(as_text=True)
    assert "건강식품 세미나로 재구매율 상승" in html and "POP 교체" in html and "<strong>함께</strong>" in html
    assert "<script>alert(1)</script>" not in html
    listing = client.get(f"{PAGES}/").get_data(as_text=True)
    assert "영업 노하우 공유회" in listing
    assert "영업 노하우 공유회" not in client.get(f"{PAGES}/?when=past").get_data(as_text=True)


def test_branch_staff_marks_its_action_item_done(app, client, login_as):
    from plugins.knowledge_share.models import KsActionItem
    from portal.toolkit import db

    s = session_row()
    client.post(f"{API}/{s.id}/invitees", json={"branches": ["B001"]}, headers=headers("hq@example.com"))
    item = client.post(f"{API}/{s.id}/actions", headers=headers("hq@example.com"), json={
        "title": "문자 문구 시험", "owner_branch": "B001", "due_date": "2030-03-31"}).get_json()
    login_as("store1@example.com")
    page = f"{PAGES}/{s.id}"
    assert "문자 문구 시험" in client.get(page).get_data(as_text=True)
    resp = post_form(client, f"{PAGES}/actions/{item['id']}/status", {"status": "done"}, form_page=page)
    assert resp.status_code == 302
    assert db.session.get(KsActionItem, item["id"]).status == "done"
    assert post_form(client, f"{PAGES}/actions/{item['id']}/status", {"status": "cancelled"},
                     form_page=page).status_code == 403
    # organiser pages are not theirs
    assert client.get(f"{PAGES}/{s.id}/edit").status_code == 403


def test_ics_invitation_parses_back(app, client, login_as):
    s = session_row(title="1분기 지식 공유회")
    h = headers("hq@example.com")
    client.post(f"{API}/{s.id}/invitees", json={"branches": ["B001"]}, headers=h)
    login_as("store1@example.com")
    resp = client.get(f"{PAGES}/{s.id}/session.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    assert any(line.startswith(b"DTSTAMP:") and line.endswith(b"Z") for line in resp.data.splitlines())
    cal = Calendar.from_ical(resp.data)
    assert str(cal["method"]) == "REQUEST"
    assert [c.name for c in cal.walk("VTIMEZONE")] == ["VTIMEZONE"] and str(cal.walk("VTIMEZONE")[0]["tzid"]) == "Asia/Seoul"
    ev = cal.walk("VEVENT")[0]
    assert str(ev["uid"]) == s.uid and int(ev["sequence"]) == 0
    start = ev.decoded("dtstart")
    assert str(start.tzinfo) == "Asia/Seoul" and start.hour == 12
    assert str(ev["summary"]) == "1분기 지식 공유회"
    attendees = ev.get("attendee")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a) for a in attendees] == ["mailto:store1@example.com"]  # only the downloader
    assert str(ev["organizer"]) == "mailto:hq@example.com"
    # a change keeps the UID and bumps the SEQUENCE
    client.patch(f"{API}/{s.id}", json={"place": "본사 5층"}, headers=h)
    ev = Calendar.from_ical(client.get(f"{PAGES}/{s.id}/session.ics").data).walk("VEVENT")[0]
    assert str(ev["uid"]) == s.uid and int(ev["sequence"]) == 1 and "본사 5층" in str(ev["location"])
    # a title cannot inject calendar lines
    client.patch(f"{API}/{s.id}", json={"title": "제목\nBEGIN:VEVENT"}, headers=h)
    assert len(Calendar.from_ical(client.get(f"{PAGES}/{s.id}/session.ics").data).walk("VEVENT")) == 1


def test_pages_outside_the_units_are_404(app, client, login_as):
    from portal.toolkit import BRANCH_STAFF

    make_user("b005@example.com", BRANCH_STAFF, "B005")
    s = session_row(title="R01 비공개 모임")
    client.post(f"{API}/{s.id}/invitees", json={"branches": ["B001"]}, headers=headers("hq@example.com"))
    login_as("b005@example.com")
    for url in (f"{PAGES}/{s.id}", f"{PAGES}/{s.id}/session.ics", f"{PAGES}/999999"):
        assert client.get(url).status_code == 404, url
    assert "R01 비공개 모임" not in client.get(f"{PAGES}/").get_data(as_text=True)
    for junk in ("abc", "99999999999999999999", "-1"):
        assert client.get(f"{PAGES}/{junk}").status_code == 404
    assert client.get(f"{PAGES}/?page=abc&when=zzz").status_code == 200


def test_attendance_form_only_after_start(app, client, login_as):
    from plugins.knowledge_share.models import KsInvitee
    from portal.toolkit import db

    s = session_row(starts_at=noon_kst(-1))
    client.post(f"{API}/{s.id}/invitees", json={"branches": ["B001"]}, headers=headers("hq@example.com"))
    uid = user("store1@example.com").id
    login_as("hq@example.com")
    page = f"{PAGES}/{s.id}"
    assert "att-" in client.get(page).get_data(as_text=True)
    post_form(client, f"{page}/attendance", {f"att-{uid}": "no"}, form_page=page)
    assert db.session.scalar(select(KsInvitee.attended).where(KsInvitee.session_id == s.id)) is False
    future = session_row(starts_in_days=2)
    client.post(f"{API}/{future.id}/invitees", json={"branches": ["B001"]}, headers=headers("hq@example.com"))
    fpage = f"{PAGES}/{future.id}"
    assert "att-" not in client.get(fpage).get_data(as_text=True)
    post_form(client, f"{fpage}/attendance", {f"att-{uid}": "yes"}, form_page=fpage)
    assert db.session.scalar(select(KsInvitee.attended).where(KsInvitee.session_id == future.id)) is None


def test_dashboard_portlets(app, client, login_as):
    s = session_row(title="다음 공유회")
    h = headers("hq@example.com")
    client.post(f"{API}/{s.id}/invitees", json={"branches": ["B001"]}, headers=h)
    client.post(f"{API}/{s.id}/actions", headers=h, json={
        "title": "고객 감사 문자", "owner_branch": "B001", "due_date": (noon_kst(-2)).date().isoformat()})
    login_as("store1@example.com")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "ks-portlet-next-session" in html and "다음 공유회" in html
    assert "ks-portlet-actions" in html and "고객 감사 문자" in html
