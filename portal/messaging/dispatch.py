"""The dispatcher: claim due messages, re-check every send-time policy, send, record the outcome.

Delivery guarantee — exactly once, even when the sending process is killed (``kill -9``):

1. **Claim** a batch (``status = 'claimed'``, a claim token in ``claimed_by``) and commit.
   PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so dispatchers on many hosts never take the same row;
   SQLite: the claim runs in one ``BEGIN IMMEDIATE`` transaction, one writer at a time.
2. **Re-check** expiry, the address and every ``portal_message_policies()`` check for the batch:
   ``suppressed_at_send`` (with the reason), ``expired``, or back to ``queued`` with a later
   ``not_before`` (deferred, e.g. the night rule).
3. **Send** one message at a time. Right before the step that makes the provider accept it (SMTP:
   the final ``.`` of DATA, after MAIL/RCPT/DATA and the whole body were transmitted) the row is
   committed as ``sending`` — conditionally on our claim token, not cancelled, not paused. The
   provider's answer is recorded right after (``sent``, ``failed_temporary`` with back-off or
   ``failed_permanent``), committed together with the next message's ``sending`` mark.

After a crash a ``claimed`` row was never handed over (an SMTP transaction without its final
dot is discarded by the server), so it is simply claimed again once its lease
(``PORTAL_MESSAGES_LEASE_SECONDS``) has passed. A ``sending`` row whose lease passed is *in doubt*:
the dot may have reached the server. It is recorded ``sent`` (reason ``in_doubt``), never sent
again: at-most-once for that one message per killed process, and the window is a single
``send()`` system call after a durable commit. Adapters whose provider de-duplicates by our key
(``resend_in_doubt = True``) get such rows back as ``queued`` instead (at-least-once, same key).
Every attempt of a message carries the same SMTP Message-ID (``adapters.message_id_for``).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, text, update

from ..db_utils import is_postgres
from ..extensions import db
from ..models import QualityIssue
from ..models.base import utcnow
from . import registry
from .adapters import PERMANENT, SENT, TEMPORARY, SendResult
from .models import (
    CLAIMED,
    EXPIRED,
    FAILED_PERMANENT,
    FAILED_TEMPORARY,
    QUEUED,
    SENDING,
    SUPPRESSED,
    Message,
)
from .service import MessagingError, paused_condition, personalize

log = logging.getLogger(__name__)

QUALITY_FIELD = {"email": "email", "sms": "phone", "kakao": "phone", "push": None, "dm": "address"}
MAX_LIMIT = 10_000


def settings() -> dict[str, Any]:
    cfg = current_app.config
    delays = [int(x) for x in str(cfg.get("PORTAL_MESSAGES_RETRY_DELAYS", "60,300,1800")).split(",") if x.strip()]
    return {
        "lease": timedelta(seconds=float(cfg.get("PORTAL_MESSAGES_LEASE_SECONDS", 300))),
        "delays": delays,
        "max_attempts": int(cfg.get("PORTAL_MESSAGES_MAX_ATTEMPTS") or len(delays) + 1),
    }


def _token() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _summary(m: Message) -> dict[str, Any]:
    """What ``portal_messages_settled`` hands to add-ons: plain values, no ORM objects."""
    return {"id": m.id, "channel": m.channel, "purpose": m.purpose, "customer_id": m.customer_id,
            "user_id": m.user_id, "source": m.source, "source_object": m.source_object, "step": m.step,
            "variant": m.variant, "status": m.status, "status_reason": m.status_reason,
            "provider_id": m.provider_id, "sent_at": m.sent_at.isoformat() if m.sent_at else None}


class _Run:
    """State of one dispatch call: results waiting for the next commit, counters, events."""

    def __init__(self, token: str, now: datetime, conf: dict[str, Any]) -> None:
        self.token = token
        self.now = now
        self.conf = conf
        self.stats: dict[str, int] = defaultdict(int)
        self.contacts: list[dict[str, Any]] = []
        self.settled: list[dict[str, Any]] = []
        self.bounced: list[tuple[int, str]] = []
        self.sent: list[dict[str, Any]] = []  # outcomes "sent" not written yet (see _record)
        self.pending = False

    def flush(self) -> None:
        if self.sent:
            _driver_sql(_SENT_SQL, self.sent)
            self.sent = []
        if self.contacts:
            _record_contacts(self.contacts)
            self.contacts = []

    def commit(self, flush: bool = True) -> None:
        if flush:
            self.flush()
        db.session.commit()
        self.pending = bool(self.sent or self.contacts)


def _record_contacts(rows: list[dict[str, Any]]) -> None:
    try:
        from ..contact import ContactError, record_contacts
    except ImportError:  # the consent and contact service is not installed
        return
    try:
        record_contacts(rows)  # checks every row before it writes any
    except ContactError:
        # A customer merged away (deleted) since the batch was claimed: their contact goes with
        # them; the others are recorded. Never let history stop the sending.
        from ..models import Customer

        known = set(db.session.execute(select(Customer.id).where(
            Customer.id.in_({r["customer_id"] for r in rows}))).scalars())
        kept = [r for r in rows if r["customer_id"] in known]
        if kept:
            record_contacts(kept)


def _contact_row(m: Message, at: datetime) -> dict[str, Any]:
    return {"customer_id": m.customer_id, "channel": m.channel, "purpose": m.purpose, "source": m.source,
            "at": at, "ref": f"message:{m.id}", "outcome": "sent"}


def dispatch(*, limit: int = 500, channel: str | None = None) -> dict[str, int]:
    """Claim up to ``limit`` due messages and settle each one; returns counts per outcome.

    Runs in its own transactions (it commits): call it from a job, the CLI or a test, never in
    the middle of a request's own unit of work.
    """
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise MessagingError("limit", f"limit must be between 1 and {MAX_LIMIT}")
    adapters = registry.adapters()
    if channel is not None and channel not in adapters:
        raise MessagingError("channel", f"no adapter sends the channel {channel!r}")
    sendable = sorted(c for c, a in adapters.items() if not getattr(a, "manual", False) and channel in (None, c))
    db.session.commit()
    run = _Run(_token(), utcnow(), settings())
    _recover_in_doubt(run, adapters)
    if sendable:
        messages = _claim(run, limit, sendable)
        run.stats["claimed"] = len(messages)
        ready = _check(run, messages)
        by_channel: dict[str, list[Message]] = defaultdict(list)
        for m in ready:
            by_channel[m.channel].append(m)
        for ch, batch in by_channel.items():
            _send_channel(run, adapters[ch], batch)
    _after(run)
    return dict(run.stats)


def _recover_in_doubt(run: _Run, adapters: dict[str, Any]) -> None:
    """``sending`` rows whose lease passed: their sender died between its commit and the answer."""
    stale = run.now - run.conf["lease"]
    rows = db.session.execute(select(Message).where(Message.status == SENDING, Message.claimed_at < stale)
                              .limit(MAX_LIMIT)).scalars().all()
    for m in rows:
        adapter = adapters.get(m.channel)
        if adapter is not None and getattr(adapter, "resend_in_doubt", False):
            m.status, m.status_reason, m.claimed_by = QUEUED, "in_doubt_retry", None
            run.stats["requeued_in_doubt"] += 1
            continue
        m.status, m.status_reason, m.sent_at = SENT, "in_doubt", m.claimed_at
        m.attempts += 1
        provider_id = getattr(adapter, "provider_id_for", None)
        m.provider_id = provider_id(m) if callable(provider_id) else m.provider_id
        if m.customer_id is not None:
            run.contacts.append(_contact_row(m, m.claimed_at or run.now))
        run.settled.append(_summary(m))
        run.stats["sent_in_doubt"] += 1
    if rows:
        run.commit()


def held_condition():
    """SQL: this message comes from an add-on that is installed but disabled. Such messages are
    held — not claimed, not expired, not lost — and go out once the add-on is enabled again (if
    still before their ``expires_at``). Read from ``plugin_state`` by every claim, never cached:
    a disable takes effect at the next claim. Core sources (no add-on of that name) never match."""
    from ..models import PluginState

    return Message.source.in_(select(PluginState.name).where(PluginState.installed.is_(True),
                                                               PluginState.enabled.is_(False)))


def _claim(run: _Run, limit: int, channels: list[str]) -> list[Message]:
    """Take due rows (and claims whose lease passed) for this run, and commit the claim."""
    pg = is_postgres()
    ids: list[int] = []
    stale = run.now - run.conf["lease"]
    wanted = [
        (Message.status == CLAIMED, Message.claimed_at < stale),
        (Message.status == QUEUED, Message.not_before <= run.now),
        (Message.status == FAILED_TEMPORARY, Message.not_before <= run.now),
    ]
    for conds in wanted:
        room = limit - len(ids)
        if room <= 0:
            break
        q = (select(Message.id).where(*conds, Message.channel.in_(channels), ~paused_condition(), ~held_condition())
             .order_by(Message.not_before).limit(room))
        if pg:
            q = q.with_for_update(skip_locked=True, of=Message)
        ids += db.session.execute(q).scalars().all()
    if not ids:
        db.session.commit()
        return []
    db.session.execute(update(Message).where(Message.id.in_(ids)).values(
        status=CLAIMED, claimed_by=run.token, claimed_at=run.now, updated_at=run.now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return list(db.session.execute(select(Message).where(Message.claimed_by == run.token, Message.status == CLAIMED)
                                   .order_by(Message.not_before, Message.id)).scalars())


def _check(run: _Run, messages: list[Message]) -> list[Message]:
    """Expiry, address and the send-time policies; returns the messages still to send."""
    if not messages:
        return []
    ready = []
    for m in messages:
        if m.expires_at is not None and m.expires_at <= run.now:
            _settle(run, m, EXPIRED, "too_late")
        elif not m.to_addr:
            _settle(run, m, SUPPRESSED, "no_address")
        else:
            ready.append(m)
    for policy in registry.policies():
        if not ready:
            break
        try:
            verdicts = policy["check"](ready, run.now) or {}
        except Exception:
            # A broken policy must not let messages through unchecked: hold the batch for a retry.
            log.exception("message policy %s failed; the batch goes back to the queue", policy["name"])
            for m in ready:
                m.status, m.claimed_by = QUEUED, None
                m.not_before = run.now + timedelta(minutes=1)
            run.stats["held_policy_error"] += len(ready)
            ready = []
            break
        still = []
        for m in ready:
            verdict = verdicts.get(m.id)
            if verdict is None or verdict.allowed:
                still.append(m)
                continue
            until = getattr(verdict, "deferred_until", None)
            reason = (verdict.reason or policy["name"])[:60]
            if until is not None:
                until = _naive(until)
                if m.expires_at is not None and until >= m.expires_at:
                    _settle(run, m, EXPIRED, reason)
                else:
                    m.status, m.status_reason, m.claimed_by, m.not_before = QUEUED, f"deferred:{reason}"[:60], None, until
                    run.stats["deferred"] += 1
            else:
                _settle(run, m, SUPPRESSED, reason)
        ready = still
    ids = [m.id for m in ready]
    run.commit()
    if not ids:
        return []
    # Detached snapshots: the per-message commits below then never expire and reload them.
    ready = list(db.session.execute(select(Message).where(Message.id.in_(ids)).order_by(Message.not_before, Message.id)).scalars())
    for m in ready:
        db.session.expunge(m)
    return ready


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _settle(run: _Run, m: Message, status: str, reason: str | None) -> None:
    m.status, m.status_reason, m.updated_at = status, reason, run.now
    run.settled.append(_summary(m))
    run.stats[status] += 1


class _RateLimit:
    """At most ``rate`` sends in any one-second window (evenly spaced), in this process; a
    channel with a rate is sent by one dispatcher at a time (see :func:`_channel_lock`)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate * 1.001 if rate and rate > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self, before_sleep: Callable[[], None]) -> None:
        if not self.interval:
            return
        delay = self.next_at - time.monotonic()
        if delay > 0:
            before_sleep()
            time.sleep(delay)
        self.next_at = max(self.next_at, time.monotonic()) + self.interval


