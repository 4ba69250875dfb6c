"""Check-in and attendance rules (PG-18, PG-19, PG-20): QR tickets, scans, tri-state marks with
the 7-day window, completion of a series, the segment fields and the attribution table."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.plugins.prm_groups.checkin_fixtures import make_series, noon, user


@pytest.fixture(autouse=True)
def english(app):
    """The messages are asserted in English (the catalogs translate them to Korean)."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


def _scan(series, session_idx, token, actor, now):
    from plugins.prm_groups.seminars.checkin import scan

    return scan(series.sessions[session_idx], token, actor, now=now)


def test_pg18_wrong_session_and_second_scan(app):
    from plugins.prm_groups.seminars.checkin import CheckinError
    from portal.extensions import db

    day = date.today() + timedelta(days=3)
    s = make_series(starts=[noon(day) + timedelta(hours=7), noon(day + timedelta(days=7)) + timedelta(hours=7)])
    hq = user("hq@example.com")
    first = s.registrations[0][0]
    at_1902 = s.sessions[0].starts_at + timedelta(minutes=2)  # 19:02 KST
    with pytest.raises(CheckinError) as wrong:
        _scan(s, 1, first.checkin_token, hq, s.sessions[1].starts_at)
    assert wrong.value.reason == "wrong_session" and "Wrong session" in wrong.value.message
    result = _scan(s, 0, first.checkin_token, hq, at_1902)
    db.session.commit()
    assert result.local_time == "19:02"
    assert first.attendance == "attended" and first.checked_in_at == at_1902 and first.marked_by_id == hq.id
    with pytest.raises(CheckinError) as again:
        _scan(s, 0, first.checkin_token, hq, at_1902 + timedelta(minutes=30))
    assert again.value.reason == "already_checked_in"
    assert again.value.message == "Already checked in at 19:02."
    assert again.value.status == 409


def test_unknown_ticket_leaks_nothing(app):
    """A made-up token, garbage, and another programme's real ticket all read "Unknown ticket"."""
    from plugins.prm_groups.seminars.checkin import CheckinError

    mine = make_series()
    other = make_series(group_code="G02", venue="B002")
    hq = user("hq@example.com")
    now = mine.sessions[0].starts_at
    for token in ("A" * 32, "", None, "'; drop table x; --", other.registrations[0][0].checkin_token):
        with pytest.raises(CheckinError) as exc:
            _scan(mine, 0, token, hq, now)
        assert exc.value.reason == "unknown_ticket" and exc.value.message == "Unknown ticket."


def test_ticket_url_and_qr_svg(app):
    """The QR code holds the ticket link (opaque token, no personal data); the link or the bare
    token both check in."""
    from plugins.prm_groups.seminars.checkin import clean_token, qr_svg

    s = make_series()
    reg = s.registrations[0][0]
    with app.test_request_context("/"):
        svg = qr_svg(reg)
    assert svg.lstrip().startswith("<svg") and "</svg>" in svg
    assert s.customers[0].name not in svg
    url = f"https://portal.example.com/prm/checkin/t/{reg.checkin_token}"
    assert clean_token(url) == reg.checkin_token == clean_token(f"  {reg.checkin_token} ")
    assert clean_token("https://evil.example/x") is None and clean_token("x" * 600) is None
    result = _scan(s, 0, url, user("hq@example.com"), s.sessions[0].starts_at)
    assert result.registration.id == reg.id


def test_only_confirmed_seats_and_open_times(app):
    from plugins.prm_groups.seminars.checkin import CheckinError
    from portal.extensions import db

    day = date.today() + timedelta(days=2)
    s = make_series(starts=[noon(day)])
    hq = user("hq@example.com")
    waiting = s.registrations[0][1]
    waiting.status = "waitlisted"
    db.session.commit()
    start = s.sessions[0].starts_at
    with pytest.raises(CheckinError) as exc:
        _scan(s, 0, waiting.checkin_token, hq, start)
    assert exc.value.reason == "not_registered"
    with pytest.raises(CheckinError) as early:
        _scan(s, 0, s.registrations[0][0].checkin_token, hq, start - timedelta(hours=3))
    assert early.value.reason == "too_early"
    assert _scan(s, 0, s.registrations[0][0].checkin_token, hq, start - timedelta(hours=1))  # doors open
    with pytest.raises(CheckinError) as late:
        _scan(s, 0, s.registrations[0][2].checkin_token, hq, s.sessions[0].ends_at + timedelta(days=8))
    assert late.value.reason == "not_open"


