"""record_consents — the set-based record_consent: the same rows, audit events and hook calls as one
record_consent per row; all-or-nothing on bad input; rows applied in order; state refusals either
raise or are reported in ``skipped``; the opt-in result notice keeps the consent's instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import scalar, sql
from tests.platform.test_contact_service import Listener, consent_rows, verdict
from tests.test_segments import make, user


@pytest.fixture
def listener(app):
    from portal.plugins import registry

    impl = Listener()
    pm = registry().pm
    pm.register(impl, name="core.test_bulk_listener")
    yield impl
    pm.unregister(name="core.test_bulk_listener")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _audit(cid: int) -> list[tuple]:
    return [(a, s, c) for a, s, c in sql("SELECT action, summary, changes FROM audit_event WHERE object_type = "
                                         "'customer' AND object_id = :c ORDER BY id", c=str(cid))]


def _changes(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


def test_same_rows_audit_and_hooks_as_record_consent(app, listener):
    from portal.contact import record_consent, record_consents
    from portal.extensions import db

    staff = user("store1@example.com")
    steps = [dict(channel="sms", granted=False, method="web", source="unsubscribe_link"),
             dict(channel="email", granted=True, method="store", source="staff", actor=staff, note=" 매장 "),
             dict(channel="email", granted=True, method="message", source="adlaw", kind="reconfirmation_notice"),
             dict(channel="sms", granted=False, method="message", source="adlaw", kind="optout_notice")]
    one, bulk = make(consents={"sms": True}), make(consents={"sms": True})
    for step in steps:
        args = dict(step)
        record_consent(one, args.pop("channel"), "marketing", args.pop("granted"), **args)
    assert record_consents([{"customer_id": bulk, "purpose": "marketing", **s} for s in steps]) == 4
    db.session.commit()
    assert consent_rows(bulk) == consent_rows(one) and consent_rows(bulk, "email") == consent_rows(one, "email")
    notes = sql("SELECT customer_id, note FROM consent WHERE channel = 'email' AND customer_id IN (:a, :b)",
                a=one, b=bulk)
    assert sorted(notes, key=lambda r: (r[0] != one, r[1] or "")) == [(one, None), (one, "매장"), (bulk, None),
                                                                      (bulk, "매장")]
    assert [(a, s, _changes(c)) for a, s, c in _audit(bulk)] == [(a, s, _changes(c)) for a, s, c in _audit(one)]
    assert sql("SELECT actor_label FROM audit_event WHERE object_id = :c AND summary LIKE 'email/%' ORDER BY id",
               c=str(bulk)) == [(staff.email,), ("system",)]
    # The hooks: the two kind="consent" rows of each, in order, with the same arguments; none for the notice.
    assert [c[1:] for c in listener.calls if c[0] == bulk] == [c[1:] for c in listener.calls if c[0] == one]
    assert len([c for c in listener.calls if c[0] == bulk]) == 2
    assert verdict(bulk) == verdict(one)


def test_bad_rows_raise_naming_them_and_write_nothing(app, listener):
    from portal.contact import ContactError, record_consents

    cid = make(consents={"sms": True})
    good = {"customer_id": cid, "channel": "sms", "purpose": "marketing", "granted": False, "method": "web",
            "source": "staff"}
    before = scalar("SELECT COUNT(*) FROM audit_event")
    for bad, key in [({"channel": "fax"}, "row 1: channel"), ({"granted": "no"}, "row 1: granted"),
                     ({"kind": "rumour"}, "row 1: kind"), ({"is_admin": True}, "row 1: fields"),
                     ({"customer_id": "x"}, "row 1: customer"), ({"customer_id": 2**31 - 9}, "row 1: customer"),
                     ({"kind": "optout_notice", "granted": True}, "row 1: kind")]:
        with pytest.raises(ContactError) as err:
            record_consents([good, good | bad])
        assert key in err.value.errors, (bad, err.value.errors)
    with pytest.raises(ContactError) as err:
        record_consents([good, "not a row"])
    assert "row 1: fields" in err.value.errors
    assert consent_rows(cid) == [(True, "consent", "store", None, None)]
    assert scalar("SELECT COUNT(*) FROM audit_event") == before and listener.calls == []
    assert record_consents([]) == 0


def test_rows_apply_in_order_and_state_refusals_can_be_skipped(app):
    from portal.contact import ContactError, record_consents

    cid, erased = make(), make(pseudonymized_at=_now())
    rows = [
        {"customer_id": cid, "channel": "sms", "purpose": "marketing", "granted": True, "method": "store",
         "source": "staff"},
        # sees row 0: a consent just granted, so the opt-in result notice may follow it
        {"customer_id": cid, "channel": "sms", "purpose": "marketing", "granted": True, "method": "message",
         "source": "adlaw", "kind": "optin_notice"},
        {"customer_id": erased, "channel": "sms", "purpose": "marketing", "granted": True, "method": "store",
         "source": "staff"},
        # sees row 1: the current row is a notice now, not a grant — a second opt-in notice is refused
        {"customer_id": cid, "channel": "sms", "purpose": "marketing", "granted": True, "method": "message",
         "source": "adlaw", "kind": "optin_notice"},
    ]
    with pytest.raises(ContactError) as err:
        record_consents(rows)
    assert set(err.value.errors) == {"row 2: customer", "row 3: kind"}
    assert consent_rows(cid) == []
    skipped: list = []
    assert record_consents(rows, skipped=skipped) == 2
    assert [i for i, _e in skipped] == [2, 3]
    assert [r[:2] for r in consent_rows(cid)] == [(True, "consent"), (True, "optin_notice")]
    assert verdict(cid).allowed


def test_optin_notice_keeps_the_consent_instant_and_the_two_year_mark(app):
    from portal.contact import ContactError, record_consent
    from portal.contact.service import newest_consent_row

    granted_at = _now() - timedelta(days=3)
    cid = make(consents={"email": (True, granted_at)})
    notice = record_consent(cid, "email", "marketing", True, method="message", source="adlaw", kind="optin_notice")
    assert notice.recorded_at == granted_at and newest_consent_row(cid, "email", "marketing").id == notice.id
    # Still expires 730 days after the grant, not after the notice.
    assert verdict(cid, "email", at=granted_at + timedelta(days=729)).allowed
    assert verdict(cid, "email", at=granted_at + timedelta(days=731)).reason == "consent_expired"
    for kind_cid, granted in [(make(consents={"email": False}), True), (cid, True),
                              (make(consents={"email": (True, _now() - timedelta(days=800))}), True)]:
        with pytest.raises(ContactError) as err:
            record_consent(kind_cid, "email", "marketing", granted, method="message", source="adlaw",
                           kind="optin_notice")
        assert "kind" in err.value.errors


def test_a_loaded_consent_collection_sees_the_bulk_rows(app):
    from portal.contact import record_consents
    from portal.contact.service import current_consents
    from portal.extensions import db
    from portal.models import Customer

    cid = make(consents={"kakao": True})
    customer = db.session.get(Customer, cid)
    assert current_consents(customer)[("kakao", "marketing")].granted is True
    record_consents([{"customer_id": customer, "channel": "kakao", "purpose": "marketing", "granted": False,
                      "method": "phone", "source": "staff"}])
    assert current_consents(customer)[("kakao", "marketing")].granted is False