def _channel_lock(channel: str) -> Any:
    """PostgreSQL: a session advisory lock per rate-limited channel on its own connection, so
    dispatchers on several hosts share the provider's rate instead of each using all of it.
    Returns the connection holding it, ``None`` when another dispatcher has it, or ``True``
    (SQLite: one writer, nothing to share)."""
    if not is_postgres():
        return True
    conn = db.engine.connect()
    key = zlib.crc32(f"portal.messaging:{channel}".encode())
    if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
        conn.commit()
        conn.info["portal_lock_key"] = key
        return conn
    conn.rollback()
    conn.close()
    return None


def _release_lock(lock: Any) -> None:
    if lock is True or lock is None:
        return
    try:
        lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock.info["portal_lock_key"]})
        lock.commit()
    finally:
        lock.close()


def _release(run: _Run, messages: list[Message], reason: str | None = None) -> None:
    """Give claimed, unsent messages back to the queue (paused, or the channel is busy)."""
    ids = [m.id for m in messages]
    if ids:
        db.session.execute(update(Message).where(Message.id.in_(ids), Message.status == CLAIMED,
                                                 Message.claimed_by == run.token)
                           .values(status=QUEUED, claimed_by=None, updated_at=run.now)
                           .execution_options(synchronize_session=False))
        run.stats["released"] += len(ids)
    run.commit()


