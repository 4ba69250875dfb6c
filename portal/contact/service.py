"""may_contact, record_consent and record_contact: the public consent and contact service.

Callers: the dispatcher (a send-time policy calls :func:`may_contact_many` per claimed batch), the
unsubscribe link (:func:`record_consent` without a signed-in user), imports, the API, staff pages,
and add-ons through ``portal.toolkit``. None of these functions commits: the caller's transaction
holds the change, its audit event and the add-ons' reactions together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, insert, literal, select, true

from .. import audit
from ..customers.normalize import clean_text
from ..db_utils import chunked, id_in
from ..extensions import db
from ..models import Consent, Customer, utcnow
from ..models.customer import CONSENT_KINDS, CONSENT_METHODS, PURPOSES
from . import rules
from .models import Contact
from .registry import Channel, UnknownChannel, channel_codes, require_channel

#: Purposes a message (and so a contact) has; ``night_ads`` is a consent purpose only.
CONTACT_PURPOSES = ("marketing", "service")
SOURCE_RE = re.compile(r"[a-z0-9_.:-]{1,40}")  # as messaging's (it copies a message's source here)
#: Ids per query in :func:`may_contact_many` / :func:`record_contacts` (well under every driver's
#: bound-parameter limit); a dispatcher batch (500) is one query.
CHUNK = 5000


class ContactError(ValueError):
    """Bad input to the service: ``errors`` maps the argument to a translated message; nothing was written."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class Verdict:
    """The answer of :func:`may_contact`: ``allowed``, or why not (``reason``), and when a deferred
    message may go (``deferred_until``, with ``reason == "night_window"``)."""

    allowed: bool
    reason: str | None = None
    deferred_until: datetime | None = None


ALLOWED = Verdict(True)

#: Reason codes of :class:`Verdict`, in the order they are checked.
REASONS = ("unknown_customer", "erased", "no_address", "no_consent", "opted_out", "consent_expired", "complaint",
           "night_window")


# -- may_contact ----------------------------------------------------------------------------------------------


