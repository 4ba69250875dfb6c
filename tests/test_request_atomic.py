"""One transaction per request, on SQLite and PostgreSQL: a request that fails — a validation
error after a first audited change — saves nothing of what it did; an add-on's hook raising
loses only the add-on's own savepoint (issue 14: kept in ``event_failure`` and retried).

On SQLite the audit writer's ``write_intent()`` used to *commit* the open transaction (to
restart it as a write transaction), so everything before the first audit row was saved even
when the request failed later (issue 13, item 13).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Customer, OrgUnit
from tests.conftest import TEST_PLUGIN, _app_on_clone, bearer, csrf_token, login, make_app, sql

FAULTY = "tests.faulty_plugin"


def _unit(code: str) -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one()


def _events(action: str) -> int:
    db.session.commit()
    return len(db.session.execute(select(AuditEvent.id).where(AuditEvent.action == action)).all())


def test_a_failed_org_unit_edit_keeps_no_rename(app, client):
    """The rename is audited first, then the move is refused: the page says why, nothing is saved."""
    login(client, "hq@example.com")
    r01 = _unit("R01")
    before = (r01.name, r01.parent_id, r01.path)
    events = _events("org.unit_updated")
    token = csrf_token(client, f"/org/units/{r01.id}")
    resp = client.post(f"/org/units/{r01.id}", data={
        "csrf_token": token, "code": "R01", "kind": "region", "name": "이름만 바뀜",
        "parent_code": "R01",  # below itself: refused after the rename was recorded
    })
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "이름만 바뀜" in page  # the form keeps what was typed
    assert "자기 자신의 하위로는 옮길 수 없습니다." in page  # and says why, in the user's language
    db.session.expire_all()
    r01 = _unit("R01")
    assert (r01.name, r01.parent_id, r01.path) == before
    assert _events("org.unit_updated") == events


def test_a_get_that_writes_does_not_commit_what_it_read_into_a_half_request(app, client):
    """The access log written by a list page lands with the page's own transaction (SQLite:
    the read transaction is ended by a rollback, the log row then commits)."""
    login(client, "store1@example.com")
    before = sql("SELECT COUNT(*) FROM access_log WHERE action = 'list'")[0][0]
    assert client.get("/customers/").status_code == 200
    assert sql("SELECT COUNT(*) FROM access_log WHERE action = 'list'")[0][0] == before + 1


@pytest.fixture
def faulty_app(template_db):
    """An app with the faulty add-on installed, answering errors as in production (no propagation)."""
    yield from _app_on_clone(template_db, lambda url: make_app(
        url, PORTAL_PLUGINS=[TEST_PLUGIN, FAULTY], PROPAGATE_EXCEPTIONS=False))


@pytest.fixture
def failing_hook(faulty_app):
    from portal.plugins_lifecycle import install
    from tests.faulty_plugin import hooks

    install("faulty")
    hooks.FAIL_CUSTOMER_CHANGED["on"] = True
    yield
    hooks.FAIL_CUSTOMER_CHANGED["on"] = False


def _customer_row(cid: int):
    return sql("SELECT name, note, updated_at FROM customer WHERE id = :i", i=cid)


def _failures() -> int:
    db.session.commit()
    return sql("SELECT COUNT(*) FROM event_failure WHERE plugin = 'faulty' AND hook = 'portal_customer_changed'"
               " AND resolved_at IS NULL")[0][0]


def test_a_raising_customer_changed_hook_is_isolated_from_the_web_edit(faulty_app, failing_hook):
    """Issue 14: an add-on's failing reaction loses only its own savepoint and is kept for a retry;
    the user's edit (and its audit row) stands, whatever the add-on did."""
    client = faulty_app.test_client()
    login(client, "hq@example.com")
    cid = db.session.execute(select(Customer.id).order_by(Customer.id).limit(1)).scalar_one()
    events, failures = _events("customer.updated"), _failures()
    token = csrf_token(client, f"/customers/{cid}/edit")
    resp = client.post(f"/customers/{cid}/edit", data={
        "csrf_token": token, "name": "훅이실패함", "branch_code": "B001", "note": "saved anyway"})
    assert resp.status_code == 302
    assert _customer_row(cid)[0][:2] == ("훅이실패함", "saved anyway")
    assert _events("customer.updated") == events + 1
    assert _failures() == failures + 1


def test_a_raising_customer_changed_hook_is_isolated_from_the_api_create_and_edit(faulty_app, failing_hook):
    from tests.conftest import api_token_for

    client = faulty_app.test_client()
    headers = bearer(api_token_for("hq@example.com"))
    cid = db.session.execute(select(Customer.id).order_by(Customer.id).limit(1)).scalar_one()
    customers, failures = sql("SELECT COUNT(*) FROM customer")[0][0], _failures()
    resp = client.patch(f"/api/v1/customers/{cid}", json={"name": "API성공"}, headers=headers)
    assert resp.status_code == 200
    resp = client.post("/api/v1/customers", json={"name": "생성성공", "branch_code": "B001"}, headers=headers)
    assert resp.status_code == 201
    assert _customer_row(cid)[0][0] == "API성공"
    assert sql("SELECT COUNT(*) FROM customer")[0][0] == customers + 1
    assert _failures() >= failures + 2
