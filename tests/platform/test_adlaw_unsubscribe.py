"""Unsubscribe links without login: GET changes nothing, POST (form or RFC 8058 one-click)
withdraws the consent once, bad or expired tokens are refused cleanly, queued marketing is
cancelled in the same transaction; compose_for fills in the portal's legal settings."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from portal.adlaw import LawViolation, compose_for, unsubscribe_url, unsubscribe_urls
from portal.adlaw.links import BadToken, make_token, read_token
from portal.extensions import db
from portal.models import Consent, Customer, utcnow


def consenting_customer(channel: str = "email") -> Customer:
    """A customer with an e-mail address whose current email/marketing consent is granted (made so)."""
    from portal.contact import record_consent

    customer = db.session.execute(select(Customer).where(Customer.email.is_not(None), Customer.email != "",
                                                         Customer.pseudonymized_at.is_(None))
                                  .order_by(Customer.id).limit(1)).scalar_one()
    record_consent(customer.id, channel, "marketing", True, method="store", source="test")
    db.session.commit()
    return customer


def consents(customer_id: int, channel: str = "email") -> list[Consent]:
    db.session.expire_all()
    return list(db.session.execute(select(Consent).where(
        Consent.customer_id == customer_id, Consent.channel == channel, Consent.purpose == "marketing")
        .order_by(Consent.id)).scalars())


def path_of(url: str) -> str:
    return urlsplit(url).path


# --- links and tokens -----------------------------------------------------------------------------

def test_url_is_absolute_from_the_base_url_without_a_request(app):
    app.config["PORTAL_BASE_URL"] = "https://portal.example.com/"
    url = unsubscribe_url(7, "email", message_id=99)
    assert url.startswith("https://portal.example.com/u/")
    assert read_token(url.rsplit("/", 1)[1]) == (7, "email", 99)
    assert read_token(make_token(7, "sms")) == (7, "sms", None)
    many = unsubscribe_urls([1, 2], "sms")
    assert set(many) == {1, 2} and read_token(many[2].rsplit("/", 1)[1]) == (2, "sms", None)


@pytest.mark.parametrize(("args", "error"), [((0, "email"), ValueError), ((-1, "email"), ValueError),
                                             ((True, "email"), ValueError), ((1, ""), ValueError),
                                             ((1, "email", 0), ValueError)])
def test_make_token_refuses_bad_input(app, args, error):
    with pytest.raises(error):
        make_token(*args)


def test_tokens_from_another_key_or_salt_are_refused(app):
    from itsdangerous import URLSafeTimedSerializer

    other = URLSafeTimedSerializer("another-key", salt="portal.adlaw.unsubscribe").dumps([1, "email"])
    other_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="auth.reset").dumps([1, "email"])
    wrong_shape = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="portal.adlaw.unsubscribe").dumps({"c": 1})
    for token in (other, other_salt, wrong_shape, "", "x" * 401):
        with pytest.raises(BadToken) as err:
            read_token(token)
        assert not err.value.expired


# --- the page ---------------------------------------------------------------------------------------

def test_get_shows_a_korean_confirmation_and_changes_nothing(app, client):
    customer = consenting_customer()
    before = consents(customer.id)
    url = path_of(unsubscribe_url(customer.id, "email"))
    for _ in range(2):  # a link scanner fetching twice
        resp = client.get(url)
        assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'data-state="confirm"' in html and "광고" in html and "수신거부" in html
    assert customer.email not in html and customer.name not in html  # masked address only
    local = customer.email.split("@")[0]
    assert customer.email.split("@")[1] in html and local[:2] in html
    assert "Unsubscribe" not in html and "Nothing changes" not in html  # Korean page, no English left
    assert 'name="robots" content="noindex' in html and resp.headers["X-Robots-Tag"].startswith("noindex")
    assert resp.headers["Referrer-Policy"] == "no-referrer" and resp.headers["Cache-Control"] == "no-store"
    assert client.head(url).status_code == 200
    assert [c.id for c in consents(customer.id)] == [c.id for c in before]


def test_page_in_english_when_chosen(app, client):
    customer = consenting_customer()
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    html = client.get(path_of(unsubscribe_url(customer.id, "email"))).get_data(as_text=True)
    assert "Unsubscribe from advertising" in html and "Nothing changes until you press the button" in html


def test_post_unsubscribes_without_login_or_csrf_then_says_already(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    customer = consenting_customer()
    url = path_of(unsubscribe_url(customer.id, "email", message_id=42))
    resp = client.post(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert 'data-state="done"' in resp.get_data(as_text=True)
    rows = consents(customer.id)
    last = rows[-1]
    assert (last.granted, last.method, last.source, last.recorded_by_id, last.kind) == (
        False, "web", "unsubscribe_link", None, "consent")
    assert last.note == "message 42"
    again = client.post(url)
    assert again.status_code == 200 and 'data-state="already"' in again.get_data(as_text=True)
    assert 'data-state="already"' in client.get(url).get_data(as_text=True)
    assert len(consents(customer.id)) == len(rows)  # idempotent: one withdrawal


def test_simultaneous_posts_record_one_withdrawal(app):
    """A mail provider's one-click and the customer's own click at the same moment."""
    import threading

    customer = consenting_customer()
    url = path_of(unsubscribe_url(customer.id, "email"))
    before = len(consents(customer.id))
    db.session.commit()  # end the test's own transaction: on SQLite it may hold the write lock
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        codes.append(client.post(url, data="List-Unsubscribe=One-Click",
                                 content_type="application/x-www-form-urlencoded").status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == [200, 200]
    assert len(consents(customer.id)) == before + 1


def test_rfc8058_one_click_post(app, client):
    customer = consenting_customer()
    resp = client.post(path_of(unsubscribe_url(customer.id, "email")), data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200
    assert consents(customer.id)[-1].granted is False


def test_one_click_with_multipart_body_and_a_signed_in_staff_browser(app, client, login_as):
    customer = consenting_customer()
    login_as("admin@example.com")
    url = path_of(unsubscribe_url(customer.id, "email"))
    assert 'data-state="confirm"' in client.get(url).get_data(as_text=True)
    resp = client.post(url, data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data")
    assert resp.status_code == 200 and consents(customer.id)[-1].granted is False


def test_expired_token_is_410_and_changes_nothing(app, client, monkeypatch):
    customer = consenting_customer()
    days = app.config["PORTAL_UNSUBSCRIBE_DAYS"]
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - (days + 1) * 86400)
        url = path_of(unsubscribe_url(customer.id, "email"))
    before = len(consents(customer.id))
    for method in (client.get, client.post):
        resp = method(url)
        assert resp.status_code == 410
        assert 'data-state="expired"' in resp.get_data(as_text=True)
    assert len(consents(customer.id)) == before


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),   # signature changed
    lambda t: "x" + t,                                              # payload changed
    lambda t: t.split(".")[0],                                      # signature cut off
    lambda t: "not-a-token",
    lambda t: "%00",
    lambda t: "a" * 5000,
    lambda t: "한글.토큰",
])
def test_tampered_or_junk_tokens_are_clean_400s(app, client, mangle):
    customer = consenting_customer()
    token = unsubscribe_url(customer.id, "email").rsplit("/", 1)[1]
    before = len(consents(customer.id))
    for method in (client.get, client.post):
        resp = method(f"/u/{mangle(token)}")
        assert resp.status_code in (400, 404), resp.status_code
    assert len(consents(customer.id)) == before


def test_erased_customer_records_nothing(app, client):
    customer = consenting_customer()
    customer.pseudonymized_at = utcnow()
    db.session.commit()
    url = path_of(unsubscribe_url(customer.id, "email"))
    before = len(consents(customer.id))
    assert 'data-state="gone"' in client.get(url).get_data(as_text=True)
    resp = client.post(url)
    assert resp.status_code == 200 and 'data-state="gone"' in resp.get_data(as_text=True)
    assert len(consents(customer.id)) == before


def test_unknown_customer_is_gone_not_500(app, client):
    resp = client.post(path_of(unsubscribe_url(2**31 - 1, "email")))
    assert resp.status_code == 200 and 'data-state="gone"' in resp.get_data(as_text=True)


def test_unknown_channel_in_a_signed_token_is_a_clean_400(app, client):
    customer = consenting_customer()
    resp = client.post(path_of(unsubscribe_url(customer.id, "fax")))
    assert resp.status_code == 400
    assert db.session.execute(select(func.count()).select_from(Consent).where(Consent.channel == "fax")).scalar() == 0


def test_customer_without_any_consent_row_gets_an_explicit_optout(app, client):
    customer = db.session.execute(select(Customer).where(
        ~select(Consent.id).where(Consent.customer_id == Customer.id, Consent.channel == "sms").exists(),
        Customer.pseudonymized_at.is_(None)).limit(1)).scalar_one()
    resp = client.post(path_of(unsubscribe_url(customer.id, "sms")))
    assert resp.status_code == 200
    assert [c.granted for c in consents(customer.id, "sms")] == [False]


def test_unsubscribe_cancels_queued_marketing_in_the_same_transaction(app, client):
    from portal.messaging import queue_message
    from portal.messaging.models import Message

    app.config.update(PORTAL_SENDER_CONTACT="02-123-4567", PORTAL_OPTOUT_080="080-123-4567")
    customer = consenting_customer()
    msg = queue_message(channel="email", purpose="marketing", subject="봄 세일", body="안녕하세요",
                        idempotency_key=f"test-adlaw-{customer.id}", source="test", customer_id=customer.id,
                        not_before=utcnow().replace(year=utcnow().year + 1))
    db.session.commit()
    assert msg.subject.startswith("(광고)") and msg.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The dispatcher puts the customer's own link in right before sending (on a detached copy).
    from types import SimpleNamespace

    from portal.messaging.service import personalize

    sent = personalize(SimpleNamespace(id=msg.id, customer_id=customer.id, channel="email", body=msg.body,
                                       html=msg.html, headers=dict(msg.headers)))
    link = sent.headers["List-Unsubscribe"].split(">")[0].lstrip("<")
    assert link in sent.body and read_token(link.rsplit("/", 1)[1]) == (customer.id, "email", msg.id)
    resp = client.post(path_of(link), data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200
    db.session.expire_all()
    assert db.session.get(Message, msg.id).status == "cancelled"
    assert consents(customer.id)[-1].granted is False


# --- compose_for ------------------------------------------------------------------------------------

def test_compose_for_uses_the_settings_and_the_customers_link(app):
    app.config.update(PORTAL_BASE_URL="https://portal.example.com", PORTAL_SENDER_NAME="파트너포털",
                      PORTAL_SENDER_CONTACT="02-123-4567", PORTAL_SENDER_ADDRESS="서울시 중구 1",
                      PORTAL_OPTOUT_080="0801234567", PORTAL_UNSUBSCRIBE_MAILTO="unsubscribe@example.com")
    out = compose_for("email", 5, subject="봄 세일", body="안녕하세요", message_id=9)
    link = out.headers["List-Unsubscribe"].split(">")[0].lstrip("<")
    assert link.startswith("https://portal.example.com/u/") and read_token(link.rsplit("/", 1)[1]) == (5, "email", 9)
    assert out.headers["List-Unsubscribe"].endswith("<mailto:unsubscribe@example.com>")
    assert out.subject == "(광고)봄 세일" and "서울시 중구 1" in out.body and link in out.body
    sms = compose_for("sms", 5, subject=None, body="세일")
    assert sms.body == "(광고)파트너포털 세일\n무료수신거부 080-123-4567"


def test_compose_for_refuses_while_settings_are_missing(app):
    app.config.update(PORTAL_SENDER_CONTACT="", PORTAL_OPTOUT_080="")
    with pytest.raises(LawViolation) as err:
        compose_for("sms", 5, subject=None, body="세일")
    assert err.value.reasons == ["contact_missing", "optout_missing"]