def _send_channel(run: _Run, adapter: Any, batch: list[Message]) -> None:
    rate = getattr(adapter, "rate_per_second", None)
    lock = _channel_lock(batch[0].channel) if rate else True
    if lock is None:
        _release(run, batch)
        return
    limiter = _RateLimit(rate)
    two_phase = bool(getattr(adapter, "two_phase", False))
    group = 1 if two_phase else _group_size(adapter, rate)
    group_end = 0  # the current mark group ends before batch[group_end]; its ids marked sending:
    group_marked: set[int] = set()
    opened = False
    try:
        for index, m in enumerate(batch):
            limiter.wait(lambda: run.commit() if run.pending else None)
            if not opened and callable(getattr(adapter, "open", None)):
                try:
                    adapter.open()
                except Exception as exc:  # the provider is down: every message waits for its retry
                    for rest in batch[index:]:
                        _record(run, rest, SendResult(TEMPORARY, error=f"{type(exc).__name__}: {exc}"[:500]))
                    break
            opened = True
            marked: list[bool] = []
            personalize(m)

            def commit_point(m: Message = m, marked: list[bool] = marked) -> bool:
                ok = _mark_sending(run, m)
                marked.append(ok)
                return ok

            if group > 1 and index >= group_end:
                group_end = index + group
                group_marked = _mark_sending_group(run, batch[index:group_end])
            if two_phase:
                result = adapter.send(m, commit_point=commit_point)
            elif (m.id in group_marked) if group > 1 else commit_point():
                try:
                    result = adapter.send(m)
                except Exception as exc:  # the adapter broke after the point of no return
                    log.exception("adapter for %s failed on message %s", m.channel, m.id)
                    result = SendResult(SENT, error=f"in doubt: {type(exc).__name__}: {exc}"[:500])
            else:
                result = SendResult("skipped")
            if result.status == "skipped" or (marked and not marked[-1]):
                if _paused_now(m):
                    _unmark(run, [x.id for x in batch[index:group_end] if x.id in group_marked])
                    _release(run, batch[index:])
                    return
                run.stats["skipped"] += 1
                continue
            _record(run, m, result)
    finally:
        try:
            if run.pending:
                run.commit()
        finally:
            if opened and callable(getattr(adapter, "close", None)):
                try:
                    adapter.close()
                except Exception:
                    log.warning("closing the %s adapter failed", batch[0].channel, exc_info=True)
            _release_lock(lock)