def _naive_utc(at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    if not isinstance(at, datetime):
        raise ContactError({"at": _("Expected a date and time.")})
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def _check_purpose(purpose: Any) -> str:
    if purpose not in CONTACT_PURPOSES:
        raise ContactError({"purpose": _("Unknown purpose %(value)s; use one of: %(choices)s.", value=repr(purpose),
                                         choices=", ".join(CONTACT_PURPOSES))})
    return purpose


def _check_channel(code: Any, **capability: bool) -> Channel:
    try:
        return require_channel(code, **capability)
    except UnknownChannel as exc:
        raise ContactError({"channel": _("Unknown channel %(value)s; use one of: %(choices)s.", value=repr(code),
                                         choices=", ".join(exc.known))}) from None


def may_contact(customer_id: int, channel: str, purpose: str, at: datetime | None = None) -> Verdict:
    """May we send ``customer_id`` a ``purpose`` message on ``channel`` at ``at`` (default now)?

    One customer's :func:`may_contact_many`; raises :class:`ContactError` for an unknown channel
    or purpose (a caller's bug, not a customer's state)."""
    return may_contact_many([customer_id], channel, purpose, at)[int(customer_id)]


def may_contact_many(customer_ids: Sequence[int], channel: str, purpose: str,
                     at: datetime | None = None) -> dict[int, Verdict]:
    """The verdict for each of ``customer_ids``: one query per :data:`CHUNK` ids, whatever the rules.

    Refusals, checked in this order (the first that applies is the reason): ``unknown_customer``,
    ``erased`` (pseudonymized), ``no_address`` (a field the channel needs is empty or flagged).
    Marketing only: ``no_consent`` / ``opted_out`` / ``consent_expired`` (the channel's newest
    marketing consent row: see :mod:`portal.contact.rules`), ``complaint``, then the night rule —
    ``portal.adlaw.law.night_deferral`` with the channel's ``night_ads`` consent (granted and valid,
    like marketing consent) gives ``allowed=False, reason="night_window", deferred_until=<08:00 KST>``.
    ``deferred_until`` is naive UTC when ``at`` is (or is None), aware when ``at`` is aware.
    """
    ch = _check_channel(channel)
    purpose = _check_purpose(purpose)
    aware = at is not None and isinstance(at, datetime) and at.tzinfo is not None
    now = _naive_utc(at)
    try:
        ids = sorted({int(i) for i in customer_ids})
    except (TypeError, ValueError):
        raise ContactError({"customer_ids": _("Customer ids must be whole numbers.")}) from None
    out: dict[int, Verdict] = {i: Verdict(False, "unknown_customer") for i in ids if not 0 < i < 2**63}
    ids = [i for i in ids if 0 < i < 2**63]  # beyond BIGINT: no such customer, and no query error
    for chunk in chunked(ids, CHUNK):
        out.update(_verdicts(list(chunk), ch, purpose, now, aware))
    return out


def _verdicts(ids: list[int], ch: Channel, purpose: str, now: datetime, aware: bool) -> dict[int, Verdict]:
    marketing = purpose == "marketing"
    whens: list[tuple[Any, Any]] = [(rules.erased(), literal("erased"))]
    missing = rules.address_missing(ch)
    if missing is not None:
        whens.append((missing, literal("no_address")))
    stmt_joins: list[tuple[Any, Any]] = []
    night_col: Any = literal(False)
    if marketing:
        if not ch.consent:
            whens.append((true(), literal("no_consent")))  # the channel takes no consent
        else:
            target, on, lc = rules.newest_consent(ch.code, "marketing", name="mc_consent")
            stmt_joins.append((target, on))
            whens += [(cond, literal(name)) for name, cond in rules.consent_conditions(lc, now).items()]
            night_target, night_on, night = rules.newest_consent(ch.code, "night_ads", name="mc_night")
            stmt_joins.append((night_target, night_on))
            night_col = case((rules.consent_valid(night, now), literal(True)), else_=literal(False))
        whens.append((rules.complaint(), literal("complaint")))
    reason = case(*whens, else_=literal(None)).label("reason")
    stmt = select(Customer.id, reason, night_col.label("night")).select_from(Customer)
    for target, on in stmt_joins:
        stmt = stmt.outerjoin(target, on)
    rows = db.session.execute(stmt.where(id_in(Customer.id, ids))).all()
    found: dict[int, Verdict] = {}
    for cid, why, night_ok in rows:
        if why is not None:
            found[cid] = Verdict(False, str(why))
        elif marketing:
            found[cid] = _night(ch.code, now, bool(night_ok), aware)
        else:
            found[cid] = ALLOWED
    return {i: found.get(i, Verdict(False, "unknown_customer")) for i in ids}


def _night(channel: str, now: datetime, night_consent: bool, aware: bool) -> Verdict:
    from ..adlaw.law import night_deferral

    until = night_deferral(now.replace(tzinfo=UTC), channel, night_consent=night_consent,
                           email_included=night_rule_email())
    if until is None:
        return ALLOWED
    until = until.astimezone(UTC)
    return Verdict(False, "night_window", until if aware else until.replace(tzinfo=None))


def night_rule_email() -> bool:
    """Does the night rule cover e-mail too (``PORTAL_NIGHT_RULE_EMAIL``, default off: the decree
    names phone-based channels)?"""
    return bool(current_app.config.get("PORTAL_NIGHT_RULE_EMAIL", False))


# -- record_consent ------------------------------------------------------------------------------------------


def _customer(customer: Any) -> Customer:
    if isinstance(customer, Customer):
        return customer
    try:
        ident = int(customer)
    except (TypeError, ValueError):
        ident = None
    row = db.session.get(Customer, ident) if ident is not None and 0 < ident < 2**63 else None
    if row is None:
        raise ContactError({"customer": _("No such customer.")})
    return row


def _check_source(source: Any) -> str:
    if not isinstance(source, str) or not SOURCE_RE.fullmatch(source):
        raise ContactError({"source": _("Say where this comes from: 1–40 lower-case letters, digits or _ . : -")})
    return source


def _note(note: Any) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str):
        raise ContactError({"note": _("Must be text.")})
    return clean_text(note).strip()[:255] or None


def current_consents(customer: Customer) -> dict[tuple[str, str], Consent]:
    """Newest row per (channel, purpose) — ``customer.consents`` is ordered newest first (ties: the
    higher id), the same rule as :func:`portal.contact.rules.newest_consent`."""
    current: dict[tuple[str, str], Consent] = {}
    for c in customer.consents:
        current.setdefault((c.channel, c.purpose), c)
    return current


