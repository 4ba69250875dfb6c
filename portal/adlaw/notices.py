"""The legal notices about consent, as daily jobs: 2-year re-confirmation and 14-day result notices.

* **Re-confirmation** (정보통신망법 제50조 제8항, 시행령 제62조의3): before each 2-year mark of a
  granted marketing consent — from ``PORTAL_RECONFIRMATION_LEAD_DAYS`` (30) days before it — the
  customer is told who the sender is, when they consented, to what, and how to keep or withdraw it.
* **Opt-out result** (제50조 제7항, 시행령 제62조의2): within 14 days of an opt-out, the customer is
  told it was processed.
* **Opt-in result** (the same 제50조 제7항: consent given, refused or withdrawn): within 14 days of a
  marketing consent being granted, the customer is told who the sender is, the date, what they
  consented to, and how to withdraw it (free).

All are *service* messages queued through ``portal.messaging.queue_many`` (one idempotency key
per consent row, so re-running a day, or running two consumers, queues nothing twice), and both
are recorded as consent events (``kind="reconfirmation_notice"`` / ``"optout_notice"`` /
``"optin_notice"``) only once
the message was actually **sent** — from the ``portal_messages_settled`` hook and, as a catch-up,
at the start of every run. A notice that never went out records nothing, so an unnotified consent
lapses after 730 days as the core's suppression rule says, instead of being kept alive by a notice
nobody received.

Selection is set-based: one query per run finds the consents whose newest row falls in the due
band (a range of ``ix_consent_purpose_recorded``, migration 0017), streamed in chunks; nothing is
loaded per customer. Recording is set-based too (``record_consents``: one look-up and two
multi-row INSERTs per 1,000 notices).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale, get_translations
from flask_babel import gettext as babel_gettext
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from ..bounds import kst_to_utc, kst_today  # noqa: F401  (notices.kst_today: public here too)
from ..db_utils import chunked
from ..extensions import db
from ..models import Consent, Customer, utcnow
from . import law

log = logging.getLogger("portal.adlaw")

SOURCE = "adlaw"
RECONFIRMATION = "reconfirmation_notice"
OPTOUT = "optout_notice"
OPTIN = "optin_notice"
KINDS = (RECONFIRMATION, OPTOUT, OPTIN)
#: Channels a notice can be sent on itself; a consent on another channel (KakaoTalk, push, phone,
#: postal DM) is noticed by e-mail, else SMS — whichever address the customer has.
NOTICE_CHANNELS = ("email", "sms")


# The notices' texts: one catalogue look-up per message id per run instead of one per message
# (flask_babel's gettext resolves the locale and catalogue on every call — most of a run's time).
_memo: ContextVar[dict[str, str] | None] = ContextVar("adlaw_notice_texts", default=None)


def _(msgid: str, **variables: Any) -> str:
    memo = _memo.get()
    if memo is None:
        return babel_gettext(msgid, **variables)
    text = memo.get(msgid)
    if text is None:
        text = memo[msgid] = get_translations().ugettext(msgid)
    return text % variables if variables else text


@contextmanager
def _texts_in(locale: str) -> Iterator[None]:
    """Render the notices in ``locale``, each message id looked up once."""
    with force_locale(locale):
        token = _memo.set({})
        try:
            yield
        finally:
            _memo.reset(token)


def _utc_start_of(day: date) -> datetime:
    """Naive UTC instant of 00:00 KST on ``day`` (how ``consent.recorded_at`` is stored)."""
    return kst_to_utc(day)


def _valid_days() -> int:
    return int(current_app.config.get("PORTAL_CONSENT_VALID_DAYS", law.CONSENT_VALID_DAYS))


def _lead_days() -> int:
    return int(current_app.config.get("PORTAL_RECONFIRMATION_LEAD_DAYS", law.RECONFIRMATION_LEAD_DAYS))


def reconfirmation_band(today: date) -> tuple[datetime, datetime]:
    """``[low, high)`` of ``recorded_at`` (naive UTC) for which the notice is due on ``today``:
    the basis day ``d`` satisfies ``d + valid − lead ≤ today < d + valid`` (see
    ``law.reconfirmation_due``; with the default 730 days the 2-year mark is always d + 730)."""
    valid, lead = _valid_days(), _lead_days()
    first = today - timedelta(days=valid) + timedelta(days=1)     # deadline > today
    last = today - timedelta(days=valid) + timedelta(days=lead)   # deadline − lead ≤ today
    return _utc_start_of(first), _utc_start_of(last + timedelta(days=1))


def optout_band(today: date) -> tuple[datetime, datetime]:
    """``[low, high)`` of opt-outs whose result notice may still go out on ``today`` (14 days)."""
    first = today - timedelta(days=law.OPTOUT_NOTICE_DAYS)
    return _utc_start_of(first), _utc_start_of(today + timedelta(days=1))


def optin_band(today: date) -> tuple[datetime, datetime]:
    """``[low, high)`` of grants whose result notice may still go out on ``today`` (14 days, as opt-outs)."""
    return optout_band(today)


def _newest(c: Any) -> Any:
    """SQL: ``c`` is the newest marketing row of its (customer, channel) — the current state."""
    n = aliased(Consent, name="adlaw_newer")
    return ~exists().where(n.customer_id == c.customer_id, n.channel == c.channel, n.purpose == c.purpose,
                           or_(n.recorded_at > c.recorded_at, and_(n.recorded_at == c.recorded_at, n.id > c.id)))


def _has(col: Any) -> Any:
    return and_(col.is_not(None), func.trim(col) != "")


def _due_query(kind: str, today: date) -> Any:
    c = aliased(Consent, name="adlaw_c")
    low, high = reconfirmation_band(today) if kind == RECONFIRMATION else optout_band(today)
    # A re-confirmation follows any granted row (a notice restarts the clock); a result notice
    # follows the customer's own grant or withdrawal only.
    state = {RECONFIRMATION: c.granted.is_(True),
             OPTOUT: and_(c.granted.is_(False), c.kind == "consent"),
             OPTIN: and_(c.granted.is_(True), c.kind == "consent")}[kind]
    return (select(c.id, c.customer_id, c.channel, c.recorded_at, Customer.email, Customer.phone)
            .join(Customer, Customer.id == c.customer_id)
            .where(c.purpose == "marketing", c.recorded_at >= low, c.recorded_at < high, state,
                   Customer.pseudonymized_at.is_(None), or_(_has(Customer.email), _has(Customer.phone)), _newest(c))
            .order_by(c.id))


def notice_channel(consent_channel: str, email: str | None, phone: str | None) -> str | None:
    """Where the notice about a consent on ``consent_channel`` goes: that channel when it is e-mail
    or SMS and the customer has the address, else e-mail, else SMS; None without any address."""
    have = {"email": bool(email and email.strip()), "sms": bool(phone and phone.strip())}
    if consent_channel in NOTICE_CHANNELS and have[consent_channel]:
        return consent_channel
    return next((ch for ch in NOTICE_CHANNELS if have[ch]), None)


def idempotency_key(kind: str, consent_id: int) -> str:
    return f"adlaw:{kind}:{consent_id}"


def _channel_label(code: str) -> str:
    try:
        from ..contact import channel

        ch = channel(code)
    except Exception:  # noqa: BLE001  (a label is cosmetic)
        ch = None
    return str(ch.label) if ch is not None else code


def _how_to_withdraw(url: str, optout: str | None) -> str:
    if optout:
        return _("To stop, unsubscribe free of charge at %(url)s or call %(number)s (free of charge).",
                 url=url, number=optout)
    return _("To stop, unsubscribe free of charge at %(url)s.", url=url)


def _sender_line(sender: str, contact: str) -> str:
    if contact:
        return _("Sender: %(sender)s, %(contact)s", sender=sender, contact=contact)
    return _("Sender: %(sender)s", sender=sender)


def reconfirmation_text(*, sender: str, contact: str, consented_on: date, channel: str, url: str,
                        optout: str | None) -> tuple[str, str]:
    """Subject and body of the re-confirmation notice (in the active locale): sender, date and fact
    of the consent, how to keep it (nothing to do) and how to withdraw it (free)."""
    subject = _("[%(sender)s] Your consent to advertising messages", sender=sender)
    body = "\n\n".join([
        _("You agreed on %(date)s to receive advertising messages from %(sender)s by %(channel)s.",
          date=consented_on.isoformat(), sender=sender, channel=channel),
        _("The law asks us to remind you of this every two years. To keep receiving them, you need not do anything."),
        _how_to_withdraw(url, optout),
        _sender_line(sender, contact),
    ])
    return subject, body


def optout_text(*, sender: str, contact: str, requested_on: date, processed_on: date, channel: str) -> tuple[str, str]:
    """Subject and body of the opt-out result notice (in the active locale)."""
    subject = _("[%(sender)s] Your opt-out was processed", sender=sender)
    body = "\n\n".join([
        _("Your request of %(date)s to stop advertising messages from %(sender)s by %(channel)s was processed on "
          "%(done)s. You will no longer receive advertising on this channel.",
          date=requested_on.isoformat(), sender=sender, channel=channel, done=processed_on.isoformat()),
        _("Messages about your orders and account still reach you."),
        _sender_line(sender, contact),
    ])
    return subject, body


def optin_text(*, sender: str, contact: str, consented_on: date, channel: str, url: str,
               optout: str | None) -> tuple[str, str]:
    """Subject and body of the opt-in result notice (in the active locale): sender, the date and what
    was consented to, that it was processed, and how to withdraw it (free)."""
    subject = _("[%(sender)s] Your consent to advertising messages was recorded", sender=sender)
    body = "\n\n".join([
        _("On %(date)s you agreed to receive advertising messages from %(sender)s by %(channel)s. Your consent "
          "was processed on %(date)s.", date=consented_on.isoformat(), sender=sender, channel=channel),
        _how_to_withdraw(url, optout),
        _sender_line(sender, contact),
    ])
    return subject, body


def _rows(kind: str, today: date, chunk: int) -> Iterator[list[Any]]:
    """The due consents in chunks, by keyset on the consent id (each chunk is committed before the
    next is read, so no cursor stays open across a commit)."""
    last = 0
    query = _due_query(kind, today)
    while True:
        batch = db.session.execute(query.where(query.selected_columns[0] > last).limit(chunk)).all()
        if not batch:
            return
        yield batch
        last = batch[-1].id
        if len(batch) < chunk:
            return


def _messages(kind: str, batch: list[Any], today: date) -> list[dict[str, Any]]:
    from .links import unsubscribe_url

    cfg = current_app.config
    sender = cfg.get("PORTAL_SENDER_NAME") or ""
    contact = cfg.get("PORTAL_SENDER_CONTACT") or ""
    optout = law.format_080(cfg.get("PORTAL_OPTOUT_080"))
    out = []
    labels: dict[str, str] = {}
    for r in batch:
        channel = notice_channel(r.channel, r.email, r.phone)
        if channel is None:
            continue
        label = labels.get(r.channel) or labels.setdefault(r.channel, _channel_label(r.channel))
        if kind == OPTIN:
            subject, body = optin_text(sender=sender, contact=contact, consented_on=law.kst_date(r.recorded_at),
                                       channel=label, url=unsubscribe_url(r.customer_id, r.channel), optout=optout)
        elif kind == RECONFIRMATION:
            subject, body = reconfirmation_text(sender=sender, contact=contact, consented_on=law.kst_date(r.recorded_at),
                                                channel=label, url=unsubscribe_url(r.customer_id, r.channel),
                                                optout=optout)
        else:
            subject, body = optout_text(sender=sender, contact=contact, requested_on=law.kst_date(r.recorded_at),
                                        processed_on=law.kst_date(r.recorded_at), channel=label)
        out.append({"channel": channel, "purpose": "service", "customer_id": r.customer_id,
                    "subject": subject if channel == "email" else None, "body": body,
                    "idempotency_key": idempotency_key(kind, r.id), "source": SOURCE, "step": kind,
                    "source_object": f"consent:{r.id}"})
    return out


def _queued_keys(keys: list[str]) -> set[str]:
    """Which of these notices were queued before: a re-run neither renders nor queues them again,
    and "queued" counts new messages whatever ``queue_many`` returns on the driver."""
    from ..messaging.models import Message

    return set(db.session.execute(select(Message.idempotency_key).where(Message.idempotency_key.in_(keys))).scalars())


def run_notices(kind: str, *, today: date | None = None, dry_run: bool = False, chunk: int = 5000) -> dict[str, int]:
    """Queue today's notices of ``kind`` (one of :data:`KINDS`); commits per chunk.

    Returns ``{"due", "queued", "recorded"}``: consents due today, messages newly queued (0 on a
    re-run) and consent events recorded for notices sent since the last run. ``dry_run`` only
    counts, writes nothing. The texts are in ``BABEL_DEFAULT_LOCALE`` (Korean by default).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    today = today or kst_today()
    if dry_run:
        due = db.session.execute(select(func.count()).select_from(_due_query(kind, today).order_by(None).subquery()))
        return {"due": int(due.scalar_one()), "queued": 0, "recorded": 0}
    recorded = record_sent_notices(kind=kind)
    db.session.commit()
    from ..messaging import queue_many

    due = queued = 0
    with _texts_in(current_app.config.get("BABEL_DEFAULT_LOCALE", "ko")):
        for batch in _rows(kind, today, chunk):
            due += len(batch)
            done = _queued_keys([idempotency_key(kind, r.id) for r in batch])
            rows = _messages(kind, [r for r in batch if idempotency_key(kind, r.id) not in done], today)
            if rows:
                queue_many(rows, chunk=chunk)
                queued += len(rows)
            db.session.commit()
    log.info("adlaw %s for %s: %s due, %s queued, %s recorded", kind, today, due, queued, recorded)
    return {"due": due, "queued": queued, "recorded": recorded}


