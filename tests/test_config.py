"""Configuration: secrets never hard-coded, generated once into instance/, env wins."""

from __future__ import annotations

import concurrent.futures
import stat

from portal.config import _secret_key, load_config


def test_secret_key_generated_once_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    first = _secret_key(tmp_path)
    assert len(first) >= 40
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert _secret_key(tmp_path) == first
    assert _secret_key(tmp_path / "other") != first


def test_concurrent_workers_agree_on_one_key(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    with concurrent.futures.ProcessPoolExecutor(4) as pool:
        keys = set(pool.map(_secret_key, [tmp_path] * 16))
    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_KEY", "from-env")
    monkeypatch.setenv("PORTAL_DATABASE_URL", "postgresql+psycopg://u@db/portal")
    monkeypatch.setenv("PORTAL_PLUGINS", "sample, other")
    cfg = load_config(tmp_path)
    assert cfg["SECRET_KEY"] == "from-env"
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/portal"
    assert cfg["PORTAL_PLUGINS"] == ["sample", "other"]
    assert cfg["SESSION_COOKIE_SECURE"] is True  # production database → secure cookies by default
    assert not (tmp_path / "secret_key").exists()


def test_sqlite_default_lives_in_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_DATABASE_URL", raising=False)
    monkeypatch.delenv("PORTAL_SECURE_COOKIES", raising=False)
    cfg = load_config(tmp_path)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'portal.db'}"
    assert cfg["SESSION_COOKIE_SECURE"] is False  # local http dev server
    assert cfg["BABEL_DEFAULT_LOCALE"] == "ko"