def newest_consent_row(customer_id: int, channel: str, purpose: str) -> Consent | None:
    """The row that holds the current state of (channel, purpose) for the customer (ties: the higher id)."""
    return db.session.execute(
        select(Consent).where(Consent.customer_id == customer_id, Consent.channel == channel, Consent.purpose == purpose)
        .order_by(Consent.recorded_at.desc(), Consent.id.desc()).limit(1)).scalar_one_or_none()


def record_consent(customer_id: int | Customer, channel: str, purpose: str, granted: bool, *, method: str,
                   source: str, actor: Any = None, note: str | None = None, kind: str = "consent") -> Consent:
    """Append a consent row (the history stays intact), with an audit event, in the caller's transaction.

    Works without a signed-in user (``actor=None``: the unsubscribe link, an import, a job). A
    ``kind="consent"`` row grants or withdraws, and fires ``portal_consent_changed`` (through
    ``portal.events.fire``: messaging cancels queued marketing in the same transaction) and
    ``portal_customer_changed`` as before. The notice kinds record a notice the portal sent and
    never change the state: ``reconfirmation_notice`` (the 2-year re-confirmation) needs a granted,
    still valid consent and restarts its validity; ``optout_notice`` (the 14-day result notice)
    needs a withdrawn one; ``optin_notice`` (the 14-day result notice after a grant) needs a
    granted ``consent`` row as the current state and takes that row's ``recorded_at``, so it never
    moves the 2-year mark (the audit event says when it was recorded). ``granted`` must then
    repeat the current state. Raises :class:`ContactError` (nothing written) for bad input.
    For many rows at once use :func:`record_consents`.
    """
    errors = _consent_arg_errors(channel, purpose, granted, method, kind, source, note)
    if errors:
        raise ContactError(errors)
    customer = _customer(customer_id)
    if granted and customer.pseudonymized_at is not None:
        raise ContactError({"customer": _("This customer was erased: no consent can be given for them.")})
    before = newest_consent_row(customer.id, channel, purpose)
    now = utcnow()
    if kind != "consent":
        _check_notice(kind, granted, before, now)
    row = Consent(customer_id=customer.id, channel=channel, purpose=purpose, granted=granted, method=method,
                  recorded_at=_recorded_at(kind, before, now), recorded_by_id=getattr(actor, "id", None),
                  note=_note(note), kind=kind, source=source)
    if "consents" in customer.__dict__:  # keep a loaded collection (newest first) in step
        customer.consents.insert(0, row)
    else:
        db.session.add(row)
    db.session.flush()
    if kind != "consent":
        audit.record("customer.consent_notice", customer, actor=actor, summary=_notice_summary(row))
        return row
    change = {f"consent.{channel}.{purpose}": (before.granted if before else None, granted)}
    audit.record("customer.consent", customer, actor=actor, summary=_consent_summary(row), changes=change)
    _fire("portal_consent_changed", customer=customer, channel=channel, purpose=purpose, granted=granted, actor=actor,
          source=source)
    _fire("portal_customer_changed", customer=customer, changes=change)
    return row


def _consent_arg_errors(channel: Any, purpose: Any, granted: Any, method: Any, kind: Any, source: Any,
                        note: Any) -> dict[str, str]:
    """The argument checks of :func:`record_consent` and :func:`record_consents` (no database)."""
    errors: dict[str, str] = {}
    try:
        _check_channel(channel, consent=True)
    except ContactError as exc:
        errors.update(exc.errors)
    if purpose not in PURPOSES:
        errors["purpose"] = _("Unknown purpose %(value)s; use one of: %(choices)s.", value=repr(purpose),
                              choices=", ".join(PURPOSES))
    if method not in CONSENT_METHODS:
        errors["method"] = _("Unknown method %(value)s; use one of: %(choices)s.", value=repr(method),
                             choices=", ".join(CONSENT_METHODS))
    if kind not in CONSENT_KINDS:
        errors["kind"] = _("Unknown kind %(value)s; use one of: %(choices)s.", value=repr(kind),
                           choices=", ".join(CONSENT_KINDS))
    if not isinstance(granted, bool):
        errors["granted"] = _("Expected true or false.")
    for check in (lambda: _check_source(source), lambda: _note(note)):
        try:
            check()
        except ContactError as exc:
            errors.update(exc.errors)
    return errors


def _recorded_at(kind: str, before: Any, now: datetime) -> datetime:
    """An opt-in result notice keeps the instant of the consent it reports (the 2-year mark stays
    where the customer's grant put it); every other row is recorded now."""
    return before.recorded_at if kind == "optin_notice" else now


