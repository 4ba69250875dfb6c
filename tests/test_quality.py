"""Data quality: the data-to-fix queue, duplicate candidates and the audited merge (pages, service, API).

Each test runs on its own clone of the seeded database (``app``), makes the customers it needs
and checks what each role sees and what is stored. Expected sets are computed independently of
the service (plain Python over all customers), never by calling the code under test.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from itertools import combinations

import pytest
from sqlalchemy import event, select

from tests.conftest import api_token_for, bearer, csrf_token, login, scalar, sql

ADMIN, HQ, REVIEWER, STORE1, STORE2, LEADER1, IBO1 = (
    "admin@example.com", "hq@example.com", "reviewer@example.com", "store1@example.com", "store2@example.com",
    "leader1@example.com", "ibo1@example.com")
API = "/api/v1"
_codes = itertools.count(1)


# -- helpers ---------------------------------------------------------------------------------------------


def user(email: str):
    from portal.extensions import db
    from portal.models import User

    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def branch_id(code: str) -> int:
    return scalar("SELECT id FROM org_unit WHERE code = :c", c=code)


def make(branch: str | None = "B001", issues: tuple[str, ...] = (), spend: int = 0, partner: str | None = None,
         **fields) -> int:
    """A customer with the given open issues (reason ``"<field> (test)"``); returns its id."""
    from portal.extensions import db
    from portal.models import Customer, QualityIssue

    c = Customer(code=f"Q{next(_codes):07d}", name=fields.pop("name", "품질테스트"), total_spend=spend,
                 branch_id=branch_id(branch) if branch else None,
                 partner_id=scalar("SELECT id FROM partner WHERE code = :c", c=partner) if partner else None, **fields)
    db.session.add(c)
    db.session.flush()
    for f in issues:
        db.session.add(QualityIssue(customer_id=c.id, field=f, reason=f"{f} (test)"))
    db.session.commit()
    return c.id


def execute(query: str, **params) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(text(query), params)
    db.session.commit()


def add_lines(customer_id: int, amounts: list[int], branch: str = "B001") -> None:
    for i, amount in enumerate(amounts):
        execute("INSERT INTO sale_line (customer_id, branch_id, sold_at, quantity, unit_price, amount, receipt_no) "
            "VALUES (:c, :b, :d, 1, :a, :a, :r)", c=customer_id, b=branch_id(branch), d=date(2025, 3, 1 + i), a=amount,
            r=f"R{customer_id}-{i}")


def open_issues(customer_id: int) -> list[tuple[str, str]]:
    return sorted((r[0], r[1]) for r in sql(
        "SELECT field, reason FROM quality_issue WHERE customer_id = :c AND resolved_at IS NULL", c=customer_id))


def client_for(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    client.csrf = csrf_token(client, "/dashboard")
    return client


def post(client, url: str, data: dict):
    return client.post(url, data={**data, "csrf_token": client.csrf})


def flashes(html: str) -> list[str]:
    import html as h

    return [h.unescape(m) for m in re.findall(r'<div class="flash flash-\w+" role="status">([^<]*)</div>', html)]


def row_codes(html: str, testid: str = "queue-row") -> list[str]:
    return re.findall(rf'data-testid="{testid}" data-customer="([^"]+)"', html)


class Spy:
    """A tiny plugin registered on the app's plugin manager, recording (and checking) the merge hook."""

    def __init__(self, fail: bool = False, block: bool = False):
        self.calls: list[tuple[int, int, int, int]] = []
        self.fail, self.block = fail, block

    from portal.hookspecs import hookimpl

    @hookimpl
    def portal_customers_merged(self, survivor, merged_id):
        # Inside the transaction: the core has moved its rows, the duplicate still exists.
        dup_rows = scalar_in_tx("SELECT COUNT(*) FROM customer WHERE id = :i", i=merged_id)
        dup_lines = scalar_in_tx("SELECT COUNT(*) FROM sale_line WHERE customer_id = :i", i=merged_id)
        self.calls.append((survivor.id, merged_id, dup_rows, dup_lines))
        if self.fail:
            raise RuntimeError("plugin failed")
        if self.block:  # an add-on row left pointing at the duplicate (here: a sale line)
            from sqlalchemy import text

            from portal.extensions import db

            db.session.execute(text("INSERT INTO sale_line (customer_id, sold_at, quantity, unit_price, amount) "
                                    "VALUES (:c, :d, 1, 1, 1)"), {"c": merged_id, "d": date(2025, 1, 1)})


