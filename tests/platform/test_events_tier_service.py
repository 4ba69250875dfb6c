"""The toolkit's tier service (``set_tiers`` / ``clear_tiers``): the one writer of ``customer.tier``,
validated, set-based and audited — and no add-on writes a core table with its own SQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from portal.models import AuditEvent, Customer
from tests.conftest import ROOT


def first_ids(n: int) -> list[int]:
    return list(db.session.execute(select(Customer.id).order_by(Customer.id).limit(n)).scalars())


def tiers_of(ids: list[int]) -> dict[int, str | None]:
    db.session.expire_all()
    return dict(db.session.execute(select(Customer.id, Customer.tier).where(Customer.id.in_(ids))).all())


def audits(action: str) -> list[str]:
    return list(db.session.execute(select(AuditEvent.summary).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)).scalars())


def test_set_tiers_from_a_mapping_changes_only_what_differs(app):
    from portal.toolkit import set_tiers

    a, b, c = first_ids(3)
    db.session.execute(text("UPDATE customer SET tier = NULL WHERE id IN (:a, :b, :c)"), {"a": a, "b": b, "c": c})
    assert set_tiers({a: "gold", b: "silver", c: None}, source="loyalty") == 2  # c: NULL → NULL is no change
    db.session.commit()
    assert tiers_of([a, b, c]) == {a: "gold", b: "silver", c: None}
    assert set_tiers({a: "gold", b: None}, source="loyalty", allowed={"gold", "silver"}) == 1
    db.session.commit()
    assert tiers_of([a, b]) == {a: "gold", b: None}
    assert audits("customer.tiers_set")[-2:] == ["2 customers by loyalty", "1 customers by loyalty"]
    assert set_tiers({}, source="loyalty") == 0


@pytest.mark.parametrize("assignments, allowed, message", [
    ({"x": "gold"}, None, "whole number"),
    ({10**9: "gold"}, None, "no such customer"),
    ("first", None, "mapping"),
])
def test_set_tiers_refuses_bad_input_and_writes_nothing(app, assignments, allowed, message):
    from portal.toolkit import TierError, set_tiers

    a = first_ids(1)[0]
    before = tiers_of([a])
    if assignments == "first":
        assignments = ["not a mapping"]
    with pytest.raises(TierError, match=message):
        set_tiers(assignments, source="loyalty", allowed=allowed)
    db.session.commit()
    assert tiers_of([a]) == before


@pytest.mark.parametrize("code, allowed", [("", None), ("x" * 21, None), ("go ld", None), ("<b>", None), (7, None),
                                           ("platinum", {"gold"})])
def test_tier_codes_are_validated_before_anything_is_written(app, code, allowed):
    from portal.toolkit import TierError, set_tiers

    a, b = first_ids(2)
    before = tiers_of([a, b])
    with pytest.raises(TierError):
        set_tiers({a: "gold", b: code}, source="loyalty", allowed=allowed)
    db.session.commit()
    assert tiers_of([a, b]) == before


def test_a_bad_source_is_refused(app):
    from portal.toolkit import TierError, clear_tiers, set_tiers

    with pytest.raises(TierError):
        set_tiers({first_ids(1)[0]: "gold"}, source="Loyalty add-on!")
    with pytest.raises(TierError):
        clear_tiers(source="")


def test_set_tiers_from_a_query_matches_the_mapping_form(app):
    """The set-based form (one UPDATE … FROM) gives the same answer as the per-row form."""
    from portal.toolkit import set_tiers

    ids = first_ids(40)
    wanted = {cid: ("gold" if cid % 3 == 0 else "silver" if cid % 3 == 1 else None) for cid in ids}
    db.session.execute(text("UPDATE customer SET tier = 'bronze' WHERE id IN :ids").bindparams(
        db.bindparam("ids", expanding=True)), {"ids": ids})
    changed = set_tiers(text("SELECT id AS customer_id, CASE id % 3 WHEN 0 THEN 'gold' WHEN 1 THEN 'silver' END AS tier "
                             "FROM customer WHERE id BETWEEN :lo AND :hi"), source="loyalty",
                        allowed=["gold", "silver"], params={"lo": ids[0], "hi": ids[-1]})
    db.session.commit()
    assert changed == len(ids)
    by_query = tiers_of(ids)
    db.session.execute(text("UPDATE customer SET tier = 'bronze' WHERE id IN :ids").bindparams(
        db.bindparam("ids", expanding=True)), {"ids": ids})
    assert set_tiers(wanted, source="loyalty") == len(ids)
    db.session.commit()
    assert tiers_of(ids) == by_query == wanted
    # Again: nothing differs, nothing is rewritten.
    stmt = select(Customer.id.label("customer_id"), Customer.tier.label("tier")).where(Customer.id.in_(ids))
    assert set_tiers(stmt, source="loyalty") == 0


@pytest.mark.parametrize("sql, message", [
    ("SELECT id AS customer_id, 'platinum' AS tier FROM customer WHERE id = :lo", "not one of"),
    ("SELECT id AS customer_id, 'gold' AS tier FROM customer WHERE id = :lo "
     "UNION ALL SELECT id, 'silver' FROM customer WHERE id = :lo", "more than one tier"),
    ("SELECT id AS customer_id, '' AS tier FROM customer WHERE id = :lo", "empty or longer"),
])
def test_a_query_with_bad_rows_is_refused_whole(app, sql, message):
    from portal.toolkit import TierError, set_tiers

    a = first_ids(1)[0]
    before = tiers_of([a])
    with pytest.raises(TierError, match=message):
        set_tiers(text(sql), source="loyalty", allowed=["gold", "silver"], params={"lo": a})
    db.session.commit()
    assert tiers_of([a]) == before


def test_clear_tiers_by_code(app):
    from portal.toolkit import clear_tiers, set_tiers

    a, b, c = first_ids(3)
    set_tiers({a: "gold", b: "silver", c: "mine"}, source="test")
    assert clear_tiers(source="loyalty", codes=["gold", "silver"]) == 2
    db.session.commit()
    assert tiers_of([a, b, c]) == {a: None, b: None, c: "mine"}
    assert clear_tiers(source="loyalty", codes=[]) == 0
    assert audits("customer.tiers_cleared")[-1] == "2 customers by loyalty"


def test_a_loaded_customer_sees_the_new_tier(app):
    from portal.toolkit import set_tiers

    customer = db.session.execute(select(Customer).order_by(Customer.id).limit(1)).scalar_one()
    set_tiers({customer.id: "vip"}, source="test")
    assert customer.tier == "vip"


CORE_WRITE = re.compile(
    r"\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|ALTER\s+TABLE|DROP\s+TABLE)\s+\"?(\w+)", re.I)
ORM_WRITE = re.compile(r"\b(?:update|insert|delete)\(\s*(\w+)\s*[,)]")


def test_no_add_on_writes_core_tables_with_its_own_sql():
    """Add-ons change core data through the toolkit's services only (issue 14 item 1): no
    ``UPDATE customer``, ``INSERT INTO sale_line``, ``update(Customer)`` ... under ``plugins/``."""
    from portal import toolkit
    from portal.models.base import core_tables

    tables = core_tables()
    models = {name for name in toolkit.__all__ if getattr(getattr(toolkit, name), "__tablename__", None) in tables}
    assert "customer" in tables and "Customer" in models
    found = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        for match in CORE_WRITE.finditer(source):
            if match.group(1).lower() in tables:
                found.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
        for match in ORM_WRITE.finditer(source):
            if match.group(1) in models:
                found.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert found == [], "add-ons writing core tables directly (use the toolkit's services):\n" + "\n".join(found)


def test_the_checker_catches_raw_writes(tmp_path: Path):
    sample = "db.session.execute(text('UPDATE customer SET tier = NULL'))\nstmt = update(Customer).values(tier=None)\n"
    assert [m.group(1) for m in CORE_WRITE.finditer(sample)] == ["customer"]
    assert [m.group(1) for m in ORM_WRITE.finditer(sample)] == ["Customer"]
