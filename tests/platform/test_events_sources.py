"""Events with actor and source (issue 14 item 10): customers created (hand, API, import), quality
changed, org changed, scores refreshed, extraction created, report refused, household changed —
each fired through ``portal.events.fire`` with who and how; and the personal-data hook pair."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Customer
from tests.conftest import api_token_for, bearer, login, post_form
from tests.platform.test_events_fire import A, B, _events_app
from tests.test_sales_import import DAY, csv_bytes, row, run_import


@pytest.fixture
def events_app(template_db):
    from tests.event_plugin_a import hooks as a_hooks
    from tests.event_plugin_b import hooks as b_hooks

    a_hooks.CALLS.clear()
    b_hooks.CALLS.clear()
    b_hooks.FAIL.clear()
    yield from _events_app(template_db, (A, B))
    b_hooks.FAIL.clear()


def calls(event: str) -> list[str]:
    from tests.event_plugin_a import hooks as a_hooks

    return [detail for name, detail in a_hooks.CALLS if name == event]


def b_calls(event: str) -> list[str]:
    from tests.event_plugin_b import hooks as b_hooks

    return [detail for name, detail in b_hooks.CALLS if name == event]


def user(email: str):
    from portal.auth.service import find_user

    return find_user(email)


def test_customers_created_by_hand_by_api_and_by_import(events_app):
    from portal.customers.service import create_customer

    c = create_customer(user("store1@example.com"), {"name": "손님", "branch_code": "B001"})
    db.session.commit()
    assert calls("customers_created") == [f"[{c.id}] cli store1@example.com"]
    assert b_calls("customers_created") == [f"[{c.id}] cli"]  # B's implementation takes fewer arguments
    # Its missing contact data opened quality issues, told per field.
    assert sorted(calls("quality_changed")) == sorted(f"[{c.id}] {f} True cli" for f in
                                                      ("address", "email", "phone", "postal_code"))

    api = events_app.test_client()
    resp = api.post("/api/v1/customers", json={"name": "API손님", "branch_code": "B001"},
                    headers=bearer(api_token_for("store1@example.com")))
    assert resp.status_code == 201
    new_id = resp.get_json()["id"]
    assert calls("customers_created")[-1] == f"[{new_id}] api store1@example.com"

    result = run_import(csv_bytes([row(name="수입손님", phone="010-7100-0001", email="", day=DAY),
                                   row(name="둘째손님", phone="010-7100-0002", email="x@example.com", day=DAY)]),
                        user_email="store1@example.com")
    assert result.status == "committed", result.message
    created = sorted(db.session.execute(select(Customer.id).where(Customer.name.in_(["수입손님", "둘째손님"]))).scalars())
    assert calls("customers_created")[-1] == f"{created} import store1@example.com"
    first = db.session.execute(select(Customer.id).where(Customer.name == "수입손님")).scalar_one()
    assert f"[{first}] email True import" in calls("quality_changed")  # the import's flag on a new customer
    assert calls("sales_imported")[-1] == f"report {result.report_id}"


def test_quality_flagged_and_resolved_by_hand(events_app):
    from portal.customers.service import flag_quality, resolve_quality

    hq = user("hq@example.com")
    c = db.session.execute(select(Customer).order_by(Customer.id).limit(1)).scalar_one()
    issue = flag_quality(hq, c, "address", "the building was demolished")
    db.session.flush()
    resolve_quality(hq, c, issue.id)
    db.session.commit()
    assert calls("quality_changed")[-2:] == [f"[{c.id}] address True cli", f"[{c.id}] address False cli"]


def test_quality_flagged_by_the_system(events_app):
    """``flag_quality(None, …)``: no created_by, audited with its source; ``announce=False`` fires nothing."""
    from portal.customers.service import flag_quality
    from portal.models import AuditEvent

    c = db.session.execute(select(Customer).order_by(Customer.id).limit(1)).scalar_one()
    before = len(calls("quality_changed"))
    issue = flag_quality(None, c, "email", "bounced (email)", source="messaging", announce=False)
    db.session.commit()
    assert issue.created_by_id is None and len(calls("quality_changed")) == before
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "customer.quality_flagged")
                               .order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    assert event.summary == "email: bounced (email), by messaging" and event.actor_id is None
    flag_quality(None, c, "phone", "bounced (sms)", source="messaging")
    db.session.commit()
    assert calls("quality_changed")[-1] == f"[{c.id}] phone True messaging"


def test_report_refused_as_a_whole(events_app):
    ok = run_import(csv_bytes([row(code="C0000001", day="2023-10-01")]), user_email="store1@example.com")
    assert ok.status == "committed", ok.message
    again = run_import(csv_bytes([row(code="C0000001", day="2023-10-01", receipt="R9")]),
                       user_email="store1@example.com")
    assert again.status == "refused"
    bad = run_import(csv_bytes([row(code="C0000001", day="2023-10-02", qty="x")]), user_email="store1@example.com",
                     mode="strict")
    assert bad.status == "rejected"
    branch = db.session.execute(db.text("SELECT id FROM org_unit WHERE code = 'B001'")).scalar_one()
    assert calls("report_refused") == [f"{branch} 2023-10-01 already_filed web", f"{branch} 2023-10-02 rows web"]
    # Another branch's file from a user who may not file for it is no refusal of that branch.
    other = run_import(csv_bytes([row(code="C0000001", day="2023-10-03", branch="B002")]),
                       user_email="store1@example.com")
    assert other.status == "rejected" and len(calls("report_refused")) == 2


def test_org_changes_with_actor_and_source(events_app):
    client = events_app.test_client()
    login(client, "admin@example.com")
    resp = post_form(client, "/org/units/new", {"code": "R99", "name": "Test region", "kind": "region",
                                                 "parent_code": "HQ", "address": "", "phone": ""}, "/org/units/new")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    unit_id = db.session.execute(db.text("SELECT id FROM org_unit WHERE code = 'R99'")).scalar_one()
    assert calls("org_changed") == [f"org_unit {unit_id} created web"]

    from portal.org.service import create_group

    group = create_group("GZ", "Group Z", "Leader Z")
    db.session.commit()
    assert calls("org_changed")[-1] == f"partner_group {group.id} created cli"
    assert calls("org_changed")[-2].startswith("partner ") and calls("org_changed")[-2].endswith(" created cli")


def test_scores_refreshed_and_extraction_created(events_app):
    from portal.analytics.extraction import create
    from portal.analytics.scoring import refresh_scores

    run = refresh_scores(user=None, source="job")
    assert calls("scores_refreshed") == [f"{run.id} job"]
    ext = create(user("hq@example.com"), {"all": []}, "email", "all of them")
    db.session.commit()
    assert calls("extraction_created") == [f"{ext.id} cli"]


def test_household_changed_with_actor_and_source_and_the_old_three_argument_form(events_app):
    from portal.customers.service import set_household

    c = db.session.execute(select(Customer).where(Customer.branch_id.is_not(None)).order_by(Customer.id).limit(1)
                           ).scalar_one()
    hq = user("hq@example.com")
    household = set_household(hq, c, None, "우리집")
    db.session.commit()
    assert calls("household_changed") == [f"{c.id} None {household.id} web"]
    assert b_calls("household_changed") == [f"{c.id} None {household.id}"]  # B: (customer, old, new) only


def test_the_personal_data_hook_pair(events_app):
    """An add-on holding personal data adds it to the data-subject export and erases it with the
    customer (``portal_personal_data`` / ``portal_personal_data_erased``)."""
    from portal.customers.privacy import export_personal_data, pseudonymize
    from tests.event_plugin_a.models import EvaContact

    c = db.session.execute(select(Customer).order_by(Customer.id).limit(1)).scalar_one()
    db.session.add(EvaContact(customer_id=c.id, phone="010-5555-0000", note="prefers evenings"))
    db.session.commit()
    assert export_personal_data(c)["add_ons"] == {"eva": [{"phone": "010-5555-0000", "note": "prefers evenings"}]}
    pseudonymize(user("admin@example.com"), c, "data-subject request")
    db.session.commit()
    assert calls("personal_data_erased") == [f"{c.id}"]
    assert db.session.execute(select(func.count()).select_from(EvaContact)).scalar_one() == 0
    assert "eva" not in export_personal_data(c)["add_ons"]
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "eva.personal_data_erased")).scalar_one() == 1