def scalar_in_tx(query: str, **params):
    """Like ``scalar`` but without committing (for use inside a hook)."""
    from sqlalchemy import text

    from portal.extensions import db

    return db.session.execute(text(query), params).scalar()


@pytest.fixture
def spy(app):
    from portal.plugins import registry

    pm = registry(app).pm
    created = []

    def _register(fail: bool = False, block: bool = False) -> Spy:
        s = Spy(fail, block)
        pm.register(s, name=f"test_spy_{len(created)}")
        created.append(s)
        return s

    yield _register
    for s in created:
        pm.unregister(s)


# -- the data-to-fix queue ----------------------------------------------------------------------------------


def test_queue_is_sorted_by_value_and_scoped(app):
    from portal.quality.service import QueueFilters, fix_queue

    top1 = make("B001", ("phone",), spend=9_000_000_000)
    top2 = make("B001", ("email", "address"), spend=8_000_000_000)
    tie = make("B001", ("postal_code",), spend=8_000_000_000)
    other = make("B002", ("phone",), spend=9_500_000_000)
    make("B001", (), spend=9_900_000_000)  # valuable but nothing to fix: not in the queue
    with app.test_request_context():
        q1 = fix_queue(user(STORE1), QueueFilters(), 1, 50)
        ids = [r.id for r in q1.page.items]
        assert ids[:3] == [top1, tie, top2]  # value desc, then newest first
        assert other not in ids
        b001 = branch_id("B001")
        # Every row of store1's queue (all pages) is a B001 customer with an open issue, and none is missing.
        expected = {r[0] for r in sql(
            "SELECT DISTINCT c.id FROM customer c JOIN quality_issue q ON q.customer_id = c.id "
            "WHERE q.resolved_at IS NULL AND c.branch_id = :b", b=b001)}
        seen = set()
        page_no = 1
        while True:
            q = fix_queue(user(STORE1), QueueFilters(), page_no, 50)
            seen |= {r.id for r in q.page.items}
            spends = [r.total_spend for r in q.page.items]
            assert spends == sorted(spends, reverse=True)
            if not q.page.has_next:
                break
            page_no += 1
        assert seen == expected
        assert q1.page.total == len(expected)
        # The issues of each row come with it; counts per field match SQL.
        assert sorted(i.field for i in q1.issues[top2]) == ["address", "email"]
        counts = dict(sql("SELECT q.field, COUNT(DISTINCT c.id) FROM customer c JOIN quality_issue q "
                          "ON q.customer_id = c.id WHERE q.resolved_at IS NULL AND c.branch_id = :b GROUP BY q.field",
                          b=b001))
        assert q1.counts == counts
        hq = fix_queue(user(HQ), QueueFilters(), 1, 50)
        assert [r.id for r in hq.page.items][:2] == [other, top1]
        # Filters: field and branch (a branch outside the scope gives nothing, not an error).
        by_field = fix_queue(user(STORE1), QueueFilters(field="email"), 1, 200)
        assert top2 in [r.id for r in by_field.page.items] and top1 not in [r.id for r in by_field.page.items]
        assert fix_queue(user(STORE1), QueueFilters(branch="B002"), 1, 50).page.items == []
        assert fix_queue(user(HQ), QueueFilters(branch="B002"), 1, 50).page.items[0].id == other


def test_queue_loads_a_pages_issues_in_one_query(app):
    """No N+1: the number of statements does not grow with the page size."""
    from portal.extensions import db
    from portal.quality.service import QueueFilters, fix_queue

    for i in range(12):
        make("B001", ("phone", "email"), spend=1_000 + i)
    statements = []

    def count(*_args, **_kw):
        statements.append(1)

    with app.test_request_context():
        u = user(STORE1)
        _ = u.role_names, [lr.org_unit for lr in u.local_roles]  # load the user's roles first
        fix_queue(u, QueueFilters(), 1, 1)  # warm the role map
        sizes = {}
        for per_page in (2, 10):
            statements.clear()
            event.listen(db.engine, "before_cursor_execute", count)
            try:
                q = fix_queue(u, QueueFilters(), 1, per_page)
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            assert len(q.page.items) == per_page
            sizes[per_page] = len(statements)
        assert sizes[2] == sizes[10] <= 6