def _consent_summary(row: Any) -> str:
    return f"{row.channel}/{row.purpose}={'yes' if row.granted else 'no'} via {row.method}"


def _notice_summary(row: Any) -> str:
    return f"{row.channel}/{row.purpose} {row.kind} via {row.method} ({row.source})"


def _check_notice(kind: str, granted: bool, before: Any, now: datetime) -> None:
    if kind == "reconfirmation_notice":
        ok = (granted and before is not None and before.granted and before.recorded_at >= rules.consent_cutoff(now))
        if not ok:
            raise ContactError({"kind": _("A re-confirmation notice needs a granted consent that has not expired.")})
    elif kind == "optout_notice":
        if granted or before is None or before.granted:
            raise ContactError({"kind": _("An opt-out notice needs a withdrawn consent.")})
    elif kind == "optin_notice":
        ok = (granted and before is not None and before.granted and before.kind == "consent"
              and before.recorded_at >= rules.consent_cutoff(now))
        if not ok:
            raise ContactError({"kind": _("An opt-in result notice needs a consent just granted.")})


#: Rows per look-up query and per INSERT statement in :func:`record_consents` (well under SQLite's
#: bound-parameter limit).
CONSENT_CHUNK = 1000
_ROW_KEYS = frozenset({"customer_id", "channel", "purpose", "granted", "method", "source", "actor", "note", "kind"})


@dataclass(frozen=True)
class _State:
    """The current consent row of one (customer, channel, purpose), as :func:`_check_notice` reads it."""

    granted: bool
    recorded_at: datetime
    kind: str


