"""Customer search by any part of the name (issue 13, item 24).

"지호" finds 김지호 and "유환" 이유환 — in the list page and the API, within the caller's scope —
through ``customer_name_suffix``, which database triggers keep in step with every write path:
ORM create and rename, the importer's bulk insert, raw SQL, merge, pseudonymization. Every test
runs on SQLite and on PostgreSQL with the same expected answers.
"""

from __future__ import annotations

import pytest

from tests.conftest import bearer, scalar, sql
from tests.test_sales_import import csv_bytes, row, run_import
from tests.test_segments import API, HQ, IBO1, STORE1, api_client, execute, make, web_client


def suffix_table() -> set[tuple[int, str]]:
    return {(r[0], r[1]) for r in sql("SELECT customer_id, suffix FROM customer_name_suffix")}


def expected_suffixes() -> set[tuple[int, str]]:
    """What the table must hold, computed here from ``customer`` (A–Z folded, every suffix)."""
    from portal.customers.name_search import fold

    out = set()
    for cid, name in sql("SELECT id, name FROM customer"):
        folded = fold(name)
        out |= {(cid, folded[i:]) for i in range(len(folded))}
    return out


def api_ids(client, q: str) -> list[int]:
    body = client.get(f"{API}/customers", query_string={"q": q, "per_page": 200}, headers=bearer(client.token)).get_json()
    assert body["total"] == len(body["items"]) < 200
    return [i["id"] for i in body["items"]]


def page_codes(client, q: str) -> list[str]:
    import re

    html = client.get("/customers/", query_string={"q": q, "per_page": 200}).get_data(as_text=True)
    return re.findall(r'<td><a href="/customers/\d+">([A-Za-z0-9-]+)</a></td>', html)


def in_scope(like: str, where: str) -> set[int]:
    return {r[0] for r in sql(f"SELECT id FROM customer WHERE name LIKE :p AND {where}", p=like)}


B001 = "branch_id = (SELECT id FROM org_unit WHERE code = 'B001')"
IBO1_OWN = "partner_id = (SELECT id FROM partner WHERE code = 'G01-0002')"


def test_given_name_finds_the_whole_name_in_scope(app):
    jiho = make(name="김지호")  # B001: store1's branch
    yuhwan = make(name="이유환")
    other_branch = make(name="박지호", branch="B002")
    partner_only = make(name="최지호", branch=None, partner="G01-0002")  # a customer of ibo1's own
    rare = make(name="탁쿤샘")
    make(name="김지우")  # shares "지" but not "지호"
    store1, hq, ibo1 = api_client(app, STORE1), api_client(app, HQ), api_client(app, IBO1)
    assert jiho in api_ids(store1, "지호") and yuhwan in api_ids(store1, "유환")
    assert set(api_ids(store1, "지호")) == in_scope("%지호%", B001)
    assert set(api_ids(store1, "유환")) == in_scope("%유환%", B001)
    assert api_ids(store1, "쿤샘") == [rare] and api_ids(store1, "쿤") == [rare]
    assert other_branch not in api_ids(store1, "지호")
    assert set(api_ids(hq, "지호")) == in_scope("%지호%", "1 = 1") >= {jiho, other_branch, partner_only}
    assert partner_only in api_ids(ibo1, "지호") and jiho not in api_ids(ibo1, "지호")
    # The list page: the same rows, in name order.
    web = web_client(app, STORE1)
    assert page_codes(web, "쿤샘") == [scalar("SELECT code FROM customer WHERE id = :i", i=rare)]
    assert page_codes(web, "지호") == [r[0] for r in sql(
        f"SELECT code FROM customer WHERE name LIKE '%지호%' AND {B001} ORDER BY name, id")]


def test_latin_names_any_case_and_no_wildcards(app):
    anna = make(name="Anna Müller-Schmidt")
    pct = make(name="Test 100%_Kunde")
    hq = api_client(app, HQ)
    for q in ("müller", "MüLLER", "SCHMIDT", "nna m", "anna"):
        assert anna in api_ids(hq, q), q
    # "%" and "_" are characters, not LIKE wildcards.
    assert api_ids(hq, "%_k") == [pct]
    assert api_ids(hq, "0%") == [pct]
    assert pct not in api_ids(hq, "Test 1000")
    # Non-ASCII letters are compared as written on both databases (SQLite folds A–Z only).
    assert anna not in api_ids(hq, "MÜLLER")


def test_codes_phones_and_emails_still_found(app):
    c = make(name="정하윤", phone="01077770123", email="hayoon.jung@example.com")
    code = scalar("SELECT code FROM customer WHERE id = :i", i=c)
    hq = api_client(app, HQ)
    for q in (code, code.lower(), "010-7777-0123", "0107777", "hayoon.jung@", "HAYOON", "하윤", "정하"):
        assert c in api_ids(hq, q), q
    # Phone and e-mail stay prefix searches.
    for q in ("7777-0123", "jung@example.com"):
        assert c not in api_ids(hq, q), q