def reconfirmation_notices(today: str | None = None, dry_run: bool = False) -> dict[str, int]:
    """The ``adlaw.reconfirmation_notices`` job (``today``: an ISO date, for tests and manual runs)."""
    return run_notices(RECONFIRMATION, today=date.fromisoformat(today) if today else None, dry_run=dry_run)


def optout_result_notices(today: str | None = None, dry_run: bool = False) -> dict[str, int]:
    """The ``adlaw.optout_result_notices`` job."""
    return run_notices(OPTOUT, today=date.fromisoformat(today) if today else None, dry_run=dry_run)


def optin_result_notices(today: str | None = None, dry_run: bool = False) -> dict[str, int]:
    """The ``adlaw.optin_result_notices`` job."""
    return run_notices(OPTIN, today=date.fromisoformat(today) if today else None, dry_run=dry_run)


# --- recording sent notices as consent events ---------------------------------------------------

def _consent_id(source_object: str | None) -> int | None:
    if not source_object or not source_object.startswith("consent:"):
        return None
    try:
        return int(source_object.split(":", 1)[1])
    except ValueError:
        return None


#: The catch-up looks at notices sent this many days back (the hook records them at once normally).
CATCH_UP_DAYS = 7


def record_sent_notices(message_ids: Iterable[int] | None = None, *, kind: str | None = None) -> int:
    """Record a consent event for each sent notice message whose consent is still the current one.

    ``message_ids`` None: the notices sent in the last ``CATCH_UP_DAYS`` days (the catch-up at each
    run). Idempotent: once recorded, the notice row is the newest consent row, so the message no
    longer matches. A consent that changed meanwhile (withdrawn, expired) is skipped and logged,
    never fails the others. Does not commit.
    """
    from ..contact.service import record_consents
    from ..messaging.models import Message

    steps = [kind] if kind else list(KINDS)
    query = select(Message.id, Message.step, Message.source_object).where(
        Message.source == SOURCE, Message.step.in_(steps), Message.status == "sent")
    if message_ids is not None:
        ids = list(message_ids)
        if not ids:
            return 0
        query = query.where(Message.id.in_(ids))
    else:
        query = query.where(Message.sent_at >= utcnow() - timedelta(days=CATCH_UP_DAYS))
    sent = {cid: (m.id, m.step) for m in db.session.execute(query) if (cid := _consent_id(m.source_object))}
    recorded = 0
    c = aliased(Consent, name="adlaw_sent_c")
    ids = sorted(sent)
    for part in chunked(ids, 1000):
        current = db.session.execute(select(c.id, c.customer_id, c.channel, c.granted).where(
            c.id.in_(part), c.purpose == "marketing", _newest(c))).all()
        rows, about = [], []
        for row in current:
            message_id, step = sent[row.id]
            granted = step != OPTOUT
            if row.granted is not granted:
                continue
            rows.append({"customer_id": row.customer_id, "channel": row.channel, "purpose": "marketing",
                         "granted": granted, "method": "message", "source": SOURCE, "kind": step,
                         "note": f"message {message_id}"})
            about.append((message_id, row.id))
        # One set-based write per chunk; a notice whose consent changed meanwhile (expired, erased)
        # is left out and logged, never fails the others.
        skipped: list[tuple[int, dict[str, str]]] = []
        recorded += record_consents(rows, skipped=skipped)
        for index, errors in skipped:
            log.warning("adlaw: notice message %s not recorded on consent %s: %s", *about[index], errors)
    return recorded


def on_messages_settled(messages: list[Any]) -> int:
    """``portal_messages_settled``: record the notices among ``messages`` (the dispatcher's summary
    dicts, or rows) that were sent. Never
    raises — a failure is logged and the next daily run records it."""
    def get(m: Any, key: str) -> Any:  # the dispatcher hands plain dicts; rows work too
        return m.get(key) if isinstance(m, dict) else getattr(m, key, None)

    ids = [get(m, "id") for m in messages if get(m, "source") == SOURCE and get(m, "status") == "sent"]
    if not ids:
        return 0
    try:
        return record_sent_notices(ids)
    except Exception:  # noqa: BLE001  (the dispatcher's batch is committed; the daily catch-up retries)
        log.exception("adlaw: recording sent notices failed; the next run catches up")
        db.session.rollback()
        return 0


def notice_counts(today: date | None = None) -> dict[str, int]:
    """How many notices of each kind are due today (the dry run of the CLI)."""
    today = today or kst_today()
    return {kind: run_notices(kind, today=today, dry_run=True)["due"] for kind in KINDS}


__all__ = ["notice_counts", "optin_result_notices", "optout_result_notices", "reconfirmation_notices",
           "record_sent_notices", "run_notices"]
