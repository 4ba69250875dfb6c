"""Administrators' pages: users & roles, add-on settings, audit and access logs."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import AccessLog, AuditEvent, LocalRole, User
from portal.plugins_lifecycle import install
from tests.conftest import login, post_form


def _user(email: str) -> User:
    db.session.expire_all()
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def test_users_pages_are_admin_only(app, client):
    for email in ("hq@example.com", "store1@example.com", "reviewer@example.com"):
        login(client, email)
        assert client.get("/manage/users").status_code == 403
        assert client.get("/manage/audit").status_code == 403
        post_form(client, "/logout", {})


def test_create_user_and_grant_roles(app, client):
    login(client, "admin@example.com")
    page = client.get("/manage/users?q=store").get_data(as_text=True)
    assert "store1@example.com" in page and "hq@example.com" not in page
    resp = post_form(client, "/manage/users/new", {"email": "New.Staff@Example.com", "name": "신입 직원",
                                                    "password": "orange-cloud-77", "locale": "ko",
                                                    "roles": ["HQ Staff"]}, form_page="/manage/users/new")
    assert resp.status_code == 302
    user = _user("new.staff@example.com")
    assert user.role_names == {"HQ Staff"}
    resp = post_form(client, f"/manage/users/{user.id}", {"form": "local", "lr-role": "Branch Staff", "lr-target": "b003"},
                     form_page=f"/manage/users/{user.id}")
    assert resp.status_code == 302
    user = _user("new.staff@example.com")
    assert [(lr.role, lr.org_unit.code) for lr in user.local_roles] == [("Branch Staff", "B003")]
    resp = post_form(client, f"/manage/users/{user.id}", {"form": "local", "lr-role": "Branch Staff", "lr-target": "NOPE"},
                     form_page=f"/manage/users/{user.id}")
    assert resp.status_code == 400 and 'class="error"' in resp.get_data(as_text=True)
    lr_id = user.local_roles[0].id
    post_form(client, f"/manage/users/{user.id}", {"form": "revoke", "rv-local_role_id": str(lr_id)},
              form_page=f"/manage/users/{user.id}")
    assert db.session.get(LocalRole, lr_id) is None
    actions = set(db.session.execute(select(AuditEvent.action).where(AuditEvent.object_id == str(user.id))).scalars())
    assert {"user.created", "user.role_granted", "user.local_role_granted", "user.local_role_revoked"} <= actions


def test_weak_password_and_duplicate_email_refused(app, client):
    login(client, "admin@example.com")
    before = db.session.execute(select(db.func.count(User.id))).scalar_one()
    for email, password in (("x@example.com", "password"), ("x@example.com", "short"), ("hq@example.com", "orange-cloud-77")):
        resp = post_form(client, "/manage/users/new", {"email": email, "name": "X", "password": password, "locale": "ko"},
                         form_page="/manage/users/new")
        assert resp.status_code == 400
    assert db.session.execute(select(db.func.count(User.id))).scalar_one() == before


def test_admin_cannot_lock_themselves_out(app, client):
    login(client, "admin@example.com")
    admin = _user("admin@example.com")
    resp = post_form(client, f"/manage/users/{admin.id}", {"form": "edit", "name": "관리자", "locale": "ko", "roles": ["HQ Staff"]},
                     form_page=f"/manage/users/{admin.id}")
    assert "flash-error" in resp.get_data(as_text=True)
    assert "Site Administrator" in _user("admin@example.com").role_names


def test_deactivated_user_cannot_log_in(app, client):
    login(client, "admin@example.com")
    hq = _user("hq@example.com")
    post_form(client, f"/manage/users/{hq.id}", {"form": "edit", "name": hq.name, "locale": "ko", "roles": ["HQ Staff"]},
              form_page=f"/manage/users/{hq.id}")
    assert _user("hq@example.com").active is False
    other = app.test_client()
    assert login(other, "hq@example.com").status_code == 401


def test_plugin_roles_and_settings(app, client):
    install("sample")
    login(client, "admin@example.com")
    hq = _user("hq@example.com")
    assert "Note Taker" in client.get(f"/manage/users/{hq.id}").get_data(as_text=True)
    page = client.get("/manage/addons/sample/settings")
    assert page.status_code == 200 and 'value="Hello"' in page.get_data(as_text=True)
    bad = post_form(client, "/manage/addons/sample/settings",
                    {"greeting": "Hi", "max_notes": "500", "colour": "red"}, form_page="/manage/addons/sample/settings")
    assert bad.status_code == 400
    from portal.plugin_settings import get_settings

    assert get_settings("sample") == {"greeting": "Hello", "max_notes": 10, "public": False, "colour": "blue"}
    ok = post_form(client, "/manage/addons/sample/settings",
                   {"greeting": "안녕하세요", "max_notes": "25", "public": "y", "colour": "green"},
                   form_page="/manage/addons/sample/settings")
    assert ok.status_code == 302
    db.session.expire_all()
    assert get_settings("sample") == {"greeting": "안녕하세요", "max_notes": 25, "public": True, "colour": "green"}
    assert client.get("/manage/addons/nope/settings").status_code == 404


def test_audit_and_access_log_filters(app, client):
    login(client, "store1@example.com")
    customer_id = db.session.execute(select(db.text("id")).select_from(db.text("customer"))
                                     .where(db.text("branch_id = (select id from org_unit where code='B001')"))).scalars().first()
    assert client.get(f"/customers/{customer_id}").status_code == 200
    post_form(client, "/logout", {})
    login(client, "admin@example.com")
    page = client.get(f"/manage/audit?log=access&actor=store1&object={customer_id}").get_data(as_text=True)
    assert "store1@example.com" in page and "view" in page
    page = client.get("/manage/audit?action=auth.login&actor=store1").get_data(as_text=True)
    assert "auth.login" in page and "store1@example.com" in page
    page = client.get("/manage/audit?action=auth.login&actor=nobody").get_data(as_text=True)
    assert "<tbody>" not in page
    assert client.get("/manage/audit?start=not-a-date&end=2026-13-45").status_code == 200
    assert db.session.execute(select(db.func.count(AccessLog.id)).where(AccessLog.object_id == str(customer_id))).scalar_one() >= 1


def test_admin_sends_password_reset(app, client):
    from portal.messaging.models import Message

    login(client, "admin@example.com")
    hq = _user("hq@example.com")
    resp = post_form(client, f"/manage/users/{hq.id}", {"form": "reset", "rv-local_role_id": "0"},
                     form_page=f"/manage/users/{hq.id}")
    assert resp.status_code == 302
    msg = db.session.execute(select(Message).where(Message.to_addr == "hq@example.com")).scalar_one()
    assert msg.step == "password_reset" and "/password-reset/" in msg.body


def test_unknown_global_roles_are_refused_by_the_form_not_a_500(app, client):
    """roles=[""] (or "" then a made-up role) skipped the choice check and reached grant_global: a 500."""
    login(client, "admin@example.com")
    hq = _user("hq@example.com")
    for roles in ([""], ["", "Bogus"], ["", "HQ Staff"]):
        resp = post_form(client, f"/manage/users/{hq.id}", {"form": "edit", "name": "바뀐 이름", "locale": "ko", "roles": roles},
                         form_page=f"/manage/users/{hq.id}")
        assert resp.status_code == 400, roles
        resp = post_form(client, "/manage/users/new", {"email": "x.roles@example.com", "name": "X", "locale": "ko",
                                                       "password": "correct-horse-battery-9", "roles": roles},
                         form_page="/manage/users/new")
        assert resp.status_code in (200, 400) and resp.status_code < 500, roles
    db.session.expire_all()
    assert _user("hq@example.com").name != "바뀐 이름" and _user("hq@example.com").role_names == {"HQ Staff"}
    assert db.session.execute(select(User).where(User.email == "x.roles@example.com")).scalar_one_or_none() is None
    # An empty selection is still allowed.
    resp = post_form(client, f"/manage/users/{hq.id}", {"form": "edit", "name": hq.name, "locale": "ko"},
                     form_page=f"/manage/users/{hq.id}")
    assert resp.status_code == 302
