"""The consent and contact service: may_contact (a table of cases, the night rule with a UTC clock,
expiry and re-confirmation), record_consent (without a user, the hook in the same transaction),
record_contact and the cool-down, and one answer shared with extraction's suppression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from portal.hookspecs import hookimpl
from tests.conftest import scalar, sql
from tests.test_segments import execute, make, user

# 12:00 KST on a Monday: daytime, so only the night-rule cases see the night.
NOON_KST = datetime(2026, 12, 7, 3, 0, 0)


def verdict(cid: int, channel: str = "sms", purpose: str = "marketing", at: datetime | None = NOON_KST):
    from portal.contact import may_contact

    return may_contact(cid, channel, purpose, at)


def consent_rows(cid: int, channel: str = "sms", purpose: str = "marketing") -> list[tuple]:
    return sql("SELECT granted, kind, method, source, recorded_by_id FROM consent WHERE customer_id = :c AND "
               "channel = :ch AND purpose = :p ORDER BY recorded_at, id", c=cid, ch=channel, p=purpose)


# -- may_contact ----------------------------------------------------------------------------------------------


def test_may_contact_table_of_cases(app):
    from portal.contact import Verdict

    day = timedelta(days=1)
    cases = {
        "ok": (make(consents={"sms": True}), Verdict(True)),
        "regranted": (make(consents={"sms": [(False, NOON_KST - 9 * day), (True, NOON_KST - day)]}), Verdict(True)),
        "no_consent": (make(consents={"email": True}), Verdict(False, "no_consent")),
        "opted_out": (make(consents={"sms": [(True, NOON_KST - 9 * day), (False, NOON_KST - day)]}),
                      Verdict(False, "opted_out")),
        "consent_expired": (make(consents={"sms": (True, NOON_KST - 800 * day)}), Verdict(False, "consent_expired")),
        "no_phone": (make(consents={"sms": True}, phone=None), Verdict(False, "no_address")),
        "phone_flagged": (make(consents={"sms": True}, issues=("phone",)), Verdict(False, "no_address")),
        "complaint": (make(consents={"sms": True}, complaint=True), Verdict(False, "complaint")),
        "erased": (make(consents={"sms": True}, pseudonymized_at=NOON_KST - day), Verdict(False, "erased")),
    }
    for name, (cid, expected) in cases.items():
        assert verdict(cid) == expected, name
    # A flagged e-mail does not stop an SMS; the order of reasons: erased, address, consent, complaint.
    assert verdict(make(consents={"sms": True}, issues=("email",))) == Verdict(True)
    assert verdict(make(phone=None, complaint=True)).reason == "no_address"
    assert verdict(make(complaint=True)).reason == "no_consent"
    # Unknown ids answer, they do not raise.
    assert verdict(2**31 - 5) == Verdict(False, "unknown_customer")
    from portal.contact import may_contact_many

    assert may_contact_many([-1, 0, 2**70], "sms", "marketing") == {
        i: Verdict(False, "unknown_customer") for i in (-1, 0, 2**70)}


def test_service_purpose_needs_only_an_address_and_no_erasure(app):
    from portal.contact import Verdict

    nobody = make()  # no consent at all, complaint, at 03:00 KST: a password reset still goes
    complaint = make(complaint=True)
    at_night = datetime(2026, 12, 6, 18, 0, 0)  # 03:00 KST
    for cid in (nobody, complaint):
        assert verdict(cid, "email", "service", at_night) == Verdict(True)
        assert verdict(cid, "sms", "service", at_night) == Verdict(True)
    assert verdict(make(email=None), "email", "service") == Verdict(False, "no_address")
    assert verdict(make(pseudonymized_at=NOON_KST), "email", "service") == Verdict(False, "erased")
    # Push needs no address of ours (the adapter finds the device); DM needs the postal address.
    assert verdict(make(phone=None, email=None), "push", "service") == Verdict(True)
    assert verdict(make(postal_code=None), "dm", "service") == Verdict(False, "no_address")


@pytest.mark.parametrize(("kst", "night_consent", "expected_until"), [
    ("20:59:59", False, None),
    ("21:00:00", False, datetime(2026, 12, 7, 23, 0)),   # 08:00 KST the next morning, in UTC
    ("21:00:00", True, None),
    ("07:59:59", False, datetime(2026, 12, 7, 23, 0)),   # the same morning
    ("08:00:00", False, None),
])
def test_night_rule_with_the_server_clock_in_utc(app, kst, night_consent, expected_until):
    h, m, s = map(int, kst.split(":"))
    day = datetime(2026, 12, 8 if h < 12 else 7)  # 07:59 / 08:00 KST on the 8th, 20:59 / 21:00 KST on the 7th
    at = day.replace(hour=h, minute=m, second=s) - timedelta(hours=9)  # KST → UTC, naive like the database
    consents = {"sms": (True, at - timedelta(days=3))}
    cid = make(consents=consents)
    if night_consent:
        execute("INSERT INTO consent (customer_id, channel, purpose, granted, method, recorded_at, kind) "
                "VALUES (:c, 'sms', 'night_ads', true, 'store', :t, 'consent')", c=cid, t=at - timedelta(days=2))
    got = verdict(cid, "sms", "marketing", at)
    if expected_until is None:
        assert got.allowed and got.reason is None
    else:
        assert (got.allowed, got.reason, got.deferred_until) == (False, "night_window", expected_until)
    # An aware ``at`` gets an aware answer; e-mail is outside the rule by default.
    aware = verdict(cid, "sms", "marketing", at.replace(tzinfo=UTC))
    assert aware.deferred_until == (expected_until.replace(tzinfo=UTC) if expected_until else None)
    execute("INSERT INTO consent (customer_id, channel, purpose, granted, method, recorded_at, kind) "
            "VALUES (:c, 'email', 'marketing', true, 'store', :t, 'consent')", c=cid, t=at - timedelta(days=2))
    assert verdict(cid, "email", "marketing", at).allowed


def test_night_rule_covers_email_when_the_setting_says_so(app):
    at = datetime(2026, 12, 7, 13, 0)  # 22:00 KST
    cid = make(consents={"email": True})
    assert verdict(cid, "email", "marketing", at).allowed
    app.config["PORTAL_NIGHT_RULE_EMAIL"] = True
    assert verdict(cid, "email", "marketing", at).reason == "night_window"


def test_consent_expiry_boundary_and_reconfirmation_restarts_it(app):
    from portal.contact import record_consent
    from portal.extensions import db

    valid = timedelta(days=730)
    edge = make(consents={"sms": (True, NOON_KST - valid)})
    past = make(consents={"sms": (True, NOON_KST - valid - timedelta(seconds=1))})
    assert verdict(edge).allowed
    assert verdict(past).reason == "consent_expired"
    app.config["PORTAL_CONSENT_VALID_DAYS"] = 731
    assert verdict(past).allowed
    app.config["PORTAL_CONSENT_VALID_DAYS"] = 730

    # A notice 700 days after the grant: the two years start again from the notice.
    now = datetime.now(UTC).replace(tzinfo=None)
    cid = make(consents={"sms": (True, now - timedelta(days=700))})
    record_consent(cid, "sms", "marketing", True, method="message", source="cem_channels",
                   kind="reconfirmation_notice")
    db.session.commit()
    def noon_kst(moment: datetime) -> datetime:  # daytime in Korea whenever the suite runs (no night rule)
        return moment.replace(hour=3, minute=0, second=0, microsecond=0)

    assert verdict(cid, at=noon_kst(now + timedelta(days=100))).allowed          # ~800 days after the grant
    assert verdict(cid, at=noon_kst(now + timedelta(days=731))).reason == "consent_expired"
    # It did not change the state, so no consent event was fired and the audit says "notice".
    assert [r[:2] for r in consent_rows(cid)] == [(True, "consent"), (True, "reconfirmation_notice")]
    assert scalar("SELECT action FROM audit_event WHERE object_id = :c ORDER BY id DESC LIMIT 1",
                  c=str(cid)) == "customer.consent_notice"


def test_notices_never_revive_or_contradict_the_state(app):
    from portal.contact import ContactError, record_consent

    now = datetime.now(UTC).replace(tzinfo=None)
    expired = make(consents={"sms": (True, now - timedelta(days=800))})
    withdrawn = make(consents={"sms": False})
    granted = make(consents={"sms": True})
    for cid, kind, granted_flag in [(expired, "reconfirmation_notice", True), (withdrawn, "reconfirmation_notice", True),
                                    (granted, "optout_notice", False), (withdrawn, "reconfirmation_notice", False)]:
        with pytest.raises(ContactError) as err:
            record_consent(cid, "sms", "marketing", granted_flag, method="message", source="cem_channels", kind=kind)
        assert "kind" in err.value.errors
    assert verdict(expired).reason == "consent_expired"
    notice = record_consent(withdrawn, "sms", "marketing", False, method="message", source="cem_channels",
                            kind="optout_notice")
    assert notice.kind == "optout_notice" and verdict(withdrawn).reason == "opted_out"


def test_may_contact_many_runs_the_same_few_queries_for_any_batch(app):
    from portal.contact import may_contact_many
    from portal.extensions import db

    ids = [make(consents={"sms": True}) for _ in range(30)]
    may_contact_many(ids[:1], "sms", "marketing", NOON_KST)  # warm the registry and plugin state

    def queries(batch: list[int]) -> int:
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE after a commit
                seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            out = may_contact_many(batch, "sms", "marketing", NOON_KST)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert set(out) == set(batch) and all(out[i].allowed for i in ids if i in out)
        return len(seen)

    assert queries(ids[:2]) == queries(ids) == 1
    everyone = [r[0] for r in sql("SELECT id FROM customer")] + ids
    assert queries(everyone) == 1


def test_unknown_channel_or_purpose_is_a_clear_error(app):
    from portal.contact import ContactError, may_contact, may_contact_many

    cid = make(consents={"sms": True})
    with pytest.raises(ContactError) as err:
        may_contact(cid, "fax", "marketing")
    assert "fax" in str(err.value) and "kakao" in str(err.value)
    with pytest.raises(ContactError):
        may_contact(cid, "sms", "night_ads")
    with pytest.raises(ContactError):
        may_contact_many(["x"], "sms", "marketing")
    assert may_contact_many([], "sms", "marketing") == {}


# -- record_consent -------------------------------------------------------------------------------------------


class Listener:
    """An add-on reacting to consent changes: it writes in the caller's transaction."""

    def __init__(self):
        self.calls: list[tuple] = []

    @hookimpl
    def portal_consent_changed(self, customer, channel, purpose, granted, actor, source):
        from portal.contact import record_contact

        self.calls.append((customer.id, channel, purpose, granted, actor, source))
        record_contact(customer.id, channel, purpose="service", source="listener", note="opt-out confirmed")


