"""The ``events.retry`` job: re-run add-on reactions that failed, with back-off.

Each due ``event_failure`` row is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
consumers never retry the same row), its arguments re-loaded (:mod:`portal.events.codec`), and only
that add-on's implementation called, in a savepoint, then committed — row by row, so one retry's
failure never undoes another's success.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..db_utils import is_postgres
from ..extensions import db
from ..models.base import utcnow
from . import EVENTS, MAX_ATTEMPTS, implementations, retry_delay, run_isolated
from .codec import EventArgError, Gone, decode_args
from .models import EventFailure

log = logging.getLogger("portal.events")


def retry_due(limit: int = 200, now: datetime | None = None) -> dict[str, int]:
    """Retry up to ``limit`` due failures; returns counts ``{"resolved", "failed", "gave_up"}``."""
    counts = {"resolved": 0, "failed": 0, "gave_up": 0}
    now = now or utcnow()
    db.session.commit()  # start clean: each row is its own transaction
    ids = list(db.session.execute(
        select(EventFailure.id).where(EventFailure.resolved_at.is_(None), EventFailure.next_try_at.is_not(None),
                                      EventFailure.next_try_at <= now)
        .order_by(EventFailure.next_try_at, EventFailure.id).limit(limit)).scalars())
    db.session.commit()
    for failure_id in ids:
        outcome = retry_one(failure_id, now=now)
        if outcome:
            counts[outcome] += 1
    return counts


def retry_one(failure_id: int, *, now: datetime | None = None, force: bool = False) -> str | None:
    """Retry one failure (``force``: even if not due or given up, e.g. by an administrator).
    Returns ``"resolved"``, ``"failed"``, ``"gave_up"``, or ``None`` when another consumer holds
    the row or it is settled already. Commits."""
    now = now or utcnow()
    stmt = select(EventFailure).where(EventFailure.id == failure_id, EventFailure.resolved_at.is_(None))
    if not force:
        stmt = stmt.where(EventFailure.next_try_at.is_not(None), EventFailure.next_try_at <= now)
    if is_postgres():
        stmt = stmt.with_for_update(skip_locked=True)
    failure = db.session.execute(stmt).scalar_one_or_none()
    if failure is None:
        db.session.rollback()
        return None
    error = _attempt(failure)
    failure.attempts += 1
    if error is None:
        failure.resolved_at, failure.next_try_at = utcnow(), None
        outcome = "resolved"
        log.info("Add-on %r: %s reaction (failure #%d) succeeded on retry", failure.plugin, failure.hook, failure.id)
    else:
        failure.error = error
        permanent = error.startswith(("Gone:", "EventArgError:", "NotActive:"))
        gave_up = permanent or failure.attempts >= MAX_ATTEMPTS
        failure.next_try_at = None if gave_up else now + retry_delay(failure.attempts)
        outcome = "gave_up" if gave_up else "failed"
        log.error("Add-on %r: %s reaction (failure #%d) failed again (attempt %d%s): %s", failure.plugin,
                  failure.hook, failure.id, failure.attempts, ", giving up" if gave_up else "", error)
        if gave_up:
            notify_given_up(failure.plugin, failure.hook, failure.attempts)
    db.session.commit()
    return outcome


KIND_GIVEN_UP = "events.given_up"

#: Declared through ``portal_notification_kinds`` (``portal/events/hooks.py``).
KINDS: list[dict[str, Any]] = [
    {"kind": KIND_GIVEN_UP, "label": _l("Add-on reaction given up"), "email_default": True},
]


def notify_given_up(plugin: str, hook: str, attempts: int) -> int:
    """Tell the Site Administrators that an add-on's reaction will not be retried any more: once
    per add-on, hook and Korean day, in a SAVEPOINT of the retry's transaction (a failure to notify
    is logged and never loses the retry's bookkeeping)."""
    from ..jobs.alerts import notify_site_admins
    from ..notify.service import build_path, digest_day

    try:
        with db.session.begin_nested():
            return notify_site_admins(
                KIND_GIVEN_UP, f"events.given_up:{plugin[:60]}:{hook[:60]}:{digest_day()}",
                lambda: _("The add-on “%(plugin)s” could not react to %(hook)s; after %(n)s attempts it will not "
                          "be retried by itself.", plugin=plugin, hook=hook, n=attempts),
                build_path("events.failures", status="given_up"))
    except Exception:  # noqa: BLE001  (the alert must never undo the retry's record)
        log.exception("events: could not notify the administrators that %s/%s was given up", plugin, hook)
        return 0


def _attempt(failure: EventFailure) -> str | None:
    if failure.hook not in EVENTS:
        return f"EventArgError: {failure.hook} is no longer an event"
    impl = next((i for i in implementations(failure.hook) if i.plugin_name == failure.plugin), None)
    if impl is None:
        return f"NotActive: add-on {failure.plugin!r} is not active or no longer implements {failure.hook}"
    try:
        kwargs: dict[str, Any] = decode_args(failure.args)
    except (Gone, EventArgError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return run_isolated(impl, kwargs)
