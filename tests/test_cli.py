"""``flask portal init`` (first administrator, no default admin) and ``flask portal token``
(API tokens printed once, stored hashed, revocable) — SECURITY.md 6.3.2 and issue 2 §6, §10."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from sqlalchemy import func, inspect, select

from portal.extensions import db
from tests.conftest import bearer, empty_db_app, login

ADMIN_EMAIL = "owner@partner.example"
ADMIN_PASSWORD = "violet-Marsh-kettle-41"
ROLE = "Site Administrator"


@pytest.fixture
def empty_app(tmp_path, monkeypatch):
    """An app on a brand-new, migrated database: what a production install starts from."""
    from portal.migrations_support import upgrade_core

    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    for name in ("PORTAL_ADMIN_EMAIL", "PORTAL_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with empty_db_app(tmp_path) as app:
        upgrade_core()
        yield app


def _users() -> list:
    from portal.models import User

    db.session.expire_all()
    return db.session.execute(select(User).order_by(User.id)).scalars().all()


def _admins() -> list[str]:
    from portal.models import User, UserRole

    db.session.expire_all()
    return db.session.execute(select(User.email).join(UserRole, UserRole.user_id == User.id)
                              .where(UserRole.role == ROLE)).scalars().all()


def _init(app, env=None, input=None, args=()):
    env = {"PORTAL_ADMIN_EMAIL": None, "PORTAL_ADMIN_PASSWORD": None, **(env or {})}
    return app.test_cli_runner().invoke(args=["portal", "init", *args], env=env, input=input)


def test_an_empty_database_has_no_account_at_all(empty_app):
    from portal.models import ApiToken, UserRole

    assert _users() == []
    assert db.session.execute(select(func.count()).select_from(UserRole)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(ApiToken)).scalar_one() == 0
    # ... so no well-known credentials log in.
    client = empty_app.test_client()
    for email in ("admin@example.com", "admin@localhost", "admin"):
        for password in ("demo-pass-2026", "admin", "password"):
            assert login(client, email, password).status_code == 401


def test_init_from_environment_creates_the_first_site_administrator(empty_app):
    result = _init(empty_app, env={"PORTAL_ADMIN_EMAIL": " Owner@Partner.Example ", "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD})
    assert result.exit_code == 0, result.output
    assert ADMIN_EMAIL in result.output
    assert ADMIN_PASSWORD not in result.output
    users = _users()
    assert [u.email for u in users] == [ADMIN_EMAIL]
    assert _admins() == [ADMIN_EMAIL]
    params = extract_parameters(users[0].password_hash)
    assert users[0].password_hash.startswith("$argon2id$") and params.memory_cost >= 47104
    client = empty_app.test_client()
    assert login(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 302
    assert client.get("/manage/users").status_code == 200  # really an administrator


def test_init_prompts_when_nothing_is_in_the_environment(empty_app):
    result = _init(empty_app, input=f"{ADMIN_EMAIL}\n{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "e-mail" in result.output.lower() and "password" in result.output.lower()
    assert ADMIN_PASSWORD not in result.output  # hidden input
    assert _admins() == [ADMIN_EMAIL]
    assert login(empty_app.test_client(), ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 302


def test_init_prompt_insists_on_a_matching_confirmation(empty_app):
    result = _init(empty_app, input=f"{ADMIN_EMAIL}\n{ADMIN_PASSWORD}\nsomething-else-2\n"
                                    f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "match" in result.output.lower()
    assert login(empty_app.test_client(), ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 302


@pytest.mark.parametrize("weak", ["short1", "password", "12345678", "qwerty123", "owner"])
def test_init_refuses_a_weak_password(empty_app, weak):
    result = _init(empty_app, env={"PORTAL_ADMIN_EMAIL": ADMIN_EMAIL, "PORTAL_ADMIN_PASSWORD": weak})
    assert result.exit_code != 0
    assert "Traceback" not in result.output and not isinstance(result.exception, RuntimeError)
    assert "Error" in result.output
    assert _users() == []
    result = _init(empty_app, input=f"{ADMIN_EMAIL}\n{weak}\n{weak}\n")
    assert result.exit_code != 0
    assert _users() == []


def test_init_refuses_a_bad_email(empty_app):
    result = _init(empty_app, env={"PORTAL_ADMIN_EMAIL": "not-an-address", "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD})
    assert result.exit_code != 0
    assert _users() == []


def test_init_refuses_when_an_administrator_exists(empty_app):
    assert _init(empty_app, env={"PORTAL_ADMIN_EMAIL": ADMIN_EMAIL, "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD}).exit_code == 0
    before = [(u.email, u.password_hash) for u in _users()]
    result = _init(empty_app, env={"PORTAL_ADMIN_EMAIL": "second@partner.example",
                                   "PORTAL_ADMIN_PASSWORD": "another-Strong-pass-7"})
    assert result.exit_code != 0
    assert "already exists" in result.output
    # Not even the existing administrator's password can be reset this way.
    result = _init(empty_app, env={"PORTAL_ADMIN_EMAIL": ADMIN_EMAIL, "PORTAL_ADMIN_PASSWORD": "another-Strong-pass-7"})
    assert result.exit_code != 0
    assert [(u.email, u.password_hash) for u in _users()] == before


def test_init_refuses_on_the_demo_database_too(app):
    result = _init(app, env={"PORTAL_ADMIN_EMAIL": ADMIN_EMAIL, "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD})
    assert result.exit_code != 0
    assert ADMIN_EMAIL not in _admins()


# ---------------------------------------------------------------- API tokens


def _token_create(app, email: str, *extra: str):
    return app.test_cli_runner().invoke(args=["portal", "token", "create", email, *extra])


def _all_text_in_db() -> str:
    """Every value of every table, as one string (to look for a leaked secret)."""
    db.session.commit()  # inspect() uses its own connection: release SQLite's write lock first
    names = set(inspect(db.engine).get_table_names())
    parts = []
    for name, table in db.metadata.tables.items():
        if name in names:
            parts.extend(repr(tuple(r)) for r in db.session.execute(select(table)).all())
    return "\n".join(parts)


def test_token_create_prints_a_working_token_stored_hashed(app):
    from portal.models import ApiToken

    result = _token_create(app, "Store1@Example.com", "--name", "reporting")
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1].strip()
    assert len(raw) >= 32
    client = app.test_client()
    resp = client.get("/api/v1/me", headers=bearer(raw))
    assert resp.status_code == 200
    assert resp.get_json()["email"] == "store1@example.com"
    assert client.get("/api/v1/me", headers=bearer(raw[:-1] + ("A" if raw[-1] != "A" else "B"))).status_code == 401
    assert client.get("/api/v1/me").status_code == 401

    db.session.expire_all()
    row = db.session.execute(select(ApiToken).where(ApiToken.name == "reporting")).scalar_one()
    assert row.token_hash != raw and len(row.token_hash) == 64
    assert raw.startswith(row.prefix) and len(row.prefix) < len(raw) // 3
    assert raw not in _all_text_in_db()
    assert raw[len(row.prefix):] not in _all_text_in_db()
    assert row.last_used_at is not None  # use is recorded


def test_token_revoke_by_prefix_stops_it_working(app):
    first = _token_create(app, "store1@example.com").output.strip().splitlines()[-1]
    second = _token_create(app, "store2@example.com").output.strip().splitlines()[-1]
    client = app.test_client()
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 200
    from portal.models import ApiToken

    prefix = db.session.execute(select(ApiToken.prefix).where(ApiToken.token_hash.isnot(None))
                                .order_by(ApiToken.id)).scalars().all()[-2]
    assert first.startswith(prefix)
    result = app.test_cli_runner().invoke(args=["portal", "token", "revoke", prefix])
    assert result.exit_code == 0, result.output
    assert "1" in result.output
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200  # only that one
    # Revoking again says so instead of pretending.
    assert app.test_cli_runner().invoke(args=["portal", "token", "revoke", prefix]).exit_code != 0


def test_token_revoke_prefix_is_not_a_pattern(app):
    """``_`` and ``%`` in a prefix are literal characters, not LIKE wildcards."""
    from portal.models import ApiToken

    raw = _token_create(app, "store1@example.com").output.strip().splitlines()[-1]
    prefix = db.session.execute(select(ApiToken.prefix)).scalars().all()[-1]
    for pattern in ("pp%", "p_" + prefix[2:], "%"):
        if prefix.startswith(pattern):
            continue
        result = app.test_cli_runner().invoke(args=["portal", "token", "revoke", pattern])
        assert result.exit_code != 0, pattern
    assert app.test_client().get("/api/v1/me", headers=bearer(raw)).status_code == 200


def test_token_revoke_refuses_a_too_short_prefix(app):
    raw = _token_create(app, "store1@example.com").output.strip().splitlines()[-1]
    for short in ("", "p", "pp_"):
        result = app.test_cli_runner().invoke(args=["portal", "token", "revoke", short])
        assert result.exit_code != 0
    assert app.test_client().get("/api/v1/me", headers=bearer(raw)).status_code == 200


def test_token_create_for_unknown_or_inactive_user(app):
    from portal.models import ApiToken, User

    before = db.session.execute(select(func.count()).select_from(ApiToken)).scalar_one()
    result = _token_create(app, "nobody@example.com")
    assert result.exit_code != 0 and "No user" in result.output
    assert db.session.execute(select(func.count()).select_from(ApiToken)).scalar_one() == before

    raw = _token_create(app, "store1@example.com").output.strip().splitlines()[-1]
    u = db.session.execute(select(User).where(User.email == "store1@example.com")).scalar_one()
    u.active = False
    db.session.commit()
    assert app.test_client().get("/api/v1/me", headers=bearer(raw)).status_code == 401


def test_a_token_does_not_open_a_browser_session(app):
    raw = _token_create(app, "admin@example.com").output.strip().splitlines()[-1]
    client = app.test_client()
    resp = client.get("/dashboard", headers=bearer(raw))
    assert resp.status_code == 302 and "/login" in resp.location
    assert client.get("/manage/users", headers=bearer(raw)).status_code == 302


def test_empty_database_app_can_still_be_built_and_serves_login(empty_app):
    client = empty_app.test_client()
    assert client.get("/login").status_code == 200
    assert client.get("/dashboard").status_code == 302


def test_token_list_shows_prefixes_never_tokens(app):
    raw = _token_create(app, "store1@example.com", "--name", "nightly-export").output.strip().splitlines()[-1]
    result = app.test_cli_runner().invoke(args=["portal", "token", "list", "store1@example.com"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "nightly-export" in x)
    assert line.startswith(raw[:10]) and raw not in result.output and "active" in line
    assert "store2@example.com" not in result.output
    assert app.test_cli_runner().invoke(args=["portal", "token", "revoke", raw[:10]]).exit_code == 0
    listed = app.test_cli_runner().invoke(args=["portal", "token", "list"]).output
    assert "revoked" in next(x for x in listed.splitlines() if "nightly-export" in x)