@pytest.fixture
def listener(app):
    from portal.plugins import registry

    impl = Listener()
    pm = registry().pm
    pm.register(impl, name="core.test_listener")
    yield impl
    pm.unregister(name="core.test_listener")


def test_record_consent_without_a_user_fires_the_hook_in_the_same_transaction(app, listener):
    from portal.contact import record_consent
    from portal.extensions import db

    cid = make(consents={"email": True})
    before = scalar("SELECT COUNT(*) FROM audit_event")
    row = record_consent(cid, "email", "marketing", False, method="web", source="unsubscribe_link")
    assert (row.granted, row.kind, row.source, row.recorded_by_id) == (False, "consent", "unsubscribe_link", None)
    assert listener.calls == [(cid, "email", "marketing", False, None, "unsubscribe_link")]
    assert db.session.execute(select(db.func.count()).select_from(db.text("contact"))
                              .where(db.text("source = 'listener'"))).scalar_one() == 1
    # A rollback undoes the consent, its audit event and the listener's work together.
    db.session.rollback()
    assert consent_rows(cid, "email") == [(True, "consent", "store", None, None)]
    assert scalar("SELECT COUNT(*) FROM contact WHERE source = 'listener'") == 0
    assert scalar("SELECT COUNT(*) FROM audit_event") == before
    # Committed: all three stay, the audit event written by "system".
    record_consent(cid, "email", "marketing", False, method="web", source="unsubscribe_link")
    db.session.commit()
    assert consent_rows(cid, "email")[-1] == (False, "consent", "web", "unsubscribe_link", None)
    assert sql("SELECT actor_label, summary FROM audit_event WHERE object_id = :c AND action = 'customer.consent'",
               c=str(cid)) == [("system", "email/marketing=no via web")]
    assert scalar("SELECT COUNT(*) FROM contact WHERE source = 'listener' AND customer_id = :c", c=cid) == 1
    assert verdict(cid, "email").reason == "opted_out"


