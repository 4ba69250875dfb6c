"""Tiers (up at once, down at period end, history, ladder report), idempotent expiry, family
cards, approvals by a second person, customer merges and segment fields."""

from __future__ import annotations

from datetime import date

import pytest

from portal.extensions import db
from tests.conftest import scalar, sql
from tests.plugins.loyalty.conftest import assert_ledger_ok, balance, customer, user
from tests.test_sales_import import execute


def _svc():
    from plugins.loyalty import family, ledger, redemption, tiers
    from plugins.loyalty.expiry import expire

    return ledger, tiers, family, redemption, expire


# -- tiers -------------------------------------------------------------------------------------------


def test_tiers_up_at_once_down_only_at_period_end(app):
    ledger, tiers, *_ = _svc()
    c = customer(1)
    ledger.earn(c, 600, "purchase", on=date(2025, 3, 10))
    db.session.commit()
    assert scalar("SELECT tier FROM loy_account WHERE customer_id = 1") == "SILVER"
    ledger.redeem(c, 600, "spent it all", on=date(2025, 3, 11))  # the balance does not matter
    db.session.commit()
    assert tiers.review(date(2025, 12, 31), allow_down=True, reason="period_end") == {"up": 0, "down": 0}
    # A year after the purchase the window no longer holds it: down at the period end, not before.
    assert tiers.review(date(2026, 3, 31), allow_down=False) == {"up": 0, "down": 0}
    assert scalar("SELECT tier FROM loy_account WHERE customer_id = 1") == "SILVER"
    runner = app.test_cli_runner()
    out = runner.invoke(args=["portal", "loyalty", "tiers", "--period-end", "2026-03-31"])
    assert out.exit_code == 0 and "0 up, 1 down" in out.output
    assert scalar("SELECT tier FROM customer WHERE id = 1") == "BASIC"
    out = runner.invoke(args=["portal", "loyalty", "tiers", "--period-end", "2026-03-31"])
    assert "0 up, 0 down" in out.output  # idempotent
    history = sql("SELECT from_tier, to_tier, direction, reason, changed_on FROM loy_tier_change "
                  "WHERE customer_id = 1 ORDER BY id")
    assert [tuple(h)[:4] for h in history] == [("BASIC", "SILVER", "up", "earn"), ("SILVER", "BASIC", "down", "period_end")]


def test_reversed_earnings_do_not_qualify(app):
    ledger, tiers, *_ = _svc()
    r = ledger.earn(customer(2), 600, "purchase", on=date(2025, 3, 10))
    ledger.reverse(r.entry.id, "returned", on=date(2025, 3, 12))
    db.session.commit()
    assert tiers.earned_in_window(2, date(2025, 4, 1)) == 0
    tiers.review(date(2025, 4, 30), allow_down=True, reason="period_end")
    db.session.commit()
    assert scalar("SELECT tier FROM loy_account WHERE customer_id = 2") == "BASIC"


def test_ladder_report_by_branch_and_group_in_scope(app):
    ledger, tiers, *_ = _svc()
    ids = [r[0] for r in sql("SELECT id FROM customer WHERE branch_id IS NOT NULL AND partner_id IS NOT NULL "
                             "ORDER BY id LIMIT 3")]
    today = date.today()
    for cid in ids:
        ledger.earn(customer(cid), 2000, "big purchase", on=today)
    db.session.commit()
    report = tiers.ladder_report(user("hq@example.com"), months=3, by="branch")
    month = today.strftime("%Y-%m")
    assert report["per_month"][month]["up"] == 3
    assert sum(r["up"] for r in report["rows"]) == 3
    by_group = tiers.ladder_report(user("hq@example.com"), months=3, by="group")
    assert sum(r["up"] for r in by_group["rows"]) == 3
    store = tiers.ladder_report(user("store1@example.com"), months=3)
    b001 = scalar("SELECT COUNT(*) FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' "
                  f"AND c.id IN ({','.join(map(str, ids))})")
    assert store["per_month"][month]["up"] == b001


# -- expiry --------------------------------------------------------------------------------------------


def test_expiry_is_idempotent_and_fefo(app):
    ledger, _t, _f, _r, expire = _svc()
    c = customer(3)
    ledger.earn(c, 100, "old", on=date(2024, 1, 15))   # expires 2026-01-31
    ledger.earn(c, 50, "new", on=date(2024, 6, 15))    # expires 2026-06-30
    ledger.redeem(c, 30, "spent", on=date(2024, 7, 1))  # from the old lot
    db.session.commit()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["portal", "loyalty", "expire", "--as-of", "2026-02-01"])
    assert out.exit_code == 0 and "Expired 70 points" in out.output, out.output
    entries = scalar("SELECT COUNT(*) FROM loy_entry")
    out = runner.invoke(args=["portal", "loyalty", "expire", "--as-of", "2026-02-01"])
    assert "Nothing to expire" in out.output
    assert scalar("SELECT COUNT(*) FROM loy_entry") == entries
    assert scalar("SELECT COUNT(*) FROM loy_batch WHERE kind = 'expire'") == 1
    assert balance(3) == 50
    assert runner.invoke(args=["portal", "loyalty", "expire", "--as-of", "2026-07-01"]).exit_code == 0
    assert balance(3) == 0
    assert runner.invoke(args=["portal", "loyalty", "expire", "--as-of", "not-a-date"]).exit_code != 0
    assert_ledger_ok()