def test_who_may_check_in(app):
    """HQ; the group's leader; branch staff of the venue branch only — others get 404."""
    from plugins.prm_groups.seminars.checkin import CheckinError, may_checkin

    s = make_series(venue="B001")
    session = s.sessions[0]
    assert may_checkin(user("hq@example.com"), session)
    assert may_checkin(user("leader1@example.com"), session)
    assert may_checkin(user("store1@example.com"), session)
    assert not may_checkin(user("store2@example.com"), session)
    assert not may_checkin(user("ibo1@example.com"), session)
    with pytest.raises(CheckinError) as exc:
        _scan(s, 0, s.registrations[0][0].checkin_token, user("store2@example.com"), session.starts_at)
    assert exc.value.status == 404
    g2 = make_series(group_code="G02", venue="B002")
    assert not may_checkin(user("leader1@example.com"), g2.sessions[0])
    assert may_checkin(user("store2@example.com"), g2.sessions[0])


def test_pg19_marking_window(app):
    """Before the start: refused. Within 7 days after the end: staff. After 7 days: HQ with a
    reason, audited. Unmarked registrants stay not_marked, never no_show."""
    from plugins.prm_groups.seminars import attendance as att
    from plugins.prm_groups.seminars.checkin import CheckinError
    from portal.extensions import db
    from portal.models import AuditEvent

    day = date.today() - timedelta(days=20)
    s = make_series(starts=[noon(day)])
    session = s.sessions[0]
    reg = s.registrations[0][0]
    store1, hq = user("store1@example.com"), user("hq@example.com")
    with pytest.raises(CheckinError) as early:
        att.mark(reg, "attended", store1, now=session.starts_at - timedelta(minutes=1))
    assert early.value.reason == "too_early" and early.value.status == 409
    assert att.mark(reg, "attended", store1, now=session.ends_at + timedelta(days=6))
    db.session.commit()
    eight_days = session.ends_at + timedelta(days=8)
    with pytest.raises(CheckinError) as locked:
        att.mark(reg, "no_show", store1, now=eight_days)
    assert locked.value.status == 403 and locked.value.reason == "locked"
    with pytest.raises(CheckinError) as leader:
        att.mark(reg, "no_show", user("leader1@example.com"), "forgot", now=eight_days)
    assert leader.value.status == 403
    with pytest.raises(CheckinError) as no_reason:
        att.mark(reg, "no_show", hq, now=eight_days)
    assert no_reason.value.reason == "reason_required" and no_reason.value.errors == {
        "reason": no_reason.value.message}
    db.session.rollback()
    assert att.mark(reg, "no_show", hq, "출석부 오기재 정정", now=eight_days)
    db.session.commit()
    assert reg.attendance == "no_show" and reg.mark_reason == "출석부 오기재 정정" and reg.checked_in_at is None
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "prm.attendance",
                                                         AuditEvent.object_id == str(reg.id))
                                .order_by(AuditEvent.id)).all()
    assert len(events) == 2 and "late edit" in events[-1].summary and "출석부 오기재 정정" in events[-1].summary
    assert events[-1].changes == {"attendance": ["attended", "no_show"]}
    counts = att.session_counts([session.id])[session.id]
    assert counts == {"registered": 4, "waitlisted": 0, "offered": 0, "attended": 0, "no_show": 1,
                      "not_marked": 3}
    with pytest.raises(CheckinError) as bad:
        att.mark(reg, "maybe", hq, now=eight_days)
    assert bad.value.errors.keys() == {"attendance"}