def test_record_consent_validates_everything_and_writes_nothing(app, listener):
    from portal.contact import ContactError, record_consent

    cid = make()
    bad = [
        dict(channel="fax"), dict(purpose="spam"), dict(method="telepathy"), dict(kind="rumour"), dict(granted="yes"),
        dict(source=""), dict(source="Not A Source!"), dict(note=123),
    ]
    for override in bad:
        args = dict(channel="sms", purpose="marketing", granted=True, method="store", source="staff") | override
        with pytest.raises(ContactError) as err:
            record_consent(cid, args.pop("channel"), args.pop("purpose"), args.pop("granted"), **args)
        assert err.value.errors, override
    with pytest.raises(ContactError) as err:
        record_consent(2**31 - 7, "sms", "marketing", True, method="store", source="staff")
    assert "customer" in err.value.errors
    erased = make(pseudonymized_at=NOON_KST)
    with pytest.raises(ContactError):
        record_consent(erased, "sms", "marketing", True, method="store", source="staff")
    assert scalar("SELECT COUNT(*) FROM consent WHERE customer_id IN (:a, :b)", a=cid, b=erased) == 0
    assert listener.calls == []
    # kakao and push take consent like the rest; a staff user is recorded as the actor.
    staff = user("store1@example.com")
    record_consent(cid, "kakao", "marketing", True, method="store", source="staff", actor=staff)
    record_consent(cid, "push", "night_ads", True, method="web", source="api", actor=staff)
    assert consent_rows(cid, "kakao") == [(True, "consent", "store", "staff", staff.id)]
    assert [c[4] for c in listener.calls] == [staff, staff]