def record_consents(rows: Iterable[dict[str, Any]], *,
                    skipped: list[tuple[int, dict[str, str]]] | None = None) -> int:
    """:func:`record_consent` for many rows, set-based; returns how many rows were written.

    Each row is a dict of :func:`record_consent`'s arguments (``customer_id`` — an id or a
    customer —, ``channel``, ``purpose``, ``granted``, ``method``, ``source``; optional ``actor``,
    ``note``, ``kind``; any other key is refused). Rows apply in order: a later row for the same
    customer, channel and purpose sees the earlier one. Same checks, same rows, same audit events
    (action and summary) as one :func:`record_consent` call per row, in the caller's transaction.

    All-or-nothing: every row is checked before anything is written, and a bad row raises
    :class:`ContactError` whose keys name it (``"row 3: channel"``). With ``skipped`` (a list),
    rows refused for the state they meet — an unknown or erased customer, a notice whose consent
    changed meanwhile — are left out and appended there as ``(index, errors)`` while the others
    are written; malformed rows still raise.

    Cost: one look-up query per :data:`CONSENT_CHUNK` rows, then multi-row INSERTs for the consent
    rows and their audit events — the notice kinds (which fire no event) cost that and nothing
    more. ``kind="consent"`` rows fire ``portal_consent_changed`` and ``portal_customer_changed``
    per row through ``portal.events.fire``, exactly as :func:`record_consent` (an opt-out must
    cancel queued marketing at once); that is not cheap — a customer loaded and a savepoint per
    add-on reaction per row — so a bulk grant or withdrawal saves the checks and inserts only.
    """
    from ..extensions import write_intent
    from ..models import AuditEvent

    batch = [row if isinstance(row, dict) else {} for row in rows]
    bad: dict[str, str] = {}
    for i, row in enumerate(batch):
        extra = sorted(set(row) - _ROW_KEYS) if row else ["(not a mapping)"]
        errs = _consent_arg_errors(row.get("channel"), row.get("purpose"), row.get("granted"), row.get("method"),
                                   row.get("kind", "consent"), row.get("source"), row.get("note"))
        if extra:
            errs["fields"] = _("Unknown fields: %(names)s.", names=", ".join(extra))
        cid = _customer_id(row.get("customer_id"))
        if cid is None:
            errs["customer"] = _("No such customer.")
        bad.update({f"row {i}: {k}": v for k, v in errs.items()})
    if bad:
        raise ContactError(bad)
    if not batch:
        return 0
    ids = sorted({_customer_id(row["customer_id"]) for row in batch})
    erased_at: dict[int, Any] = {}
    current: dict[tuple[int, str, str], tuple[Any, ...]] = {}
    channels, purposes = {row["channel"] for row in batch}, {row["purpose"] for row in batch}
    for part in chunked(ids, CONSENT_CHUNK):
        erased_at.update({r.id: r.pseudonymized_at for r in db.session.execute(
            select(Customer.id, Customer.pseudonymized_at).where(Customer.id.in_(part)))})
        for r in db.session.execute(select(Consent.customer_id, Consent.channel, Consent.purpose, Consent.recorded_at,
                                           Consent.id, Consent.granted, Consent.kind)
                                    .where(Consent.customer_id.in_(part), Consent.channel.in_(channels),
                                           Consent.purpose.in_(purposes))):
            key = (r.customer_id, r.channel, r.purpose)
            if key not in current or (r.recorded_at, r.id) > current[key][:2]:
                current[key] = (r.recorded_at, r.id, r.granted, r.kind)
    state = {k: _State(v[2], v[0], v[3]) for k, v in current.items()}

    now = utcnow()
    default_actor = audit._actor()  # the signed-in user (or "system") and the request's address
    consents: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    fires: list[tuple[int, dict[str, Any], dict[str, tuple[Any, Any]]]] = []
    refused: dict[str, str] = {}
    for i, row in enumerate(batch):
        cid = _customer_id(row["customer_id"])
        kind, granted, channel, purpose = row.get("kind", "consent"), row["granted"], row["channel"], row["purpose"]
        key = (cid, channel, purpose)
        before = state.get(key)
        try:
            if cid not in erased_at:
                raise ContactError({"customer": _("No such customer.")})
            if granted and erased_at[cid] is not None:
                raise ContactError({"customer": _("This customer was erased: no consent can be given for them.")})
            if kind != "consent":
                _check_notice(kind, granted, before, now)
        except ContactError as exc:
            if skipped is None:
                refused.update({f"row {i}: {k}": v for k, v in exc.errors.items()})
            else:
                skipped.append((i, exc.errors))
            continue
        actor = row.get("actor")
        values = {"customer_id": cid, "channel": channel, "purpose": purpose, "granted": granted,
                  "method": row["method"], "recorded_at": _recorded_at(kind, before, now),
                  "recorded_by_id": getattr(actor, "id", None), "note": _note(row.get("note")), "kind": kind,
                  "source": row["source"]}
        consents.append(values)
        state[key] = _State(granted, values["recorded_at"], kind)
        actor_id, label, ip = (actor.id, actor.email, default_actor[2]) if actor is not None else default_actor
        event = {"actor_id": actor_id, "actor_label": label, "ip": ip, "object_type": Customer.__tablename__,
                 "object_id": str(cid), "at": now}
        row_view = _Row(values)
        if kind != "consent":
            events.append(event | {"action": "customer.consent_notice", "summary": _notice_summary(row_view)[:500],
                                   "changes": None})
            continue
        change = {f"consent.{channel}.{purpose}": (before.granted if before else None, granted)}
        events.append(event | {"action": "customer.consent", "summary": _consent_summary(row_view)[:500],
                               "changes": {k: [a, b] for k, (a, b) in change.items()}})
        fires.append((i, values, change))
    if refused:
        raise ContactError(refused)
    if not consents:
        return 0
    write_intent()
    for rows, audits in zip(chunked(consents, CONSENT_CHUNK), chunked(events, CONSENT_CHUNK), strict=True):
        db.session.execute(insert(Consent), list(rows))
        db.session.execute(insert(AuditEvent), list(audits))
    _expire_consents({v["customer_id"] for v in consents})
    if fires:
        customers = {c.id: c for part in chunked(ids, CONSENT_CHUNK) for c in db.session.execute(
            select(Customer).where(Customer.id.in_(part))).scalars()}
        for i, values, change in fires:
            customer, actor = customers[values["customer_id"]], batch[i].get("actor")
            _fire("portal_consent_changed", customer=customer, channel=values["channel"], purpose=values["purpose"],
                  granted=values["granted"], actor=actor, source=values["source"])
            _fire("portal_customer_changed", customer=customer, changes=change)
    return len(consents)


class _Row:
    """Attribute access to a consent's values (the audit summaries read rows and dicts alike)."""

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)


def _customer_id(value: Any) -> int | None:
    if isinstance(value, Customer):
        return value.id
    if isinstance(value, bool):
        return None
    try:
        ident = int(value)
    except (TypeError, ValueError):
        return None
    return ident if 0 < ident < 2**63 else None


