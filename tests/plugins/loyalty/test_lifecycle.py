"""Install → use → uninstall (keeping or purging the data) → reinstall; disable without restart."""

from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.plugins_lifecycle import install, set_enabled, uninstall
from tests.conftest import api_token_for, bearer, login, scalar, sql
from tests.plugins.loyalty.conftest import balance, row
from tests.test_sales_import import csv_bytes, run_import

LOY_TABLES = {"loy_account", "loy_entry", "loy_lot", "loy_allocation", "loy_earn_line", "loy_request", "loy_tier",
              "loy_tier_change", "loy_category_rate", "loy_promotion", "loy_reward", "loy_approval", "loy_batch"}


def _tables() -> set[str]:
    db.session.commit()
    return set(sa.inspect(db.session.connection()).get_table_names())


def test_install_use_uninstall_reinstall(bare_app):
    client = bare_app.test_client()
    assert not LOY_TABLES & _tables()
    login(client, "admin@example.com")
    assert client.get("/loyalty/").status_code == 404  # available, not installed
    install("loyalty")
    assert LOY_TABLES <= _tables() and "alembic_version_loyalty" in _tables()
    assert scalar("SELECT COUNT(*) FROM loy_tier") == 4
    assert client.get("/loyalty/").status_code == 200

    # use it: an import earns, a redemption spends, a tier is mirrored into customer.tier
    run_import(csv_bytes([row(code="C0000001", qty=20, price=89000, sku="HEA-004")]))
    assert balance(1) > 1500
    assert scalar("SELECT tier FROM customer WHERE id = 1") == "GOLD"
    token = api_token_for("hq@example.com")
    assert client.post("/api/v1/loyalty/accounts/1/redeem", headers=bearer(token),
                       json={"points": 100, "reason": "gift", "idempotency_key": "a"}).status_code == 201
    kept = balance(1)

    # uninstall, keeping the data: routes 404, imports earn nothing, tables stay
    uninstall("loyalty")
    assert LOY_TABLES <= _tables()
    assert client.get("/loyalty/").status_code == 404
    assert client.get("/api/v1/loyalty/accounts/1", headers=bearer(token)).status_code == 404
    run_import(csv_bytes([row(code="C0000002", day="2026-11-06", price=50000)]))
    assert scalar("SELECT COUNT(*) FROM loy_account WHERE customer_id = 2") == 0

    # reinstall: everything is back, nothing seeded twice
    install("loyalty")
    assert scalar("SELECT COUNT(*) FROM loy_tier") == 4 and scalar("SELECT COUNT(*) FROM loy_reward") == 4
    assert balance(1) == kept
    assert client.get("/api/v1/loyalty/accounts/1", headers=bearer(token)).get_json()["balance"] == kept

    # uninstall with purge: tables, version table rows, settings and the mirrored tiers are gone
    uninstall("loyalty", purge=True)
    assert not LOY_TABLES & _tables()
    assert scalar("SELECT COUNT(*) FROM customer WHERE tier = 'GOLD'") == 0
    assert scalar("SELECT settings FROM plugin_state WHERE name = 'loyalty'") is None

    # and a fresh reinstall starts from zero
    install("loyalty")
    assert scalar("SELECT COUNT(*) FROM loy_entry") == 0 and balance(1) == 0
    assert client.get("/loyalty/").status_code == 200


def test_disable_hides_pages_api_tab_menu_and_stops_earning(app, client):
    login(client, "admin@example.com")
    assert client.get("/loyalty/").status_code == 200
    page = client.get("/customers/1?tab=points").get_data(as_text=True)
    assert 'data-testid="tab-points"' in page and 'href="/loyalty/"' in page
    set_enabled("loyalty", False)
    assert client.get("/loyalty/").status_code == 404
    assert client.get("/loyalty/programme").status_code == 404
    page = client.get("/customers/1").get_data(as_text=True)
    assert 'data-testid="tab-points"' not in page and 'href="/loyalty/"' not in page
    run_import(csv_bytes([row(code="C0000001", price=50000)]))
    assert scalar("SELECT COUNT(*) FROM loy_entry") == 0
    set_enabled("loyalty", True)
    assert client.get("/loyalty/").status_code == 200


def test_demo_profile_builds_a_consistent_lived_in_programme(bare_app):
    from plugins.loyalty.ledger import check

    install("loyalty", profile="demo")
    assert check() == []
    assert scalar("SELECT COUNT(*) FROM loy_earn_line") == scalar("SELECT COUNT(*) FROM sale_line")
    assert scalar("SELECT COUNT(*) FROM loy_entry WHERE kind = 'expire'") > 0
    assert scalar("SELECT COUNT(DISTINCT changed_on) FROM loy_tier_change") > 3  # a history, month by month
    assert scalar("SELECT COUNT(*) FROM loy_account WHERE kind = 'family'") == 3
    # one seeded directly, two requested by 강남점 staff through request_adjustment (limits, workflow)
    assert scalar("SELECT COUNT(*) FROM loy_approval WHERE status = 'pending'") == 3
    # The demo's dates follow its sales (which end yesterday), and its texts are Korean only.
    last_sale = date.fromisoformat(str(scalar("SELECT MAX(sold_at) FROM sale_line"))[:10])
    promotions = [date.fromisoformat(str(d)[:10]) for d in (scalar("SELECT MIN(starts_on) FROM loy_promotion"),
                                                            scalar("SELECT MAX(ends_on) FROM loy_promotion"))]
    assert last_sale - timedelta(days=100) < promotions[0] < promotions[1] < last_sale
    names = [r[0] for r in sql("SELECT name FROM loy_promotion UNION ALL SELECT reason FROM loy_approval")]
    assert names and not [n for n in names if re.search("[A-Za-z]{3,}", n)]
    uninstall("loyalty")
    install("loyalty", profile="demo")  # a reinstall over kept data adds nothing
    assert scalar("SELECT COUNT(*) FROM loy_account WHERE kind = 'family'") == 3
    assert check() == []


def test_migrations_match_the_models(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def only_loyalty(obj, name, type_, reflected, compare_to):
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
        return bool(table and table.startswith("loy_"))

    db.session.commit()
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": only_loyalty, "compare_type": True})
        diff = compare_metadata(ctx, db.metadata)
    assert diff == [], f"loyalty models and migrations disagree: {diff}"
