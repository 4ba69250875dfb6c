"""Consent lifecycle (issue 15, slice C): the 080 opt-out file (CE-11), the global suppression list
and its send-time policy, inbound STOP replies and the review queue (CE-12)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

NUMBER = "01077770001"  # a customer's phone in these tests (no demo customer has it)
OTHER = "01077770002"   # nobody's


@pytest.fixture
def optout_app(unconfigured_app):
    """cem_channels installed (the package's template), no provider: the consent lifecycle needs none."""
    return unconfigured_app


def _customer_with_phone(number: str, granted: bool = True) -> int:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Customer
    from portal.toolkit import record_consent

    customer = db.session.execute(select(Customer).where(Customer.pseudonymized_at.is_(None))
                                  .order_by(Customer.id)).scalars().first()
    customer.phone = number
    db.session.flush()
    if granted:
        record_consent(customer.id, "sms", "marketing", True, method="store", source="test")
    db.session.commit()
    return customer.id


def _state(cid: int) -> str | None:
    from portal.toolkit import may_contact_many

    # the next noon in Korea: the consent state, not the night rule, whatever time the suite runs
    now = datetime.now(UTC).replace(tzinfo=None)
    noon = now.replace(hour=3, minute=0, second=0, microsecond=0)
    verdict = may_contact_many([cid], "sms", "marketing", noon if noon > now else noon + timedelta(days=1))[cid]
    return "allowed" if verdict.allowed else verdict.reason


def _withdrawals(cid: int) -> int:
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import Consent

    return db.session.execute(select(func.count()).select_from(Consent).where(
        Consent.customer_id == cid, Consent.channel == "sms", Consent.granted.is_(False))).scalar_one()


# --- parsing: no database ---------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("010-1234-5678", "01012345678"),
    ("01012345678", "01012345678"),
    ("+82 10-1234-5678", "01012345678"),
    ("+82 10 1234 5678", "01012345678"),
    ("+821012345678", "01012345678"),
    (" 010 1234 5678 ", "01012345678"),
    ("010.1234.5678", "01012345678"),
    ("011-234-5678", "0112345678"),
    ("02-1234-5678", "0212345678"),
])
def test_numbers_are_normalised(optout_app, raw, expected):
    from plugins.cem_channels.optout import parse_optout_file

    numbers, rows, bad = parse_optout_file(f"{raw}\n".encode())
    assert (numbers, rows, bad) == ({expected: None}, 1, [])


@pytest.mark.parametrize("raw", ["abc", "+1 415 555 0100", "1234", "010-12", "010-1234-5678x"])
def test_bad_numbers_are_reported_by_row(optout_app, raw):
    from plugins.cem_channels.optout import parse_optout_file

    numbers, rows, bad = parse_optout_file(f"01011112222\n{raw}\n".encode())
    assert numbers == {"01011112222": None} and rows == 2
    assert [row for row, _reason in bad] == [2]


def test_ce11_file_cp949_with_header_and_dates(optout_app):
    from datetime import datetime

    from plugins.cem_channels.optout import parse_optout_file

    data = ("전화번호,요청일\n010-1234-5678,2026-12-01\n01012345678,20261130\n+82 10-1234-5678,\nabc,2026-12-01\n"
            "010-9999-8888,yesterday\n").encode("cp949")
    numbers, rows, bad = parse_optout_file(data)
    assert numbers == {"01012345678": datetime(2026, 11, 30)}
    assert rows == 5
    assert [row for row, _r in bad] == [4, 5]
    assert "abc" in bad[0][1] and "yesterday" in bad[1][1]


def test_utf8_bom_tab_separated_and_unreadable_files(optout_app):
    from plugins.cem_channels.optout import OptoutFileError, parse_optout_file

    numbers, _rows, bad = parse_optout_file("\ufeffphone\trequested_at\n010-1234-5678\t2026-12-01 10:30\n".encode())
    assert list(numbers) == ["01012345678"] and bad == []
    for data in (b"", b"  \n\n", b"\x00\x01\x02"):
        with pytest.raises(OptoutFileError):
            parse_optout_file(data)


def test_a_100k_row_file_parses_quickly(optout_app):
    import time

    from plugins.cem_channels.optout import parse_optout_file

    data = "\n".join(f"010-{i // 10000 + 1000:04d}-{i % 10000:04d}" for i in range(100_000)).encode()
    start = time.perf_counter()
    numbers, rows, bad = parse_optout_file(data)
    assert rows == 100_000 and len(numbers) == 100_000 and bad == []
    assert time.perf_counter() - start < 10


# --- import: database -------------------------------------------------------------------------

