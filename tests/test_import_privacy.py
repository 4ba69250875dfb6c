"""What a daily-report import may link, show and write (issue 13, items 2, 3 and 17).

* A report links a sale to a customer owned elsewhere (HQ's single customer view), but the
  uploader never sees who that customer is — not in the import result, the sale-line page,
  its export or the API — and the report writes nothing onto them: the contact data it brings
  goes to the owner's data-to-fix queue as an offer.
* Nothing re-identifies an erased (pseudonymized) customer.
* A contact problem (an impossible birth date, a mistyped phone) never refuses the sale: the
  customer is flagged for fixing instead.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from portal.sales.lines import EXPORT_COLUMNS
from tests.conftest import api_token_for, bearer, login, post_form, scalar, sql
from tests.test_sales_import import DAY, DAY2, csv_bytes, execute, row, run_import

STORE1 = "store1@example.com"
OFFERED_EMAIL = "uploader.typed.this@example.org"
OFFERED_ADDRESS = "부산시 해운대구 센텀로 99"


def _foreign_customer():
    """A customer outside store1's scope (not owned by B001) with a phone no one else has,
    whose e-mail, address and birth date are made empty — the fields a report could fill."""
    c = sql("SELECT c.id, c.code, c.name, c.phone FROM customer c JOIN org_unit o ON o.id = c.branch_id "
            "WHERE o.code <> 'B001' AND c.phone IS NOT NULL AND c.pseudonymized_at IS NULL "
            "AND (SELECT COUNT(*) FROM customer d WHERE d.phone = c.phone) = 1 ORDER BY c.id LIMIT 1")[0]
    execute("UPDATE customer SET email = NULL, address = NULL, postal_code = NULL, birth_date = NULL WHERE id = :i",
            i=c.id)
    return c


def _dashed(phone: str) -> str:
    return f"{phone[:3]}-{phone[3:-4]}-{phone[-4:]}"


def test_a_foreign_customer_is_linked_but_never_shown_nor_written(app):
    c = _foreign_customer()
    result = run_import(csv_bytes([row(phone=_dashed(c.phone), email=OFFERED_EMAIL, address=OFFERED_ADDRESS,
                                       birth="1985-03-14", price=12345, receipt="LEAK-1")]), user_email=STORE1)
    assert result.status == "committed", result.errors or result.message
    # HQ's single customer view: the sale belongs to that customer.
    assert scalar("SELECT customer_id FROM sale_line WHERE report_id = :r", r=result.report_id) == c.id
    assert (result.customers_created, result.customers_matched, result.customers_elsewhere) == (0, 1, 1)
    # The import result names no one.
    answer = json.dumps(result.as_json(), ensure_ascii=False)
    assert c.code not in answer and c.name not in answer
    # Nothing was written onto the customer …
    got = sql("SELECT email, address, postal_code, birth_date FROM customer WHERE id = :i", i=c.id)[0]
    assert tuple(got) == (None, None, None, None)
    # … it is offered to the owner's data-to-fix queue instead, once however often it is sent.
    offers = dict(sql("SELECT field, reason FROM quality_issue WHERE customer_id = :i AND resolved_at IS NULL "
                      "AND reason LIKE '%B001%'", i=c.id))
    assert OFFERED_EMAIL in offers["email"] and OFFERED_ADDRESS in offers["address"]
    assert "1985-03-14" in offers["birth_date"]
    again = run_import(csv_bytes([row(phone=_dashed(c.phone), email=OFFERED_EMAIL, receipt="LEAK-2",
                                      day=DAY2)]), user_email=STORE1)
    assert again.status == "committed"
    assert scalar("SELECT COUNT(*) FROM quality_issue WHERE customer_id = :i AND field = 'email' "
                  "AND resolved_at IS NULL AND reason LIKE '%B001%'", i=c.id) == 1


def test_the_upload_page_counts_foreign_customers_without_naming_them(app):
    import io

    from tests.conftest import csrf_token

    c = _foreign_customer()
    client = app.test_client()
    login(client, STORE1)
    resp = client.post("/sales/upload", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/sales/upload"), "mode": "strict",
        "file": (io.BytesIO(csv_bytes([row(phone=_dashed(c.phone), email=OFFERED_EMAIL)])), "day.csv")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'data-status="committed"' in html
    assert 'data-testid="customers-elsewhere">1<' in html
    assert c.code not in html and c.name not in html


def test_the_owner_sees_the_offer_in_its_fix_queue(app):
    from portal.auth.service import find_user
    from portal.quality.service import QueueFilters, fix_queue

    c = _foreign_customer()
    branch = scalar("SELECT o.code FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE c.id = :i", i=c.id)
    execute("UPDATE customer SET total_spend = 999999999 WHERE id = :i", i=c.id)  # first in the queue
    assert run_import(csv_bytes([row(phone=_dashed(c.phone), email=OFFERED_EMAIL)]),
                      user_email=STORE1).status == "committed"
    queue = fix_queue(find_user("hq@example.com"), QueueFilters(branch=branch), 1, 10)
    assert queue.page.items[0].id == c.id
    assert any(OFFERED_EMAIL in i.reason for i in queue.issues[c.id])
    # store1 may not fix another branch's customer: the offer is not in its queue.
    mine = fix_queue(find_user(STORE1), QueueFilters(), 1, 500)
    assert c.id not in {r.id for r in mine.page.items}
    # The owner takes the offer from the queue: the offer and the automatic issue are both settled.
    execute("INSERT INTO quality_issue (customer_id, field, reason, created_at) "
            "VALUES (:i, 'email', 'No valid e-mail address.', CURRENT_TIMESTAMP)", i=c.id)
    client = app.test_client()
    login(client, "hq@example.com")
    resp = post_form(client, f"/quality/fix/{c.id}?branch={branch}", {"email": OFFERED_EMAIL},
                     form_page=f"/quality/fix?branch={branch}")
    assert resp.status_code == 302
    assert scalar("SELECT email FROM customer WHERE id = :i", i=c.id) == OFFERED_EMAIL
    assert scalar("SELECT COUNT(*) FROM quality_issue WHERE customer_id = :i AND field = 'email' "
                  "AND resolved_at IS NULL", i=c.id) == 0


def test_sale_lines_hide_the_foreign_customer_everywhere(app):
    c = _foreign_customer()
    result = run_import(csv_bytes([row(phone=_dashed(c.phone), price=23456, receipt="LEAK-3")]), user_email=STORE1)
    assert result.status == "committed"
    line_id = scalar("SELECT id FROM sale_line WHERE report_id = :r", r=result.report_id)
    client = app.test_client()
    login(client, STORE1)
    # The page lists the sale (it happened at B001), without the customer.
    page = client.get(f"/sales/lines?date_from={DAY}&date_to={DAY}").get_data(as_text=True)
    assert f'data-line-id="{line_id}"' in page and "LEAK-3" in page
    assert c.code not in page and c.name not in page and f"/customers/{c.id}" not in page
    assert 'data-testid="customer-hidden"' in page
    # Searching by the customer's name or number does not find the sale either.
    for q in (c.name, c.code):
        found = client.get(f"/sales/lines?q={q}").get_data(as_text=True)
        assert f'data-line-id="{line_id}"' not in found
    # The CSV export: the line, no customer.
    csv_rows = list(csv.reader(io.StringIO(client.get(f"/sales/lines/export.csv?date_from={DAY}&date_to={DAY}")
                                           .get_data(as_text=True).lstrip("\ufeff"))))
    col = EXPORT_COLUMNS.index  # headers are in the user's language; the order is fixed
    leak = [r for r in csv_rows[1:] if r[col("receipt_no")] == "LEAK-3"]
    assert len(leak) == 1 and leak[0][col("customer_code")] == "" and leak[0][col("customer_name")] == ""
    # The API: the line, no customer id, number or name.
    token = api_token_for(STORE1)
    items = client.get(f"/api/v1/sale-lines?date_from={DAY}&date_to={DAY}&per_page=200",
                       headers=bearer(token)).get_json()["items"]
    item = next(i for i in items if i["id"] == line_id)
    assert (item["customer_id"], item["customer_code"], item["customer_name"], item["customer_hidden"]) == \
        (None, None, None, True)
    # HQ (every customer in scope) sees who bought.
    hq_items = client.get("/api/v1/sale-lines?q=LEAK-3", headers=bearer(api_token_for("hq@example.com"))).get_json()
    assert [(i["customer_code"], i["customer_hidden"]) for i in hq_items["items"]] == [(c.code, False)]


def test_own_customers_are_still_filled(app):
    """The scope rule does not stop a store filling its own customers' empty fields."""
    c = sql("SELECT c.id, c.phone FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' "
            "AND c.phone IS NOT NULL AND (SELECT COUNT(*) FROM customer d WHERE d.phone = c.phone) = 1 "
            "ORDER BY c.id LIMIT 1")[0]
    execute("UPDATE customer SET email = NULL WHERE id = :i", i=c.id)
    result = run_import(csv_bytes([row(phone=_dashed(c.phone), email=OFFERED_EMAIL)]), user_email=STORE1)
    assert result.status == "committed" and result.customers_elsewhere == 0
    assert scalar("SELECT email FROM customer WHERE id = :i", i=c.id) == OFFERED_EMAIL


