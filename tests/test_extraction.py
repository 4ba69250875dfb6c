"""Suppression and target-list extraction: every reason, priority, frozen members, contact history,
visibility, export (neutralized, access-logged), API and pages.

Customers made here carry a tier tag, and the rules select that tag, so each test sees exactly the
customers it built; expected breakdowns are written out by hand from how they were built.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import timedelta

import pytest

from tests.conftest import bearer, scalar, sql
from tests.test_segments import (
    API,
    HQ,
    LEADER1,
    REVIEWER,
    STORE1,
    STORE2,
    api_client,
    api_post,
    cond,
    execute,
    make,
    now_utc,
    unit_id,
    user,
    web_client,
)

_tags = itertools.count(1)
CORE = ["no_consent", "opted_out", "consent_expired", "invalid_phone", "complaint", "recently_contacted"]


def tag() -> str:
    return f"t{next(_tags)}"


def only(t: str) -> dict:
    return {"all": [cond("tier", "eq", t)]}


def preview(email: str, rules, channel, **kw):
    from portal.analytics.extraction import preview as run

    return run(user(email), rules, channel, **kw)


def create(email: str, rules, channel: str, name: str | None = None):
    from portal.analytics.extraction import create as run
    from portal.extensions import db

    ext = run(user(email), rules, channel, name)
    ext_id = ext.id
    db.session.commit()
    return ext_id


def members(ext_id: int) -> set[int]:
    return {r[0] for r in sql("SELECT customer_id FROM extraction_member WHERE extraction_id = :e", e=ext_id)}


def breakdown(channel: str, **counts) -> dict[str, int]:
    from portal.analytics.suppression import CONTACT_REASON

    names = ["no_consent", "opted_out", "consent_expired", CONTACT_REASON[channel], "complaint", "recently_contacted"]
    return {n: counts.get(n, 0) for n in names}


# -- reasons ------------------------------------------------------------------------------------------------


def test_each_sms_reason_counted_and_only_allowed_customers_extracted(app):
    t = tag()
    old, recent = now_utc() - timedelta(days=40), now_utc() - timedelta(days=2)
    ok = [make(tier=t, consents={"sms": True}) for _ in range(3)]
    regranted = make(tier=t, consents={"sms": [(False, old), (True, recent)]})
    blocked = {
        "no_consent": make(tier=t, consents={"email": True}),
        "opted_out": make(tier=t, consents={"sms": [(True, old), (False, recent)]}),
        "consent_expired": make(tier=t, consents={"sms": (True, now_utc() - timedelta(days=800))}),
        "invalid_phone": make(tier=t, consents={"sms": True}, phone=None),
        "invalid_phone_issue": make(tier=t, consents={"sms": True}, issues=("phone",)),
        "complaint": make(tier=t, consents={"sms": True}, complaint=True),
    }
    result = preview(STORE1, only(t), "sms")
    assert result.total == 10 and result.included == 4
    assert result.excluded == breakdown("sms", no_consent=1, opted_out=1, consent_expired=1, invalid_phone=2, complaint=1)
    assert {s["id"] for s in result.sample} == {*ok, regranted}
    # An open issue on the e-mail does not stop an SMS; a resolved phone issue does not either.
    fixed = make(tier=t, consents={"sms": True}, issues=("phone", "email"))
    execute("UPDATE quality_issue SET resolved_at = :t WHERE customer_id = :c AND field = 'phone'", t=now_utc(), c=fixed)
    ext_id = create(STORE1, only(t), "sms")
    assert members(ext_id) == {*ok, regranted, fixed}
    assert not members(ext_id) & set(blocked.values())
    stored = sql("SELECT included, excluded FROM extraction WHERE id = :e", e=ext_id)[0]
    assert stored[0] == 5


def test_email_dm_and_phone_contact_reasons(app):
    t = tag()
    consents = {"email": True, "dm": True, "phone": True}
    make(tier=t, consents=consents)
    no_email = make(tier=t, consents=consents, email=None)
    email_issue = make(tier=t, consents=consents, issues=("email",))
    no_address = make(tier=t, consents=consents, address="  ")
    no_postal = make(tier=t, consents=consents, postal_code=None)
    postal_issue = make(tier=t, consents=consents, issues=("postal_code",))
    no_phone = make(tier=t, consents=consents, phone=None)
    r = preview(STORE1, only(t), "email")
    assert r.included == 5 and r.excluded == breakdown("email", invalid_email=2)
    r = preview(STORE1, only(t), "dm")
    assert r.included == 4 and r.excluded == breakdown("dm", invalid_address=3)
    r = preview(STORE1, only(t), "phone")
    assert r.included == 6 and r.excluded == breakdown("phone", invalid_phone=1)
    assert {no_email, email_issue, no_address, no_postal, postal_issue, no_phone}


def test_priority_counts_each_customer_once_and_any_counts(app):
    t = tag()
    make(tier=t, consents={"email": True}, phone=None, complaint=True)  # no consent + phone + complaint
    make(tier=t, consents={"sms": False}, complaint=True)  # opted out + complaint
    make(tier=t, consents={"sms": True}, phone=None, complaint=True)  # phone + complaint
    make(tier=t, consents={"sms": True}, complaint=True)  # complaint only
    r = preview(STORE1, only(t), "sms", with_any=True)
    assert r.excluded == breakdown("sms", no_consent=1, opted_out=1, invalid_phone=1, complaint=1)
    assert sum(r.excluded.values()) == 4 and r.included == 0
    assert r.excluded_any == breakdown("sms", no_consent=1, opted_out=1, invalid_phone=2, complaint=4)


def test_consent_expiry_boundary_and_setting(app):
    t = tag()
    days = 730
    valid = make(tier=t, consents={"sms": (True, now_utc() - timedelta(days=days) + timedelta(minutes=10))})
    expired = make(tier=t, consents={"sms": (True, now_utc() - timedelta(days=days, minutes=10))})
    r = preview(STORE1, only(t), "sms")
    assert r.included == 1 and r.excluded["consent_expired"] == 1
    assert {s["id"] for s in r.sample} == {valid}
    app.config["PORTAL_CONSENT_VALID_DAYS"] = 365
    r = preview(STORE1, only(t), "sms")
    assert r.included == 0 and r.excluded["consent_expired"] == 2
    assert expired


def use(email: str, ext_id: int) -> int:
    from portal.analytics.extraction import extraction_or_404, mark_used
    from portal.extensions import db

    gone = mark_used(user(email), extraction_or_404(user(email), ext_id))
    db.session.commit()
    return gone


def cancel(email: str, ext_id: int) -> None:
    from portal.analytics.extraction import cancel as run
    from portal.analytics.extraction import extraction_or_404
    from portal.extensions import db

    run(user(email), extraction_or_404(user(email), ext_id))
    db.session.commit()


def test_recently_contacted_per_channel_and_cooldown(app):
    t = tag()
    both = {"sms": True, "email": True}
    a, b = make(tier=t, consents=both), make(tier=t, consents=both)
    first = create(STORE1, only(t), "sms")
    assert members(first) == {a, b}
    use(STORE1, first)
    c = make(tier=t, consents=both)
    r = preview(STORE1, only(t), "sms")
    assert r.included == 1 and r.excluded["recently_contacted"] == 2
    second = create(STORE1, only(t), "sms")
    assert members(second) == {c}
    use(STORE1, second)
    # Another channel is not affected.
    assert preview(STORE1, only(t), "email").included == 3
    # Past the cooldown (14 days from the use by default) they may be contacted again.
    execute("UPDATE extraction SET used_at = :t WHERE id IN (:a, :b)", t=now_utc() - timedelta(days=15), a=first, b=second)
    execute("UPDATE contact SET at = :t WHERE ref IN (:a, :b)", t=now_utc() - timedelta(days=15), a=f"extraction:{first}",
            b=f"extraction:{second}")
    assert preview(STORE1, only(t), "sms").included == 3
    app.config["PORTAL_CONTACT_COOLDOWN_DAYS"] = 30
    assert preview(STORE1, only(t), "sms").included == 0


# -- states: draft → used → cancelled -------------------------------------------------------------------------


def test_draft_lists_do_not_block_each_other_the_use_starts_the_cooldown(app):
    t = tag()
    a, b = make(tier=t, consents={"sms": True}), make(tier=t, consents={"sms": True})
    first = create(STORE1, only(t), "sms")
    # Made, never used: the customers are not "recently contacted" anywhere.
    assert preview(STORE1, only(t), "sms").included == 2
    second = create(HQ, only(t), "sms")
    assert members(first) == members(second) == {a, b}
    assert sql("SELECT status, used_at FROM extraction WHERE id = :e", e=first)[0] == ("draft", None)
    # Created 20 days ago but used just now: the cool-down counts from the use.
    execute("UPDATE extraction SET created_at = :t WHERE id = :e", t=now_utc() - timedelta(days=20), e=first)
    assert use(STORE1, first) == 0
    status, used_at = sql("SELECT status, used_at FROM extraction WHERE id = :e", e=first)[0]
    assert status == "used" and used_at is not None
    assert preview(STORE1, only(t), "sms").excluded["recently_contacted"] == 2
    # The other draft, used afterwards, loses the customers the first list contacted meanwhile.
    assert use(HQ, second) == 2
    assert members(second) == set()
    included, excluded = sql("SELECT included, excluded FROM extraction WHERE id = :e", e=second)[0]
    excluded = excluded if isinstance(excluded, dict) else __import__("json").loads(excluded)
    assert included == 0 and excluded["recently_contacted"] == 2
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'extraction.used'") == 2


def test_cancel_a_draft_or_a_used_list(app):
    from portal.analytics.extraction import StateError

    t = tag()
    a = make(tier=t, consents={"sms": True})
    draft = create(STORE1, only(t), "sms")
    cancel(STORE1, draft)
    assert sql("SELECT status, used_at FROM extraction WHERE id = :e", e=draft)[0][0] == "cancelled"
    with pytest.raises(StateError):
        use(STORE1, draft)
    with pytest.raises(StateError):
        cancel(STORE1, draft)
    assert preview(STORE1, only(t), "sms").included == 1
    # A used list that is cancelled keeps its customers in cool-down: they were contacted.
    used = create(STORE1, only(t), "sms")
    use(STORE1, used)
    cancel(STORE1, used)
    assert sql("SELECT status FROM extraction WHERE id = :e", e=used)[0][0] == "cancelled"
    assert preview(STORE1, only(t), "sms").excluded["recently_contacted"] == 1
    assert members(create(STORE1, only(t), "sms")) == set()
    assert a
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'extraction.cancelled'") == 2


def test_api_use_cancel_and_states(app):
    t = tag()
    make(tier=t, consents={"sms": True})
    client = api_client(app, STORE1)
    ext = api_post(client, f"{API}/extractions", {"rules": only(t), "channel": "sms"}).get_json()
    assert ext["status"] == "draft"
    got = client.get(f"{API}/extractions/{ext['id']}", headers=bearer(client.token)).get_json()
    assert got["status"] == "draft" and got["used_at"] is None
    resp = client.post(f"{API}/extractions/{ext['id']}/use", headers=bearer(client.token))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "used" and body["used_at"] and body["removed_recently_contacted"] == 0
    resp = client.post(f"{API}/extractions/{ext['id']}/use", headers=bearer(client.token))
    assert resp.status_code == 409 and resp.get_json()["error"] == "invalid_state"
    # The message is English, as every API message, though store1 reads the portal in Korean.
    assert resp.get_json()["message"] == "Only a draft list can be marked as used; this one was used already."
    assert client.post(f"{API}/extractions/{ext['id']}/cancel", headers=bearer(client.token)).get_json()["status"] == "cancelled"
    resp = client.post(f"{API}/extractions/{ext['id']}/cancel", headers=bearer(client.token))
    assert resp.status_code == 409 and resp.get_json()["message"] == "This list is already cancelled."
    # Filters, and other branches' lists answer 404.
    listed = client.get(f"{API}/extractions?status=cancelled", headers=bearer(client.token)).get_json()["items"]
    assert [e["id"] for e in listed] == [ext["id"]]
    assert client.get(f"{API}/extractions?status=draft", headers=bearer(client.token)).get_json()["items"] == []
    assert client.get(f"{API}/extractions?status=nope", headers=bearer(client.token)).status_code == 400
    other = api_client(app, STORE2)
    for action in ("use", "cancel"):
        assert other.post(f"{API}/extractions/{ext['id']}/{action}", headers=bearer(other.token)).status_code == 404
    assert api_client(app, REVIEWER).post(f"{API}/extractions/{ext['id']}/use",
                                          headers=bearer(api_client(app, REVIEWER).token)).status_code == 403


def test_hq_sees_every_branch_list_scoped_in_sql(app):
    t = tag()
    make(tier=t, consents={"sms": True})
    make(tier=t, branch="B002", consents={"sms": True})
    mine = create(STORE1, only(t), "sms")
    theirs = create(STORE2, only(t), "sms")
    hq_list = create(HQ, only(t), "sms")
    assert sql("SELECT branch_id FROM extraction WHERE id = :e", e=mine)[0][0] == unit_id("B001")
    assert sql("SELECT branch_id, partner_id FROM extraction WHERE id = :e", e=hq_list)[0] == (None, None)

    def api_list(email: str, query: str = "") -> set[int]:
        c = api_client(app, email)
        return {e["id"] for e in c.get(f"{API}/extractions{query}", headers=bearer(c.token)).get_json()["items"]}

    assert api_list(HQ) >= {mine, theirs, hq_list}
    assert api_list(HQ, "?mine=1") == {hq_list}
    assert api_list(STORE1) == {mine} and api_list(STORE2) == {theirs}
    # The web list of HQ shows the branches' lists without any switch.
    page = web_client(app, HQ).get("/analytics/extractions").get_data(as_text=True)
    assert f'data-extraction="{mine}"' in page and f'data-extraction="{theirs}"' in page
    store2 = web_client(app, STORE2)
    assert f'data-extraction="{mine}"' not in store2.get("/analytics/extractions").get_data(as_text=True)
    assert store2.get(f"/analytics/extractions/{mine}").status_code == 404
    assert web_client(app, HQ).get(f"/analytics/extractions/{mine}").status_code == 200


def test_web_mark_used_and_cancel(app):
    t = tag()
    make(tier=t, consents={"sms": True})
    client = web_client(app, STORE1)
    ext = create(STORE1, only(t), "sms")
    html = client.get(f"/analytics/extractions/{ext}").get_data(as_text=True)
    assert 'data-testid="mark-used"' in html and ">Draft<" in html
    assert client.post(f"/analytics/extractions/{ext}/use", data={"csrf_token": ""}).status_code == 400
    assert sql("SELECT status FROM extraction WHERE id = :e", e=ext)[0][0] == "draft"
    resp = client.post(f"/analytics/extractions/{ext}/use", data={"csrf_token": client.csrf})
    assert resp.status_code == 302
    html = client.get(f"/analytics/extractions/{ext}").get_data(as_text=True)
    assert 'data-testid="mark-used"' not in html and ">Used<" in html and "Marked as used" in html
    # Using it twice: a message, no change.
    client.post(f"/analytics/extractions/{ext}/use", data={"csrf_token": client.csrf})
    assert "Only a draft list can be marked as used" in client.get(f"/analytics/extractions/{ext}").get_data(as_text=True)
    client.post(f"/analytics/extractions/{ext}/cancel", data={"csrf_token": client.csrf})
    html = client.get(f"/analytics/extractions/{ext}").get_data(as_text=True)
    assert ">Cancelled<" in html and "stay in cool-down" in html and 'data-testid="export-csv"' not in html
    resp = client.get(f"/analytics/extractions/{ext}/export.csv")
    assert resp.status_code == 302 and scalar("SELECT COUNT(*) FROM access_log WHERE action = 'export'") == 0
    listed = client.get("/analytics/extractions?status=cancelled").get_data(as_text=True)
    assert f'data-extraction="{ext}"' in listed
    assert f'data-extraction="{ext}"' not in client.get("/analytics/extractions?status=draft").get_data(as_text=True)
    # In Korean: no English words on the state parts of the page.
    client.post("/language", data={"lang": "ko", "next": "/dashboard", "csrf_token": client.csrf})
    html = client.get(f"/analytics/extractions/{ext}").get_data(as_text=True)
    for english in ("Cancelled", "cool-down", "Draft", "Mark as used"):
        assert english not in html, english


def test_existing_lists_become_used_by_the_migration(tmp_path):
    """Lists made before states existed were contact history from their creation: they stay so."""
    from portal.migrations_support import upgrade_core
    from tests.conftest import empty_db_app

    with empty_db_app(tmp_path, "0008_customer_name_suffix"):
        execute("INSERT INTO extraction (name, channel, rules, included, excluded, created_at) "
                "VALUES ('old', 'sms', '{}', 0, '{}', '2026-12-01 10:00:00')")
        upgrade_core()
        status, used_at = sql("SELECT status, used_at FROM extraction")[0]
        assert status == "used" and str(used_at).startswith("2026-12-01 10:00")


def test_both_consent_plans_agree(app):
    """The large-segment plan (PostgreSQL: DISTINCT ON over the channel) and the per-customer plan."""
    from portal.analytics.extraction import counts
    from portal.analytics.segments import segment_query

    t = tag()
    old, recent = now_utc() - timedelta(days=40), now_utc() - timedelta(days=2)
    make(tier=t, consents={"sms": [(True, old), (False, recent)]})
    make(tier=t, consents={"sms": [(False, old), (True, recent)]})
    same_time = now_utc() - timedelta(days=3)
    make(tier=t, consents={"sms": [(True, same_time), (False, same_time)]})  # a tie: the later row (higher id) wins
    for rules in (only(t), {"all": []}):
        seg = segment_query(user(HQ), rules)
        app.config["PORTAL_SUPPRESSION_LARGE_SEGMENT"] = 10**9
        small = counts(seg, "sms", with_any=True)
        app.config["PORTAL_SUPPRESSION_LARGE_SEGMENT"] = 0
        large = counts(seg, "sms", with_any=True)
        assert (small.total, small.included, small.excluded, small.excluded_any) == \
               (large.total, large.included, large.excluded, large.excluded_any)
    assert small.total > 100
    assert preview(HQ, only(t), "sms").excluded["opted_out"] == 2


class ReasonSpy:
    from portal.hookspecs import hookimpl

    @hookimpl
    def portal_suppression_reasons(self):
        from portal.models import Customer

        return [
            {"name": "spy.blocked_card", "label": "Card blocked", "order": 10, "channels": ["sms", "dm"],
             "condition": lambda channel: Customer.note == "blocked"},
            {"name": "spy.maybe", "label": "NULL-valued", "order": 20,
             "condition": lambda channel: Customer.gender == "X"},  # NULL for most: "does not apply"
            {"name": "complaint", "condition": lambda channel: Customer.id > 0},  # collides: ignored
            {"name": "spy.bad"},  # no condition: ignored
        ]


@pytest.fixture
def reason_spy(app):
    from portal.plugins import registry

    pm = registry(app).pm
    spy = ReasonSpy()
    pm.register(spy, name="spy_reasons")
    yield spy
    pm.unregister(spy)


def test_plugin_suppression_reason(app, reason_spy):
    t = tag()
    allowed = make(tier=t, consents={"sms": True, "email": True})
    blocked = make(tier=t, consents={"sms": True, "email": True}, note="blocked")
    make(tier=t, consents={"email": True}, note="blocked")  # no SMS consent first
    r = preview(STORE1, only(t), "sms", with_any=True)
    assert r.excluded == {**breakdown("sms", no_consent=1), "spy.blocked_card": 1, "spy.maybe": 0}
    assert r.excluded_any["spy.blocked_card"] == 2
    assert r.included == 1
    ext = create(STORE1, only(t), "sms")
    assert members(ext) == {allowed} and blocked not in members(ext)
    # Not for e-mail (the reason names its channels).
    r = preview(STORE1, only(t), "email")
    assert "spy.blocked_card" not in r.excluded and r.included == 3


# -- extractions: members, visibility, export ------------------------------------------------------------------------


def test_members_are_scoped_consenting_and_channel_fields_only(app):
    t = tag()
    ids = [make(tier=t, consents={"sms": True}) for _ in range(3)]
    ext = create(STORE1, only(t), "sms")
    client = api_client(app, STORE1)
    body = client.get(f"{API}/extractions/{ext}/customers", headers=bearer(client.token)).get_json()
    assert [i["id"] for i in body["items"]] == sorted(ids)
    assert all(set(i) == {"id", "code", "name", "phone"} for i in body["items"])
    assert body["fields"] == ["id", "code", "name", "phone"] and body["total"] == 3
    # An opt-out after the extraction is honoured at once: not listed, not exported.
    from portal.extensions import db
    from portal.models import Consent

    db.session.add(Consent(customer_id=ids[0], channel="sms", purpose="marketing", granted=False, method="phone",
                           recorded_at=now_utc()))
    db.session.commit()
    body = client.get(f"{API}/extractions/{ext}/customers", headers=bearer(client.token)).get_json()
    assert [i["id"] for i in body["items"]] == sorted(ids[1:])
    # The viewer's scope today counts: moved to another branch, a member disappears for store1.
    execute("UPDATE customer SET branch_id = :b WHERE id = :i", b=unit_id("B002"), i=ids[1])
    body = client.get(f"{API}/extractions/{ext}/customers", headers=bearer(client.token)).get_json()
    assert [i["id"] for i in body["items"]] == [ids[2]]
    # Paging.
    body = client.get(f"{API}/extractions/{ext}/customers?per_page=1&page=1", headers=bearer(client.token)).get_json()
    assert len(body["items"]) == 1
    assert client.get(f"{API}/extractions/{ext}/customers?page=x", headers=bearer(client.token)).status_code == 400
    # Channel decides the contact fields: e-mail lists e-mail, DM the address.
    t2 = tag()
    make(tier=t2, consents={"email": True, "dm": True})
    for channel, extra in (("email", {"email"}), ("dm", {"address", "postal_code"})):
        e = create(STORE1, only(t2), channel)
        items = client.get(f"{API}/extractions/{e}/customers", headers=bearer(client.token)).get_json()["items"]
        assert len(items) == 1 and set(items[0]) == {"id", "code", "name"} | extra


def test_extraction_visibility_owner_hq_and_others(app):
    t = tag()
    make(tier=t, consents={"sms": True})
    ext = create(STORE1, only(t), "sms")
    owner, hq, other, leader = (api_client(app, e) for e in (STORE1, HQ, STORE2, LEADER1))
    for c in (owner, hq):
        assert c.get(f"{API}/extractions/{ext}", headers=bearer(c.token)).status_code == 200
    for c in (other, leader):
        assert c.get(f"{API}/extractions/{ext}", headers=bearer(c.token)).status_code == 404
        assert c.get(f"{API}/extractions/{ext}/customers", headers=bearer(c.token)).status_code == 404
        assert web_client(app, STORE2).get(f"/analytics/extractions/{ext}").status_code == 404
    # Lists in scope: the branch's own, and every branch's for HQ.
    assert [e["id"] for e in owner.get(f"{API}/extractions", headers=bearer(owner.token)).get_json()["items"]] == [ext]
    assert ext in [e["id"] for e in hq.get(f"{API}/extractions", headers=bearer(hq.token)).get_json()["items"]]
    assert other.get(f"{API}/extractions", headers=bearer(other.token)).get_json()["items"] == []
    for junk in ("0", "x", "1e3", "99999999999"):
        assert owner.get(f"{API}/extractions/{junk}", headers=bearer(owner.token)).status_code == 404
    # The web list: HQ sees it, another branch does not.
    page = web_client(app, HQ).get("/analytics/extractions").get_data(as_text=True)
    assert f'data-extraction="{ext}"' in page
    assert f'data-extraction="{ext}"' not in web_client(app, STORE2).get("/analytics/extractions").get_data(as_text=True)


def test_export_neutralizes_formulas_and_logs_access(app):
    t = tag()
    evil = make(tier=t, consents={"sms": True}, name="=HYPERLINK(\"http://x\",\"y\")")
    make(tier=t, consents={"sms": True}, name="+82 Kim")
    ext = create(STORE1, only(t), "sms")
    client = web_client(app, STORE1)
    resp = client.get(f"/analytics/extractions/{ext}/export.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(table) == 3 and len(table[0]) == 4
    names = {r[2] for r in table[1:]}
    assert names == {"'=HYPERLINK(\"http://x\",\"y\")", "'+82 Kim"}
    log = sql("SELECT action, object_type, object_id, count FROM access_log WHERE action = 'export' ORDER BY id DESC")[0]
    assert tuple(log) == ("export", "extraction", str(ext), 2)
    resp = client.get(f"/analytics/extractions/{ext}/export.xlsx")
    assert resp.status_code == 200
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(resp.data)).active
    cells = [c.value for row in ws.iter_rows(min_row=2) for c in row]
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells and all(not str(v).startswith("=") for v in cells if v)
    assert scalar("SELECT COUNT(*) FROM access_log WHERE action = 'export' AND object_id = :e", e=str(ext)) == 2
    assert web_client(app, STORE2).get(f"/analytics/extractions/{ext}/export.csv").status_code == 404
    assert evil


# -- API ----------------------------------------------------------------------------------------------------------------


def test_api_create_extraction(app):
    t = tag()
    ok = make(tier=t, consents={"sms": True})
    make(tier=t, consents={"sms": False})
    client = api_client(app, STORE1)
    resp = api_post(client, f"{API}/extractions", {"rules": only(t), "channel": "sms", "name": "  VIP SMS  "})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["included"] == 1 and body["excluded"]["opted_out"] == 1 and body["name"] == "VIP SMS"
    assert resp.headers["Location"].endswith(f"/extractions/{body['id']}")
    assert members(body["id"]) == {ok}
    detail = client.get(f"{API}/extractions/{body['id']}", headers=bearer(client.token)).get_json()
    assert detail["rules"] == only(t) and detail["channel"] == "sms"
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'extraction.created' AND object_id = :i",
                  i=str(body["id"])) == 1
    # From a saved segment (its rules), with a default name.
    seg = api_post(client, f"{API}/segments", {"name": "Tagged", "rules": only(t)}).get_json()
    resp = api_post(client, f"{API}/extractions", {"segment_id": seg["id"], "channel": "sms"})
    assert resp.status_code == 201 and resp.get_json()["included"] == 1  # the first list is a draft: no contact yet
    assert resp.get_json()["status"] == "draft"
    assert resp.get_json()["name"].startswith("Tagged · sms")
    # Refusals change nothing.
    before = scalar("SELECT COUNT(*) FROM extraction")
    for bad, field in (({"rules": only(t)}, "channel"), ({"rules": only(t), "channel": "fax"}, "channel"),
                       ({"rules": only(t), "channel": "sms", "included": 5}, "included"),
                       ({"rules": {"all": [cond("nope", "eq", 1)]}, "channel": "sms"}, "all[0].field"),
                       ({"channel": "sms"}, "rules"), ({"segment_id": "1", "channel": "sms"}, "segment_id"),
                       ({"rules": only(t), "channel": "sms", "name": 5}, "name")):
        resp = api_post(client, f"{API}/extractions", bad)
        assert resp.status_code == 422 and field in resp.get_json()["fields"], (bad, resp.get_json())
    other_seg = api_post(api_client(app, STORE2), f"{API}/segments", {"name": "B2", "rules": {"all": []}}).get_json()
    assert api_post(client, f"{API}/extractions", {"segment_id": other_seg["id"], "channel": "sms"}).status_code == 404
    resp = client.post(f"{API}/extractions", data="[", headers={**bearer(client.token), "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert scalar("SELECT COUNT(*) FROM extraction") == before
    assert api_post(api_client(app, REVIEWER), f"{API}/extractions", {"rules": only(t), "channel": "sms"}).status_code == 403


def test_api_preview_with_channel_and_scope(app):
    t = tag()
    make(tier=t, consents={"sms": True})
    make(tier=t, branch="B002", consents={"sms": True})
    body = api_post(api_client(app, STORE1), f"{API}/segments/preview", {"rules": only(t), "channel": "sms"}).get_json()
    assert body["included"] == 1 and body["total"] == 1 and set(body["excluded"]) == set(CORE)
    assert len(body["sample"]) == 1 and re.fullmatch(r"010-\*{4}-\d{4}", body["sample"][0]["contact"])
    body = api_post(api_client(app, HQ), f"{API}/segments/preview", {"rules": only(t), "channel": "sms"}).get_json()
    assert body["included"] == 2
    assert scalar("SELECT COUNT(*) FROM access_log WHERE detail LIKE 'segments.preview%'") == 2


# -- pages --------------------------------------------------------------------------------------------------------------


def test_extraction_pages_preview_create_detail(app):
    t = tag()
    make(tier=t, consents={"sms": True})
    make(tier=t, consents={"sms": True}, complaint=True)
    client = web_client(app, STORE1)
    page = client.get("/analytics/extractions").get_data(as_text=True)
    assert "No target lists yet" in page
    import json as _json

    form = {"csrf_token": client.csrf, "segment_id": "", "rules": _json.dumps(only(t)), "channel": "sms", "name": ""}
    resp = client.post("/analytics/extractions/new", data={**form, "action": "preview"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert re.search(r'data-testid="preview-included">(\d+)<', html).group(1) == "1"
    assert 'data-reason="complaint"><td>' in html and 'data-chart="chart-preview"' in html
    resp = client.post("/analytics/extractions/new", data={**form, "channel": "", "action": "preview"})
    assert resp.status_code == 400 and 'data-testid="rule-errors"' in resp.get_data(as_text=True)
    resp = client.post("/analytics/extractions/new", data={**form, "action": "create"})
    assert resp.status_code == 302
    ext = int(resp.headers["Location"].rsplit("/", 1)[1])
    detail = client.get(f"/analytics/extractions/{ext}").get_data(as_text=True)
    assert len(re.findall(r'data-testid="member-row"', detail)) == 1 and "export.xlsx" in detail
    assert scalar("SELECT COUNT(*) FROM access_log WHERE object_type = 'extraction' AND action = 'list'") == 1
    assert f'data-extraction="{ext}"' in client.get("/analytics/extractions").get_data(as_text=True)
    # The member opts out: gone from the page at once, and the page says why.
    from portal.extensions import db
    from portal.models import Consent

    db.session.add(Consent(customer_id=members(ext).pop(), channel="sms", purpose="marketing", granted=False,
                           method="web", recorded_at=now_utc()))
    db.session.commit()
    detail = client.get(f"/analytics/extractions/{ext}").get_data(as_text=True)
    assert 'data-testid="withdrawn"' in detail and 'data-testid="member-row"' not in detail
    # From a saved segment (the builder's "Extract" link) the form comes prefilled.
    seg_id = api_post(api_client(app, STORE1), f"{API}/segments", {"name": "S", "rules": only(t)}).get_json()["id"]
    html = client.get(f"/analytics/extractions/new?segment={seg_id}").get_data(as_text=True)
    assert f'<option selected value="{seg_id}">' in html or f'value="{seg_id}" selected' in html
    assert web_client(app, STORE2).get(f"/analytics/extractions/new?segment={seg_id}").status_code == 404
    assert client.post("/analytics/extractions/new", data={**form, "csrf_token": "", "action": "create"}).status_code == 400


def test_a_list_sits_at_the_smallest_subtree_of_its_makers_grants(app):
    """Grants on two branches of one region: the list sits at the region; a regional manager sees
    it, staff of only one of the branches does not."""
    from portal.extensions import db
    from portal.models import OrgUnit
    from portal.security import BRANCH_STAFF
    from portal.users.service import create_user, grant_local

    def unit(code: str) -> OrgUnit:
        return db.session.execute(__import__("sqlalchemy").select(OrgUnit).where(OrgUnit.code == code)).scalar_one()

    two = create_user("two-branches@example.com", "Two", "a-long-password-2026")
    grant_local(two, BRANCH_STAFF, unit("B001"))
    grant_local(two, BRANCH_STAFF, unit("B002"))
    region = create_user("region1@example.com", "Region", "a-long-password-2026")
    grant_local(region, BRANCH_STAFF, unit("R01"))
    db.session.commit()
    t = tag()
    make(tier=t, consents={"sms": True})
    ext = create("two-branches@example.com", only(t), "sms")
    assert sql("SELECT branch_id FROM extraction WHERE id = :e", e=ext)[0][0] == unit_id("R01")
    seen = api_client(app, "region1@example.com")
    assert seen.get(f"{API}/extractions/{ext}", headers=bearer(seen.token)).status_code == 200
    store1 = api_client(app, STORE1)
    assert store1.get(f"{API}/extractions/{ext}", headers=bearer(store1.token)).status_code == 404