def test_import_withdraws_matched_customers_and_lists_unknown_numbers_idempotently(optout_app):
    from sqlalchemy import func, select

    from plugins.cem_channels.optout import import_optout_file, suppressed
    from portal.extensions import db
    from portal.models import AuditEvent

    cid = _customer_with_phone(NUMBER)
    assert _state(cid) == "allowed"
    data = f"phone,requested_at\n{NUMBER[:3]}-{NUMBER[3:7]}-{NUMBER[7:]}\n{NUMBER}\n+82 {NUMBER[1:]}\n{OTHER}\nabc\n".encode()
    result = import_optout_file(data, filename="080.csv")
    db.session.commit()
    assert (result.rows, result.numbers, result.customers, result.withdrawn) == (5, 2, 1, 1)
    assert (result.suppressed_new, result.suppressed_known) == (1, 0)
    assert [row for row, _r in result.bad] == [5]
    assert _state(cid) == "opted_out"
    assert suppressed([NUMBER, OTHER]) == {OTHER}
    audits = db.session.execute(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == "cem.optout_import")).scalar_one()
    assert audits == 1

    again = import_optout_file(data, filename="080.csv")
    db.session.commit()
    assert (again.withdrawn, again.already_withdrawn, again.suppressed_new, again.suppressed_known) == (0, 1, 0, 1)
    assert _withdrawals(cid) == 1


def test_customer_without_consent_gets_a_recorded_refusal_once(optout_app):
    from plugins.cem_channels.optout import import_optout_file
    from portal.extensions import db

    cid = _customer_with_phone(NUMBER, granted=False)
    assert import_optout_file(f"{NUMBER}\n".encode()).withdrawn == 1
    db.session.commit()
    assert import_optout_file(f"{NUMBER}\n".encode()).withdrawn == 0
    assert _withdrawals(cid) == 1 and _state(cid) == "opted_out"


def test_cli_import_reports_bad_rows_and_refuses_unreadable_files(optout_app, tmp_path):
    runner = optout_app.test_cli_runner()
    good = tmp_path / "080.txt"
    good.write_bytes(f"{OTHER}\nabc\n".encode("cp949"))
    out = runner.invoke(args=["portal", "cem_channels", "optout-import", str(good)])
    assert out.exit_code == 0, out.output
    assert "row 2:" in out.output
    from plugins.cem_channels.optout import suppressed

    assert suppressed([OTHER]) == {OTHER}
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    out = runner.invoke(args=["portal", "cem_channels", "optout-import", str(empty)])
    assert out.exit_code == 1 and out.output.startswith("Error:") and "Traceback" not in out.output


# --- the send-time policy ----------------------------------------------------------------------

def test_policy_suppresses_marketing_sms_to_a_listed_number(optout_app):
    from plugins.cem_channels.optout import import_optout_file
    from portal.extensions import db
    from portal.messaging import registry
    from portal.toolkit import utcnow

    import_optout_file(f"{OTHER}\n".encode())
    db.session.commit()
    policy = next(p for p in registry.policies() if p["name"] == "cem.suppression")
    messages = [
        SimpleNamespace(id=1, channel="sms", purpose="marketing", to_addr="010-7777-0002"),
        SimpleNamespace(id=2, channel="kakao_friendtalk", purpose="marketing", to_addr=OTHER),
        SimpleNamespace(id=3, channel="sms", purpose="service", to_addr=OTHER),
        SimpleNamespace(id=4, channel="sms", purpose="marketing", to_addr="01000000000"),
        SimpleNamespace(id=5, channel="email", purpose="marketing", to_addr="a@example.com"),
    ]
    verdicts = policy["check"](messages, utcnow())
    assert sorted(verdicts) == [1, 2]
    assert {v.reason for v in verdicts.values()} == {"optout_080"}
    assert not any(v.allowed for v in verdicts.values())


def test_dispatcher_settles_a_listed_number_as_suppressed(optout_app):
    """Through the dispatcher's re-check: a queued marketing SMS to a listed number is
    ``suppressed_at_send: optout_080``."""
    from plugins.cem_channels.optout import import_optout_file
    from portal.extensions import db
    dispatch_mod = importlib.import_module("portal.messaging.dispatch")
    from portal.messaging.models import Message
    from portal.toolkit import utcnow

    import_optout_file(f"{OTHER}\n".encode())
    msg = Message(channel="sms", purpose="marketing", to_addr=OTHER, body="(광고)테스트", source="test",
                  idempotency_key="cem-optout-test-1", status="claimed")
    db.session.add(msg)
    db.session.commit()
    run = dispatch_mod._Run("test:1", utcnow(), {})
    ready = dispatch_mod._check(run, [msg])
    assert ready == []
    db.session.refresh(msg)
    assert (msg.status, msg.status_reason) == ("suppressed_at_send", "optout_080")


# --- inbound replies --------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind", [
    ("STOP", "stop"), ("stop", "stop"), ("Stop.", "stop"), ("수신거부", "stop"), ("수신 거부", "stop"),
    ("거부", "stop"), (" 080 ", "stop"), ("ＳＴＯＰ", "stop"),
    ("Stop. Thank you", "ambiguous"), ("그만 보내세요 ㅠ", "ambiguous"), ("?", "ambiguous"),
    ("광고 수신거부 합니다", "ambiguous"), ("please remove me", "ambiguous"),
    ("Out of office until Monday", "auto_reply"), ("[자동응답] 휴가 중입니다. 수신거부", "auto_reply"),
    ("부재중입니다", "auto_reply"), ("Automatic reply: vacation", "auto_reply"),
    ("감사합니다", "other"), ("네", "other"),
])
def test_reply_classification(optout_app, text, kind):
    from plugins.cem_channels.optout import classify_reply

    assert classify_reply(text) == kind


