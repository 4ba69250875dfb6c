"""Tracking (issue 15, results): the open pixel, the signed click redirect (no open redirect) and the
provider's delivery reports (authenticated webhook, idempotent, bad rows reported, never a 500)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.plugins.cem_channels import results_fixtures as rf

HTML = ('<html><body><p>안녕하세요</p><a href="https://shop.example.com/offer?a=1&amp;b=2">쇼핑</a> '
        "<a href='mailto:help@example.com'>문의</a> <a href=\"#top\">위로</a> "
        '<a href="https://unsubscribe.invalid/portal-unsubscribe-link">수신거부</a> '
        '<a href="tel:0215881234">전화</a></body></html>')


def _events(message_id: int | None = None) -> list[tuple[str, str | None]]:
    from sqlalchemy import select

    from plugins.cem_channels.campaign_models import CemMessageEvent
    from portal.extensions import db

    q = select(CemMessageEvent.kind, CemMessageEvent.url).order_by(CemMessageEvent.kind)
    if message_id is not None:
        q = q.where(CemMessageEvent.message_id == message_id)
    return [tuple(r) for r in db.session.execute(q)]


def _tracked_message(app, html: str = HTML) -> tuple[int, str, str]:
    """One queued campaign e-mail with tracked HTML; (message id, key, stored html)."""
    from plugins.cem_channels.campaigns.tracking import track_html
    from portal.extensions import db
    from portal.toolkit import Message

    cid = rf.customers(1)[0]
    campaign = rf.make_campaign()
    key = f"cem:{campaign.id}:1:{cid}"
    [mid] = rf.queue(campaign, [cid], html=track_html(html, key))
    db.session.commit()
    return mid, key, db.session.get(Message, mid).html


def test_track_html_rewrites_links_and_adds_the_pixel(app):
    from plugins.cem_channels.campaigns.tracking import track_html

    with app.test_request_context():
        out = track_html(HTML, "cem:1:1:42")
    links = re.findall(r"""href=(["'])(.*?)\1""", out)
    hrefs = [h for _q, h in links]
    assert hrefs[0].startswith("http://127.0.0.1:5000/c/c/")
    assert "mailto:help@example.com" in hrefs and "#top" in hrefs and "tel:0215881234" in hrefs
    assert "https://unsubscribe.invalid/portal-unsubscribe-link" in hrefs  # never tracked
    pixel = re.search(r'<img src="(http://127\.0\.0\.1:5000/c/o/[^"]+\.gif)"', out)
    assert pixel and out.index(pixel.group(0)) < out.index("</body>")
    assert track_html(None, "k") is None and track_html("", "k") == ""
    no_body = track_html("<p>hi</p>", "cem:1:1:43")
    assert no_body.startswith("<p>hi</p><img ")


def test_open_pixel_records_the_first_open_once(app):
    mid, _key, html = _tracked_message(app)
    pixel = re.search(r'src="http://127\.0\.0\.1:5000(/c/o/[^"]+\.gif)"', html).group(1)
    client = app.test_client()
    for _ in range(3):
        resp = client.get(pixel)
        assert resp.status_code == 200 and resp.mimetype == "image/gif" and resp.data.startswith(b"GIF89a")
        assert "no-store" in resp.headers["Cache-Control"]
    assert _events(mid) == [("open", None)]


def test_bad_pixel_tokens_answer_the_gif_and_record_nothing(app):
    client = app.test_client()
    for path in ("/c/o/garbage.gif", "/c/o/" + "x" * 900 + ".gif", "/c/o/Ij.gif"):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype == "image/gif"
    # a valid signature for a key of no message: nothing recorded either
    from plugins.cem_channels.campaigns.tracking import open_token

    with app.test_request_context():
        token = open_token("cem:999999:1:1")
    assert client.get(f"/c/o/{token}.gif").status_code == 200
    assert _events() == []


def test_click_redirects_to_the_signed_url_and_records_click_and_open(app):
    mid, _key, html = _tracked_message(app)
    link = re.search(r'href="http://127\.0\.0\.1:5000(/c/c/[^"]+)"', html).group(1).replace("&amp;", "&")
    client = app.test_client()
    resp = client.get(link)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "https://shop.example.com/offer?a=1&b=2"
    assert client.get(link).status_code == 302  # a second click: still redirected, recorded once
    assert _events(mid) == [("click", "https://shop.example.com/offer?a=1&b=2"), ("open", None)]


def test_tampered_redirect_target_is_refused(app):
    from plugins.cem_channels.campaigns.tracking import sign_url

    mid, _key, html = _tracked_message(app)
    link = re.search(r'href="http://127\.0\.0\.1:5000(/c/c/[^"]+)"', html).group(1).replace("&amp;", "&")
    path, query = link.split("?", 1)
    signed = parse_qs(query)["u"][0]
    client = app.test_client()
    for bad in (signed[:-2] + "xx", "https://evil.example.com", "", signed.replace(".", "-", 1)):
        resp = client.get(path, query_string={"u": bad})
        assert resp.status_code == 400, bad
        assert "Location" not in resp.headers
    with app.test_request_context():
        js = sign_url("javascript:alert(1)")
    assert client.get(path, query_string={"u": js}).status_code == 400
    assert _events(mid) == []
    # a good target with a broken click token still goes where it was signed to (nothing recorded)
    resp = client.get("/c/c/broken", query_string={"u": signed})
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).netloc == "shop.example.com"
    assert _events(mid) == []


