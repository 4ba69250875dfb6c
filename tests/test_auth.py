"""SECURITY.md "Sessions and authentication" and the CSRF / no-state-change-on-GET half of
"Requests": password hashing and policy, server-side sessions (rotation, logout, timeouts,
cookie flags), login throttling across workers, password change and reset, open redirects.

Every test drives the real HTTP routes where it can and checks the database behind them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import delete, func, inspect, select, update

from tests.conftest import PASSWORD, csrf_token, login, make_app, post_form

ADMIN = "admin@example.com"
STORE1 = "store1@example.com"
NEW_PASSWORD = "blue-Harbor-lantern-93"
COOKIE = "portal_session"


# ---------------------------------------------------------------- helpers


def _db():
    from portal.extensions import db

    return db


def user(email: str):
    from portal.models import User

    db = _db()
    db.session.expire_all()
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def cookie_value(client) -> str | None:
    c = client.get_cookie(COOKIE)
    return c.value if c else None


def client_with_cookie(app, value: str):
    """A brand-new browser that only has ``value`` as its session cookie (a stolen cookie)."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def is_logged_in(client) -> bool:
    resp = client.get("/dashboard")
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302 and urlsplit(resp.location).path == "/login", resp.status_code
    return False


def english(client, page: str = "/login") -> None:
    """Pick English for this browser so messages can be asserted on."""
    resp = post_form(client, "/language", {"lang": "en", "next": page}, form_page=page)
    assert resp.status_code == 302


def client_from(app, ip: str):
    """A browser at another address (per-IP throttling)."""
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = ip
    return c


def https_client(app):
    """A browser talking to the site over https (Secure cookies are only sent there)."""
    c = app.test_client()
    plain_open = c.open

    def open_https(*args, **kwargs):
        kwargs.setdefault("base_url", "https://localhost")
        return plain_open(*args, **kwargs)

    c.open = open_https
    return c


def flashes(client) -> str:
    """The text of the login page (where flashed messages end up)."""
    return client.get("/login").get_data(as_text=True)


def sessions_of(email: str) -> int:
    from portal.models import UserSession

    db = _db()
    return db.session.execute(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user(email).id)).scalar_one()


def change_password(client, current: str, new: str, confirm: str | None = None):
    return post_form(client, "/account/password",
                     {"current": current, "new": new, "confirm": new if confirm is None else confirm},
                     form_page="/account/password")


# ---------------------------------------------------------------- passwords (ASVS 6.2.x, 11.4.2)


def _assert_strong_argon2id(stored: str) -> None:
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert params.type is Type.ID
    assert params.memory_cost >= 47104
    assert params.time_cost >= 1


def test_stored_hashes_are_argon2id_with_owasp_parameters(app, login_as):
    from portal.users.service import create_user

    # The demo accounts, a user created through the service, and one created via a form.
    _assert_strong_argon2id(user(ADMIN).password_hash)
    created = create_user("new.person@example.com", "New Person", NEW_PASSWORD)
    _db().session.commit()
    _assert_strong_argon2id(created.password_hash)
    assert NEW_PASSWORD not in created.password_hash

    client = login_as(STORE1)
    assert change_password(client, PASSWORD, NEW_PASSWORD).status_code == 302
    stored = user(STORE1).password_hash
    _assert_strong_argon2id(stored)
    assert PasswordHasher().verify(stored, NEW_PASSWORD)


def test_login_rehashes_a_hash_made_with_weaker_parameters(app, client):
    db = _db()
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID).hash(PASSWORD)
    u = user(STORE1)
    u.password_hash = weak
    db.session.commit()

    # A wrong password must not touch the stored hash.
    assert login(client, STORE1, "not-the-password").status_code == 401
    assert user(STORE1).password_hash == weak

    assert login(client, STORE1).status_code == 302
    upgraded = user(STORE1).password_hash
    assert upgraded != weak
    assert extract_parameters(weak).memory_cost == 1024
    _assert_strong_argon2id(upgraded)
    assert PasswordHasher().verify(upgraded, PASSWORD)

    # ... and logging in again with the upgraded hash leaves it alone.
    assert login(app.test_client(), STORE1).status_code == 302
    assert user(STORE1).password_hash == upgraded