def test_stop_keywords_are_configurable(optout_app):
    from plugins.cem_channels.optout import classify_reply, stop_keywords

    optout_app.config["CEM_STOP_KEYWORDS"] = "해지, END"
    assert stop_keywords() == ("해지", "end")
    assert classify_reply("END") == "stop" and classify_reply("STOP") != "stop"


def test_stop_reply_opts_out_and_auto_reply_never_does(optout_app):
    from plugins.cem_channels.optout import receive_reply, suppressed
    from portal.extensions import db

    cid = _customer_with_phone(NUMBER)
    auto = receive_reply(NUMBER, "Out of office — back on Monday")
    db.session.commit()
    assert (auto.status, _state(cid)) == ("ignored", "allowed")
    stop = receive_reply("010-7777-0001", "수신거부")
    db.session.commit()
    assert (stop.status, stop.kind, stop.customer_id) == ("opted_out", "stop", cid)
    assert _state(cid) == "opted_out"
    receive_reply(NUMBER, "STOP")
    db.session.commit()
    assert _withdrawals(cid) == 1
    receive_reply(OTHER, "STOP")  # nobody's number: the suppression list
    db.session.commit()
    assert suppressed([OTHER]) == {OTHER}


def test_review_queue_decisions(optout_app):
    from plugins.cem_channels.optout import ReplyError, decide_reply, pending_replies, receive_reply
    from portal.auth.service import find_user
    from portal.extensions import db

    cid = _customer_with_phone(NUMBER)
    first = receive_reply(NUMBER, "그만 보내세요 ㅠ")
    second = receive_reply(NUMBER, "Stop. Thank you")
    db.session.commit()
    assert [r.id for r in pending_replies()] == [first.id, second.id]
    assert _state(cid) == "allowed"
    hq = find_user("hq@example.com")
    kept = decide_reply(second.id, "keep", hq)
    db.session.commit()
    assert (kept.status, kept.decided_by) == ("kept", hq.id) and kept.decided_at is not None
    assert _state(cid) == "allowed"
    decide_reply(first.id, "opt_out", hq)
    db.session.commit()
    assert _state(cid) == "opted_out" and pending_replies() == []
    with pytest.raises(ReplyError, match="opted_out") as exc:
        decide_reply(first.id, "keep", hq)
    assert exc.value.field == "reply"
    with pytest.raises(ReplyError):
        decide_reply(first.id, "delete", hq)
    with pytest.raises(ReplyError):
        decide_reply(999999, "keep", hq)
    with pytest.raises(ReplyError):
        decide_reply(first.id, "keep", None)


def test_bad_replies_are_refused_with_a_field(optout_app):
    from plugins.cem_channels.optout import ReplyError, receive_reply

    with pytest.raises(ReplyError) as exc:
        receive_reply("abc", "STOP")
    assert exc.value.field == "number"
    with pytest.raises(ReplyError) as exc:
        receive_reply(NUMBER, "   ")
    assert exc.value.field == "text"


def test_cli_replies_import_and_review(optout_app, tmp_path):
    _customer_with_phone(NUMBER)
    runner = optout_app.test_cli_runner()
    f = tmp_path / "replies.csv"
    f.write_text(f"number,text\n{NUMBER},STOP\n{NUMBER},그만 보내세요 ㅠ\nabc,STOP\n", encoding="utf-8")
    out = runner.invoke(args=["portal", "cem_channels", "replies-import", str(f)])
    assert out.exit_code == 0, out.output
    assert "opted_out: 1" in out.output and "pending: 1" in out.output and "row 4" in out.output
    out = runner.invoke(args=["portal", "cem_channels", "replies-review"])
    assert out.exit_code == 0 and "그만 보내세요" in out.output
    out = runner.invoke(args=["portal", "cem_channels", "replies-review", "--decide", "1", "keep"])
    assert out.exit_code != 0 and "--as" in out.output


def test_personal_data_export_and_erasure(optout_app):
    from plugins.cem_channels.optout import receive_reply
    from plugins.cem_channels.optout.privacy import erase_customer, export_customer
    from portal.extensions import db
    from portal.models import Customer

    cid = _customer_with_phone(NUMBER)
    receive_reply(NUMBER, "그만 보내세요 ㅠ")
    db.session.commit()
    customer = db.session.get(Customer, cid)
    data = export_customer(customer)
    assert data["data"]["inbound_replies"][0]["text"] == "그만 보내세요 ㅠ"
    erase_customer(customer)
    db.session.commit()
    assert export_customer(customer) is None