# -- erased customers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("uploader", [None, STORE1])
def test_a_report_never_re_identifies_an_erased_customer(app, uploader):
    from portal.customers.privacy import pseudonymize
    from portal.extensions import db
    from portal.models import Customer

    cid = scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' "
                 "AND c.pseudonymized_at IS NULL ORDER BY c.id LIMIT 1")
    customer = db.session.get(Customer, cid)
    pseudonymize(None, customer, "REQ-13")
    db.session.commit()
    code, erased_name = customer.code, customer.name
    issues_before = scalar("SELECT COUNT(*) FROM quality_issue WHERE customer_id = :i", i=cid)
    result = run_import(csv_bytes([row(code=code, name="홍길동", phone="010-5555-1212", email="back@example.org",
                                       address="서울시 중구 세종대로 110", postal="04524", birth="1985-03-14",
                                       receipt="ERASED-1")]), user_email=uploader)
    assert result.status == "committed", result.errors or result.message
    # The sale still counts for statistics (on the erased record) …
    assert scalar("SELECT customer_id FROM sale_line WHERE report_id = :r", r=result.report_id) == cid
    # … but nothing identifying came back, and nothing was queued to bring it back.
    got = sql("SELECT name, phone, email, address, postal_code, birth_date FROM customer WHERE id = :i", i=cid)[0]
    assert tuple(got) == (erased_name, None, None, None, None, None)
    assert scalar("SELECT COUNT(*) FROM quality_issue WHERE customer_id = :i", i=cid) == issues_before
    assert scalar("SELECT COUNT(*) FROM customer WHERE phone = '01055551212' OR email = 'back@example.org'") == 0


