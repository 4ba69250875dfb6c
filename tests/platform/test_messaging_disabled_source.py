"""A disabled add-on's queued messages are held by the dispatcher — not sent, not expired, not lost —
and go out when it is enabled again, if still within their lateness (issue 15: "Disabling the
add-on"). Core sources and enabled add-ons are not affected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.messaging import dispatch, queue_message
from portal.messaging.models import Message
from portal.models import PluginState
from portal.models.base import utcnow
from portal.plugins_lifecycle import install, set_enabled


@pytest.fixture(autouse=True)
def _quiet(app):
    app.config.update(PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False)
    install("sample")  # the test add-on (tests/sample_plugin), installed and enabled


def _mail(key: str, source: str, **kw) -> None:
    queue_message(channel="email", purpose="service", to=f"{key.replace(':', '-')}@example.com", subject="안내",
                  body="본문", idempotency_key=key, source=source, **kw)


def _status(key: str) -> str:
    return db.session.execute(text("SELECT status FROM message WHERE idempotency_key = :k"), {"k": key}).scalar_one()


def test_disabled_add_on_messages_are_held_then_sent_after_enable(app):
    assert db.session.get(PluginState, "sample").enabled
    set_enabled("sample", False)
    _mail("held:1", "sample")
    _mail("held:late", "sample", expires_at=utcnow() + timedelta(seconds=2))
    _mail("core:1", "core")
    _mail("other:1", "loyalty")  # a name that is not an installed add-on: never held
    db.session.commit()

    stats = dispatch()
    assert stats["claimed"] == 2
    assert (_status("held:1"), _status("held:late"), _status("core:1"), _status("other:1")) == (
        "queued", "queued", "sent", "sent")
    assert dispatch()["claimed"] == 0  # still held, nothing lost

    # the lateness passes while held: enabled again, the late one expires, the other goes out
    db.session.execute(text("UPDATE message SET expires_at = :t WHERE idempotency_key = 'held:late'"),
                       {"t": utcnow() - timedelta(seconds=1)})
    db.session.commit()
    set_enabled("sample", True)
    stats = dispatch()
    assert stats["claimed"] == 2
    assert (_status("held:1"), _status("held:late")) == ("sent", "expired")


def test_dm_print_file_leaves_a_disabled_add_ons_letters(app):
    from portal.messaging.dm import _due
    from portal.models import User

    admin = db.session.execute(db.select(User).where(User.email == "admin@example.com")).scalar_one()
    cid = db.session.execute(text("SELECT id FROM customer WHERE address IS NOT NULL AND address != '' "
                                  "ORDER BY id LIMIT 1")).scalar_one()
    queue_message(channel="dm", purpose="service", customer_id=cid, subject="안내", body="우편",
                  idempotency_key="dm:held", source="sample")
    db.session.commit()
    due = db.select(db.func.count()).select_from(Message).where(*_due(admin))
    assert db.session.execute(due).scalar_one() == 1
    set_enabled("sample", False)
    assert db.session.execute(due).scalar_one() == 0
