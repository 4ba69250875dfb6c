"""Segment rules: every core field, nested groups, validation with paths, scope, plugin fields,
saved segments (API and pages).

Each test runs on its own clone of the seeded database. Expected customer sets are computed
independently of the rule engine — plain Python over rows read with raw SQL — and compared with
the ids the compiled segment selects.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import api_token_for, bearer, csrf_token, login, scalar, sql

pytest_plugins = ("tests.live_server",)

ADMIN, HQ, REVIEWER, STORE1, STORE2, LEADER1, IBO1 = (
    "admin@example.com", "hq@example.com", "reviewer@example.com", "store1@example.com", "store2@example.com",
    "leader1@example.com", "ibo1@example.com")
API = "/api/v1"
_codes = itertools.count(1)


# -- helpers (also used by tests/test_extraction.py) ----------------------------------------------------


def execute(query: str, **params) -> None:
    """Run a write statement and commit."""
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(text(query), params)
    db.session.commit()


def user(email: str):
    from portal.extensions import db
    from portal.models import User

    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def today_seoul() -> date:
    return datetime.now(ZoneInfo("Asia/Seoul")).date()


def now_utc() -> datetime:
    from portal.models import utcnow

    return utcnow()


def unit_id(code: str) -> int:
    return scalar("SELECT id FROM org_unit WHERE code = :c", c=code)


def make(branch: str | None = "B001", partner: str | None = None, consents: dict | None = None,
         issues: tuple[str, ...] = (), **fields) -> int:
    """A customer (defaults: valid phone, e-mail and address); ``consents`` maps channel → granted
    or (granted, recorded_at) or a list of those (oldest first). Returns the id."""
    from portal.extensions import db
    from portal.models import Consent, Customer, QualityIssue

    n = next(_codes)
    values = {"name": f"세그먼트{n}", "phone": f"0105555{n:04d}", "email": f"seg{n}@example.com",
              "address": "서울특별시 강남구 테헤란로 1", "postal_code": "06236", **fields}
    c = Customer(code=f"T{n:07d}", branch_id=unit_id(branch) if branch else None,
                 partner_id=scalar("SELECT id FROM partner WHERE code = :c", c=partner) if partner else None, **values)
    db.session.add(c)
    db.session.flush()
    for channel, spec in (consents or {}).items():
        for item in spec if isinstance(spec, list) else [spec]:
            granted, at = item if isinstance(item, tuple) else (item, now_utc() - timedelta(days=1))
            db.session.add(Consent(customer_id=c.id, channel=channel, purpose="marketing", granted=granted,
                                   method="store", recorded_at=at))
    for f in issues:
        db.session.add(QualityIssue(customer_id=c.id, field=f, reason=f"{f} (test)"))
    db.session.commit()
    return c.id


def matched(email: str, rules) -> set[int]:
    """The ids the compiled segment selects for ``email`` (the code under test)."""
    from portal.analytics.segments import segment_query
    from portal.extensions import db
    from portal.models import Customer

    seg = segment_query(user(email), rules)
    return {r[0] for r in db.session.execute(seg.select(Customer.id))}


def scope_ids(email: str) -> set[int]:
    """Customers in the user's scope, computed with plain SQL from the demo grants."""
    base = "SELECT id FROM customer WHERE pseudonymized_at IS NULL"
    if email in (ADMIN, HQ):
        return {r[0] for r in sql(base)}
    if email in (STORE1, STORE2):
        return {r[0] for r in sql(base + " AND branch_id = :b", b=unit_id("B001" if email == STORE1 else "B002"))}
    if email == LEADER1:
        return {r[0] for r in sql(base + " AND partner_id IN (SELECT p.id FROM partner p JOIN partner_group g "
                                         "ON g.id = p.group_id WHERE g.code = 'G01')")}
    raise AssertionError(email)


def rows(columns: str) -> list[dict]:
    """Every non-pseudonymized customer as a dict of ``columns`` (raw SQL)."""
    names = [c.strip().split(".")[-1] for c in columns.split(",")]
    return [dict(zip(names, r, strict=True)) for r in sql(f"SELECT {columns} FROM customer WHERE pseudonymized_at IS NULL")]