def test_index_follows_every_write_path(app):
    """ORM create and rename, raw SQL insert/update/delete, the importer's bulk insert, merge and
    pseudonymization: afterwards the suffix table is exactly every suffix of every current name."""
    from portal.auth.service import find_user
    from portal.customers.privacy import pseudonymize
    from portal.customers.service import create_customer, update_customer
    from portal.extensions import db
    from portal.models import Customer
    from portal.quality.service import merge_customers

    assert suffix_table() == expected_suffixes()  # the seeded data (demo loader's bulk insert)
    admin = find_user("admin@example.com")
    created = create_customer(admin, {"name": "탁뭉윤", "branch_code": "B001"})
    db.session.commit()
    update_customer(admin, created, {"name": "탁뭉진"})
    db.session.commit()
    execute("INSERT INTO customer (code, name, branch_id, complaint, created_at, updated_at, total_spend) "
            "SELECT 'RAW-1', 'Raw Insert', id, false, created_at, created_at, 0 FROM org_unit WHERE code = 'B001'")
    execute("UPDATE customer SET name = 'Raw Renamed' WHERE code = 'RAW-1'")
    result = run_import(csv_bytes([row(code="IMP-1", name="임포트쿤", receipt="r1")]), replace=True)
    assert result.status == "committed", (result.message, result.errors)
    survivor, duplicate = make(name="남궁뭉수"), make(name="남궁뭉수")
    merge_customers(admin, db.session.get(Customer, survivor), db.session.get(Customer, duplicate))
    db.session.commit()
    erased = make(name="비밀유환")
    pseudonymize(admin, db.session.get(Customer, erased), "request")
    db.session.commit()
    execute("DELETE FROM customer WHERE code = 'RAW-1'")
    assert suffix_table() == expected_suffixes()

    hq = api_client(app, HQ)
    assert api_ids(hq, "뭉진") == [created.id] and api_ids(hq, "뭉윤") == []
    assert api_ids(hq, "raw") == []
    assert api_ids(hq, "트쿤") == [scalar("SELECT id FROM customer WHERE code = 'IMP-1'")]
    assert api_ids(hq, "궁뭉") == [survivor]
    # The erased customer is not findable by the old name, by any part of it.
    for q in ("비밀유환", "비밀", "밀유"):
        assert erased not in api_ids(hq, q), q


def test_backfill_of_existing_customers(tmp_path):
    """Upgrading a database that already has customers fills their suffixes (set-based, in SQL)."""
    from portal.migrations_support import upgrade_core
    from tests.conftest import empty_db_app

    with empty_db_app(tmp_path, "0007_customer_fillfactor"):
        execute("INSERT INTO org_unit (code, name, kind, path, depth, active, created_at) "
                "VALUES ('B9', 'b', 'branch', '/9/', 0, true, '2026-01-01')")
        for i, name in enumerate(("김지호", "Lee Yu-Hwan", "가")):
            execute("INSERT INTO customer (code, name, branch_id, complaint, created_at, updated_at, total_spend) "
                    "SELECT :c, :n, id, false, '2026-01-01', '2026-01-01', 0 FROM org_unit WHERE code = 'B9'",
                    c=f"C{i}", n=name)
        upgrade_core()
        assert suffix_table() == expected_suffixes()
        assert {r[0] for r in sql("SELECT suffix FROM customer_name_suffix")} >= {"지호", "yu-hwan", "가"}


@pytest.mark.parametrize("q", ["", "   ", "\U0010ffff", "a" * 300])
def test_odd_queries_answer_normally(app, q):
    hq = api_client(app, HQ)
    resp = hq.get(f"{API}/customers", query_string={"q": q}, headers=bearer(hq.token))
    assert resp.status_code in (200, 400)
    assert web_client(app, STORE1).get("/customers/", query_string={"q": q}).status_code in (200, 400)


def test_common_and_rare_parts_give_the_same_rows(app):
    """A common part ("김") is tested on the name text, a rare one through the suffix range: forcing
    either path gives the same customers, equal to a LIKE over every name."""
    make(name="Kim Lee")
    make(name="박김수")
    hq = api_client(app, HQ)
    queries = ("김", "지호", "kim", "수", "IM L")
    default = {q: set(api_ids(hq, q)) for q in queries}
    app.config["PORTAL_NAME_SEARCH_COMMON"] = 1  # everything is "common": text test only
    common = {q: set(api_ids(hq, q)) for q in queries}
    assert default == common
    for q in ("김", "지호", "수"):
        assert default[q] == {r[0] for r in sql("SELECT id FROM customer WHERE name LIKE :p", p=f"%{q}%")}, q