# -- record_contact and the cool-down -------------------------------------------------------------------------


def test_record_contact_and_the_cooldown(app):
    from portal.analytics.extraction import preview
    from portal.contact import ContactError, record_contact, record_contacts
    from portal.extensions import db

    t = "contact-cd"
    a, b, c = (make(tier=t, consents={"sms": True, "email": True}) for _ in range(3))
    rules = {"all": [{"field": "tier", "op": "eq", "value": t}]}
    staff = user("hq@example.com")
    row = record_contact(a, "sms", purpose="marketing", source="phone_call", actor=staff, outcome="answered",
                         note="called about the seminar")
    assert (row.customer_id, row.channel, row.actor_id, row.outcome) == (a, "sms", staff.id, "answered")
    assert record_contacts([
        {"customer_id": b, "channel": "sms", "purpose": "marketing", "source": "messaging", "ref": "message:1",
         "at": datetime.now(UTC) - timedelta(days=15)},   # before the cool-down
        {"customer_id": c, "channel": "sms", "purpose": "service", "source": "messaging", "ref": "message:2"},
        {"customer_id": c, "channel": "email", "purpose": "marketing", "source": "messaging", "ref": "message:3"},
    ]) == 3
    db.session.commit()
    result = preview(user("hq@example.com"), rules, "sms")
    # Only a's marketing SMS within 14 days counts: b's is older, c's was a service message.
    assert result.included == 2 and result.excluded["recently_contacted"] == 1
    assert preview(user("hq@example.com"), rules, "email").excluded["recently_contacted"] == 1
    # One bad row: nothing is written.
    n = scalar("SELECT COUNT(*) FROM contact")
    for rows in ([{"customer_id": a, "channel": "fax", "purpose": "marketing", "source": "x"}],
                 [{"customer_id": 2**31 - 3, "channel": "sms", "purpose": "marketing", "source": "x"}],
                 [{"customer_id": a, "channel": "sms", "purpose": "marketing", "source": "x", "extra": 1}],
                 [{"customer_id": a, "channel": "sms", "purpose": "night_ads", "source": "x"}]):
        with pytest.raises(ContactError):
            record_contacts([{"customer_id": a, "channel": "sms", "purpose": "marketing", "source": "ok"}, *rows])
    with pytest.raises(ContactError):
        record_contact(a, "sms", purpose="marketing", source="")
    db.session.rollback()
    assert scalar("SELECT COUNT(*) FROM contact") == n
    assert record_contacts([]) == 0