def as_date(v) -> date | None:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def age(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def current_granted(channel: str) -> set[int]:
    """Customers whose newest marketing record on ``channel`` (ties by id) grants consent."""
    latest: dict[int, tuple] = {}
    for cid, granted, at, cid_row in sql("SELECT customer_id, granted, recorded_at, id FROM consent "
                                         "WHERE channel = :c AND purpose = 'marketing'", c=channel):
        key = (str(at), cid_row)
        if cid not in latest or key > latest[cid][0]:
            latest[cid] = (key, bool(granted))
    return {cid for cid, (_k, g) in latest.items() if g}


def cond(field: str, op: str, value=None) -> dict:
    return {"field": field, "op": op, **({} if value is None and op in ("is_null", "not_null") else {"value": value})}


def api_client(app, email: str):
    client = app.test_client()
    client.token = api_token_for(email)
    return client


def api_post(client, url: str, body, method: str = "post"):
    return getattr(client, method)(url, json=body, headers=bearer(client.token))


def web_client(app, email: str):
    """A logged-in browser session reading the pages in English (the assertions quote English)."""
    client = app.test_client()
    assert login(client, email).status_code == 302
    client.csrf = csrf_token(client, "/dashboard")
    client.post("/language", data={"lang": "en", "next": "/dashboard", "csrf_token": client.csrf})
    return client


# -- core fields ------------------------------------------------------------------------------------------


def test_all_customers_in_scope_per_role(app):
    for email in (HQ, ADMIN, STORE1, STORE2, LEADER1):
        assert matched(email, {"all": []}) == scope_ids(email), email
    # An erased (pseudonymized) customer is never in a segment.
    cid = make()
    execute("UPDATE customer SET pseudonymized_at = :t WHERE id = :i", t=now_utc(), i=cid)
    assert cid not in matched(HQ, {"all": []})


def test_branch_group_owner_and_tier(app):
    everyone = rows("id, branch_id, partner_id, tier")
    b1, b2 = unit_id("B001"), unit_id("B002")
    g01 = {r[0] for r in sql("SELECT p.id FROM partner p JOIN partner_group g ON g.id = p.group_id WHERE g.code = 'G01'")}
    owner = scalar("SELECT id FROM partner WHERE code = 'G01-0002'")
    vip = make(tier="vip")
    everyone.append({"id": vip, "branch_id": b1, "partner_id": None, "tier": "vip"})

    def ids(pred):
        return {r["id"] for r in everyone if pred(r)}

    assert matched(HQ, {"all": [cond("branch", "in", ["b001", "B002"])]}) == ids(lambda r: r["branch_id"] in (b1, b2))
    assert matched(HQ, {"all": [cond("branch", "eq", "B001")]}) == ids(lambda r: r["branch_id"] == b1)
    # "not in" includes the customers without a branch (two-valued conditions).
    assert matched(HQ, {"all": [cond("branch", "not_in", ["B001"])]}) == ids(lambda r: r["branch_id"] != b1)
    assert matched(HQ, {"all": [cond("branch", "is_null")]}) == ids(lambda r: r["branch_id"] is None)
    assert matched(HQ, {"all": [cond("partner_group", "eq", "G01")]}) == ids(lambda r: r["partner_id"] in g01)
    assert matched(HQ, {"all": [cond("partner_group", "ne", "G01")]}) == ids(lambda r: r["partner_id"] not in g01)
    assert matched(HQ, {"all": [cond("owner", "eq", "G01-0002")]}) == ids(lambda r: r["partner_id"] == owner)
    assert matched(HQ, {"all": [cond("tier", "eq", "vip")]}) == {vip}
    assert matched(HQ, {"all": [cond("tier", "ne", "vip")]}) == ids(lambda r: r["tier"] != "vip")


def test_age_and_birthday_month(app):
    today = today_seoul()
    # Birthdays around today: the day someone turns 40, one day before and after.
    turns_40 = make(birth_date=today.replace(year=today.year - 40) if not (today.month == 2 and today.day == 29)
                    else date(today.year - 40, 2, 28))
    almost_40 = make(birth_date=(today + timedelta(days=1)).replace(year=today.year - 40))
    no_birth = make(birth_date=None)
    everyone = rows("id, birth_date")
    ages = {r["id"]: age(as_date(r["birth_date"]), today) for r in everyone}

    def ids(pred):
        return {i for i, a in ages.items() if pred(a)}

    got = matched(HQ, {"all": [cond("age", "gte", 40)]})
    assert got == ids(lambda a: a is not None and a >= 40)
    assert turns_40 in got and almost_40 not in got and no_birth not in got
    assert matched(HQ, {"all": [cond("age", "between", [30, 39])]}) == ids(lambda a: a is not None and 30 <= a <= 39)
    assert matched(HQ, {"all": [cond("age", "eq", 40)]}) == ids(lambda a: a == 40)
    assert matched(HQ, {"all": [cond("age", "lt", 25)]}) == ids(lambda a: a is not None and a < 25)
    assert matched(HQ, {"all": [cond("age", "ne", 40)]}) == ids(lambda a: a != 40)
    assert matched(HQ, {"all": [cond("age", "is_null")]}) == ids(lambda a: a is None)
    months = {r["id"]: as_date(r["birth_date"]).month if r["birth_date"] else None for r in everyone}
    assert matched(HQ, {"all": [cond("birthday_month", "in", [11, 12])]}) == {i for i, m in months.items() if m in (11, 12)}
    assert matched(HQ, {"all": [cond("birthday_month", "eq", today.month)]}) == {i for i, m in months.items()
                                                                                  if m == today.month}


def test_consent_field_follows_the_newest_record(app):
    old, new = now_utc() - timedelta(days=30), now_utc() - timedelta(days=1)
    regranted = make(consents={"sms": [(False, old), (True, new)]})
    withdrawn = make(consents={"sms": [(True, old), (False, new)]})
    email_only = make(consents={"email": True})
    got = matched(HQ, {"all": [cond("consent", "eq", "sms")]})
    assert got == current_granted("sms")
    assert regranted in got and withdrawn not in got and email_only not in got
    assert matched(HQ, {"all": [cond("consent", "ne", "sms")]}) == scope_ids(HQ) - current_granted("sms")
    assert matched(HQ, {"all": [cond("consent", "in", ["sms", "email"])]}) == current_granted("sms") | current_granted("email")


def test_spend_last_purchase_and_categories(app):
    today = today_seoul()
    everyone = rows("id, total_spend, last_purchase_on")
    assert matched(HQ, {"all": [cond("total_spend", "gte", 300_000)]}) == {
        r["id"] for r in everyone if int(r["total_spend"] or 0) >= 300_000}
    since = today - timedelta(days=120)
    assert matched(HQ, {"all": [cond("last_purchase_on", "within_days", 120)]}) == {
        r["id"] for r in everyone if r["last_purchase_on"] and as_date(r["last_purchase_on"]) >= since}
    assert matched(HQ, {"all": [cond("last_purchase_on", "older_than_days", 120)]}) == {
        r["id"] for r in everyone if r["last_purchase_on"] and as_date(r["last_purchase_on"]) < since}
    assert matched(HQ, {"all": [cond("last_purchase_on", "between", ["2025-01-01", "2025-06-30"])]}) == {
        r["id"] for r in everyone if r["last_purchase_on"]
        and date(2025, 1, 1) <= as_date(r["last_purchase_on"]) <= date(2025, 6, 30)}
    assert matched(HQ, {"all": [cond("last_purchase_on", "is_null")]}) == {
        r["id"] for r in everyone if r["last_purchase_on"] is None}
    lines = sql("SELECT s.customer_id, c.code, s.sold_at FROM sale_line s JOIN category c ON c.id = s.category_id")
    bought_90 = {cid for cid, code, sold in lines if code == "beauty" and as_date(sold) >= today - timedelta(days=90)}
    bought_ever = {cid for cid, code, _sold in lines if code == "beauty"}
    assert bought_90 and bought_90 != bought_ever
    value = {"category": "beauty", "days": 90}
    assert matched(HQ, {"all": [cond("bought_category", "eq", value)]}) == bought_90
    assert matched(HQ, {"all": [cond("not_bought_category", "eq", value)]}) == scope_ids(HQ) - bought_90
    assert matched(HQ, {"all": [cond("bought_category", "eq", {"category": "BEAUTY"})]}) == bought_ever


def test_score_fields_outer_join_customer_score(app):
    ids = [r[0] for r in sql("SELECT id FROM customer ORDER BY id LIMIT 6")]
    scores = [("champions", 5, 5, 5, 0.95, 3.2, 420000.0), ("loyal", 4, 4, 3, 0.8, 2.0, 150000.0),
              ("at_risk", 1, 4, 4, 0.2, 0.3, 9000.0), ("lost", 1, 1, 1, 0.05, 0.0, 0.0)]
    for cid, (seg, r, f, m, alive, purchases, value) in zip(ids, scores, strict=False):
        execute("INSERT INTO customer_score (customer_id, as_of, frequency, monetary, r_score, f_score, m_score, rfm_segment,"
            " p_alive, expected_purchases, expected_value, computed_at) VALUES (:c, :d, 1, 1, :r, :f, :m, :s, :a, :p, :v, :t)",
            c=cid, d=date(2026, 11, 1), r=r, f=f, m=m, s=seg, a=alive, p=purchases, v=value, t=now_utc())
    assert matched(HQ, {"all": [cond("rfm_segment", "in", ["champions", "loyal"])]}) == set(ids[:2])
    assert matched(HQ, {"all": [cond("r_score", "eq", 1)]}) == {ids[2], ids[3]}
    assert matched(HQ, {"all": [cond("f_score", "gte", 4)]}) == set(ids[:3])
    assert matched(HQ, {"all": [cond("m_score", "between", [3, 4])]}) == {ids[1], ids[2]}
    assert matched(HQ, {"all": [cond("p_alive", "lt", 0.5)]}) == {ids[2], ids[3]}
    assert matched(HQ, {"all": [cond("expected_purchases", "gt", 1.5)]}) == set(ids[:2])
    assert matched(HQ, {"all": [cond("expected_value", "gte", 100000)]}) == set(ids[:2])
    # Customers without a score row are "empty", and "not in" includes them.
    assert matched(HQ, {"all": [cond("rfm_segment", "is_null")]}) == scope_ids(HQ) - set(ids[:4])
    assert matched(HQ, {"all": [cond("rfm_segment", "not_in", ["champions"])]}) == scope_ids(HQ) - {ids[0]}


def test_nested_all_any_not_equal_set_algebra(app):
    today = today_seoul()
    everyone = rows("id, branch_id, birth_date, total_spend")
    b1, b2 = unit_id("B001"), unit_id("B002")
    sms = current_granted("sms")
    rules = {"all": [
        cond("branch", "in", ["B001", "B002"]),
        {"any": [cond("age", "gte", 50), {"not": cond("consent", "eq", "sms")}]},
        {"not": {"all": [cond("total_spend", "lt", 100_000), cond("branch", "eq", "B002")]}},
    ]}
    expected = set()
    for r in everyone:
        a = age(as_date(r["birth_date"]), today)
        in_branch = r["branch_id"] in (b1, b2)
        any_part = (a is not None and a >= 50) or r["id"] not in sms
        not_part = not (int(r["total_spend"] or 0) < 100_000 and r["branch_id"] == b2)
        if in_branch and any_part and not_part:
            expected.add(r["id"])
    assert expected and matched(HQ, rules) == expected
    # The same rules for store1: only B001's part of it.
    assert matched(STORE1, rules) == expected & scope_ids(STORE1)
    # A lone condition is a rule set too; a top-level "not" works.
    assert matched(HQ, cond("branch", "eq", "B001")) == {r["id"] for r in everyone if r["branch_id"] == b1}
    assert matched(HQ, {"not": cond("branch", "eq", "B001")}) == {r["id"] for r in everyone if r["branch_id"] != b1}


def test_scope_counts_match_independent_sql(app):
    from portal.analytics.segments import count_segment

    rules = {"all": [cond("age", "gte", 40)]}
    today = today_seoul()
    for email in (HQ, STORE1, STORE2, LEADER1):
        ids = scope_ids(email)
        expected = sum(1 for r in rows("id, birth_date")
                       if r["id"] in ids and (a := age(as_date(r["birth_date"]), today)) is not None and a >= 40)
        assert count_segment(user(email), rules) == expected, email
    # A branch filter outside the viewer's scope finds nobody (it does not widen the scope).
    assert count_segment(user(STORE1), {"all": [cond("branch", "eq", "B002")]}) == 0


# -- validation ---------------------------------------------------------------------------------------------


def problems(rules) -> dict[str, str]:
    from portal.analytics.segments import RuleError, validate

    with pytest.raises(RuleError) as info:
        validate(rules)
    return info.value.fields(english=True)


def test_validation_reports_every_problem_with_its_path(app):
    got = problems({"all": [
        cond("age", "gte", 30),
        cond("nope", "eq", 1),
        cond("age", "contains", 3),
        cond("age", "gte", "thirty"),
        {"any": []},
        cond("branch", "in", ["B001", "B999"]),
        cond("last_purchase_on", "between", ["2025-02-30", "2025-01-01"]),
        {"field": "tier", "op": "eq", "value": "x", "extra": 1},
        cond("birthday_month", "eq", 13),
        cond("bought_category", "eq", {"category": "beauty", "days": "ninety"}),
        cond("consent", "eq", "fax"),
        cond("age", "is_null", 3),
    ]})
    assert set(got) == {"all[1].field", "all[2].op", "all[3].value", "all[4].any", "all[5].value", "all[6].value[0]",
                        "all[7]", "all[8].value", "all[9].value.days", "all[10].value", "all[11].value"}
    assert '"nope"' in got["all[1].field"]
    assert "B999" in got["all[5].value"]
    assert "gte" in got["all[2].op"]  # lists the operators the field has


def test_validation_limits_and_shapes(app):
    deep = cond("age", "gte", 1)
    for _ in range(5):
        deep = {"all": [deep]}
    assert "rules" not in problems({"all": [deep]}) and any("deep" in m for m in problems({"all": [deep]}).values())
    too_many = {"all": [cond("age", "gte", i) for i in range(101)]}
    assert "101" in problems(too_many)["rules"]
    for bad in (None, [], "all", {"every": []}, {"all": [], "any": []}, {"all": "x"}, {"not": []}):
        assert problems(bad), bad


def test_numbers_past_64_bits_are_refused_not_a_500(app):
    """A field with no bound of its own (total spend, expected value, an add-on's points) still takes
    no number the driver cannot bind (10^30 was a 500 on the preview, the API and the page)."""
    client = api_client(app, STORE1)
    for rule in (cond("total_spend", "gt", 10**30), cond("total_spend", "lte", 2**63),
                 cond("total_spend", "between", [1, 10**30]), cond("total_spend", "in", [1, -(2**64)]),
                 cond("expected_value", "gte", 10**30), cond("expected_value", "lt", 1e300)):
        resp = api_post(client, f"{API}/segments/preview", {"rules": {"all": [rule]}})
        assert resp.status_code == 422, (rule, resp.status_code)
        assert "Out of range" in json.dumps(resp.get_json()["fields"]), rule
    # The bound itself is accepted.
    resp = api_post(client, f"{API}/segments/preview", {"rules": {"all": [cond("total_spend", "lte", 10**18)]}})
    assert resp.status_code == 200


# -- plugin fields --------------------------------------------------------------------------------------------


class FieldSpy:
    """A test plugin adding a segment field (and one that breaks the contract, to be ignored)."""

    from portal.hookspecs import hookimpl

    @hookimpl
    def portal_segment_fields(self):
        from portal.models import Customer

        return [
            {"name": "spy.vip", "label": "VIP", "type": "bool", "order": 99,
             "condition": lambda op, value: (Customer.tier == "vip") if value else (Customer.tier.is_(None) | (Customer.tier != "vip"))},
            {"name": "spy.code_prefix", "label": "Code prefix", "type": "code", "ops": ["eq"],
             "choices": [("T", "test"), ("C", "demo")],
             "condition": lambda op, value: Customer.code.startswith(value)},
            {"name": "no_namespace", "type": "int", "condition": lambda op, value: None},
            {"name": "spy.broken", "type": "nonsense", "condition": lambda op, value: None},
        ]


@pytest.fixture
def field_spy(app):
    from portal.plugins import registry

    pm = registry(app).pm
    spy = FieldSpy()
    pm.register(spy, name="spy_fields")
    yield spy
    pm.unregister(spy)


def test_plugin_field_is_validated_compiled_and_listed(app, field_spy):
    from portal.analytics.segments import field_catalog, segment_fields

    vip = make(tier="vip")
    assert matched(HQ, {"all": [cond("spy.vip", "eq", True)]}) == {vip}
    assert matched(HQ, {"all": [cond("spy.code_prefix", "eq", "T")]}) == {vip}
    assert "spy.code_prefix" in problems({"all": [cond("spy.code_prefix", "ne", "T")]})["all[0].op"]
    assert "all[0].value" in problems({"all": [cond("spy.vip", "eq", "yes")]})
    assert "all[0].value" in problems({"all": [cond("spy.code_prefix", "eq", "X")]})
    names = set(segment_fields())
    assert {"spy.vip", "spy.code_prefix"} <= names and not {"no_namespace", "spy.broken"} & names
    catalog = {f["name"]: f for f in field_catalog(user(HQ))}
    assert catalog["spy.code_prefix"]["choices"] == [["T", "test"], ["C", "demo"]]
    # Through the API as well.
    client = api_client(app, STORE1)
    resp = api_post(client, f"{API}/segments/preview", {"rules": {"all": [cond("spy.vip", "eq", True)]}})
    assert resp.status_code == 200 and resp.get_json()["included"] == 1


# -- API: preview and saved segments -------------------------------------------------------------------------


def test_api_preview_counts_and_errors(app):
    client = api_client(app, STORE1)
    resp = api_post(client, f"{API}/segments/preview", {"rules": {"all": [cond("age", "gte", 40)]}})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body == {"included": len(matched(STORE1, {"all": [cond("age", "gte", 40)]}))}  # no channel: just the count
    body = api_post(client, f"{API}/segments/preview", {"rules": {"all": [cond("age", "gte", 40)]}, "channel": "sms"}).get_json()
    assert set(body) == {"included", "total", "channel", "excluded", "sample"}
    assert len(body["sample"]) == min(10, body["included"])
    assert all(set(s) == {"id", "code", "name", "contact"} and "*" in s["contact"] for s in body["sample"])
    # Unknown field: 422 naming the field and its path (English).
    resp = api_post(client, f"{API}/segments/preview", {"rules": {"all": [cond("age", "gte", 1), cond("shoe_size", "eq", 42)]}})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "validation_failed" and "all[1].field" in body["message"]
    assert body["fields"] == {"all[1].field": 'Unknown field "shoe_size".'}
    # Mass assignment / unknown keys, bad JSON, bad channel, no rules.
    resp = api_post(client, f"{API}/segments/preview", {"rules": {"all": []}, "limit": 5})
    assert resp.status_code == 422 and resp.get_json()["fields"] == {"limit": "This field cannot be set."}
    resp = client.post(f"{API}/segments/preview", data="{not json", headers={**bearer(client.token), "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_request"
    assert api_post(client, f"{API}/segments/preview", [1, 2]).status_code == 400
    resp = api_post(client, f"{API}/segments/preview", {"rules": {"all": []}, "channel": "fax"})
    assert resp.status_code == 422 and "channel" in resp.get_json()["fields"]
    assert api_post(client, f"{API}/segments/preview", {}).status_code == 422
    # Junk of every kind never makes a 500.
    for junk in ({"rules": {"all": [{"field": ["x"], "op": {}, "value": None}]}}, {"rules": {"all": [cond("age", "in", [1.5])]}},
                 {"rules": {"all": [cond("last_purchase_on", "eq", 20250101)]}}, {"rules": {"not": {"not": {"not": {}}}}},
                 {"rules": {"all": [cond("age", "gte", 10**30)]}}, {"rules": {"all": [cond("total_spend", "gte", 1e309)]}},
                 {"rules": {"all": [cond("tier", "eq", "\u0000")]}}, {"rules": {"all": [cond("tier", "eq", "\ud800")]}},
                 {"rules": {"all": [{"field": "\ud800x", "op": "eq"}]}}):
        assert api_post(client, f"{API}/segments/preview", junk).status_code == 422, junk
    deep = '{"rules": ' + '{"not": ' * 5000 + "{}" + "}" * 5001
    resp = client.post(f"{API}/segments/preview", data=deep, headers={**bearer(client.token), "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_request"


def test_api_permissions(app):
    reviewer = api_client(app, REVIEWER)
    for method, url in (("post", "/segments/preview"), ("get", "/segments"), ("post", "/segments"),
                        ("post", "/extractions"), ("get", "/extractions")):
        resp = api_post(reviewer, API + url, {"rules": {"all": []}}, method) if method == "post" else \
            reviewer.get(API + url, headers=bearer(reviewer.token))
        assert resp.status_code == 403, url
    # A distributor may view customers but not build segments.
    assert api_post(api_client(app, IBO1), f"{API}/segments/preview", {"rules": {"all": []}}).status_code == 403
    assert app.test_client().post(f"{API}/segments/preview", json={"rules": {"all": []}}).status_code == 401


def test_api_saved_segments_crud_ownership_and_audit(app):
    store1, store2, hq = api_client(app, STORE1), api_client(app, STORE2), api_client(app, HQ)
    rules = {"all": [cond("age", "gte", 40)]}
    resp = api_post(store1, f"{API}/segments", {"name": "  40+  ", "description": "mid-life", "rules": rules})
    assert resp.status_code == 201
    seg = resp.get_json()
    assert seg["name"] == "40+" and seg["rules"] == rules and resp.headers["Location"].endswith(f"/segments/{seg['id']}")
    url = f"{API}/segments/{seg['id']}"
    # Mass assignment refused; invalid rules refused with paths; nothing saved.
    resp = api_post(store1, f"{API}/segments", {"name": "x", "rules": rules, "created_by_id": 1})
    assert resp.status_code == 422 and "created_by_id" in resp.get_json()["fields"]
    resp = api_post(store1, f"{API}/segments", {"name": "", "rules": {"all": [cond("age", "gte", "x")]}})
    assert resp.status_code == 422 and set(resp.get_json()["fields"]) == {"name", "all[0].value"}
    assert scalar("SELECT COUNT(*) FROM segment") == 1
    # Owner and HQ see it; another branch gets 404 everywhere.
    assert store1.get(url, headers=bearer(store1.token)).status_code == 200
    assert hq.get(url, headers=bearer(hq.token)).status_code == 200
    assert store2.get(url, headers=bearer(store2.token)).status_code == 404
    assert api_post(store2, url, {"name": "x", "rules": rules}, "put").status_code == 404
    assert store2.delete(url, headers=bearer(store2.token)).status_code == 404
    assert store2.get(f"{API}/segments", headers=bearer(store2.token)).get_json()["items"] == []
    assert [s["id"] for s in hq.get(f"{API}/segments", headers=bearer(hq.token)).get_json()["items"]] == [seg["id"]]
    for junk in ("0", "abc", "99999999999", "-1"):
        assert store1.get(f"{API}/segments/{junk}", headers=bearer(store1.token)).status_code == 404
    # PUT replaces; unknown keys refused.
    resp = api_post(store1, url, {"name": "50+", "rules": {"all": [cond("age", "gte", 50)]}}, "put")
    assert resp.status_code == 200 and resp.get_json()["description"] is None
    assert api_post(store1, url, {"name": "50+", "rules": rules, "id": 7}, "put").status_code == 422
    assert store1.delete(url, headers=bearer(store1.token)).status_code == 204
    assert store1.get(url, headers=bearer(store1.token)).status_code == 404
    actions = [r[0] for r in sql("SELECT action FROM audit_event WHERE object_type = 'segment' ORDER BY id")]
    assert actions == ["segment.created", "segment.updated", "segment.deleted"]


# -- pages -------------------------------------------------------------------------------------------------------


def test_segment_pages_render_and_the_no_js_preview_counts(app):
    client = web_client(app, STORE1)
    resp = client.get("/analytics/segments")
    assert resp.status_code == 200 and "No saved segments yet" in resp.get_data(as_text=True)
    html = client.get("/analytics/segments/new").get_data(as_text=True)
    assert 'id="segment-builder-config"' in html and "segment_builder.js" in html and "<script>" not in html
    config = json.loads(re.search(r'id="segment-builder-config">(.*?)</script>', html, re.S).group(1))
    assert {f["name"] for f in config["fields"]} >= {"branch", "age", "consent", "bought_category", "rfm_segment"}
    rules = {"all": [cond("age", "gte", 40)]}
    expected = len(matched(STORE1, rules))
    resp = client.post("/analytics/segments/new", data={"csrf_token": client.csrf, "name": "40+", "rules": json.dumps(rules),
                                                        "action": "preview", "channel": ""})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert re.search(r'data-testid="preview-included">([\d,]+)<', page).group(1).replace(",", "") == str(expected)
    # With a channel: the breakdown table; with bad rules: the problems with their paths, status 400.
    resp = client.post("/analytics/segments/new", data={"csrf_token": client.csrf, "rules": json.dumps(rules),
                                                        "action": "preview", "channel": "sms"})
    assert 'data-testid="exclusions"' in resp.get_data(as_text=True)
    resp = client.post("/analytics/segments/new", data={"csrf_token": client.csrf, "rules": '{"all": [{"field": "x"}]}',
                                                        "action": "preview"})
    assert resp.status_code == 400 and "all[0].field" in resp.get_data(as_text=True)
    resp = client.post("/analytics/segments/new", data={"csrf_token": client.csrf, "rules": "{oops", "action": "preview"})
    assert resp.status_code == 400 and 'data-testid="rule-errors"' in resp.get_data(as_text=True)
    # Save, list with an on-demand count, edit, delete (CSRF forms, audited).
    resp = client.post("/analytics/segments/new", data={"csrf_token": client.csrf, "name": "40+", "rules": json.dumps(rules),
                                                        "action": "save"})
    assert resp.status_code == 302
    seg_id = scalar("SELECT id FROM segment WHERE name = '40+'")
    listing = client.get(f"/analytics/segments?count={seg_id}").get_data(as_text=True)
    assert re.search(r'data-testid="segment-count">([\d,]+)<', listing).group(1).replace(",", "") == str(expected)
    assert client.get(f"/analytics/segments/{seg_id}").status_code == 200
    assert web_client(app, STORE2).get(f"/analytics/segments/{seg_id}").status_code == 404
    assert client.post(f"/analytics/segments/{seg_id}/delete", data={}).status_code == 400  # no CSRF token
    assert client.post(f"/analytics/segments/{seg_id}/delete", data={"csrf_token": client.csrf}).status_code == 302
    assert scalar("SELECT COUNT(*) FROM segment") == 0


def test_live_preview_endpoint_needs_the_csrf_header(app):
    client = web_client(app, STORE1)
    body = {"rules": {"all": [cond("age", "gte", 40)]}}
    assert client.post("/analytics/segments/preview", json=body).status_code == 400
    resp = client.post("/analytics/segments/preview", json=body, headers={"X-CSRFToken": client.csrf})
    assert resp.status_code == 200 and resp.get_json() == {"included": len(matched(STORE1, body["rules"]))}
    resp = client.post("/analytics/segments/preview", json={"rules": {"all": [cond("x", "eq", 1)]}},
                       headers={"X-CSRFToken": client.csrf})
    assert resp.status_code == 422 and "all[0].field" in resp.get_json()["fields"]
    resp = client.post("/analytics/segments/preview", json={**body, "channel": "sms"}, headers={"X-CSRFToken": client.csrf})
    assert set(resp.get_json()["excluded"]) >= {"no_consent", "opted_out", "recently_contacted"}
    assert client.post("/analytics/segments/preview", data="x", headers={"X-CSRFToken": client.csrf}).status_code == 400


def test_reviewer_and_distributor_get_403_on_pages(app):
    for email in (REVIEWER, IBO1):
        client = web_client(app, email)
        for url in ("/analytics/segments", "/analytics/segments/new", "/analytics/extractions",
                    "/analytics/extractions/new"):
            assert client.get(url).status_code == 403, (email, url)
        assert client.post("/analytics/segments/preview", json={"rules": {"all": []}},
                           headers={"X-CSRFToken": client.csrf}).status_code == 403


# -- the rule builder in a real browser ------------------------------------------------------------------


@pytest.mark.browser
def test_rule_builder_live_count_in_chromium(live_server):
    from pathlib import Path

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import PASSWORD

    with live_server.app.app_context():
        expected = len(matched(STORE1, {"all": [cond("age", "gte", 40)]}))
        from portal.extensions import db

        db.session.remove()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(base_url=live_server.url, locale="ko-KR").new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text else None)
        try:
            page.goto("/login")
            page.fill("input[name=email]", STORE1)
            page.fill("input[name=password]", PASSWORD)
            page.get_by_test_id("login-submit").click()
            page.goto("/analytics/segments/new")
            builder = page.locator("#segment-builder")
            expect(builder).to_be_visible()
            expect(page.get_by_test_id("rules-json")).to_be_hidden()  # folded under the builder
            builder.locator("[data-action=add-condition]").first.click()
            row = builder.locator("li[data-path='all[0]']")
            row.locator("[data-role=field]").select_option("age")
            row.locator("[data-role=op]").select_option("gte")
            row.locator("[data-role=value] input").fill("40")
            expect(page.get_by_test_id("live-count")).to_contain_text(f"{expected:,}", timeout=10_000)
            rules = json.loads(page.get_by_test_id("rules-json").input_value())
            assert rules == {"all": [{"field": "age", "op": "gte", "value": 40}]}
            # A nested group, then a value the server refuses: the message lands on the row.
            builder.locator("[data-action=add-group]").first.click()
            nested = builder.locator("li[data-path='all[1].any[0]']")
            nested.locator("[data-role=field]").select_option("age")
            nested.locator("[data-role=op]").select_option("gte")
            nested.locator("[data-role=value] input").fill("200")
            expect(nested.locator("[data-error-for='all[1].any[0]']")).not_to_be_empty(timeout=10_000)
            # Save through the normal form post.
            page.fill("input[name=name]", "Browser segment")
            nested.locator("[data-role=value] input").fill("45")
            page.get_by_test_id("save-segment").click()
            expect(page).to_have_url(re.compile(r"/analytics/segments$"))
            assert errors == [], errors
        finally:
            browser.close()


def test_only_the_segments_entry_is_highlighted_on_segment_and_extraction_pages(app):
    client = web_client(app, STORE1)
    for path in ("/analytics/segments", "/analytics/segments/new", "/analytics/extractions/new"):
        html = client.get(path).get_data(as_text=True)
        current = re.findall(r'<a href="([^"]+)" class="active" aria-current="page">', html)
        assert current == ["/analytics/segments"], (path, current)
    html = client.get("/analytics/").get_data(as_text=True)
    assert re.findall(r'<a href="([^"]+)" class="active" aria-current="page">', html) == ["/analytics/"]
