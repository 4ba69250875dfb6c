"""The per-worker identity cache (``portal/auth/identity_cache.py``): a change made anywhere —
another worker, the CLI, plain SQL — takes effect on the next request in every worker, and an
unchanged identity costs one integer read instead of a reload."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from portal.extensions import db
from tests.conftest import api_token_for, bearer, login, make_app, post_form, scalar

STORE1 = "store1@example.com"


@contextmanager
def other_worker(app):
    """A second app on the same database: another gunicorn worker with its own cache."""
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.app_context():
        try:
            yield other
        finally:
            db.session.remove()
            db.engine.dispose()


@contextmanager
def statements(app):
    seen: list[str] = []

    def before(_conn, _cur, stmt, *_a):
        seen.append(" ".join(stmt.split()).lower())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def sql(statement: str, **params) -> None:
    """A write in plain SQL, committed: no app code involved."""
    from sqlalchemy import text

    db.session.execute(text(statement), params)
    db.session.commit()


def epoch() -> int:
    return scalar("SELECT value FROM security_epoch WHERE id = 1")


def customer_outside(email_branch: str = "B002") -> int:
    return scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = :code "
                  "ORDER BY c.id LIMIT 1", code=email_branch)


def test_a_cached_identity_is_not_reloaded(app, client):
    headers = bearer(api_token_for(STORE1))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with statements(app) as seen:
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    # (The epoch itself is read straight through the driver, out of these events' sight; that it
    # is read on every request is what the revocation tests below prove.)
    assert not [s for s in seen if "from api_token" in s or "from user_account" in s or "from plugin_state" in s], seen


def test_the_cache_can_be_switched_off(template_db):
    from tests.conftest import _app_on_clone

    gen = _app_on_clone(template_db, PORTAL_IDENTITY_CACHE_SIZE=0)
    app = next(gen)
    try:
        client = app.test_client()
        headers = bearer(api_token_for(STORE1))
        client.get("/api/v1/me", headers=headers)
        with statements(app) as seen:
            assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert [s for s in seen if "from api_token" in s]
        assert not [s for s in seen if "security_epoch" in s]
    finally:
        next(gen, None)


def test_token_revoked_elsewhere_is_refused_at_once(app, client):
    raw = api_token_for(STORE1)
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 200  # served from the cache
    sql("UPDATE api_token SET revoked_at = CURRENT_TIMESTAMP")  # plain SQL: no app involved
    resp = client.get("/api/v1/me", headers=bearer(raw))
    assert resp.status_code == 401


def test_logout_in_one_worker_ends_the_session_in_another(app, client):
    assert login(client, STORE1).status_code == 302
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    with other_worker(app) as other:
        twin = other.test_client()
        twin.set_cookie(cookie.key, cookie.value)
        assert twin.get("/customers/").status_code == 200
        assert twin.get("/customers/").status_code == 200  # now cached in the other worker
        with app.app_context():
            assert post_form(client, "/logout", {}, form_page="/dashboard").status_code == 302
        assert twin.get("/customers/").status_code == 302  # back to the login page


def test_a_new_local_role_applies_on_the_next_request(app, client):
    headers = bearer(api_token_for(STORE1))
    target = customer_outside("B002")
    assert client.get(f"/api/v1/customers/{target}", headers=headers).status_code == 404
    user_id = scalar("SELECT id FROM user_account WHERE email = :e", e=STORE1)
    unit = scalar("SELECT id FROM org_unit WHERE code = 'B002'")
    sql("INSERT INTO local_role (user_id, role, org_unit_id) VALUES (:u, 'Branch Staff', :o)", u=user_id, o=unit)
    assert client.get(f"/api/v1/customers/{target}", headers=headers).status_code == 200
    sql("DELETE FROM local_role WHERE user_id = :u AND org_unit_id = :o", u=user_id, o=unit)
    assert client.get(f"/api/v1/customers/{target}", headers=headers).status_code == 404


def test_deactivated_user_is_refused_in_every_worker(app, client):
    headers = bearer(api_token_for(STORE1))
    with other_worker(app) as other:
        twin = other.test_client()
        assert twin.get("/api/v1/me", headers=headers).status_code == 200
        with app.app_context():
            sql("UPDATE user_account SET active = :f WHERE email = :e", f=False, e=STORE1)
        assert twin.get("/api/v1/me", headers=headers).status_code == 401


WATCHED_CHANGES = [
    ("user_account", "UPDATE user_account SET name = name || 'x' WHERE email = 'hq@example.com'"),
    ("user_role", "DELETE FROM user_role WHERE role = 'Reviewer'"),
    ("local_role", "UPDATE local_role SET role = role WHERE id = (SELECT MIN(id) FROM local_role)"),
    ("org_unit", "UPDATE org_unit SET name = name WHERE code = 'B001'"),
    ("org_unit insert", "INSERT INTO org_unit (code, name, kind, path, depth, active, created_at) "
                        "VALUES ('B999', 'probe', 'branch', '/999/', 1, true, CURRENT_TIMESTAMP)"),
    ("partner_group", "UPDATE partner_group SET name = name WHERE code = 'G01'"),
    ("partner", "UPDATE partner SET name = name WHERE id = (SELECT MIN(id) FROM partner)"),
    ("partner insert", "INSERT INTO partner (group_id, code, name, level, path, depth, active, created_at) "
                       "SELECT MIN(id), 'P-PROBE', 'probe', 'distributor', '/0/', 0, true, CURRENT_TIMESTAMP "
                       "FROM partner_group"),
    ("api_token", "UPDATE api_token SET revoked_at = CURRENT_TIMESTAMP"),
    ("user_session", "DELETE FROM user_session"),
    ("plugin_state", "INSERT INTO plugin_state (name, installed, enabled, updated_at) "
                     "VALUES ('epoch-probe', false, false, CURRENT_TIMESTAMP)"),
]


@pytest.mark.parametrize(("table", "change"), WATCHED_CHANGES, ids=[t for t, _ in WATCHED_CHANGES])
def test_identity_changes_raise_the_epoch(app, client, table, change):
    api_token_for(STORE1)
    login(client, STORE1)
    before = epoch()
    sql(change)
    assert epoch() > before, f"a change to {table} must raise the security epoch"


def test_touches_and_business_writes_leave_the_epoch_alone(app, client):
    raw = api_token_for(STORE1)
    login(client, STORE1)
    before = epoch()
    sql("UPDATE user_session SET last_seen_at = CURRENT_TIMESTAMP")
    sql("UPDATE api_token SET last_used_at = CURRENT_TIMESTAMP")
    sql("UPDATE customer SET complaint = complaint WHERE id = 1")
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    assert epoch() == before


def test_a_new_partner_under_a_grant_is_in_scope_at_once(app, client):
    """The worker's resolved scope ids (the partners under ibo1's own node) are cached per epoch:
    a partner added under that node, and its customer, are visible on the next request."""
    from portal.models import Customer, Partner
    from portal.org.service import create_partner

    headers = bearer(api_token_for("ibo1@example.com"))
    before = client.get("/api/v1/customers?per_page=100", headers=headers).get_json()["total"]
    assert client.get("/api/v1/customers?per_page=100", headers=headers).status_code == 200  # cached
    me = db.session.get(Partner, scalar("SELECT partner_id FROM user_account WHERE email = 'ibo1@example.com'"))
    newcomer = create_partner(me.group, "새 파트너", me.code, None)
    db.session.flush()
    db.session.add(Customer(code="C-NEW-1", name="신규 고객", partner_id=newcomer.id))
    db.session.commit()
    after = client.get("/api/v1/customers?per_page=100", headers=headers).get_json()["total"]
    assert after == before + 1
