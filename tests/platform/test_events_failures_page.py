"""``/manage/events``: administrators see the add-on reactions that failed and retry one by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import SalesReport, utcnow
from tests.conftest import csrf_token, login
from tests.platform.test_events_fire import A, B, _events_app


@pytest.fixture
def events_app(template_db):
    from tests.event_plugin_b import hooks as b_hooks

    b_hooks.FAIL.clear()
    yield from _events_app(template_db, (A, B))
    b_hooks.FAIL.clear()


def _failure(**kw):
    from portal.events.models import EventFailure

    report_id = db.session.execute(select(SalesReport.id).limit(1)).scalar_one()
    row = EventFailure(hook="portal_sales_imported", plugin="evb",
                       args={"report": {"$row": "sales_report", "id": report_id}}, error="RuntimeError: boom",
                       attempts=kw.pop("attempts", 1), created_at=utcnow(), **kw)
    db.session.add(row)
    db.session.commit()
    return row.id


def test_only_administrators_see_the_page(events_app):
    for email, status in (("store1@example.com", 403), ("hq@example.com", 403), ("admin@example.com", 200)):
        client = events_app.test_client()
        login(client, email)
        assert client.get("/manage/events").status_code == status, email
    admin = events_app.test_client()
    login(admin, "admin@example.com")
    assert 'href="/manage/events"' in admin.get("/dashboard").get_data(as_text=True)


def test_lists_by_status_and_retries_by_hand(events_app):
    from tests.event_plugin_b import hooks as b_hooks

    open_id = _failure(next_try_at=utcnow())
    given_up = _failure(next_try_at=None, attempts=10)
    _failure(next_try_at=None, resolved_at=utcnow())
    admin = events_app.test_client()
    login(admin, "admin@example.com")
    page = admin.get("/manage/events", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f'data-id="{open_id}"' in page and f'data-id="{given_up}"' not in page
    assert "RuntimeError: boom" in page and "evb" in page
    assert f'data-id="{given_up}"' in admin.get("/manage/events?status=given_up").get_data(as_text=True)
    assert admin.get("/manage/events?status=nonsense").status_code == 200

    b_hooks.FAIL.add("sales_imported")
    token = csrf_token(admin, "/manage/events?status=given_up")
    resp = admin.post(f"/manage/events/{given_up}/retry?status=given_up", data={"csrf_token": token})
    assert resp.status_code == 302
    from portal.events.models import EventFailure

    db.session.expire_all()
    row = db.session.get(EventFailure, given_up)
    assert row.resolved_at is None and row.attempts == 11
    b_hooks.FAIL.clear()
    admin.post(f"/manage/events/{given_up}/retry", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(EventFailure, given_up).resolved_at is not None
    assert admin.post(f"/manage/events/{given_up}/retry", data={"csrf_token": token}).status_code == 302  # settled
    assert admin.post("/manage/events/999999/retry", data={"csrf_token": token}).status_code == 404
    assert admin.post(f"/manage/events/{open_id}/retry", data={}).status_code == 400  # no CSRF token


def test_the_page_in_korean(events_app):
    _failure(next_try_at=utcnow())
    admin = events_app.test_client()
    login(admin, "admin@example.com")
    page = admin.get("/manage/events", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "애드온 반응" in page and "다시 시도" in page