# --- delivery reports ---------------------------------------------------------------------------

def _sent_sms(app, provider, n: int = 2) -> list[int]:
    """SMS campaign messages really sent through the fake provider."""
    from portal.extensions import db
    from portal.toolkit import Message, dispatch, record_consent

    ids = rf.customers(n)
    from portal.models import Customer

    for i, cid in enumerate(ids):
        db.session.get(Customer, cid).phone = f"0107777{1000 + i}"
        record_consent(cid, "sms", "marketing", True, method="store", source="test")
        record_consent(cid, "sms", "night_ads", True, method="web", source="test")  # the suite may run at night
    campaign = rf.make_campaign(channel="sms")
    mids = rf.queue(campaign, ids, channel="sms", body="신상품 안내")
    db.session.commit()
    dispatch(limit=50)
    got = [db.session.get(Message, m) for m in mids]
    assert all(m.status == "sent" for m in got), [(m.status, m.status_reason, m.last_error) for m in got]
    return mids


def _post(app, payload, key: str | None = "test-key"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return app.test_client().post("/c/delivery-reports", json=payload, headers=headers)


def test_delivery_reports_need_the_provider_key(app):
    assert _post(app, [], key=None).status_code == 401
    assert _post(app, [], key="wrong").status_code == 401
    resp = app.test_client().post("/c/delivery-reports", json=[], headers={"Authorization": "Basic test-key"})
    assert resp.status_code == 401
    assert _post(app, []).status_code == 200


def test_delivery_reports_are_recorded_once(app, provider):
    from portal.extensions import db
    from portal.toolkit import Message

    mids = _sent_sms(app, provider)
    first, second = (db.session.get(Message, m) for m in mids)
    payload = provider.report_payload([first.provider_id])
    payload.append({"idempotency_key": second.idempotency_key, "status": "undelivered",
                    "at": "2026-11-02T12:00:05+09:00"})
    resp = _post(app, payload)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"received": 2, "recorded": 2, "duplicates": 0, "errors": []}
    assert _events(first.id) == [("delivered", None)] and _events(second.id) == [("undelivered", None)]
    again = _post(app, payload).get_json()
    assert again["recorded"] == 0 and again["duplicates"] == 2
    from sqlalchemy import select

    from plugins.cem_channels.campaign_models import CemMessageEvent

    at = db.session.execute(select(CemMessageEvent.at).where(CemMessageEvent.message_id == second.id)).scalar_one()
    assert at.isoformat() == "2026-11-02T03:00:05"  # KST offset → naive UTC


def test_bad_delivery_reports_are_reported_not_a_500(app, provider):
    from portal.extensions import db
    from portal.toolkit import Message

    [mid] = _sent_sms(app, provider, 1)
    pid = db.session.get(Message, mid).provider_id
    resp = _post(app, [{"provider_id": pid, "status": "delivered"}, "junk", {"status": "delivered"},
                       {"provider_id": pid, "status": "read"}, {"provider_id": pid, "status": "delivered", "at": "어제"},
                       {"provider_id": "fp-unknown", "status": "delivered"}, {"provider_id": 12, "status": "delivered"}])
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["recorded"] == 1
    assert {e["index"]: sorted(e["errors"]) for e in body["errors"]} == {
        1: ["item"], 2: ["provider_id"], 3: ["status"], 4: ["at"], 5: ["provider_id"], 6: ["provider_id"]}
    for bad in ({"reports": "x"}, "text", None, 5):
        r = _post(app, bad)
        assert r.status_code == 422 and "errors" in r.get_json()
    r = app.test_client().post("/c/delivery-reports", data="{not json", content_type="application/json",
                               headers={"Authorization": "Bearer test-key"})
    assert r.status_code == 422


def test_delivery_reports_off_without_a_key(unconfigured_app):
    unconfigured_app.config["PORTAL_CEM_PROVIDER_KEY"] = ""
    resp = unconfigured_app.test_client().post("/c/delivery-reports", json=[],
                                               headers={"Authorization": "Bearer "})
    assert resp.status_code == 404