def test_queue_page_scope_filters_and_access_log(app):
    make("B001", ("phone",), spend=7_000_000_000, name="큐고객일")
    b2 = make("B002", ("phone",), spend=7_500_000_000, name="큐고객이")
    store1 = client_for(app, STORE1)
    before = scalar("SELECT COUNT(*) FROM access_log WHERE detail LIKE 'quality.fix%'")
    html = store1.get("/quality/fix").get_data(as_text=True)
    assert "큐고객일" in html and "큐고객이" not in html
    codes = row_codes(html)
    assert codes and all(c for c in codes)
    assert scalar("SELECT COUNT(*) FROM access_log WHERE detail LIKE 'quality.fix%'") == before + 1
    # The branch filter offers only branches in scope; another branch's code shows nothing.
    assert 'value="B002"' not in html
    assert "큐고객이" not in store1.get("/quality/fix?branch=B002").get_data(as_text=True)
    empty = store1.get("/quality/fix?branch=B002").get_data(as_text=True)
    assert 'class="empty"' in empty and 'data-testid="queue-row"' not in empty
    # An unknown field filter is ignored, a junk page number falls back, never a 500.
    assert store1.get("/quality/fix?field=nonsense&page=abc").status_code == 200
    # HQ sees the other branch's customer, first (more valuable).
    hq = client_for(app, HQ)
    assert row_codes(hq.get("/quality/fix").get_data(as_text=True))[0] == scalar(
        "SELECT code FROM customer WHERE id = :i", i=b2)
    # Roles without customer.edit get 403; a distributor sees only their line's customers.
    assert client_for(app, REVIEWER).get("/quality/fix").status_code == 403
    ibo = client_for(app, IBO1)
    ibo_html = ibo.get("/quality/fix?per_page=200").get_data(as_text=True)
    assert "큐고객일" not in ibo_html
    in_scope = {r[0] for r in sql(
        "WITH RECURSIVE line(id) AS (SELECT id FROM partner WHERE code = 'G01-0002' "
        "UNION ALL SELECT p.id FROM partner p JOIN line ON p.sponsor_id = line.id) "
        "SELECT code FROM customer WHERE partner_id IN (SELECT id FROM line)")}
    assert set(row_codes(ibo_html)) <= in_scope