MAX_MARK_GROUP = 100


def _group_size(adapter: Any, rate: float | None) -> int:
    """Messages marked ``sending`` by one commit: the adapter's ``mark_group``, only for an adapter
    whose provider de-duplicates by our key (``resend_in_doubt``), at most one second's worth
    under a rate limit (a marked row must not wait long for its turn)."""
    size = getattr(adapter, "mark_group", 1)
    if not getattr(adapter, "resend_in_doubt", False) or not isinstance(size, int) or size <= 1:
        return 1
    size = min(size, MAX_MARK_GROUP)
    return max(1, min(size, int(rate))) if rate else size


def _mark_sending_group(run: _Run, group: list[Message]) -> set[int]:
    """The point of no return for a group: commit ``sending`` for every row still ours, not
    cancelled and not paused (with the outcomes written so far); returns their ids. A crash then
    leaves the whole group in doubt, which ``resend_in_doubt`` queues again with the same keys."""
    ids = {f"id{i}": m.id for i, m in enumerate(group)}
    sql = _MARK_SENDING.replace("WHERE id = :id ", "WHERE id IN (" + ", ".join(f":{k}" for k in ids) + ") ")
    marked = set(_driver_result(sql + " RETURNING id", {"now": utcnow(), "token": run.token, **ids}).scalars())
    run.commit()
    return marked