def _expire_consents(customer_ids: set[int]) -> None:
    """A customer in the session whose ``consents`` were loaded reloads them on next access (the
    bulk INSERT bypassed the collection)."""
    for key, obj in list(db.session.identity_map.items()):  # the key's id: no refresh of expired rows
        if isinstance(obj, Customer) and "consents" in obj.__dict__ and key[1][0] in customer_ids:
            db.session.expire(obj, ["consents"])


def _fire(hook_name: str, **kwargs: Any) -> None:
    try:
        from ..events import EVENTS, fire
    except ImportError:  # pragma: no cover  (the events service is part of the core)
        EVENTS, fire = {}, None
    if fire is not None and hook_name in EVENTS:
        fire(hook_name, **kwargs)
    else:
        from ..plugins import hook

        hook(hook_name)(**kwargs)


# -- record_contact ------------------------------------------------------------------------------------------


def _short(value: Any, name: str, length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContactError({name: _("Must be text.")})
    return clean_text(value).strip()[:length] or None


def _contact_values(row: dict[str, Any], codes: set[str]) -> dict[str, Any]:
    channel = row.get("channel")
    if channel not in codes:
        raise ContactError({"channel": _("Unknown channel %(value)s; use one of: %(choices)s.", value=repr(channel),
                                         choices=", ".join(sorted(codes)))})
    actor = row.get("actor")
    actor_id = row.get("actor_id", getattr(actor, "id", None))
    customer_id = row.get("customer_id")
    if isinstance(customer_id, bool) or not isinstance(customer_id, int) or not 0 < customer_id < 2**63:
        raise ContactError({"customer_id": _("Customer ids must be whole numbers.")})
    unknown = set(row) - {"customer_id", "channel", "purpose", "source", "at", "actor", "actor_id", "ref", "outcome",
                          "note"}
    if unknown:
        raise ContactError({"row": _("Unknown keys: %(keys)s.", keys=", ".join(sorted(unknown)))})
    return {"customer_id": customer_id, "channel": channel, "purpose": _check_purpose(row.get("purpose")),
            "source": _check_source(row.get("source")), "at": _naive_utc(row.get("at")),
            "actor_id": actor_id if isinstance(actor_id, int) else None,
            "ref": _short(row.get("ref"), "ref", 80), "outcome": _short(row.get("outcome"), "outcome", 40),
            "note": _short(row.get("note"), "note", 255)}


def record_contact(customer_id: int, channel: str, *, purpose: str, source: str, at: datetime | None = None,
                   actor: Any = None, ref: str | None = None, outcome: str | None = None,
                   note: str | None = None) -> Contact:
    """Add one contact to the history (a call, a mailing, a message sent …); the caller commits.

    A marketing contact starts the channel's cool-down (``recently_contacted``). Raises
    :class:`ContactError` for an unknown customer, channel or purpose (nothing written)."""
    customer = _customer(customer_id)
    values = _contact_values({"customer_id": customer.id, "channel": channel, "purpose": purpose, "source": source,
                              "at": at, "actor": actor, "ref": ref, "outcome": outcome, "note": note},
                             set(channel_codes()))
    contact = Contact(**values)
    db.session.add(contact)
    db.session.flush()
    return contact


def record_contacts(rows: Iterable[dict[str, Any]]) -> int:
    """Add many contacts set-based (multi-row INSERTs of :data:`CHUNK` rows); returns how many.

    Each row is a dict of :func:`record_contact`'s arguments (``actor`` or ``actor_id``). All rows
    are checked before anything is written, so a bad row raises :class:`ContactError` and nothing
    is inserted; unknown customer ids are refused the same way (one query per chunk)."""
    codes = set(channel_codes())
    values = [_contact_values(dict(row), codes) for row in rows]
    if not values:
        return 0
    for chunk in chunked(values, CHUNK):
        ids = {v["customer_id"] for v in chunk}
        known = set(db.session.execute(select(Customer.id).where(id_in(Customer.id, sorted(ids)))).scalars())
        if ids - known:
            raise ContactError({"customer_id": _("No such customer: %(ids)s.",
                                                 ids=", ".join(str(i) for i in sorted(ids - known)[:10]))})
    for chunk in chunked(values, CHUNK):
        db.session.execute(insert(Contact), list(chunk))
    return len(values)
