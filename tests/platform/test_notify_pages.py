"""The inbox pages, the header badge (one cheap query per page), the dashboard portlet, the
preferences page and the JSON API: each user sees and changes only their own notifications."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from portal.extensions import db
from portal.models import User
from portal.notify import notify
from portal.notify import service as svc
from portal.notify.models import Notification, NotificationPreference
from tests.conftest import api_token_for, bearer, csrf_token, login, post_form

KIND = "portal.notice"


@pytest.fixture(autouse=True)
def outbox(monkeypatch):
    from portal import messaging

    calls: list[dict] = []
    monkeypatch.setattr(messaging, "queue_message", lambda **kw: calls.append(kw), raising=False)
    return calls


def uid(email: str) -> int:
    return db.session.execute(select(User.id).where(User.email == email)).scalar_one()


def send(email: str, text: str, **kw) -> int:
    notify([uid(email)], KIND, text=text, **kw)
    db.session.commit()
    return db.session.execute(select(Notification.id).order_by(Notification.id.desc()).limit(1)).scalar_one()


def read_at(nid: int):
    db.session.expire_all()
    return db.session.get(Notification, nid).read_at


# -- badge ---------------------------------------------------------------------------------------


def test_badge_shows_the_unread_count(app, client):
    login(client, "store1@example.com")
    html = client.get("/customers/").get_data(as_text=True)
    assert 'data-testid="inbox-link"' in html and 'data-testid="unread-badge"' not in html
    for i in range(3):
        send("store1@example.com", f"n{i}")
    send("store2@example.com", "not mine")
    html = client.get("/customers/").get_data(as_text=True)
    assert re.search(r'data-testid="unread-badge"[^>]*>3<', html)


def test_badge_costs_one_query_per_page(app, client, monkeypatch):
    """The same page with and without the badge: exactly one more statement (the capped,
    indexed count), computed once however often the template asks."""
    login(client, "store1@example.com")
    send("store1@example.com", "x")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def queries(url: str) -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    client.get("/customers/")  # warm caches
    with_badge = queries("/customers/")
    badge_sql = [s for s in statements if "notification" in s]
    monkeypatch.setattr(svc, "unread_count", lambda *a, **k: 0)
    without = queries("/customers/")
    assert with_badge - without == 1 and len(badge_sql) == 1 and "LIMIT" in badge_sql[0].upper()


# -- inbox ---------------------------------------------------------------------------------------


def test_inbox_lists_only_own_notifications_with_filter_and_empty_states(app, client):
    login(client, "store1@example.com")
    html = client.get("/inbox").get_data(as_text=True)
    assert "notifications" not in re.findall(r'data-testid="(\w+)"', html)  # the empty state, no list
    assert 'class="empty"' in html
    a = send("store1@example.com", "mine A")
    b = send("store1@example.com", "mine B")
    send("store2@example.com", "store2 secret")
    html = client.get("/inbox").get_data(as_text=True)
    assert "mine A" in html and "mine B" in html and "store2 secret" not in html
    assert html.index("mine B") < html.index("mine A")  # newest first
    post_form(client, f"/inbox/{a}/read", {})
    html = client.get("/inbox?show=unread").get_data(as_text=True)
    assert "mine B" in html and "mine A" not in html
    client.get("/inbox?show=junk&page=abc")  # junk filters fall back, never a 500
    assert client.get("/inbox?show=junk&page=abc").status_code == 200
    assert b


def test_inbox_paginates(app, client):
    login(client, "store1@example.com")
    for i in range(30):
        notify([uid("store1@example.com")], KIND, text=f"item-{i:02d}")
    db.session.commit()
    first = client.get("/inbox").get_data(as_text=True)
    second = client.get("/inbox?page=2").get_data(as_text=True)
    assert "item-29" in first and "item-04" not in first and 'rel="next"' in first
    assert "item-04" in second and "item-00" in second and "item-29" not in second


def test_another_users_notification_is_404(app, client):
    theirs = send("store2@example.com", "store2 secret")
    login(client, "store1@example.com")
    assert client.get(f"/inbox/{theirs}").status_code == 404
    token = csrf_token(client, "/inbox")
    for action in ("read", "open"):
        assert client.post(f"/inbox/{theirs}/{action}", data={"csrf_token": token}).status_code == 404
    assert read_at(theirs) is None
    for junk in ("abc", "0", "99999999999999999999", "-1"):
        assert client.get(f"/inbox/{junk}").status_code == 404


def test_open_marks_read_and_follows_the_link(app, client):
    with_url = send("store1@example.com", "go", url="/customers/?q=kim")
    without = send("store1@example.com", "stay")
    login(client, "store1@example.com")
    page = client.get(f"/inbox/{with_url}")
    assert page.status_code == 200 and "go" in page.get_data(as_text=True)
    assert read_at(with_url) is None  # GET changes nothing
    resp = post_form(client, f"/inbox/{with_url}/open", {}, "/inbox")
    assert resp.status_code == 302 and resp.headers["Location"] == "/customers/?q=kim"
    assert read_at(with_url) is not None
    resp = post_form(client, f"/inbox/{without}/open", {}, "/inbox")
    assert resp.headers["Location"].endswith(f"/inbox/{without}")


def test_mark_read_needs_csrf_and_mark_all_read(app, client):
    a = send("store1@example.com", "a")
    send("store1@example.com", "b")
    other = send("store2@example.com", "c")
    login(client, "store1@example.com")
    assert client.post(f"/inbox/{a}/read").status_code == 400  # no CSRF token
    assert read_at(a) is None
    resp = post_form(client, "/inbox/read-all", {"show": "unread"}, "/inbox")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/inbox?show=unread")
    assert read_at(a) is not None and read_at(other) is None
    assert svc.unread_count(uid("store1@example.com")) == 0


def test_dashboard_portlet_shows_latest_five_unread(app, client):
    login(client, "store1@example.com")
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="notify-portlet-empty"' in html
    ids = [send("store1@example.com", f"note-{i}") for i in range(7)]
    html = client.get("/dashboard").get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'data-testid="notification-(\d+)"', html)]
    assert shown == ids[::-1][:5]


def test_pages_in_korean_and_english(app, client):
    send("store1@example.com", "x")
    login(client, "store1@example.com")  # demo users read Korean
    html = client.get("/inbox").get_data(as_text=True)
    assert "알림" in html and "모두 읽음" in html and "포털 공지" in html
    assert "설정" in client.get("/inbox/preferences").get_data(as_text=True)
    db.session.get(User, uid("store1@example.com")).locale = "en"
    db.session.commit()
    html = client.get("/inbox").get_data(as_text=True)
    assert "Mark all as read" in html and "Notices from the portal" in html


# -- preferences ---------------------------------------------------------------------------------


def test_preferences_page_saves_and_refuses_junk(app, client):
    login(client, "store1@example.com")
    html = client.get("/inbox/preferences").get_data(as_text=True)
    assert f'name="kind:{KIND}" value="inbox" checked' in html
    resp = post_form(client, "/inbox/preferences", {f"kind:{KIND}": "digest"}, "/inbox/preferences")
    assert resp.status_code == 302
    assert [p["channel"] for p in svc.preferences(uid("store1@example.com")) if p["kind"] == KIND] == ["digest"]
    resp = post_form(client, "/inbox/preferences", {f"kind:{KIND}": "sms"}, "/inbox/preferences")
    assert resp.status_code == 400
    db.session.expire_all()
    assert db.session.execute(select(NotificationPreference.channel)).scalars().all() == ["digest"]


# -- API -----------------------------------------------------------------------------------------


def test_api_lists_own_notifications(app, client):
    a = send("store1@example.com", "a")
    b = send("store1@example.com", "b")
    send("store2@example.com", "not mine")
    headers = bearer(api_token_for("store1@example.com"))
    body = client.get("/api/v1/notifications", headers=headers).get_json()
    assert [i["id"] for i in body["items"]] == [b, a] and body["total"] == 2 and body["unread_count"] == 2
    item = body["items"][0]
    assert item["text"] == "b" and item["kind"] == KIND and item["read_at"] is None and item["kind_label"]
    client.post(f"/api/v1/notifications/{a}/read", headers=headers)
    body = client.get("/api/v1/notifications?unread=1&per_page=1", headers=headers).get_json()
    assert [i["id"] for i in body["items"]] == [b] and body["unread_count"] == 1 and "next" not in body
    body = client.get("/api/v1/notifications?per_page=1", headers=headers).get_json()
    assert body["next"].endswith("page=2&per_page=1") or "page=2" in body["next"]
    for junk in ("unread=maybe", "page=0", "page=x", "per_page=0"):
        resp = client.get(f"/api/v1/notifications?{junk}", headers=headers)
        assert resp.status_code == 400 and resp.get_json()["error"] == "bad_request"


def test_api_mark_read_own_only(app, client):
    mine = send("store1@example.com", "mine")
    theirs = send("store2@example.com", "theirs")
    headers = bearer(api_token_for("store1@example.com"))
    resp = client.post(f"/api/v1/notifications/{theirs}/read", headers=headers)
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"
    assert read_at(theirs) is None
    resp = client.post(f"/api/v1/notifications/{mine}/read", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["read_at"]
    assert client.post("/api/v1/notifications/abc/read", headers=headers).status_code == 404
    assert client.post("/api/v1/notifications/read-all", headers=headers).get_json() == {"marked_read": 0}


def test_api_needs_a_token(app, client):
    assert client.get("/api/v1/notifications").status_code == 401
    login(client, "store1@example.com")  # a session cookie is not enough
    assert client.get("/api/v1/notifications").status_code == 401


def test_every_notify_message_has_a_korean_translation():
    """babel.cfg extracts portal/templates/ only; the notify templates live in portal/notify/
    templates/, so this checks them (and the Python code) against the Korean catalog itself."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    from tests.conftest import ROOT

    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    found = {m if isinstance(m, str) else m[0]
             for _f, _l, m, _c, _ctx in extract_from_dir(ROOT / "portal" / "notify", method_map, keywords=keywords)}
    with (ROOT / "portal" / "translations" / "ko" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        ko = read_po(fh, locale="ko")
    assert len(found) > 30
    missing = sorted(m for m in found if not (ko.get(m) and ko.get(m).string))
    assert not missing, missing