def test_expiring_soon_list_and_segment_fields(app):
    ledger, *_ = _svc()
    from sqlalchemy import select

    from plugins.loyalty.expiry import expiring_query
    from plugins.loyalty.segments import segment_fields
    from portal.models import Customer

    today = date.today()
    soon = date(today.year - 2, today.month, 1)  # expires at the end of this month
    ledger.earn(customer(4), 40, "soon", on=soon)
    ledger.earn(customer(4), 10, "later", on=today)
    db.session.commit()
    stmt, _until = expiring_query(user("hq@example.com"), days=45)
    rows = db.session.execute(stmt).all()
    assert [(r.id, int(r.points)) for r in rows] == [(4, 40)]
    fields = {f["name"]: f for f in segment_fields()}
    assert set(fields) == {"loyalty.balance", "loyalty.expiring_points", "loyalty.tier"}
    cond = fields["loyalty.expiring_points"]["condition"]("gte", 1)
    assert db.session.execute(select(Customer.id).where(cond)).scalars().all() == [4]
    cond = fields["loyalty.balance"]["condition"]("between", [50, 50])
    assert db.session.execute(select(Customer.id).where(cond)).scalars().all() == [4]
    cond = fields["loyalty.tier"]["condition"]("eq", "BASIC")
    assert 4 in db.session.execute(select(Customer.id).where(cond)).scalars().all()


def test_segment_engine_accepts_the_fields(app):
    segments = pytest.importorskip("portal.analytics.segments")
    fields = segments.segment_fields()
    assert {"loyalty.balance", "loyalty.expiring_points", "loyalty.tier"} <= set(fields)


# -- family cards -----------------------------------------------------------------------------------------


def _household_of_two() -> tuple[int, int, int]:
    from portal.models import Household

    h = Household(name="Test family")
    db.session.add(h)
    db.session.flush()
    execute("UPDATE customer SET household_id = :h WHERE id IN (11, 12)", h=h.id)
    return h.id, 11, 12


def test_family_card_pools_and_a_leaver_takes_what_they_earned(app):
    ledger, _t, family, _r, _e = _svc()
    from portal.models import Household

    hid, a, b = _household_of_two()
    ledger.earn(customer(a), 300, "a before", on=date.today())
    ledger.earn(customer(b), 200, "b before", on=date.today())
    card = family.issue_card(db.session.get(Household, hid), user("hq@example.com"))
    db.session.commit()
    assert family.valid_card_number(card.card_no) and card.card_no.startswith("9410")
    assert not family.valid_card_number(card.card_no[:-1] + str((int(card.card_no[-1]) + 1) % 10))
    assert card.balance == 500 and balance(a) == 500 and balance(b) == 500  # both see the pool
    # Earning goes to the pool, attributed to the earner; spending takes first-to-expire points.
    ledger.earn(customer(a), 100, "a in pool")
    ledger.redeem(customer(b), 350, "family dinner")
    db.session.commit()
    assert family.member_shares(card) == {a: 100, b: 150}  # same expiry: oldest lot first
    family.transfer_between_members(card, customer(b), customer(a), 20, "birthday present", user("hq@example.com"))
    db.session.commit()
    assert family.member_shares(card) == {a: 120, b: 130} and card.balance == 250
    moved = family.remove_member(card, customer(a), user("hq@example.com"))
    db.session.commit()
    assert moved == 120 and balance(a) == 120 and card.balance == 130
    ledger.earn(customer(a), 5, "after leaving")
    db.session.commit()
    assert balance(a) == 125 and card.balance == 130
    with pytest.raises(ledger.LedgerError):
        family.add_member(card, customer(13), user("hq@example.com"))  # not in the household
    assert family.add_member(card, customer(a), user("hq@example.com")) == 125
    db.session.commit()
    assert card.balance == 255
    assert_ledger_ok()


def test_merge_moves_points_to_the_survivor(app):
    ledger, *_ = _svc()
    from plugins.loyalty.merge import merge_accounts

    ledger.earn(customer(14), 40, "dup")
    ledger.earn(customer(15), 10, "keep")
    db.session.commit()
    merge_accounts(customer(15), 14)
    db.session.commit()
    assert balance(15) == 50
    assert scalar("SELECT status FROM loy_account WHERE merged_into_id IS NOT NULL") == "merged"
    assert_ledger_ok()


# -- approvals ------------------------------------------------------------------------------------------------


def test_large_adjustments_need_a_second_person(app):
    _l, _t, _f, redemption, _e = _svc()
    store, hq, admin = user("store1@example.com"), user("hq@example.com"), user("admin@example.com")
    state, done = redemption.request_adjustment(customer(16), 100, "goodwill", store)
    assert state == "done" and done.balance == 100
    state, approval = redemption.request_adjustment(customer(16), 6000, "big goodwill", hq)
    db.session.commit()
    assert state == "pending" and balance(16) == 100
    with pytest.raises(redemption.LedgerError) as exc:
        redemption.decide(approval, True, hq)
    assert exc.value.code == "own_request"
    redemption.decide(approval, True, admin, note="ok")
    db.session.commit()
    assert approval.status == "approved" and balance(16) == 6100
    with pytest.raises(redemption.LedgerError):
        redemption.decide(approval, True, admin)
    assert scalar("SELECT approval_id FROM loy_entry WHERE id = :e", e=approval.entry_id) == approval.id
    state, rejected = redemption.request_adjustment(customer(16), -5500, "mistake?", store)
    redemption.decide(rejected, False, hq)
    db.session.commit()
    assert rejected.status == "rejected" and balance(16) == 6100
