"""The ledger: append-only entries, lots consumed first-to-expire first, reversals, transfers,
and a database that refuses to change history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.plugins.loyalty.conftest import assert_ledger_ok, balance, customer

D0 = date(2026, 1, 10)


def _ledger():
    from plugins.loyalty import ledger

    return ledger


def _lots(cid: int) -> list[tuple[int, int, date]]:
    from plugins.loyalty.summary import account_of

    _m, acct = account_of(customer(cid))
    return [(lot.points, lot.remaining, lot.expires_on) for lot in _ledger().open_lots(acct.id)]


def test_earn_opens_a_lot_and_redeem_consumes_first_to_expire_first(app):
    ledger = _ledger()
    c = customer(1)
    ledger.earn(c, 100, "first", on=D0)
    ledger.earn(c, 50, "second", on=D0 + timedelta(days=40))
    db.session.commit()
    assert balance(1) == 150
    assert [lot[2] for lot in _lots(1)] == [date(2028, 1, 31), date(2028, 2, 29)]  # month end, 24 months on
    r = ledger.redeem(c, 120, "gift", on=D0 + timedelta(days=50))
    db.session.commit()
    assert r.balance == 30 and r.entry.points == -120
    assert _lots(1) == [(50, 30, date(2028, 2, 29))]  # the older lot went first, entirely
    allocs = db.session.execute(sa.text("SELECT points FROM loy_allocation WHERE entry_id = :e ORDER BY lot_id"),
                                {"e": r.entry.id}).scalars().all()
    assert allocs == [100, 20]
    assert_ledger_ok()


def test_insufficient_points_write_nothing(app):
    ledger = _ledger()
    c = customer(2)
    ledger.earn(c, 10, "x", on=D0)
    db.session.commit()
    entries = db.session.execute(sa.text("SELECT COUNT(*) FROM loy_entry")).scalar_one()
    with pytest.raises(ledger.InsufficientPoints):
        ledger.redeem(c, 11, "too much", on=D0)
    db.session.commit()  # the savepoint rolled back; the transaction is still usable
    assert db.session.execute(sa.text("SELECT COUNT(*) FROM loy_entry")).scalar_one() == entries
    assert balance(2) == 10
    assert_ledger_ok()


def test_expired_but_not_yet_processed_points_cannot_be_redeemed(app):
    ledger = _ledger()
    c = customer(3)
    ledger.earn(c, 100, "old", on=date(2023, 1, 5))  # expires 2025-01-31
    ledger.earn(c, 10, "new", on=D0)
    db.session.commit()
    with pytest.raises(ledger.InsufficientPoints):
        ledger.redeem(c, 50, "after expiry", on=D0)
    assert ledger.redeem(c, 10, "fine", on=D0).balance == 100
    db.session.commit()
    assert_ledger_ok()


def test_validation(app):
    ledger = _ledger()
    c = customer(4)
    for bad in (0, -5, 1.5, True, "10", 10**12):
        with pytest.raises(ledger.LedgerError):
            ledger.earn(c, bad, "x")
    with pytest.raises(ledger.LedgerError):
        ledger.earn(c, 10, "   ")


def test_reversing_a_redemption_gives_back_the_same_lots(app):
    ledger = _ledger()
    c = customer(5)
    ledger.earn(c, 100, "a", on=D0)
    ledger.earn(c, 100, "b", on=D0 + timedelta(days=31))
    red = ledger.redeem(c, 150, "r", on=D0 + timedelta(days=40))
    rev = ledger.reverse(red.entry.id, "cancelled order", on=D0 + timedelta(days=41))
    db.session.commit()
    assert rev.entry.points == 150 and rev.balance == 200
    assert [lot[:2] for lot in _lots(5)] == [(100, 100), (100, 100)]
    with pytest.raises(ledger.LedgerError):
        ledger.reverse(red.entry.id, "again")
    assert_ledger_ok()


def test_reversing_a_spent_credit_records_the_shortfall_and_never_goes_negative(app):
    ledger = _ledger()
    c = customer(6)
    e1 = ledger.earn(c, 100, "a", on=D0)
    ledger.earn(c, 30, "b", on=D0)
    ledger.redeem(c, 110, "spent", on=D0)
    db.session.commit()
    rev = ledger.reverse(e1.entry.id, "sale returned", on=D0)
    db.session.commit()
    assert rev.entry.points == -20 and rev.entry.shortfall == 80 and rev.balance == 0
    assert_ledger_ok()


def test_transfer_keeps_expiry_and_attribution(app):
    ledger = _ledger()
    from plugins.loyalty.ledger import member_account

    a, b = customer(7), customer(8)
    ledger.earn(a, 40, "a", on=D0)
    ledger.earn(a, 60, "b", on=D0 + timedelta(days=60))
    db.session.commit()
    out_id, in_ids = ledger.transfer(member_account(7), member_account(8), 70, "gift to spouse", on=D0)
    db.session.commit()
    assert balance(7) == 30 and balance(8) == 70 and len(in_ids) == 2
    assert sorted((p, e) for p, _r, e in _lots(8)) == [(30, date(2028, 3, 31)), (40, date(2028, 1, 31))]
    assert b.id == 8 and out_id
    assert_ledger_ok()


def test_ledger_tables_refuse_update_and_delete(app):
    ledger = _ledger()
    r = ledger.earn(customer(9), 10, "x", on=D0)
    ledger.redeem(customer(9), 5, "y", on=D0)
    db.session.commit()
    for stmt in ("UPDATE loy_entry SET points = 1000000 WHERE id = :e", "DELETE FROM loy_entry WHERE id = :e",
                 "UPDATE loy_allocation SET points = 1", "DELETE FROM loy_allocation"):
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text(stmt), {"e": r.entry.id})
            db.session.commit()
        db.session.rollback()
    assert balance(9) == 5
    assert_ledger_ok()


def test_check_finds_a_tampered_cache(app):
    ledger = _ledger()
    ledger.earn(customer(10), 10, "x", on=D0)
    db.session.commit()
    db.session.execute(sa.text("UPDATE loy_account SET balance = balance + 5 WHERE customer_id = 10"))
    db.session.commit()
    problems = ledger.check()
    assert any("cached balance 15 but entries sum to 10" in p for p in problems)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "loyalty", "check"])
    assert result.exit_code != 0 and "problem" in result.output


def test_database_constraints_back_the_rules(app):
    ledger = _ledger()
    ledger.earn(customer(11), 10, "x", on=D0)
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text("UPDATE loy_account SET balance = -1 WHERE customer_id = 11"))
        db.session.commit()
    db.session.rollback()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text("UPDATE loy_lot SET remaining = points + 1"))
        db.session.commit()
    db.session.rollback()