# -- contact problems never refuse a sale -------------------------------------------------------------------


def test_an_impossible_birth_date_keeps_the_sale_and_flags_the_customer(app):
    result = run_import(csv_bytes([row(code="BD-1", name="생일오류", phone="010-4444-3333", birth="1985-02-30"),
                                   row(code="BD-2", name="미래생일", phone="010-4444-3334", birth="2999-01-01",
                                       receipt="R2")]), user_email=STORE1)
    assert result.status == "committed" and result.accepted == 2 and result.rejected == 0, result.errors
    for code, raw in (("BD-1", "1985-02-30"), ("BD-2", "2999-01-01")):
        cid, birth = sql("SELECT id, birth_date FROM customer WHERE code = :c", c=code)[0]
        assert birth is None
        reason = scalar("SELECT reason FROM quality_issue WHERE customer_id = :i AND field = 'birth_date' "
                        "AND resolved_at IS NULL", i=cid)
        assert raw in reason


def test_a_walk_in_with_a_mistyped_phone_keeps_the_sale(app):
    rows = [row(name="김워크", phone="010-12-345", receipt="W1"),
            row(name="김워크", phone="010-12-345", receipt="W2", sku="BEA-002", price=56000)]
    result = run_import(csv_bytes(rows), user_email=STORE1)
    assert result.status == "committed" and result.accepted == 2, result.errors
    assert result.customers_created == 1  # the same walk-in twice in one file is one customer
    cid, phone, branch = sql("SELECT c.id, c.phone, o.code FROM customer c JOIN org_unit o ON o.id = c.branch_id "
                             "WHERE c.name = '김워크'")[0]
    assert phone is None and branch == "B001"
    assert "010-12-345" in scalar("SELECT reason FROM quality_issue WHERE customer_id = :i AND field = 'phone' "
                                  "AND resolved_at IS NULL", i=cid)
    assert scalar("SELECT COUNT(*) FROM sale_line WHERE report_id = :r AND customer_id = :i",
                  r=result.report_id, i=cid) == 2