def test_mark_the_rest_no_show(app):
    from plugins.prm_groups.seminars import attendance as att
    from plugins.prm_groups.seminars.checkin import CheckinError
    from portal.extensions import db

    day = date.today() - timedelta(days=1)
    s = make_series(starts=[noon(day)])
    session = s.sessions[0]
    store1 = user("store1@example.com")
    att.mark(s.registrations[0][0], "attended", store1, now=session.starts_at)
    with pytest.raises(CheckinError) as during:
        att.mark_rest_no_show(session, store1, now=session.starts_at + timedelta(minutes=30))
    assert during.value.reason == "too_early"
    assert att.mark_rest_no_show(session, store1, now=session.ends_at + timedelta(minutes=5)) == 3
    db.session.commit()
    counts = att.session_counts([session.id])[session.id]
    assert counts["attended"] == 1 and counts["no_show"] == 3 and counts["not_marked"] == 0


def test_pg20_completion_and_segment_fields(app):
    """Series of 3, rule ≥ 2: a customer who attended 2 completed; "attended ≥ 1" includes them."""
    from plugins.prm_groups.seminars import attendance as att
    from portal.analytics.segments import segment_query
    from portal.extensions import db
    from portal.models import Customer

    day = date.today() - timedelta(days=30)
    s = make_series(starts=[noon(day), noon(day + timedelta(days=7)), noon(day + timedelta(days=14))],
                    completion_min=2)
    hq = user("hq@example.com")
    # customer 0: sessions 1 and 2; customer 1: session 1; customer 2: no-show; customer 3: unmarked
    for si, ci, value in ((0, 0, "attended"), (1, 0, "attended"), (0, 1, "attended"), (0, 2, "no_show"),
                          (1, 2, "no_show")):
        reg = s.registrations[si][ci]
        att.mark(reg, value, hq, now=s.sessions[si].ends_at)
    db.session.commit()
    result = att.completion(s.step)
    assert result == {"sessions": 3, "required": 2, "invited": 4, "registered": 4, "attended_any": 2,
                      "completed": 1, "attended_sessions": {1: 1, 2: 1}}
    assert set(db.session.scalars(att.completed_customers(s.step))) == {s.customers[0].id}

    pid = s.programme.id
    ids = [c.id for c in s.customers]

    def members(rule):
        stmt = segment_query(hq, {"all": [rule]}).select(Customer.id).where(Customer.id.in_(ids))
        return set(db.session.scalars(stmt))

    leaf = lambda field, value, op="eq": {"field": field, "op": op, "value": value}  # noqa: E731
    assert members(leaf("prm.sessions_attended", f"{pid}:1")) == {ids[0], ids[1]}
    assert members(leaf("prm.sessions_attended", f"{pid}:2")) == {ids[0]}
    assert members(leaf("prm.sessions_attended", f"{pid}:1", "ne")) == {ids[2], ids[3]}
    assert members(leaf("prm.completed_series", str(pid))) == {ids[0]}
    assert members(leaf("prm.registered", str(pid))) == set(ids)
    assert members(leaf("prm.completed_series", "junk")) == set()
    # a session cancelled: k stays 2 of the 2 held — customer 0 still completed
    s.sessions[2].cancelled_at = s.sessions[2].starts_at
    db.session.commit()
    assert att.completion(s.step)["sessions"] == 2
    assert members(leaf("prm.completed_series", str(pid))) == {ids[0]}


