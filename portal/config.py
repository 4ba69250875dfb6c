"""Configuration read from the environment (``PORTAL_*``), Flask-style.

Nothing secret is hard-coded: when ``PORTAL_SECRET_KEY`` is not given, a random key is
generated once into ``instance/secret_key`` (mode 0600) and reused on later starts.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path) -> str:
    env = os.environ.get("PORTAL_SECRET_KEY")
    if env:
        return env
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        # Write a private temp file, then link it into place: several workers starting at once
        # all end up reading the one key that won, never a half-written file.
        tmp = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return key_file.read_text().strip()


def load_config(instance_path: Path) -> dict[str, Any]:
    """Build the Flask config mapping from the environment."""
    env = os.environ.get
    db_url = env("PORTAL_DATABASE_URL") or f"sqlite:///{instance_path / 'portal.db'}"
    secure_cookies = _bool(env("PORTAL_SECURE_COOKIES"), default=not db_url.startswith("sqlite"))
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": db_url,
        # Pooled connections idle longer than this many seconds are pinged before use; 0 = on every
        # checkout, like pool_pre_ping (portal/db_liveness.py).
        "PORTAL_DB_PING_AFTER_IDLE": float(env("PORTAL_DB_PING_AFTER_IDLE", "1")),
        # Empty = every built-in plugin under plugins/ plus the portal.plugins entry points.
        "PORTAL_PLUGINS": [p.strip() for p in env("PORTAL_PLUGINS", "").split(",") if p.strip()],
        # Sessions (SECURITY.md 3.3.x, 7.3.x)
        "SESSION_COOKIE_NAME": "portal_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies,
        # Flask-Login's remember-me cookie is not used, but if it ever is it gets the same flags.
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PREFERRED_URL_SCHEME": "https" if secure_cookies else "http",
        "PORTAL_SESSION_IDLE": timedelta(minutes=int(env("PORTAL_SESSION_IDLE_MINUTES", "30"))),
        "PORTAL_SESSION_ABSOLUTE": timedelta(hours=int(env("PORTAL_SESSION_ABSOLUTE_HOURS", "12"))),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0 = none).
        "PORTAL_PROXY_HOPS": int(env("PORTAL_PROXY_HOPS", "0")),
        # Login throttling (SECURITY.md 6.1.1, 6.3.1)
        "PORTAL_THROTTLE_WINDOW": timedelta(minutes=15),
        "PORTAL_THROTTLE_ACCOUNT_LIMIT": int(env("PORTAL_THROTTLE_ACCOUNT_LIMIT", "5")),
        "PORTAL_THROTTLE_IP_LIMIT": int(env("PORTAL_THROTTLE_IP_LIMIT", "30")),
        "PORTAL_THROTTLE_MAX_LOCK": timedelta(minutes=15),
        # Uploads (SECURITY.md 5.2.x)
        "MAX_CONTENT_LENGTH": int(env("PORTAL_MAX_UPLOAD_MB", "200")) * 1024 * 1024,
        # The file store (portal/files, docs/platform/files.md): the largest attachment in MB.
        "PORTAL_MAX_ATTACHMENT_MB": int(env("PORTAL_MAX_ATTACHMENT_MB", "10")),
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": secure_cookies,
        "BABEL_DEFAULT_LOCALE": env("PORTAL_DEFAULT_LOCALE", "ko"),
        "BABEL_DEFAULT_TIMEZONE": env("PORTAL_TIMEZONE", "Asia/Seoul"),
        "PORTAL_LANGUAGES": ["ko", "en"],
        "PORTAL_PAGE_SIZE": 50,
        "PORTAL_MAIL_FROM": env("PORTAL_MAIL_FROM", "no-reply@partner-portal.local"),
        # Messaging (docs/platform/messaging.md): the SMTP relay (smtp://user:pass@host:587?starttls=1,
        # smtps://host for implicit TLS; empty = the demo's local outbox page, nothing leaves the
        # machine), its rate limit, the claim lease after which a dead dispatcher's rows are taken
        # over, the retry back-off in seconds, and whether queueing enqueues a dispatch at once.
        "PORTAL_SMTP_URL": env("PORTAL_SMTP_URL", ""),
        "PORTAL_SMTP_HELO": env("PORTAL_SMTP_HELO", ""),
        "PORTAL_SMTP_RATE_PER_SECOND": float(env("PORTAL_SMTP_RATE_PER_SECOND", "0")) or None,
        "PORTAL_MESSAGES_LEASE_SECONDS": float(env("PORTAL_MESSAGES_LEASE_SECONDS", "300")),
        "PORTAL_MESSAGES_RETRY_DELAYS": env("PORTAL_MESSAGES_RETRY_DELAYS", "60,300,1800"),
        "PORTAL_MESSAGES_DISPATCH_ON_QUEUE": _bool(env("PORTAL_MESSAGES_DISPATCH_ON_QUEUE"), default=True),
        "PORTAL_BASE_URL": env("PORTAL_BASE_URL", "http://127.0.0.1:5000"),
        # Target-list extraction: marketing consent older than this is "consent_expired"; a customer
        # on an extraction of the same channel within the cool-down is "recently_contacted" (0 = off).
        "PORTAL_CONSENT_VALID_DAYS": int(env("PORTAL_CONSENT_VALID_DAYS", "730")),
        "PORTAL_CONTACT_COOLDOWN_DAYS": int(env("PORTAL_CONTACT_COOLDOWN_DAYS", "14")),
        # Signed-in identities each worker keeps between requests, checked against the security
        # epoch on every request (portal/auth/identity_cache.py); 0 switches the cache off.
        "PORTAL_IDENTITY_CACHE_SIZE": int(env("PORTAL_IDENTITY_CACHE_SIZE", "4096")),
        # Korean advertising law (portal/adlaw, docs/platform/adlaw.md): the sender every ad names,
        # its contact and postal address, the free 080 opt-out number for SMS/KakaoTalk/push, the
        # night rule for e-mail (off: the decree exempts e-mail), unsubscribe-link lifetime in days,
        # an optional mailto: address for List-Unsubscribe, and the re-confirmation notice lead time.
        "PORTAL_SENDER_NAME": env("PORTAL_SENDER_NAME", "파트너포털"),
        "PORTAL_SENDER_CONTACT": env("PORTAL_SENDER_CONTACT", ""),
        "PORTAL_SENDER_ADDRESS": env("PORTAL_SENDER_ADDRESS", ""),
        "PORTAL_OPTOUT_080": env("PORTAL_OPTOUT_080", ""),
        "PORTAL_NIGHT_RULE_EMAIL": _bool(env("PORTAL_NIGHT_RULE_EMAIL"), default=False),
        "PORTAL_UNSUBSCRIBE_DAYS": int(env("PORTAL_UNSUBSCRIBE_DAYS", "180")),
        "PORTAL_UNSUBSCRIBE_MAILTO": env("PORTAL_UNSUBSCRIBE_MAILTO", ""),
        "PORTAL_RECONFIRMATION_LEAD_DAYS": int(env("PORTAL_RECONFIRMATION_LEAD_DAYS", "30")),
        # Background jobs (portal/jobs, docs/platform/jobs.md): the queue's storage — empty = a SQLite
        # file instance/jobs.db; redis://host:port/db; postgresql://… (tables <prefix>_task …).
        "PORTAL_JOBS_URL": env("PORTAL_JOBS_URL", ""),
        "PORTAL_JOBS_NAME": env("PORTAL_JOBS_NAME", "portal"),
        "PORTAL_JOBS_TABLE_PREFIX": env("PORTAL_JOBS_TABLE_PREFIX", "huey"),
        # None = immediate mode (run on enqueue) only under TESTING without PORTAL_JOBS_URL.
        "PORTAL_JOBS_IMMEDIATE": None,
        # Days finished job runs stay on /manage/jobs before the daily jobs.prune deletes them.
        "PORTAL_JOBS_KEEP_DAYS": int(env("PORTAL_JOBS_KEEP_DAYS", "30")),
        # Experiments (docs/platform/experiments.md): share of customers in the stable company-wide
        # control group (0 = none, at most 0.5) and the key of their hash buckets (never change it).
        "PORTAL_GLOBAL_CONTROL_SHARE": float(env("PORTAL_GLOBAL_CONTROL_SHARE", "0")),
        "PORTAL_GLOBAL_CONTROL_SALT": env("PORTAL_GLOBAL_CONTROL_SALT", ""),
    }
