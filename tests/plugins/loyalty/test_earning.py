"""Earning through ``portal_sales_imported``: the rules, exactly once per line, replaced reports
reversed, tiers up at once, and nothing while the add-on is disabled."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.conftest import scalar, sql
from tests.plugins.loyalty.conftest import SALE_DAY as DAY
from tests.plugins.loyalty.conftest import assert_ledger_ok, balance, row
from tests.test_sales_import import csv_bytes, execute, run_import


@pytest.fixture(autouse=True)
def _no_birthdays_in_november(app):
    execute("UPDATE customer SET birth_date = '1980-03-20' WHERE id <= 20")


def _setup_rules():
    from plugins.loyalty.models import LoyCategoryRate, LoyPromotion

    health = scalar("SELECT id FROM category WHERE code = 'health'")
    beauty = scalar("SELECT id FROM category WHERE code = 'beauty'")
    db.session.add(LoyCategoryRate(category_id=health, multiplier_pct=150))
    db.session.add(LoyPromotion(name="beauty week", starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 7),
                                multiplier_pct=300, category_id=beauty, active=True))
    db.session.add(LoyPromotion(name="old", starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 31),
                                multiplier_pct=500, active=True))
    db.session.commit()
    execute("UPDATE customer SET birth_date = '1980-11-20' WHERE code = 'C0000002'")
    execute("UPDATE customer SET birth_date = '1980-03-20' WHERE code IN ('C0000001', 'C0000003')")


def _earned_lines(report_id: int) -> int:
    return scalar("SELECT COUNT(*) FROM loy_earn_line el JOIN sale_line l ON l.id = el.sale_line_id "
                  "WHERE l.report_id = :r", r=report_id)


def test_each_line_earns_by_the_rules_exactly_once(app):
    from plugins.loyalty.earning import earn_for_report, earn_pending, points_for_line
    from plugins.loyalty.ledger import member_account

    _setup_rules()
    member_account(3).tier = "GOLD"  # 125 %
    db.session.commit()
    result = run_import(csv_bytes([
        row(code="C0000001", sku="HEA-001", qty=2, price=32000, receipt="R1"),                  # health 150 %
        row(code="C0000001", sku="BEA-002", price=56000, cat="beauty", receipt="R1"),           # promo 300 %
        row(code="C0000002", sku="HOM-001", price=12345, cat="home", receipt="R2"),             # birthday 200 %
        row(code="C0000003", sku="HEA-001", price=32000, receipt="R3"),                         # gold × health
        row(code="C0000003", sku="HOM-001", price=999, cat="home", receipt="R3"),               # 0 points
    ]))
    assert result.status == "committed", result.message
    expected = {
        1: points_for_line(64000, 1000, category_pct=150) + points_for_line(56000, 1000, promo_pct=300),
        2: points_for_line(12345, 1000, birthday_pct=200),
        3: points_for_line(32000, 1000, category_pct=150, tier_pct=125),
    }
    assert expected == {1: 96 + 168, 2: 24, 3: 60}
    assert {cid: balance(cid) for cid in expected} == expected
    assert _earned_lines(result.report_id) == 5  # the 0-point line is recorded too
    assert scalar("SELECT COUNT(*) FROM loy_entry WHERE report_id = :r", r=result.report_id) == 3  # per customer
    entries = scalar("SELECT COUNT(*) FROM loy_entry")
    # Running the earning again, for the report or as a catch-up, writes nothing.
    assert earn_for_report(result.report_id) is None and earn_pending(since=date(2026, 11, 1)) is None
    db.session.commit()
    assert scalar("SELECT COUNT(*) FROM loy_entry") == entries
    assert {cid: balance(cid) for cid in expected} == expected
    assert_ledger_ok()


def test_a_line_cannot_earn_twice_even_by_hand(app):
    result = run_import(csv_bytes([row(code="C0000001")]))
    line = scalar("SELECT id FROM sale_line WHERE report_id = :r", r=result.report_id)
    try:
        db.session.execute(sa.text("INSERT INTO loy_earn_line (sale_line_id, report_id, points) VALUES (:l, :r, 1)"),
                           {"l": line, "r": result.report_id})
        db.session.commit()
        raise AssertionError("a second earn record for one line was accepted")
    except sa.exc.IntegrityError:
        db.session.rollback()


def test_replacing_a_report_reverses_its_points_and_earns_the_new_lines(app):
    first = run_import(csv_bytes([row(code="C0000001", qty=3, price=32000), row(code="C0000002", price=50000)]))
    assert balance(1) == 96 and balance(2) == 50
    second = run_import(csv_bytes([row(code="C0000001", qty=1, price=32000)]), name="fixed.csv", replace=True)
    assert second.status == "committed" and second.replaced_report_id == first.report_id
    assert balance(1) == 32 and balance(2) == 0
    reversals = sql("SELECT r.points, r.shortfall FROM loy_entry r JOIN loy_entry e ON e.id = r.reverses_id "
                    "WHERE e.report_id = :r ORDER BY r.id", r=first.report_id)
    assert sorted(tuple(x) for x in reversals) == [(-96, 0), (-50, 0)]
    # The old lines are gone, but what they earned is still on record, and never earns again.
    assert scalar("SELECT COUNT(*) FROM sale_line WHERE report_id = :r", r=first.report_id) == 0
    assert scalar("SELECT COUNT(*) FROM loy_earn_line") == 3
    # SQLite hands a deleted line's id to the next line: the report in the key keeps them apart.
    assert scalar("SELECT COUNT(*) FROM loy_earn_line WHERE report_id = :r", r=second.report_id) == 1
    assert_ledger_ok()


def test_replacing_after_the_points_were_spent_claws_back_what_is_left(app):
    from plugins.loyalty.ledger import redeem
    from tests.plugins.loyalty.conftest import customer

    run_import(csv_bytes([row(code="C0000001", qty=3, price=32000)]))
    redeem(customer(1), 90, "spent", on=date(2026, 11, 6))
    db.session.commit()
    run_import(csv_bytes([row(code="C0000002", price=10000)]), name="fixed.csv", replace=True)
    assert balance(1) == 0
    assert scalar("SELECT shortfall FROM loy_entry WHERE kind = 'reverse'") == 90
    assert_ledger_ok()


def test_disabled_addon_earns_nothing_until_caught_up(app):
    from portal.plugins_lifecycle import set_enabled

    set_enabled("loyalty", False)
    result = run_import(csv_bytes([row(code="C0000001", qty=2, price=32000)]))
    assert result.status == "committed"
    assert scalar("SELECT COUNT(*) FROM loy_entry") == 0 and _earned_lines(result.report_id) == 0
    runner = app.test_cli_runner()
    assert runner.invoke(args=["portal", "loyalty", "earn"]).exit_code != 0  # refuses while disabled
    set_enabled("loyalty", True)
    out = runner.invoke(args=["portal", "loyalty", "earn", "--since", DAY])
    assert out.exit_code == 0 and "Earned 64 points on 1 lines" in out.output
    assert balance(1) == 64
    assert "No sale lines" in runner.invoke(args=["portal", "loyalty", "earn", "--since", DAY]).output


def test_setting_earn_on_import_off(app):
    from portal.plugin_settings import save_settings

    assert save_settings("loyalty", {"krw_per_point": "1000", "birthday_pct": "200", "expiry_months": "24",
                                     "tier_window_months": "12", "approval_limit": "5000", "reminder_days": "30",
                                     "earn_on_import": ""}) == {}
    run_import(csv_bytes([row(code="C0000001")]))
    assert balance(1) == 0


def test_crossing_a_threshold_upgrades_at_once(app):
    run_import(csv_bytes([row(code="C0000001", qty=20, price=89000, sku="HEA-004")]))  # 1,780 points
    assert balance(1) == 1780
    assert scalar("SELECT tier FROM loy_account WHERE customer_id = 1") == "GOLD"
    assert scalar("SELECT tier FROM customer WHERE id = 1") == "GOLD"
    changes = sql("SELECT from_tier, to_tier, direction, reason FROM loy_tier_change WHERE customer_id = 1")
    assert [tuple(c) for c in changes] == [("BASIC", "GOLD", "up", "earn")]