def _unmark(run: _Run, ids: list[int]) -> None:
    """Rows of a marked group not handed over (sending stopped by a pause): claimed again, so
    :func:`_release` gives them back to the queue instead of leaving them in doubt."""
    if ids:
        params = {f"id{i}": v for i, v in enumerate(ids)}
        placeholders = ", ".join(f":{k}" for k in params)  # parameter names, never values
        _driver_sql("UPDATE message SET status = 'claimed' WHERE status = 'sending' "  # noqa: S608
                    f"AND claimed_by = :token AND id IN ({placeholders})", {"token": run.token, **params})


def _paused_now(m: Message) -> bool:
    from .service import is_paused

    return is_paused(m.source, m.source_object)


SENT_GROUP = 20  # "sent" outcomes written per statement (and contact-history rows per insert)
_SENT_SQL = ("UPDATE message SET status = 'sent', sent_at = :sent_at, provider_id = :provider_id, "
             "status_reason = :reason, attempts = :attempts, last_error = :error, updated_at = :updated_at "
             "WHERE id = :message_id AND claimed_by = :token")
_MARK_SENDING = (
    "UPDATE message SET status = 'sending', claimed_at = :now, updated_at = :now "
    "WHERE id = :id AND status = 'claimed' AND claimed_by = :token AND NOT EXISTS ("
    "SELECT 1 FROM message_pause p WHERE p.source = message.source "
    "AND (p.source_object = '' OR p.source_object = coalesce(message.source_object, '')))")


def _driver_sql(sql: str, params: dict[str, Any] | list[dict[str, Any]]) -> int:
    """:func:`_driver_result`'s rowcount."""
    return _driver_result(sql, params).rowcount