@pytest.mark.parametrize(
    ("new", "accepted"),
    [
        ("short7c", False),                  # 7 characters
        ("Aa1!b2C@", True),                  # exactly 8
        ("x" * 7 + "€", True),              # 8 characters, one of them multi-byte
        ("correct horse battery staple " * 3, True),  # 87 characters: long passphrases allowed
        ("password", False),                 # common
        ("PassWord1234", False),             # common, whatever the case
        ("qwerty123", False),
        ("store1store1", None),              # not in the list; decided by the list only
    ],
)
def test_password_change_form_applies_the_policy(app, login_as, new, accepted):
    from portal.auth.passwords import common_passwords

    if accepted is None:
        accepted = new.lower() not in common_passwords()
    client = login_as(STORE1)
    before = user(STORE1).password_hash
    resp = change_password(client, PASSWORD, new)
    after = user(STORE1).password_hash
    if accepted:
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
        assert after != before
        assert PasswordHasher().verify(after, new)
    else:
        assert resp.status_code == 400
        assert after == before


def test_password_change_needs_the_current_password_and_matching_confirmation(app, login_as):
    client = login_as(STORE1)
    before = user(STORE1).password_hash
    assert change_password(client, "wrong-current-pass", NEW_PASSWORD).status_code == 400
    assert change_password(client, PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "x").status_code == 400
    assert user(STORE1).password_hash == before


def test_guessing_the_current_password_in_the_change_form_is_throttled(app, login_as):
    """A stolen session must not become a free password-guessing oracle."""
    client = login_as(STORE1)
    before = user(STORE1).password_hash
    limit = app.config["PORTAL_THROTTLE_ACCOUNT_LIMIT"]
    for i in range(limit):
        assert change_password(client, f"guess-number-{i}", NEW_PASSWORD).status_code == 400
    assert change_password(client, PASSWORD, NEW_PASSWORD).status_code == 429
    assert user(STORE1).password_hash == before
    assert _failures("acct:store1@example.com") == limit


def test_create_user_applies_the_policy(app):
    from portal.models import User
    from portal.users.service import UserError, create_user

    db = _db()
    for weak in ("1234567", "password", "Password", "iloveyou", "12345678", "carol"):
        with pytest.raises(UserError):
            create_user("carol@example.com", "Carol", weak)
    with pytest.raises(UserError):  # the e-mail's local part is refused as a password
        create_user("carolina.kim@example.com", "Carol", "carolina.kim")
    assert db.session.execute(select(User).where(User.email.like("carol%"))).first() is None
    long_one = "오늘도 좋은 하루 " * 10  # 100 characters, Hangul and spaces
    created = create_user("carol@example.com", "Carol", long_one)
    assert PasswordHasher().verify(created.password_hash, long_one)


def test_admin_user_form_refuses_a_common_password(app, login_as):
    from portal.models import User

    client = login_as(ADMIN)
    page = "/manage/users/new"
    html = client.get(page).get_data(as_text=True)
    assert 'name="password"' in html
    resp = post_form(client, page, {"email": "weak@example.com", "name": "Weak", "password": "password1"},
                     form_page=page)
    assert resp.status_code in (200, 400)
    db = _db()
    assert db.session.execute(select(User).where(User.email == "weak@example.com")).first() is None


def test_verify_password_is_false_for_garbage_and_missing_hashes(app):
    from portal.auth.passwords import verify_password

    assert verify_password(None, PASSWORD) is False
    assert verify_password("not a hash", PASSWORD) is False
    assert verify_password("", PASSWORD) is False
    assert verify_password(user(ADMIN).password_hash, PASSWORD) is True
    assert verify_password(user(ADMIN).password_hash, PASSWORD + " ") is False


# ---------------------------------------------------------------- sessions (ASVS 7.x, 3.3.x)


def test_session_id_changes_at_login_and_a_pre_login_cookie_is_useless(app, client):
    client.get("/login")  # the anonymous session (holds the CSRF token)
    before = cookie_value(client)
    assert before
    resp = login(client, STORE1)
    assert resp.status_code == 302
    after = cookie_value(client)
    assert after and after != before
    assert is_logged_in(client)

    # Session fixation: the cookie an attacker planted before the victim logged in stays anonymous.
    planted = client_with_cookie(app, before)
    assert not is_logged_in(planted)

    # Each login is a new server-side session with its own id.
    other = app.test_client()
    assert login(other, STORE1).status_code == 302
    assert cookie_value(other) != after
    assert sessions_of(STORE1) == 2


def test_the_session_cookie_holds_no_user_id(app, client):
    """Flask-Login stores our random session token, not the guessable user id."""
    from flask.sessions import SecureCookieSessionInterface

    assert login(client, STORE1).status_code == 302
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    data = serializer.loads(cookie_value(client))
    assert data["_user_id"] != str(user(STORE1).id)
    assert len(data["_user_id"]) >= 32