def test_quick_fix_resolves_the_issue_and_the_customer_leaves_the_queue(app):
    cid = make("B001", ("phone",), spend=6_000_000_000, email="fixme@example.com", address="서울시 강남구 1",
               postal_code="06236")
    code = scalar("SELECT code FROM customer WHERE id = :i", i=cid)
    store1 = client_for(app, STORE1)
    assert code in row_codes(store1.get("/quality/fix?field=phone").get_data(as_text=True))
    resp = post(store1, f"/quality/fix/{cid}?field=phone&page=1",
                {"phone": "010-2345-6789", "email": "fixme@example.com", "address": "서울시 강남구 1", "postal_code": "06236"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/quality/fix?field=phone")  # back to the same filters
    assert scalar("SELECT phone FROM customer WHERE id = :i", i=cid) == "01023456789"
    assert open_issues(cid) == []
    html = store1.get(resp.headers["Location"]).get_data(as_text=True)
    assert any(code in f for f in flashes(html))
    assert code not in row_codes(html)
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'customer.updated' AND object_id = :i",
                  i=str(cid)) == 1
    # Keeping the page: a fix on page 2 returns to page 2.
    cid2 = make("B001", ("email",), spend=5)
    resp = post(store1, f"/quality/fix/{cid2}?page=2&per_page=5", {"email": "ok@example.com"})
    assert "page=2" in resp.headers["Location"] and "per_page=5" in resp.headers["Location"]
    assert open_issues(cid2) == []
    assert scalar("SELECT email FROM customer WHERE id = :i", i=cid2) == "ok@example.com"


def test_quick_fix_with_a_bad_phone_shows_the_message_and_changes_nothing(app):
    cid = make("B001", ("phone",), spend=6_000_000_000, email="keep@example.com")
    store1 = client_for(app, STORE1)
    events = scalar("SELECT COUNT(*) FROM audit_event")
    resp = post(store1, f"/quality/fix/{cid}", {"phone": "12345", "email": "changed@example.com"})
    assert resp.status_code == 302
    html = store1.get(resp.headers["Location"]).get_data(as_text=True)
    assert any("010-1234-5678" in f for f in flashes(html)), flashes(html)  # the phone format hint
    assert scalar("SELECT phone FROM customer WHERE id = :i", i=cid) is None
    assert scalar("SELECT email FROM customer WHERE id = :i", i=cid) == "keep@example.com"  # no partial write
    assert open_issues(cid) == [("phone", "phone (test)")]
    assert scalar("SELECT COUNT(*) FROM audit_event") == events


def test_quick_fix_is_scoped_and_needs_csrf(app):
    other = make("B002", ("phone",))
    store1 = client_for(app, STORE1)
    assert post(store1, f"/quality/fix/{other}", {"phone": "010-2345-6789"}).status_code == 404
    assert post(store1, "/quality/fix/99999999999", {"phone": "010-2345-6789"}).status_code == 404
    assert scalar("SELECT phone FROM customer WHERE id = :i", i=other) is None
    mine = make("B001", ("phone",))
    resp = store1.post(f"/quality/fix/{mine}", data={"phone": "010-2345-6789"})  # no CSRF token
    assert resp.status_code in (302, 400)
    assert scalar("SELECT phone FROM customer WHERE id = :i", i=mine) is None
    assert client_for(app, REVIEWER).post(f"/quality/fix/{mine}", data={}).status_code in (400, 403)


# -- duplicate candidates ---------------------------------------------------------------------------------


def expected_pairs(branch_code: str | None) -> dict[tuple[int, int], set[str]]:
    """Candidate pairs computed in plain Python over every customer (the service's rule, written again)."""
    from portal.quality.service import MAX_GROUP

    rows = sql("SELECT id, phone, email, name, birth_date, branch_id FROM customer WHERE pseudonymized_at IS NULL")
    if branch_code:
        b = branch_id(branch_code)
        rows = [r for r in rows if r.branch_id == b]
    pairs: dict[tuple[int, int], set[str]] = {}
    for reason, key in (("phone", lambda r: r.phone), ("email", lambda r: r.email),
                        ("name_birth", lambda r: (r.name, r.birth_date) if r.birth_date else None)):
        groups: dict = {}
        for r in rows:
            k = key(r)
            if k is not None:
                groups.setdefault(k, []).append(r.id)
        for ids in groups.values():
            if 2 <= len(ids) <= MAX_GROUP:
                for a, b in combinations(sorted(ids), 2):
                    pairs.setdefault((a, b), set()).add(reason)
    return pairs


def all_candidates(u) -> dict[tuple[int, int], set[str]]:
    from portal.quality.service import duplicate_candidates

    out, page_no = {}, 1
    while True:
        page = duplicate_candidates(u, page_no, 7)
        for c in page.items:
            assert c.a.id < c.b.id
            out[(c.a.id, c.b.id)] = set(c.reasons)
        if not page.has_next:
            return out
        page_no += 1


def test_duplicate_candidates_by_phone_email_and_name_birth_are_scoped(app):
    bd = date(1980, 5, 17)
    p1, p2 = make(phone="01077770001"), make(phone="01077770001")
    e1, e2 = make(email="twin@example.com"), make(email="twin@example.com")
    n1, n2 = make(name="김중복", birth_date=bd), make(name="김중복", birth_date=bd)
    make(name="김중복", birth_date=date(1981, 5, 17))  # same name, other birth date: not a candidate
    both1, both2 = make(phone="01077770002", email="both@example.com"), make(phone="01077770002", email="both@example.com")
    x1, x2 = make("B001", phone="01077770003"), make("B002", phone="01077770003")  # across branches
    crowd = [make(phone="01000000000") for _ in range(11)]  # a placeholder number
    with app.test_request_context():
        store1 = all_candidates(user(STORE1))
        assert store1 == expected_pairs("B001")
        assert store1[(p1, p2)] == {"phone"} and store1[(e1, e2)] == {"email"} and store1[(n1, n2)] == {"name_birth"}
        assert store1[(both1, both2)] == {"phone", "email"}
        assert (x1, x2) not in store1
        assert not any(a in crowd for a, _b in store1)
        hq = all_candidates(user(HQ))
        assert hq == expected_pairs(None)
        assert hq[(x1, x2)] == {"phone"}
        # Pairs sharing more keys come first.
        from portal.quality.service import duplicate_candidates

        page = duplicate_candidates(user(STORE1), 1, 1)
        assert len(page.items[0].reasons) == max(len(r) for r in store1.values())
        crowded = page.crowded
        assert [(k.reason, k.value, k.count) for k in crowded if k.value == "01000000000"] == [("phone", "01000000000", 11)]


def test_duplicates_page_and_roles(app):
    a, b = make(phone="01077770011", name="페이지중복"), make(phone="01077770011", name="페이지중복")
    store1 = client_for(app, STORE1)
    html = store1.get("/quality/duplicates").get_data(as_text=True)
    codes = [scalar("SELECT code FROM customer WHERE id = :i", i=i) for i in (a, b)]
    assert f'data-pair="{codes[0]}-{codes[1]}"' in html
    assert f"/quality/merge/{a}/{b}" in html
    assert scalar("SELECT COUNT(*) FROM access_log WHERE detail LIKE 'quality.duplicates%'") == 1
    store2 = client_for(app, STORE2)
    assert f'data-pair="{codes[0]}-{codes[1]}"' not in store2.get("/quality/duplicates").get_data(as_text=True)
    for email in (LEADER1, IBO1, REVIEWER):  # no customer.merge
        assert client_for(app, email).get("/quality/duplicates").status_code == 403
    assert store1.get("/quality/duplicates?page=999").status_code in (200, 302)


# -- merge -------------------------------------------------------------------------------------------------


def test_merge_moves_rows_fills_fields_aliases_audits_and_fires_the_hook(app, spy):
    from portal.extensions import db
    from portal.models import CustomerAlias, Household

    hh = Household(name="중복씨 가족")
    db.session.add(hh)
    db.session.commit()
    survivor = make("B001", ("email", "address"), phone="01077770021", name="병합고객")
    dup = make("B001", ("phone", "name"), email="merge@example.com", address="서울시 중구 1", postal_code="04524",
               birth_date=date(1977, 7, 7), household_id=hh.id, complaint=True, complaint_note="배송 지연",
               note="dup note", name="병합고객")
    add_lines(survivor, [10_000])
    add_lines(dup, [20_000, 30_000])
    execute("INSERT INTO consent (customer_id, channel, purpose, granted, method, recorded_at) "
        "VALUES (:c, 'sms', 'marketing', true, 'store', :t)", c=dup, t="2025-01-01 00:00:00")
    old_alias = "QOLD0001"
    db.session.add(CustomerAlias(code=old_alias, customer_id=dup))
    db.session.commit()
    dup_code = scalar("SELECT code FROM customer WHERE id = :i", i=dup)
    hook = spy()

    store1 = client_for(app, STORE1)
    page = store1.get(f"/quality/merge/{survivor}/{dup}")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count('data-testid="merge-side"') == 2
    # Showing both records side by side is a view of personal data: one access-log row each.
    assert sorted(r[0] for r in sql("SELECT object_id FROM access_log WHERE detail = 'quality.merge'")) == sorted(
        [str(survivor), str(dup)])
    # Without the confirmation box nothing happens.
    resp = post(store1, f"/quality/merge/{survivor}/{dup}", {"survivor": str(survivor)})
    assert resp.status_code == 400 and scalar("SELECT COUNT(*) FROM customer WHERE id = :i", i=dup) == 1
    resp = post(store1, f"/quality/merge/{survivor}/{dup}", {"survivor": str(survivor), "confirm": "y"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/customers/{survivor}")

    assert scalar("SELECT COUNT(*) FROM customer WHERE id = :i", i=dup) == 0
    assert scalar("SELECT COUNT(*) FROM sale_line WHERE customer_id = :i", i=survivor) == 3
    assert scalar("SELECT COUNT(*) FROM consent WHERE customer_id = :i", i=survivor) == 1
    row = sql("SELECT phone, email, address, postal_code, birth_date, household_id, complaint, complaint_note, note, "
              "total_spend, last_purchase_on, name FROM customer WHERE id = :i", i=survivor)[0]
    assert (row.phone, row.email, row.address, row.postal_code) == ("01077770021", "merge@example.com", "서울시 중구 1", "04524")
    assert str(row.birth_date) == "1977-07-07" and row.household_id == hh.id
    assert bool(row.complaint) and row.complaint_note == "배송 지연" and row.note == "dup note"
    assert row.total_spend == 60_000 and str(row.last_purchase_on) == "2025-03-02"
    # Issues: the survivor's email/address issues are resolved (filled), the duplicate's phone and
    # name issues concerned values that were dropped: resolved too. All moved, history kept.
    assert open_issues(survivor) == []
    assert scalar("SELECT COUNT(*) FROM quality_issue WHERE customer_id = :i", i=survivor) == 4
    # Aliases: the duplicate's code and the alias that pointed at it both lead to the survivor.
    assert dict(sql("SELECT code, customer_id FROM customer_alias WHERE code IN (:a, :b)", a=dup_code, b=old_alias)) == {
        dup_code: survivor, old_alias: survivor}
    # Audit: one event on the survivor with the duplicate's snapshot and the fills, one under the duplicate's id.
    import json

    ev = sql("SELECT summary, changes, actor_label FROM audit_event WHERE action = 'customer.merged' AND object_id = :i",
             i=str(survivor))
    assert len(ev) == 1
    changes = ev[0].changes if isinstance(ev[0].changes, dict) else json.loads(ev[0].changes)
    assert changes["merged.code"][0] == dup_code and changes["merged.email"][0] == "merge@example.com"
    assert changes["email"] == [None, "merge@example.com"] and changes["moved.sale_lines"] == [None, 2]
    assert ev[0].actor_label == STORE1 and dup_code in ev[0].summary
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'customer.merged_away' AND object_id = :i",
                  i=str(dup)) == 1
    # The hook ran once, after the core moved its rows and before the duplicate was deleted.
    assert hook.calls == [(survivor, dup, 1, 0)]
    html = store1.get(resp.headers["Location"]).get_data(as_text=True)
    assert any(dup_code in f for f in flashes(html))


def test_merge_keeps_the_survivors_values_and_its_household(app):
    from portal.extensions import db
    from portal.models import Household

    h1, h2 = Household(name="가"), Household(name="나")
    db.session.add_all([h1, h2])
    db.session.commit()
    s = make("B001", ("postal_code",), phone="01077770031", email="keep@example.com", address="서울 A",
             household_id=h1.id)
    d = make("B002", ("phone",), email="other@example.com", address="서울 A", postal_code="12345", household_id=h2.id)
    from portal.quality.service import merge_customers

    with app.test_request_context():
        from portal.models import Customer

        result = merge_customers(user(HQ), db.session.get(Customer, s), db.session.get(Customer, d))
        db.session.commit()
    assert result.moved["quality_issues"] == 1
    row = sql("SELECT email, address, postal_code, household_id, branch_id FROM customer WHERE id = :i", i=s)[0]
    assert (row.email, row.address, row.postal_code, row.household_id) == ("keep@example.com", "서울 A", "12345", h1.id)
    assert row.branch_id == branch_id("B001")
    assert open_issues(s) == []  # the postal code came with the same address; the phone issue concerned a dropped value


def test_a_survivor_that_takes_the_duplicates_household_fires_the_household_event(app):
    """Add-ons (loyalty's family card) hear of every household change, a merge's included."""
    from portal.extensions import db
    from portal.models import Customer, Household
    from portal.plugins_lifecycle import install
    from portal.quality.service import merge_customers
    from tests.sample_plugin import hooks as sample_hooks

    install("sample")
    household = Household(name="다")
    db.session.add(household)
    db.session.commit()
    s = make("B001", phone="01077770051")
    d = make("B001", phone="01077770052", household_id=household.id)
    sample_hooks.CALLS.clear()
    with app.test_request_context():
        merge_customers(user(HQ), db.session.get(Customer, s), db.session.get(Customer, d))
        db.session.commit()
    assert ("household_changed", (s, None, household.id)) in sample_hooks.CALLS


def test_merge_refusals_change_nothing(app, spy):
    from portal.extensions import db
    from portal.models import Customer
    from portal.quality.service import merge_customers

    mine, other = make("B001", phone="01077770041"), make("B002", phone="01077770041")
    mine2 = make("B001", phone="01077770042")
    add_lines(mine2, [5_000])
    store1 = client_for(app, STORE1)
    # Out of scope: 404 on the page and on the POST, whichever side.
    for url in (f"/quality/merge/{mine}/{other}", f"/quality/merge/{other}/{mine}"):
        assert store1.get(url).status_code == 404
        assert post(store1, url, {"survivor": str(mine), "confirm": "y"}).status_code == 404
    # The same customer twice: refused with a message.
    resp = post(store1, f"/quality/merge/{mine}/{mine}", {"survivor": str(mine), "confirm": "y"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/quality/duplicates")
    # A survivor value that is neither of the two: refused by the form.
    assert post(store1, f"/quality/merge/{mine}/{mine2}", {"survivor": str(other), "confirm": "y"}).status_code == 400
    # Roles without customer.merge.
    assert client_for(app, LEADER1).get(f"/quality/merge/{mine}/{mine2}").status_code == 403
    assert scalar("SELECT COUNT(*) FROM customer WHERE id IN (:a, :b, :c)", a=mine, b=other, c=mine2) == 3
    with app.test_request_context():
        from portal.customers.service import CustomerError

        with pytest.raises(CustomerError):
            merge_customers(user(STORE1), db.session.get(Customer, mine), db.session.get(Customer, mine))
        with pytest.raises(CustomerError):
            merge_customers(user(STORE1), db.session.get(Customer, mine), db.session.get(Customer, other))
        # An erased customer is never merged (it would re-link their history to a named person).
        db.session.get(Customer, mine2).pseudonymized_at = date(2025, 1, 1)
        db.session.flush()
        with pytest.raises(CustomerError):
            merge_customers(user(HQ), db.session.get(Customer, mine), db.session.get(Customer, mine2))
        db.session.rollback()
    # A failure half-way (a plugin's hook raising) rolls the whole merge back.
    spy(fail=True)
    lines_before = sql("SELECT id, customer_id FROM sale_line WHERE customer_id IN (:a, :b) ORDER BY id", a=mine, b=mine2)
    with app.test_request_context():
        with pytest.raises(RuntimeError):
            merge_customers(user(STORE1), db.session.get(Customer, mine), db.session.get(Customer, mine2))
        db.session.commit()  # even a caller that commits afterwards writes nothing of the merge
    assert sql("SELECT id, customer_id FROM sale_line WHERE customer_id IN (:a, :b) ORDER BY id",
               a=mine, b=mine2) == lines_before
    assert scalar("SELECT COUNT(*) FROM customer WHERE id = :i", i=mine2) == 1
    assert scalar("SELECT COUNT(*) FROM customer_alias WHERE customer_id = :i", i=mine) == 0
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'customer.merged'") == 0


# -- API ------------------------------------------------------------------------------------------------------


def test_api_queue(app):
    top = make("B001", ("phone",), spend=9_000_000_000, name="API큐")
    make("B002", ("phone",), spend=9_500_000_000)
    for i in range(4):
        make("B001", ("address",), spend=i)
    api = app.test_client()
    assert api.get(f"{API}/quality/queue").status_code == 401
    assert api.get(f"{API}/quality/queue", headers=bearer(api_token_for(REVIEWER))).status_code == 403
    tok = api_token_for(STORE1)
    body = api.get(f"{API}/quality/queue?per_page=2", headers=bearer(tok)).get_json()
    assert body["items"][0]["id"] == top and body["items"][0]["issues"][0]["field"] == "phone"
    assert body["items"][0]["total_spend"] == 9_000_000_000
    assert all(i["branch_code"] == "B001" for i in body["items"])
    assert body["counts"]["phone"] >= 1 and "next" in body and "per_page=2" in body["next"]
    second = api.get(body["next"], headers=bearer(tok)).get_json()
    assert not {i["id"] for i in second["items"]} & {i["id"] for i in body["items"]}
    for bad in ("field=nonsense", "per_page=0", "page=abc"):
        resp = api.get(f"{API}/quality/queue?{bad}", headers=bearer(tok))
        assert resp.status_code == 400 and resp.get_json()["error"] == "bad_request"
    assert api.get(f"{API}/quality/queue?field=email&branch=B002", headers=bearer(tok)).get_json()["items"] == []
    assert scalar("SELECT COUNT(*) FROM access_log WHERE action = 'api_list' AND detail LIKE 'quality.queue%'") == 3


def test_api_duplicates(app):
    a, b = make(phone="01077770051"), make(phone="01077770051")
    api = app.test_client()
    body = api.get(f"{API}/quality/duplicates?per_page=200", headers=bearer(api_token_for(STORE1))).get_json()
    pairs = {(i["a"]["id"], i["b"]["id"]): i["reasons"] for i in body["items"]}
    assert pairs[(a, b)] == ["phone"]
    assert body["total"] == len(expected_pairs("B001"))
    assert api.get(f"{API}/quality/duplicates", headers=bearer(api_token_for(LEADER1))).status_code == 403
    assert api.get(f"{API}/quality/duplicates?page=0", headers=bearer(api_token_for(STORE1))).status_code == 400


def test_api_merge(app):
    s, d = make("B001", ("email",), phone="01077770061"), make("B001", email="api@example.com")
    add_lines(d, [7_000])
    other = make("B002")
    api = app.test_client()
    tok = api_token_for(STORE1)
    url = f"{API}/customers/{s}/merge"
    assert api.post(url, json={"duplicate_id": d}).status_code == 401
    assert api.post(url, json={"duplicate_id": d}, headers=bearer(api_token_for(LEADER1))).status_code == 403
    assert api.post(url, data="x", headers=bearer(tok)).status_code == 400
    for bad in ({}, {"duplicate_id": "12"}, {"duplicate_id": True}, {"duplicate_id": -1}, {"duplicate_id": s},
                {"duplicate_id": d, "survivor": 1}):
        resp = api.post(url, json=bad, headers=bearer(tok))
        assert resp.status_code == 422, bad
        assert resp.get_json()["error"] == "validation_failed"
    # Out of scope, either side, or missing: 404, the same answer.
    assert api.post(url, json={"duplicate_id": other}, headers=bearer(tok)).status_code == 404
    assert api.post(f"{API}/customers/{other}/merge", json={"duplicate_id": s}, headers=bearer(tok)).status_code == 404
    assert api.post(url, json={"duplicate_id": 2**40}, headers=bearer(tok)).status_code == 404
    assert scalar("SELECT COUNT(*) FROM customer WHERE id = :i", i=d) == 1
    resp = api.post(url, json={"duplicate_id": d}, headers=bearer(tok))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["id"] == s and body["email"] == "api@example.com"
    # The email issue is resolved by the fill; the re-run checks flag what neither record had.
    assert sorted(q["field"] for q in body["quality_issues"]) == ["address", "postal_code"]
    assert scalar("SELECT COUNT(*) FROM customer WHERE id = :i", i=d) == 0
    assert scalar("SELECT total_spend FROM customer WHERE id = :i", i=s) == 7_000
    assert api.post(url, json={"duplicate_id": d}, headers=bearer(tok)).status_code == 404  # already merged


def test_merge_blocked_by_a_row_left_on_the_duplicate_is_refused_and_changes_nothing(app, spy):
    s, d = make("B001", phone="01077770071"), make("B001", phone="01077770071", email="blocked@example.com")
    add_lines(d, [1_000])
    spy(block=True)
    store1 = client_for(app, STORE1)
    resp = post(store1, f"/quality/merge/{s}/{d}", {"survivor": str(s), "confirm": "y"})
    assert resp.status_code == 400
    dup_code = scalar("SELECT code FROM customer WHERE id = :i", i=d)
    assert any(dup_code in f for f in flashes(resp.get_data(as_text=True)))  # the refusal names the record
    assert scalar("SELECT COUNT(*) FROM customer WHERE id = :i", i=d) == 1
    assert scalar("SELECT COUNT(*) FROM sale_line WHERE customer_id = :i", i=d) == 1
    assert scalar("SELECT email FROM customer WHERE id = :i", i=s) is None
    assert scalar("SELECT COUNT(*) FROM customer_alias WHERE customer_id = :i", i=s) == 0
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action LIKE 'customer.merged%'") == 0
    # Through the API the same refusal is a 422 with the reason.
    resp = app.test_client().post(f"{API}/customers/{s}/merge", json={"duplicate_id": d},
                                  headers=bearer(api_token_for(STORE1)))
    assert resp.status_code == 422 and "duplicate_id" in resp.get_json()["fields"]
    assert scalar("SELECT COUNT(*) FROM customer WHERE id = :i", i=d) == 1


def test_erased_customers_are_not_in_the_queue_nor_merged(app):
    from portal.extensions import db
    from portal.models import Customer
    from portal.quality.service import QueueFilters, fix_queue

    erased = make("B001", ("phone",), spend=9_900_000_000)
    with app.test_request_context():
        db.session.get(Customer, erased).pseudonymized_at = date(2025, 1, 1)
        db.session.commit()
        assert erased not in [r.id for r in fix_queue(user(STORE1), QueueFilters(), 1, 50).page.items]
    other = make("B001")
    resp = app.test_client().post(f"{API}/customers/{other}/merge", json={"duplicate_id": erased},
                                  headers=bearer(api_token_for(STORE1)))
    assert resp.status_code == 422
    assert scalar("SELECT COUNT(*) FROM customer WHERE id = :i", i=erased) == 1