def _driver_result(sql: str, params: dict[str, Any] | list[dict[str, Any]]) -> Any:
    """One statement straight to the driver on the session's transaction; its cursor result.

    The two statements every message costs (its ``sending`` mark and its outcome) skip
    SQLAlchemy's statement handling — a third of the dispatcher's CPU per message. Named
    parameters are written ``:name`` and turned into the driver's style; the same condition as
    :func:`portal.messaging.service.paused_condition` (tests hold both: a pause stops a batch)."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        sql = _PG_PARAM.sub(r"%(\1)s", sql)
    else:  # stored as SQLAlchemy stores DateTime on SQLite, microseconds always written
        params = [_sqlite_params(p) for p in params] if isinstance(params, list) else _sqlite_params(params)
    return conn.exec_driver_sql(sql, params)


def _sqlite_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for k, v in params.items()}


_PG_PARAM = re.compile(r":(\w+)")


def _mark_sending(run: _Run, m: Message) -> bool:
    """The point of no return: commit ``sending`` (with the previous message's outcome) if the
    row is still ours, not cancelled and not paused."""
    count = _driver_sql(_MARK_SENDING, {"now": utcnow(), "id": m.id, "token": run.token})
    run.commit(flush=len(run.sent) >= SENT_GROUP)
    return count == 1


def _record(run: _Run, m: Message, result: SendResult) -> None:
    """Write the provider's answer (committed with the next message's mark or at the end)."""
    now = utcnow()
    values: dict[str, Any] = {"attempts": m.attempts + 1, "updated_at": now, "last_error": result.error}
    if result.status == SENT:
        values.update(status=SENT, sent_at=now, provider_id=result.provider_id,
                      status_reason="in_doubt" if (result.error or "").startswith("in doubt") else None)
        if m.customer_id is not None:
            run.contacts.append(_contact_row(m, now))
    elif result.status == PERMANENT:
        values.update(status=FAILED_PERMANENT, status_reason="bounced" if result.bounce else "refused")
        if result.bounce and m.customer_id is not None:
            run.bounced.append((m.customer_id, m.channel))
    elif result.status == TEMPORARY:
        attempts = m.attempts + 1
        delays = run.conf["delays"]
        if attempts >= run.conf["max_attempts"]:
            values.update(status=FAILED_PERMANENT, status_reason="retries_exhausted")
        else:
            retry_at = now + timedelta(seconds=delays[min(attempts - 1, len(delays) - 1)] if delays else 60)
            if m.expires_at is not None and retry_at >= m.expires_at:
                values.update(status=EXPIRED, status_reason="retry_too_late")
            else:
                values.update(status=FAILED_TEMPORARY, status_reason="retry", not_before=retry_at, claimed_by=None)
    else:
        raise MessagingError("status", f"adapter answered an unknown status {result.status!r}")
    if values["status"] == SENT:
        # Written with a group of others (SENT_GROUP) in a later commit: until then the row stays
        # "sending", which a crash turns into "sent (in doubt)" — the same truth, one statement
        # and one contact insert per group instead of per message.
        run.sent.append({"message_id": m.id, "token": run.token, "sent_at": now, "provider_id": result.provider_id,
                         "reason": values["status_reason"], "attempts": values["attempts"], "error": result.error,
                         "updated_at": now})
        run.pending = True
        run.stats[SENT] += 1
        for key, value in values.items():
            setattr(m, key, value)
        run.settled.append(_summary(m))
        return
    columns = sorted(values)
    _driver_sql("UPDATE message SET " + ", ".join(f"{c} = :{c}" for c in columns)  # noqa: S608 (column names are ours)
                + " WHERE id = :message_id AND claimed_by = :token",
                {**values, "message_id": m.id, "token": run.token})
    run.pending = True
    status = values["status"]
    run.stats[status] += 1
    for key, value in values.items():  # m is a detached snapshot: this only keeps it current
        setattr(m, key, value)
    if status != FAILED_TEMPORARY:
        run.settled.append(_summary(m))
    if status != SENT:
        run.commit()  # a failure is written at once: never mistaken for "in doubt" after a crash


def _flag_bounces(run: _Run) -> list[tuple[list[int], str]]:
    """Open a data-quality issue on each bounced address (system actor: ``flag_quality`` with no
    user), once per open issue; the caller announces them per field after the commit."""
    from ..customers.service import flag_quality
    from ..models import Customer

    opened: dict[str, list[int]] = defaultdict(list)
    for customer_id, channel in run.bounced:
        field = QUALITY_FIELD.get(channel)
        if field is None:
            continue
        exists = db.session.execute(select(QualityIssue.id).where(
            QualityIssue.customer_id == customer_id, QualityIssue.field == field,
            QualityIssue.resolved_at.is_(None))).first()
        customer = db.session.get(Customer, customer_id)
        if exists or customer is None:
            continue
        flag_quality(None, customer, field, f"bounced ({channel})", source="messaging", announce=False)
        opened[field].append(customer_id)
    db.session.commit()
    return [(ids, field) for field, ids in opened.items()]


def _after(run: _Run) -> None:
    """After the commits: quality flags for hard bounces, then the events."""
    if run.pending:
        run.commit()
    flagged = _flag_bounces(run) if run.bounced else []
    fire = _fire()
    for ids, field in flagged:
        fire("portal_quality_changed", customer_ids=ids, field=field, opened=True, actor=None, source="messaging")
    if run.settled:
        fire("portal_messages_settled", messages=run.settled)


def _fire() -> Callable[..., None]:
    try:
        from ..events import fire

        return fire
    except ImportError:  # no events service: call the hook directly
        from ..plugins import hook

        def _call(name: str, **kwargs: Any) -> None:
            hook(name)(**kwargs)

        return _call


def dispatch_job(limit: int = 500, channel: str | None = None, budget_seconds: float = 50.0) -> dict[str, int]:
    """The ``messaging.dispatch`` job: dispatch batches until nothing is due or the time budget
    (under the one-minute period) is spent."""
    total: dict[str, int] = defaultdict(int)
    started = time.monotonic()
    while True:
        stats = dispatch(limit=limit, channel=channel)
        for key, value in stats.items():
            total[key] += value
        if not stats.get("claimed") or time.monotonic() - started > budget_seconds:
            return dict(total)
