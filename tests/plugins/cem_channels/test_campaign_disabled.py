"""Disabling the add-on (issue 15): its pages, API and tracking routes answer 404; its queued
messages are held — not sent, not lost — and go out after it is enabled again, unless their
lateness ran out meanwhile (then ``expired``, never sent late)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from portal.toolkit import Message, db, dispatch, utcnow
from tests.conftest import login
from tests.plugins.cem_channels.sending_fixtures import (
    branch_ids,
    consent,
    message_set,
    messages,
    scheduled,
    user,
)

ROUTES = ["/campaigns/", "/campaigns/calendar", "/campaigns/approvals", "/campaigns/calls", "/message-sets/",
          "/manage/cem/", "/c/o/anything.gif"]


def test_routes_answer_404_while_disabled_and_come_back(app):
    from portal.plugins_lifecycle import set_enabled

    client = app.test_client()
    login(client, "hq@example.com")
    assert all(client.get(path).status_code in (200, 302) for path in ROUTES[:-1])
    with app.app_context():
        set_enabled("cem_channels", False)
        db.session.commit()
    assert {path: client.get(path).status_code for path in ROUTES} == {path: 404 for path in ROUTES}
    assert client.get("/api/v1/campaigns").status_code == 404
    with app.app_context():
        set_enabled("cem_channels", True)
        db.session.commit()
    assert client.get("/campaigns/").status_code == 200


def test_held_messages_past_their_lateness_expire_after_enabling(app):
    from plugins.cem_channels.campaigns.jobs import tick
    from portal.plugins_lifecycle import set_enabled

    with app.app_context():
        consent(branch_ids("B001", with_email=True), night=True)
        campaign = scheduled(user("hq@example.com"), message_set())
        tick()
        rows = messages(campaign)
        assert rows and {m.status for m in rows} == {"queued"}
        set_enabled("cem_channels", False)
        db.session.commit()
        assert dispatch()["claimed"] == 0  # held
        # the add-on stayed off past the messages' lateness: enabled again, they expire, unsent
        db.session.execute(update(Message).where(Message.id.in_([m.id for m in rows]))
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        set_enabled("cem_channels", True)
        db.session.commit()
        dispatch()
        assert {m.status for m in messages(campaign)} == {"expired"}
