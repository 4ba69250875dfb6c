"""The channel registry: core channels (kakao and push included), add-on channels through the hook,
and an unknown channel refused with a clear message on the form, the API and the CLI — never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.hookspecs import hookimpl
from tests.conftest import scalar
from tests.test_segments import API, STORE1, api_client, api_post, make, web_client

CORE = ["email", "sms", "kakao", "push", "dm", "phone"]


def test_core_channels_in_order_with_their_capabilities(app):
    from portal.contact import channel, channels
    from portal.models import CHANNELS, EXTRACTION_CHANNELS

    assert [c.code for c in channels()] == CORE
    assert channel("kakao").fields == ("phone",) and channel("push").fields == ()
    assert channel("dm").fields == ("address", "postal_code")
    assert channel("fax") is None and channel(None) is None
    # The old constants read the registry.
    assert "kakao" in CHANNELS and "push" in EXTRACTION_CHANNELS and "fax" not in CHANNELS
    assert list(CHANNELS) == CORE and len(EXTRACTION_CHANNELS) == 6


class FaxAddOn:
    @hookimpl
    def portal_channels(self):
        return [{"code": "fax", "label": "Fax", "consent": True, "extraction": False, "order": 70, "fields": ("phone",)},
                {"code": "BAD CODE", "label": "x"},            # refused: not a code
                {"code": "sms", "label": "SMS again"},         # refused: taken
                {"code": "pager", "fields": ("pager_no",)}]    # refused: unknown field


def test_an_add_on_contributes_a_channel_and_bad_contributions_are_skipped(app, caplog):
    from portal.contact import channel_codes, channels, may_contact, require_channel
    from portal.plugins import registry

    reg = registry()
    reg.pm.register(FaxAddOn(), name="core.test_fax")  # core: always active
    reg._derived.clear()
    try:
        assert [c.code for c in channels()] == [*CORE, "fax"]
        assert channel_codes(extraction=True) == CORE
        assert channels()[1].code == "sms" and str(channels()[1].label) != "SMS again"  # the core's is kept
        assert require_channel("fax", consent=True).label == "Fax"
        cid = make(consents={"fax": True})
        now = datetime.now(UTC).replace(tzinfo=None)
        noon = now.replace(hour=3, minute=0, second=0, microsecond=0)  # the next noon in Korea: no night rule
        assert may_contact(cid, "fax", "marketing", noon if noon > now else noon + timedelta(days=1)).allowed
        assert sum("portal_channels: ignoring" in r.message for r in caplog.records) == 2
        assert any("contributed twice" in r.message for r in caplog.records)
    finally:
        reg.pm.unregister(name="core.test_fax")
        reg._derived.clear()
    assert "fax" not in channel_codes()


def test_consent_form_lists_kakao_and_push_and_refuses_an_unknown_channel(app):
    client = web_client(app, STORE1)
    cid = make(branch="B001")
    html = client.get(f"/customers/{cid}?tab=consent").get_data(as_text=True)
    for code in CORE:
        assert f'<option value="{code}"' in html, code
    assert ">KakaoTalk<" in html and ">App push<" in html
    resp = client.post(f"/customers/{cid}/consent", data={"channel": "fax", "purpose": "marketing", "granted": "1",
                                                          "method": "store", "csrf_token": client.csrf},
                       follow_redirects=True)
    assert resp.status_code == 200
    assert "Check the consent form." in resp.get_data(as_text=True) and "Channel" in resp.get_data(as_text=True)
    assert scalar("SELECT COUNT(*) FROM consent WHERE customer_id = :c", c=cid) == 0
    resp = client.post(f"/customers/{cid}/consent", data={"channel": "kakao", "purpose": "marketing", "granted": "1",
                                                          "method": "store", "csrf_token": client.csrf})
    assert resp.status_code == 302
    assert scalar("SELECT source FROM consent WHERE customer_id = :c AND channel = 'kakao'", c=cid) == "staff"


def test_korean_labels_of_the_new_channels(app):
    client = web_client(app, STORE1)
    client.post("/language", data={"lang": "ko", "next": "/dashboard", "csrf_token": client.csrf})
    cid = make(branch="B001")
    html = client.get(f"/customers/{cid}?tab=consent").get_data(as_text=True)
    assert "카카오톡" in html and "앱 푸시" in html


def test_api_refuses_an_unknown_channel_with_the_valid_ones(app):
    client = api_client(app, STORE1)
    make(tier="reg-api", consents={"kakao": True})
    rules = {"all": [{"field": "tier", "op": "eq", "value": "reg-api"}]}
    resp = api_post(client, f"{API}/segments/preview", {"rules": rules, "channel": "fax"})
    assert resp.status_code == 422
    body = resp.get_json()
    assert "kakao" in str(body) and "push" in str(body)
    resp = api_post(client, f"{API}/segments/preview", {"rules": rules, "channel": "kakao"})
    assert resp.status_code == 200 and resp.get_json()["included"] == 1
    bad_rule = {"all": [{"field": "consent", "op": "eq", "value": "fax"}]}
    resp = api_post(client, f"{API}/segments/preview", {"rules": bad_rule})
    assert resp.status_code == 422 and "kakao" in str(resp.get_json())


def test_cli_lists_channels_and_checks_a_customer(app):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["portal", "contact", "channels"])
    assert out.exit_code == 0 and [line.split()[0] for line in out.output.splitlines()] == CORE
    cid = make(consents={"sms": True})
    code = scalar("SELECT code FROM customer WHERE id = :c", c=cid)
    out = runner.invoke(args=["portal", "contact", "check", code, "sms", "--at", "2026-12-07T03:00:00"])
    assert out.exit_code == 0 and out.output.strip() == "allowed"
    out = runner.invoke(args=["portal", "contact", "check", code, "sms", "--at", "2026-12-07T13:00:00+00:00"])
    assert out.output.strip() == "deferred until 2026-12-07T23:00:00+00:00 (night_window)"
    out = runner.invoke(args=["portal", "contact", "check", code, "email"])
    assert out.output.strip() == "refused: no_consent"
    out = runner.invoke(args=["portal", "contact", "check", code, "fax"])
    assert out.exit_code == 2 and "'fax'" in out.output and "email, sms, kakao, push, dm, phone" in out.output
    out = runner.invoke(args=["portal", "contact", "check", "NOPE", "sms"])
    assert out.exit_code == 2 and "No customer" in out.output
    out = runner.invoke(args=["portal", "contact", "check", code, "sms", "--at", "yesterday"])
    assert out.exit_code == 2 and "ISO 8601" in out.output


def test_api_records_consent_and_contacts_and_reads_the_timeline(app):
    from tests.conftest import bearer

    client = api_client(app, STORE1)
    cid = make(branch="B001")
    url = f"{API}/customers/{cid}"
    resp = api_post(client, f"{url}/consents", {"channel": "push", "purpose": "marketing", "granted": True})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["channel"], body["granted"], body["method"], body["source"], body["kind"]) == (
        "push", True, "api", "api", "consent")
    resp = api_post(client, f"{url}/consents", {"channel": "fax", "purpose": "marketing", "granted": True})
    assert resp.status_code == 422 and resp.get_json()["error"] == "validation_failed"
    assert "Unknown channel 'fax'" in resp.get_json()["message"] and "kakao" in resp.get_json()["message"]
    resp = api_post(client, f"{url}/consents", {"channel": "sms", "purpose": "marketing", "granted": "yes",
                                                "method": "fax-machine"})
    assert resp.status_code == 422 and set(resp.get_json()["fields"]) == {"granted", "method"}
    resp = api_post(client, f"{url}/consents", {"channel": "sms", "purpose": "marketing", "granted": True,
                                                "recorded_by_id": 1})
    assert resp.status_code == 422 and "cannot be set" in resp.get_json()["message"]
    resp = api_post(client, f"{url}/contacts", {"channel": "phone", "purpose": "service", "outcome": "answered"})
    assert resp.status_code == 201 and resp.get_json()["source"] == "api"
    assert api_post(client, f"{url}/contacts", {"channel": "phone", "purpose": "spam"}).status_code == 422
    assert scalar("SELECT COUNT(*) FROM consent WHERE customer_id = :c", c=cid) == 1
    got = client.get(f"{url}/contacts", headers=bearer(client.token)).get_json()
    assert [(i["kind"], i["channel"]) for i in got["items"]] == [("contact", "phone"), ("consent", "push")]
    assert got["items"][0]["actor"] == STORE1 and got["total"] == 2
    assert client.get(f"{url}/contacts?page=0", headers=bearer(client.token)).status_code == 400
    # Another branch's customer is a 404; no token is a 401.
    other = api_client(app, "store2@example.com")
    assert other.get(f"{url}/contacts", headers=bearer(other.token)).status_code == 404
    assert api_post(other, f"{url}/consents", {"channel": "sms", "purpose": "marketing", "granted": False}).status_code == 404
    assert client.get(f"{url}/contacts").status_code == 401
    # A role without customer permissions: 403 on all three, nothing written.
    reviewer = api_client(app, "reviewer@example.com")
    assert reviewer.get(f"{url}/contacts", headers=bearer(reviewer.token)).status_code == 403
    for path in ("consents", "contacts"):
        assert api_post(reviewer, f"{url}/{path}", {"channel": "sms", "purpose": "marketing", "granted": False}
                        ).status_code == 403
    assert scalar("SELECT COUNT(*) FROM consent WHERE customer_id = :c", c=cid) == 1