def test_too_long_contact_values_keep_the_sale(app):
    long_email = "a" * 250 + "@example.org"
    long_address = "서울시 " + "가" * 300
    result = run_import(csv_bytes([row(code="LONG-1", name="긴주소", email=long_email, address=long_address,
                                       postal="0623612345678")]), user_email=STORE1)
    assert result.status == "committed", result.errors
    cid, email, address, postal = sql("SELECT id, email, address, postal_code FROM customer WHERE code = 'LONG-1'")[0]
    assert (email, address, postal) == (None, None, None)
    flagged = {f for f, in sql("SELECT field FROM quality_issue WHERE customer_id = :i AND resolved_at IS NULL",
                               i=cid)}
    assert {"email", "address", "postal_code"} <= flagged


def test_a_walk_in_with_neither_usable_key_nor_name_gets_a_clear_message(app):
    result = run_import(csv_bytes([row(phone="010-12-345")]), user_email=STORE1)
    assert result.status == "rejected"
    assert [e["field"] for e in result.errors] == ["customer_name"]
    assert "not valid" in result.errors[0]["message"] and "name" in result.errors[0]["message"]


@pytest.mark.parametrize("literal_ids", [True, False])
def test_identity_mask_holds_for_both_forms_of_the_scope_filter(app, monkeypatch, literal_ids):
    """A scope over many nodes is a subquery instead of a literal id list: the mask is the same."""
    import portal.security.permissions as permissions
    from portal.auth.service import find_user
    from portal.sales.lines import SaleLineFilters, lines_page, sale_line_query

    c = _foreign_customer()
    result = run_import(csv_bytes([row(phone=_dashed(c.phone), receipt="LEAK-4"),
                                   row(code="OWN-1", name="우리고객", receipt="OWN-4")]), user_email=STORE1)
    assert result.status == "committed", result.errors
    if not literal_ids:
        monkeypatch.setattr(permissions, "MAX_LITERAL_IDS", 0)
    store1 = find_user(STORE1)
    page = lines_page(sale_line_query(store1, SaleLineFilters(date_from=DAY, date_to=DAY)), 1, 50, store1).page
    shown = {r.receipt_no: (r.customer_id, r.customer_code, r.customer_name) for r in page.items}
    assert shown["LEAK-4"] == (None, None, None)
    own = scalar("SELECT id FROM customer WHERE code = 'OWN-1'")
    assert shown["OWN-4"] == (own, "OWN-1", "우리고객")


def test_a_matched_customer_is_flagged_not_refused_for_a_faulty_value(app):
    """An own customer quoted by number with an impossible birth date and a mistyped phone: the
    sale counts, stored values stay, and an empty field gets an issue naming the report's value."""
    a, b = sql("SELECT c.id, c.code FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' "
               "AND c.pseudonymized_at IS NULL ORDER BY c.id LIMIT 2")
    execute("UPDATE customer SET birth_date = NULL, phone = NULL WHERE id = :i", i=a.id)
    execute("UPDATE customer SET birth_date = '1970-01-01' WHERE id = :i", i=b.id)
    execute("UPDATE quality_issue SET resolved_at = CURRENT_TIMESTAMP WHERE customer_id IN (:a, :b)", a=a.id, b=b.id)
    result = run_import(csv_bytes([row(code=a.code, birth="1985-02-30", phone="010-12", receipt="F1"),
                                   row(code=b.code, birth="1985-02-30", receipt="F2")]), user_email=STORE1)
    assert result.status == "committed" and result.accepted == 2, result.errors
    open_a = dict(sql("SELECT field, reason FROM quality_issue WHERE customer_id = :i AND resolved_at IS NULL",
                      i=a.id))
    assert "1985-02-30" in open_a["birth_date"] and "010-12" in open_a["phone"]
    assert scalar("SELECT COUNT(*) FROM quality_issue WHERE customer_id = :i AND resolved_at IS NULL", i=b.id) == 0
    assert str(scalar("SELECT birth_date FROM customer WHERE id = :i", i=b.id)) == "1970-01-01"