def test_logout_invalidates_the_session_on_the_server(app, client):
    assert login(client, STORE1).status_code == 302
    stolen = cookie_value(client)
    assert is_logged_in(client_with_cookie(app, stolen))  # the copy works while the session lives
    assert sessions_of(STORE1) == 1

    resp = post_form(client, "/logout", {})
    assert resp.status_code == 302 and urlsplit(resp.location).path == "/login"
    assert not is_logged_in(client)
    assert sessions_of(STORE1) == 0
    # The cookie captured before logout, replayed from another browser, is dead.
    assert not is_logged_in(client_with_cookie(app, stolen))


def test_logout_is_post_only_and_needs_csrf(app, client):
    assert login(client, STORE1).status_code == 302
    assert client.get("/logout").status_code == 405
    assert is_logged_in(client)
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert is_logged_in(client)
    assert sessions_of(STORE1) == 1
    assert post_form(client, "/logout", {}).status_code == 302
    assert not is_logged_in(client)


def test_password_change_ends_the_users_other_sessions(app, client):
    laptop, phone, someone_else = client, app.test_client(), app.test_client()
    for c, email in ((laptop, STORE1), (phone, STORE1), (someone_else, ADMIN)):
        assert login(c, email).status_code == 302
    assert change_password(laptop, PASSWORD, NEW_PASSWORD).status_code == 302
    assert is_logged_in(laptop)          # the session that changed it stays
    assert not is_logged_in(phone)       # every other session of the user ends
    assert is_logged_in(someone_else)    # other users are untouched
    assert sessions_of(STORE1) == 1
    assert login(app.test_client(), STORE1).status_code == 401
    assert login(app.test_client(), STORE1, NEW_PASSWORD).status_code == 302


def test_an_inactive_user_is_logged_out_and_cannot_log_in(app, client):
    assert login(client, STORE1).status_code == 302
    u = user(STORE1)
    u.active = False
    _db().session.commit()
    assert not is_logged_in(client)
    assert login(app.test_client(), STORE1).status_code == 401


def _set_cookie_header(resp) -> str:
    headers = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "=")]
    assert headers, resp.headers
    return headers[-1]


def test_session_cookie_flags_local_http(app, client):
    resp = login(client, STORE1)
    header = _set_cookie_header(resp)
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in header.split(";")[1:]}
    assert "httponly" in attrs
    assert attrs["samesite"].lower() == "samesite=lax"
    assert "secure" not in attrs  # plain-http local development (make_app turns it off)
    assert not [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("remember_token")]


def test_session_cookie_is_secure_when_configured(app):
    secure = make_app(app.config["SQLALCHEMY_DATABASE_URI"], SESSION_COOKIE_SECURE=True)
    client = https_client(secure)
    resp = login(client, STORE1)
    assert resp.status_code == 302
    header = _set_cookie_header(resp)
    attrs = [a.strip().lower() for a in header.split(";")[1:]]
    assert "secure" in attrs and "httponly" in attrs and "samesite=lax" in attrs
    assert is_logged_in(client)