def test_attribution_is_set_based_and_descriptive(app):
    from plugins.prm_groups.seminars import attendance as att
    from portal.extensions import db
    from portal.models import SaleLine

    day = date.today() - timedelta(days=10)
    s = make_series(starts=[noon(day)], customers=4, seats=[[0, 1, 2]])
    hq = user("hq@example.com")
    session = s.sessions[0]
    att.mark(s.registrations[0][0], "attended", hq, now=session.ends_at)
    att.mark(s.registrations[0][1], "no_show", hq, now=session.ends_at)
    # customer 3 was invited and never registered
    s.invitations[3].status = "invited"
    p = s.programme
    window = (date.today() - timedelta(days=5), date.today())
    for cust, amount, in_window in ((s.customers[0], 30000, True), (s.customers[0], 20000, True),
                                    (s.customers[3], 10000, True), (s.customers[1], 99999, False)):
        db.session.add(SaleLine(customer_id=cust.id, category_id=p.category_id, amount=amount, quantity=1,
                                sold_at=window[0] + timedelta(days=1) if in_window else window[0] - timedelta(days=3)))
    db.session.commit()
    result = att.attribution(p, start=window[0], end=window[1])
    groups = result["groups"]
    assert result["causal"] is False and "not causal" in result["note"]
    assert groups["attended"]["customers"] == 1
    # the seeded sales of the demo may add lines; our own lines are at least these
    assert groups["attended"]["buyers"] == 1 and groups["attended"]["spend"] >= 50000
    assert groups["no_show"]["customers"] == 1
    assert groups["not_marked"]["customers"] == 1
    assert groups["not_registered"]["customers"] == 1 and groups["not_registered"]["buyers"] == 1
    assert all(g["rate"] is None or 0 <= g["rate"] <= 1 for g in groups.values())


def test_refusals_in_korean_and_segment_values(app):
    """Staff read the refusals in Korean; ``in`` takes several programmes; junk values match nobody."""
    from flask_babel import force_locale

    from plugins.prm_groups.seminars.checkin import CheckinError
    from plugins.prm_groups.seminars.segment_fields import segment_fields
    from portal.extensions import db
    from portal.models import Customer

    day = date.today() + timedelta(days=1)
    s = make_series(starts=[noon(day) + timedelta(hours=7)])
    hq = user("hq@example.com")
    reg = s.registrations[0][0]
    at = s.sessions[0].starts_at + timedelta(minutes=2)
    _scan(s, 0, reg.checkin_token, hq, at)
    db.session.commit()
    with force_locale("ko"), pytest.raises(CheckinError) as exc:
        _scan(s, 0, reg.checkin_token, hq, at)
    assert exc.value.message == "이미 19:02에 체크인되었습니다."
    fields = {f["name"]: f for f in segment_fields()}
    cond = fields["prm.sessions_attended"]["condition"]
    ids = [c.id for c in s.customers]

    def members(expr):
        return set(db.session.scalars(db.select(Customer.id).where(expr, Customer.id.in_(ids))))

    pid = s.programme.id
    assert members(cond("in", [f"{pid}:1", "999999:1"])) == {ids[0]}
    assert members(cond("not_in", [f"{pid}:1"])) == set(ids[1:])
    for junk in ("x", f"{pid}", f"{pid}:-1", f"{pid}:1:2", "99999999999999:1", ""):
        assert members(cond("eq", junk)) == set()
    assert members(cond("eq", f"{pid}:0")) == set(ids)
    assert members(fields["prm.step_engagement"]["condition"]("eq", "1:opened_or_clicked")) == set()


def test_two_phones_scan_the_same_ticket_at_once(app):
    """Two staff phones scan one ticket at the same moment: one check-in, one "already checked in".
    PostgreSQL only: SQLite serialises whole write transactions, so the race cannot happen there."""
    import threading

    from portal.toolkit import is_postgres

    if not is_postgres():
        pytest.skip("SQLite serialises writers; the concurrent scan is a PostgreSQL concern")

    from plugins.prm_groups.seminar_models import PrmSession
    from plugins.prm_groups.seminars.checkin import CheckinError, scan
    from portal.extensions import db

    s = make_series()
    sid, token, at = s.sessions[0].id, s.registrations[0][0].checkin_token, s.sessions[0].starts_at
    db.session.commit()
    db.session.close()
    barrier = threading.Barrier(2)
    results: list[str] = []

    def phone(email: str) -> None:
        with app.app_context():
            session = db.session.get(PrmSession, sid)
            actor = user(email)
            barrier.wait()
            try:
                scan(session, token, actor, now=at)
                db.session.commit()
                results.append("ok")
            except CheckinError as exc:
                db.session.rollback()
                results.append(exc.reason)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=phone, args=(e,)) for e in ("hq@example.com", "store1@example.com")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["already_checked_in", "ok"]