def test_marking_a_list_used_records_its_members_as_contacts(app):
    from portal.analytics.extraction import create, mark_used
    from portal.extensions import db

    t = "contact-list"
    ids = {make(tier=t, consents={"kakao": True}) for _ in range(3)}
    staff = user("store1@example.com")
    ext = create(staff, {"all": [{"field": "tier", "op": "eq", "value": t}]}, "kakao")
    db.session.commit()
    assert scalar("SELECT COUNT(*) FROM contact WHERE ref = :r", r=f"extraction:{ext.id}") == 0  # a draft is no contact
    mark_used(staff, ext)
    db.session.commit()
    rows = sql("SELECT customer_id, channel, purpose, source, actor_id FROM contact WHERE ref = :r", r=f"extraction:{ext.id}")
    assert {r[0] for r in rows} == ids
    assert {r[1:] for r in rows} == {("kakao", "marketing", "extraction", staff.id)}


# -- one rule in one place --------------------------------------------------------------------------------------


SUPPRESSION_TO_VERDICT = {"invalid_phone": "no_address", "invalid_email": "no_address", "invalid_address": "no_address"}


@pytest.mark.parametrize("channel", ["sms", "email", "dm", "kakao", "push", "phone"])
def test_extraction_suppression_and_may_contact_agree_on_the_seeded_data(app, channel):
    """Every customer the extraction would exclude for a core reason is refused by may_contact for
    one of those reasons, and every customer it would include is allowed (daytime)."""
    from portal.analytics.suppression import suppression
    from portal.contact import may_contact_many
    from portal.models import Customer

    now = datetime.now(UTC).replace(tzinfo=None, hour=3)  # 12:00 KST today
    make(consents={channel: True})
    make(consents={channel: False})
    make(consents={channel: (True, now - timedelta(days=731))})
    make(consents={channel: True}, complaint=True)
    make(consents={channel: True}, phone=None, email=None, address=None)
    sup = suppression(channel, now=now)
    names = [r.name for r in sup.reasons]
    rows = app.extensions["sqlalchemy"].session.execute(
        sup.apply(select(Customer.id, sup.mask())).where(Customer.pseudonymized_at.is_(None))).all()
    verdicts = may_contact_many([r[0] for r in rows], channel, "marketing", now)
    checked = 0
    for cid, mask in rows:
        reasons = {SUPPRESSION_TO_VERDICT.get(n, n) for i, n in enumerate(names) if int(mask) >> i & 1}
        reasons.discard("recently_contacted")  # a list's cool-down, not a send-time rule
        got = verdicts[cid]
        assert got.allowed == (not reasons), (cid, got, reasons)
        if reasons:
            assert got.reason in reasons, (cid, got, reasons)
        checked += 1
    assert checked > 400