@pytest.mark.parametrize(
    ("env", "url", "secure"),
    [
        ({"PORTAL_SECURE_COOKIES": "1"}, None, True),
        ({"PORTAL_SECURE_COOKIES": "true"}, "sqlite:///x.db", True),
        ({"PORTAL_SECURE_COOKIES": "0"}, "postgresql+psycopg://db/portal", False),
        ({}, "postgresql+psycopg://db/portal", True),   # a server deployment: Secure by default
        ({}, None, False),                               # `make run`: local http on 127.0.0.1
    ],
)
def test_config_secure_cookie_switch(tmp_path, monkeypatch, env, url, secure):
    from portal.config import load_config

    for name in ("PORTAL_SECURE_COOKIES", "PORTAL_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "k" * 40)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if url:
        monkeypatch.setenv("PORTAL_DATABASE_URL", url)
    cfg = load_config(tmp_path)
    assert cfg["SESSION_COOKIE_SECURE"] is secure
    assert cfg["SESSION_COOKIE_HTTPONLY"] is True
    assert cfg["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert cfg["REMEMBER_COOKIE_SECURE"] is secure
    assert cfg["REMEMBER_COOKIE_HTTPONLY"] is True


def test_config_never_hard_codes_the_secret_key(tmp_path, monkeypatch):
    from portal.config import load_config

    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    first = load_config(tmp_path)["SECRET_KEY"]
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert load_config(tmp_path)["SECRET_KEY"] == first       # reused on the next start
    assert load_config(tmp_path / "other")["SECRET_KEY"] != first  # random per instance


def _age_session(email: str, **columns) -> None:
    """Move the session's clock back. That is time travel no worker can see: a worker's cached
    identity holds the touch it made itself (never more than a minute old in real time), so the
    cache is emptied as the passing of that time would have made it stale."""
    from portal.auth.identity_cache import identity_cache
    from portal.models import UserSession, utcnow

    db = _db()
    now = utcnow()
    values = {k: now - v for k, v in columns.items()}
    db.session.execute(update(UserSession).where(UserSession.user_id == user(email).id).values(**values))
    db.session.commit()
    identity_cache().clear()


def test_idle_timeout_ends_the_session(app, client):
    assert login(client, STORE1).status_code == 302
    idle = app.config["PORTAL_SESSION_IDLE"]
    assert timedelta(minutes=5) <= idle <= timedelta(hours=2)
    _age_session(STORE1, last_seen_at=idle - timedelta(minutes=1))
    assert is_logged_in(client)  # still inside the idle limit, and this request refreshes it
    from portal.models import UserSession, utcnow

    db = _db()
    db.session.expire_all()
    seen = db.session.execute(select(UserSession.last_seen_at)).scalar_one()
    assert utcnow() - seen < timedelta(minutes=1)

    _age_session(STORE1, last_seen_at=idle + timedelta(seconds=5))
    assert not is_logged_in(client)
    assert sessions_of(STORE1) == 0  # the expired row is gone, not just ignored


def test_absolute_timeout_ends_even_an_active_session(app, client):
    assert login(client, STORE1).status_code == 302
    absolute = app.config["PORTAL_SESSION_ABSOLUTE"]
    assert timedelta(hours=1) <= absolute <= timedelta(hours=24)
    _age_session(STORE1, created_at=absolute - timedelta(minutes=5), last_seen_at=timedelta(0))
    assert is_logged_in(client)
    _age_session(STORE1, created_at=absolute + timedelta(seconds=5), last_seen_at=timedelta(0))
    assert not is_logged_in(client)
    assert sessions_of(STORE1) == 0
    assert login(client, STORE1).status_code == 302  # a fresh login starts a new session


# ---------------------------------------------------------------- throttling (ASVS 6.1.1, 6.3.1)


def _failures(key_like: str) -> int:
    from portal.models import LoginFailure

    db = _db()
    return db.session.execute(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.key.like(key_like))).scalar_one()


def test_account_lockout_after_failures_with_a_clear_message(app, client):
    english(client)
    limit = app.config["PORTAL_THROTTLE_ACCOUNT_LIMIT"]
    assert 3 <= limit <= 10
    for _ in range(limit):
        assert login(client, STORE1, "wrong-password-1").status_code == 401
    resp = login(client, STORE1)  # the right password, but the account is paused
    assert resp.status_code == 429
    assert 0 < int(resp.headers["Retry-After"]) <= 15 * 60
    body = resp.get_data(as_text=True)
    assert "Too many failed attempts" in body
    assert not is_logged_in(client)
    # Other accounts from another address are not affected.
    assert login(client_from(app, "10.9.9.9"), ADMIN).status_code == 302


def test_locked_message_is_translated_not_a_500(app, client):
    limit = app.config["PORTAL_THROTTLE_ACCOUNT_LIMIT"]
    for _ in range(limit):
        login(client, STORE1, "wrong-password-1")
    resp = login(client, STORE1)
    assert resp.status_code == 429
    from flask_babel import force_locale, gettext

    with app.test_request_context("/login"), force_locale("ko"):
        expected = gettext("Too many failed attempts. Try again in %(s)d seconds.", s=987654)
    before_number = expected.split("987654")[0].strip()
    assert before_number
    body = resp.get_data(as_text=True)
    assert before_number in body  # the Korean (default language) message on the login page
    assert 'name="password"' in body


def test_failure_count_is_shared_between_workers(app):
    """Two app instances on one database = two gunicorn workers: they share the counter."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    worker_a = app.test_client()
    worker_b = make_app(url).test_client()
    limit = app.config["PORTAL_THROTTLE_ACCOUNT_LIMIT"]
    for i in range(limit):
        w = worker_a if i % 2 == 0 else worker_b
        assert login(w, STORE1, f"wrong-{i}-password").status_code == 401
    assert _failures("acct:store1@example.com") == limit
    for w in (worker_a, worker_b, make_app(url).test_client()):
        assert login(w, STORE1).status_code == 429
        assert not is_logged_in(w)


def test_lockout_is_bounded_and_expires(app, client):
    from portal.auth import throttle
    from portal.models import LoginFailure, utcnow

    db = _db()
    # Even a flood of failures (e.g. many parallel requests) locks for at most 15 minutes
    # and never crashes the computation.
    now = utcnow()
    db.session.add_all([LoginFailure(key="acct:store1@example.com", at=now - timedelta(seconds=i))
                        for i in range(200)])
    db.session.commit()
    with app.test_request_context("/login"):
        wait = throttle.retry_after(STORE1, "127.0.0.1")
    assert 0 < wait <= 15 * 60
    resp = login(client, STORE1)
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) <= 15 * 60

    # 15 minutes after the last failure the real user gets in again.
    db.session.execute(update(LoginFailure).values(at=LoginFailure.at - timedelta(minutes=15, seconds=1)))
    db.session.commit()
    assert login(client, STORE1).status_code == 302
    assert _failures("acct:%") == 0  # success cleared the account's counter


def test_lock_grows_with_repeated_failures_but_stays_capped(app):
    from portal.auth import throttle
    from portal.models import LoginFailure, utcnow

    db = _db()
    limit = app.config["PORTAL_THROTTLE_ACCOUNT_LIMIT"]
    waits = []
    for extra in (0, 2, 6, 40):
        db.session.execute(delete(LoginFailure))
        now = utcnow()
        db.session.add_all([LoginFailure(key="acct:store1@example.com", at=now) for _ in range(limit + extra)])
        db.session.commit()
        with app.test_request_context("/login"):
            waits.append(throttle.retry_after(STORE1, None))
    assert waits[0] >= 1
    assert waits == sorted(waits)
    assert waits[1] > waits[0]
    assert waits[-1] == 15 * 60


def test_a_successful_login_clears_the_account_counter(app, client):
    limit = app.config["PORTAL_THROTTLE_ACCOUNT_LIMIT"]
    for _ in range(limit - 1):
        assert login(client, STORE1, "wrong-password-1").status_code == 401
    assert _failures("acct:store1@example.com") == limit - 1
    assert login(client, STORE1).status_code == 302
    assert _failures("acct:store1@example.com") == 0
    # ... so the next typo does not lock the account.
    other = app.test_client()
    for _ in range(limit - 1):
        assert login(other, STORE1, "wrong-password-1").status_code == 401
    assert login(app.test_client(), STORE1).status_code == 302


def test_account_key_ignores_case_and_spaces(app, client):
    limit = app.config["PORTAL_THROTTLE_ACCOUNT_LIMIT"]
    for i in range(limit):
        email = ["Store1@Example.com", " store1@example.com", "STORE1@EXAMPLE.COM"][i % 3]
        assert login(client, email, "wrong-password-1").status_code == 401
    assert login(client, STORE1).status_code == 429


def test_ip_throttle_across_accounts(app):
    app.config["PORTAL_THROTTLE_IP_LIMIT"] = 6  # read per request; keeps the test fast
    attacker = client_from(app, "203.0.113.7")
    for i in range(6):  # password spraying: a different account each time, none reaches its own limit
        assert login(attacker, f"victim{i}@example.com", "Summer2026!").status_code == 401
    assert _failures("ip:203.0.113.7") == 6
    assert login(attacker, ADMIN).status_code == 429  # even with a right password, from that IP
    # A colleague on another address logs in as usual; the account itself is not locked.
    assert login(client_from(app, "198.51.100.4"), ADMIN).status_code == 302
    # Success does not wipe the IP counter.
    assert _failures("ip:203.0.113.7") == 6


def test_failed_logins_are_not_counted_while_locked(app, client):
    """Attempts during the pause are refused before verifying, so they cannot extend it."""
    limit = app.config["PORTAL_THROTTLE_ACCOUNT_LIMIT"]
    for _ in range(limit):
        login(client, STORE1, "wrong-password-1")
    for _ in range(3):
        assert login(client, STORE1, "wrong-password-1").status_code == 429
    assert _failures("acct:store1@example.com") == limit


def test_unknown_and_wrong_password_get_the_same_answer(app):
    a = client_from(app, "10.0.0.1")
    b = client_from(app, "10.0.0.2")
    ra = login(a, "nobody-here@example.com", "wrong-password-1")
    rb = login(b, STORE1, "wrong-password-1")
    assert ra.status_code == rb.status_code == 401

    def text(resp):
        return re.sub(r'value="[^"]*"', "", resp.get_data(as_text=True))

    assert text(ra).replace("nobody-here@example.com", STORE1) == text(rb)


# ---------------------------------------------------------------- CSRF and GET safety (ASVS 3.5.x)


def _sample_values(app) -> dict[str, object]:
    from portal.models import Customer, OrgUnit, Partner, PartnerGroup

    db = _db()
    return {
        "customer_id": db.session.execute(select(func.min(Customer.id))).scalar_one(),
        "partner_id": db.session.execute(select(func.min(Partner.id))).scalar_one(),
        "user_id": user(STORE1).id,
        "group_id": db.session.execute(select(func.min(PartnerGroup.id))).scalar_one(),
        "unit_id": db.session.execute(select(func.min(OrgUnit.id))).scalar_one(),
        "name": "sample_plugin",
        "token": "not-a-real-token",
        "filename": "css/portal.css",
    }


def _routes(app, method: str):
    values = _sample_values(app)
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if method not in rule.methods or rule.endpoint == "static":
            continue
        # An argument nobody taught this test gets 1: the CSRF check runs before the view.
        url = adapter.build(rule.endpoint, {a: values.get(a, 1) for a in rule.arguments})
        yield rule, url


def _snapshot(ignore: dict[str, set[str]]) -> dict[str, list]:
    """Every row of every table (small seeded database); ``ignore`` = {table: columns} ('*' = all)."""
    db = _db()
    db.session.commit()
    names = set(inspect(db.engine).get_table_names())
    out = {}
    for name, table in db.metadata.tables.items():
        if name not in names or "*" in ignore.get(name, ()):
            continue
        cols = [c for c in table.columns if c.name not in ignore.get(name, set())]
        rows = db.session.execute(select(*cols)).all()
        out[name] = sorted(map(repr, rows))
    return out


FORM_GUESS = {
    "email": "csrf-victim@example.com", "name": "Changed by CSRF", "password": "Csrf-attack-pw-9",
    "current": PASSWORD, "new": "Csrf-attack-pw-9", "confirm": "Csrf-attack-pw-9", "lang": "en",
    "code": "X99", "phone": "010-9999-0000", "action": "disable", "complaint": "y", "reason": "csrf",
    "roles": "Site Administrator", "channel": "sms", "purpose": "marketing", "granted": "y",
}


def test_every_state_changing_form_refuses_a_post_without_csrf_token(app, login_as):
    client = login_as(ADMIN)
    english(client, "/dashboard")
    routes = [(r, u) for r, u in _routes(app, "POST") if not r.rule.startswith("/api/")]
    assert len(routes) >= 15  # catches a broken enumeration
    endpoints = {r.endpoint for r, _u in routes}
    assert {"auth.logout", "auth.password", "auth.login", "customers.edit", "manage.user_new",
            "manage.addon_action", "auth.language"} <= endpoints

    before = _snapshot({"user_session": {"last_seen_at"}, "access_log": {"*"}})
    for rule, url in routes:
        for data in ({**FORM_GUESS}, {**FORM_GUESS, "csrf_token": "forged-token"}):
            resp = client.post(url, data=data)
            assert resp.status_code == 400, (rule.rule, resp.status_code)
    after = _snapshot({"user_session": {"last_seen_at"}, "access_log": {"*"}})
    assert after == before
    # A token from another browser's session does not work either.
    stranger = app.test_client()
    foreign = csrf_token(stranger, "/login")
    assert client.post("/logout", data={"csrf_token": foreign}).status_code == 400
    assert is_logged_in(client)


def test_every_post_form_on_every_page_carries_a_csrf_token(app, login_as):
    client = login_as(ADMIN)
    pages = [u for r, u in _routes(app, "GET")
             if not r.rule.startswith("/api/") and "export" not in r.endpoint and r.endpoint != "auth.reset"]
    checked = 0
    for url in pages:
        resp = client.get(url)
        if resp.status_code != 200 or not resp.mimetype == "text/html":
            continue
        html = resp.get_data(as_text=True)
        for form in re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S | re.I):
            head = form[: form.index(">")].lower()
            if 'method="post"' not in head:
                continue
            checked += 1
            assert re.search(r'name="([\w]+-)?csrf_token" [^>]*value="[^"]{20,}"', form), (url, form[:200])
    assert checked >= 5


def test_no_get_route_changes_state(app, login_as):
    client = login_as(ADMIN)
    ignore = {"user_session": {"last_seen_at"}, "api_token": {"last_used_at"}, "access_log": {"*"}}
    before = _snapshot(ignore)
    urls = [u for r, u in _routes(app, "GET") if not r.rule.startswith("/api/")]
    for url in urls:
        assert client.get(url, buffered=True).status_code < 500, url
    token = __import__("tests.conftest", fromlist=["api_token_for"]).api_token_for(ADMIN)
    before_api = _snapshot(ignore)
    for url in [u for r, u in _routes(app, "GET") if r.rule.startswith("/api/")]:
        assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code < 500, url
    assert _snapshot(ignore) == before_api
    before.pop("api_token")
    before_api.pop("api_token")
    assert before_api == before
    for path in ("/logout", "/language", "/customers/1/complaint", "/manage/addons/sample_plugin"):
        assert client.get(path).status_code == 405
    assert is_logged_in(client)


# ---------------------------------------------------------------- password reset


def _outbox():
    """The reset e-mails in the outbox (portal.messaging's message table)."""
    from portal.messaging.models import Message

    db = _db()
    db.session.expire_all()
    return db.session.execute(select(Message).where(Message.channel == "email").order_by(Message.id)).scalars().all()


def _reset_link(body: str) -> str:
    match = re.search(r"https?://\S+/password-reset/[A-Za-z0-9_\-]+", body)
    assert match, body
    return urlsplit(match.group(0)).path


def request_reset(client, email: str):
    return post_form(client, "/password-reset", {"email": email}, form_page="/password-reset")


def test_password_reset_link_works_once(app, client):
    english(client)
    before = len(_outbox())
    resp = request_reset(client, "Store1@Example.com ")
    assert resp.status_code == 302
    msgs = _outbox()
    assert len(msgs) == before + 1
    msg = msgs[-1]
    assert msg.step == "password_reset" and msg.purpose == "service" and msg.to_addr == STORE1
    path = _reset_link(msg.body)
    raw = path.rsplit("/", 1)[1]
    from portal.models import PasswordResetToken

    stored = _db().session.execute(select(PasswordResetToken.token_hash)).scalars().all()
    assert stored and raw not in stored  # the link's secret is stored hashed

    assert client.get(path).status_code == 200
    weak = post_form(client, path, {"new": "password", "confirm": "password"}, form_page=path)
    assert weak.status_code in (200, 400)  # refused by the policy, link still usable
    resp = post_form(client, path, {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD}, form_page=path)
    assert resp.status_code == 302 and urlsplit(resp.location).path == "/login"
    assert login(app.test_client(), STORE1).status_code == 401
    assert login(app.test_client(), STORE1, NEW_PASSWORD).status_code == 302

    # Used: the link is refused, on GET and on POST.
    again = client.get(path)
    assert again.status_code == 302 and urlsplit(again.location).path == "/password-reset"
    token = csrf_token(client, "/password-reset")
    resp = client.post(path, data={"new": "another-Good-pass-1", "confirm": "another-Good-pass-1",
                                   "csrf_token": token})
    assert resp.status_code == 302 and urlsplit(resp.location).path == "/password-reset"
    assert login(app.test_client(), STORE1, "another-Good-pass-1").status_code == 401


def test_expired_reset_link_is_refused(app, client):
    from portal.models import PasswordResetToken, utcnow

    request_reset(client, STORE1)
    path = _reset_link(_outbox()[-1].body)
    db = _db()
    row = db.session.execute(select(PasswordResetToken)).scalar_one()
    assert timedelta(minutes=10) <= row.expires_at - utcnow() <= timedelta(hours=24)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    resp = client.get(path)
    assert resp.status_code == 302 and urlsplit(resp.location).path == "/password-reset"
    token = csrf_token(client, "/password-reset")
    client.post(path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token})
    assert login(app.test_client(), STORE1, NEW_PASSWORD).status_code == 401
    assert client.get("/password-reset/made-up-token").status_code == 302


def test_reset_request_does_not_reveal_whether_an_account_exists(app):
    from portal.models import PasswordResetToken

    def answer(email):
        c = app.test_client()
        english(c)
        resp = request_reset(c, email)
        return resp.status_code, resp.location, re.sub(r'value="[^"]*"', "", flashes(c))

    before = len(_outbox())
    unknown = answer("no-such-person@example.com")
    assert len(_outbox()) == before  # nothing queued for an unknown address
    u = user(STORE1)
    known = answer(STORE1)
    assert len(_outbox()) == before + 1
    u = user(STORE1)
    u.active = False
    _db().session.commit()
    inactive = answer(STORE1)
    assert len(_outbox()) == before + 1
    assert unknown == known == inactive
    assert "If the address belongs to an account" in known[2]
    assert _db().session.execute(select(func.count()).select_from(PasswordResetToken)).scalar_one() == 1


def test_reset_emails_per_account_are_capped(app):
    from portal.auth.service import RESET_MAX_PER_HOUR

    assert 1 <= RESET_MAX_PER_HOUR <= 10
    answers = set()
    for _ in range(RESET_MAX_PER_HOUR + 2):
        c = app.test_client()
        resp = request_reset(c, STORE1)
        answers.add((resp.status_code, resp.location))
    assert len(answers) == 1  # the capped requests look exactly like the others
    assert len([m for m in _outbox() if m.to_addr == STORE1]) == RESET_MAX_PER_HOUR


def test_password_reset_ends_all_sessions_and_lifts_the_lock(app, client):
    laptop = app.test_client()
    assert login(laptop, STORE1).status_code == 302
    stolen = cookie_value(laptop)
    limit = app.config["PORTAL_THROTTLE_ACCOUNT_LIMIT"]
    attacker = client_from(app, "192.0.2.50")
    for _ in range(limit):
        login(attacker, STORE1, "wrong-password-1")
    request_reset(client, STORE1)
    path = _reset_link(_outbox()[-1].body)
    assert post_form(client, path, {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD}, form_page=path).status_code == 302
    assert not is_logged_in(laptop)
    assert not is_logged_in(client_with_cookie(app, stolen))
    assert sessions_of(STORE1) == 0
    assert login(client, STORE1, NEW_PASSWORD).status_code == 302


def test_a_new_reset_link_or_a_password_change_voids_older_links(app, client):
    request_reset(client, STORE1)
    first = _reset_link(_outbox()[-1].body)
    request_reset(client, STORE1)
    second = _reset_link(_outbox()[-1].body)
    assert first != second
    assert client.get(first).status_code == 302  # superseded
    assert client.get(second).status_code == 200
    c = app.test_client()
    assert login(c, STORE1).status_code == 302
    assert change_password(c, PASSWORD, NEW_PASSWORD).status_code == 302
    assert client.get(second).status_code == 302  # the password changed since


# ---------------------------------------------------------------- open redirect


@pytest.mark.parametrize("target", [
    "https://evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example", "https:evil.example",
    "/\t/evil.example", "http:/evil.example", " //evil.example", "javascript:alert(1)", "/%2F/evil.example",
])
def test_login_next_never_leaves_the_site(app, client, target):
    token = csrf_token(client, "/login")
    resp = client.post("/login", query_string={"next": target},
                       data={"email": STORE1, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    loc = urlsplit(resp.location)
    assert loc.netloc in ("", "localhost"), resp.location
    assert not resp.location.startswith(("//", "/\\", "\\")), resp.location
    assert "evil" not in loc.netloc and loc.scheme in ("", "http", "https")
    assert "evil.example" not in resp.location or loc.path.startswith("/%2F")


def test_login_next_keeps_local_paths(app, client):
    resp = client.get("/customers/?q=kim")
    assert resp.status_code == 302
    nxt = dict(x.split("=", 1) for x in urlsplit(resp.location).query.split("&"))["next"]
    token = csrf_token(client, "/login")
    resp = client.post(resp.location, data={"email": STORE1, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    assert urlsplit(resp.location).path == "/customers/"
    assert "q=kim" in urlsplit(resp.location).query
    assert nxt


def test_language_switch_next_never_leaves_the_site(app, client):
    resp = post_form(client, "/language", {"lang": "en", "next": "//evil.example/x"}, form_page="/login")
    assert resp.status_code == 302
    assert urlsplit(resp.location).netloc in ("", "localhost")


def test_common_password_list_is_large_and_catches_breached_passwords():
    from portal.auth.passwords import common_passwords, policy_errors

    assert len(common_passwords()) >= 30_000
    for weak in ("iloveyou1", "trustno1", "baseball1", "qwerty123", "samsung1", "Password1"):
        assert policy_errors(weak), weak
    assert not policy_errors("demo-pass-2026") and not policy_errors("파란하늘-구름-77")


def test_old_login_failures_and_dead_sessions_are_cleaned_up(app, client):
    """Neither table grows forever: old failures of a key go when it fails again, and a user's
    sessions past the absolute timeout go at their next login. Recent ones are kept."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from portal.auth.service import find_user
    from portal.extensions import db
    from portal.models import LoginFailure, UserSession, utcnow
    from tests.conftest import login

    old = utcnow() - timedelta(days=3)
    db.session.add_all([LoginFailure(key="acct:hq@example.com", at=old) for _ in range(50)])
    hq = find_user("hq@example.com")
    db.session.add(UserSession(token_hash="x" * 64, user_id=hq.id, created_at=old, last_seen_at=old))
    db.session.commit()
    assert login(client, "hq@example.com", "wrong-password-1").status_code == 401
    count = db.session.execute(select(func.count()).where(LoginFailure.key == "acct:hq@example.com")).scalar_one()
    assert count == 1  # the 50 old rows went, the new failure counts
    assert login(app.test_client(), "hq@example.com").status_code == 302
    assert db.session.get(UserSession, "x" * 64) is None
    assert db.session.execute(select(func.count()).where(UserSession.user_id == hq.id)).scalar_one() == 1
