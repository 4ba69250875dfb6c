"""Tell the Site Administrators when background work failed for good — a job run whose retries
are exhausted (``jobs.failed``, here) or an add-on reaction given up (``events.given_up``, from
``portal.events.retry``) — at most once per subject and Korean day, so a job failing every minute
fills nobody's inbox. Nobody waits on a failed run's page: without this it stays unseen.

The text names the job or hook only (never its error, which may quote data): the linked page,
behind ``jobs.manage`` / ``events.manage``, shows the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db

log = logging.getLogger("portal.jobs")

KIND_FAILED = "jobs.failed"

#: Declared through ``portal_notification_kinds`` (``portal/jobs/hooks.py``).
KINDS: list[dict[str, Any]] = [
    {"kind": KIND_FAILED, "label": _l("Background job failed"), "email_default": True},
]


def notify_site_admins(kind: str, dedupe_key: str, text: Callable[[], str], url: str | None) -> int:
    """Notify every active Site Administrator of ``kind`` once per ``dedupe_key``, each in their
    language (``text()`` is called under each recipient's locale). Does not commit."""
    from ..models import User
    from ..notify import notify, role_in_scope
    from ..notify.service import _locale_of, resolve_recipients
    from ..security.roles import SITE_ADMIN

    ids = resolve_recipients(role_in_scope(SITE_ADMIN))
    if not ids:
        return 0
    by_locale: dict[str, list[int]] = {}
    for user in db.session.execute(select(User).where(User.id.in_(ids))).scalars():
        by_locale.setdefault(_locale_of(user), []).append(user.id)
    created = 0
    for locale, group in sorted(by_locale.items()):
        with force_locale(locale):
            created += notify(group, kind, None, text(), url=url, dedupe_key=dedupe_key)
    return created


def job_failed(name: str, attempts: int) -> int:
    """A run of ``name`` failed and will not be retried: tell the administrators (once per job name
    and Korean day) and commit. Never raises: the run's own failure is what the caller reports."""
    from ..notify.service import build_path, digest_day

    try:
        created = notify_site_admins(
            KIND_FAILED, f"jobs.failed:{name}:{digest_day()}",
            lambda: _("The background job “%(name)s” failed after %(n)s attempt(s) and will not be retried "
                      "by itself.", name=name, n=attempts),
            build_path("jobs.index", status="failed"))
        db.session.commit()
        return created
    except Exception:  # noqa: BLE001  (the alert must never hide the failure it reports)
        db.session.rollback()
        log.exception("jobs: could not notify the administrators that %s failed", name)
        return 0


def job_interrupted(name: str) -> int:
    """Runs of ``name`` lost their consumer (``prune_runs`` marked them failed): tell the
    administrators, once per job name and Korean day like :func:`job_failed`, in a SAVEPOINT of
    the caller's transaction (the prune commits it). Never raises."""
    from ..notify.service import build_path, digest_day

    try:
        with db.session.begin_nested():
            return notify_site_admins(
                KIND_FAILED, f"jobs.failed:{name}:{digest_day()}",
                lambda: _("The background job “%(name)s” was interrupted (its consumer stopped) and will not be "
                          "retried by itself.", name=name),
                build_path("jobs.index", status="failed"))
    except Exception:  # noqa: BLE001  (the alert must never undo the prune)
        log.exception("jobs: could not notify the administrators that %s was interrupted", name)
        return 0
