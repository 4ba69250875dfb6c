"""Queueing a campaign's steps: step 1 at launch (``launch.py``), later steps after their delay for
the previous step's recipients for whom the step's condition holds, the A/B rest once a winner is
known, fallbacks on another channel, pause time, and closing the campaign.

Every message is one core ``message`` row per (step, customer) with the idempotency key
``cem:<campaign>:<step>:<customer>`` (``…:fb`` for a fallback): re-running any of this writes
nothing twice. Recipients are read as id lists in chunks and handed to the core's ``queue_many``
as a stream — no ORM object per customer; a rendition is rendered once per (step, variant) unless
its template uses ``customer.…``, and then per customer from plain dicts read in bulk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.sql import Select

from portal.toolkit import (
    MESSAGE_TERMINAL,
    Customer,
    LawViolation,
    Message,
    MessagingError,
    OrgUnit,
    chunked,
    db,
    get_settings,
    id_in,
    normalize_phone,
    postpone_expiry,
    progress,
    queue_many,
    system_transition,
    utcnow,
    workflow_history,
)

from ..campaign_models import (
    SENDING,
    CemCampaign,
    CemCampaignRecipient,
    CemCampaignStep,
    CemMessageEvent,
)
from . import CampaignError

log = logging.getLogger(__name__)

SOURCE = "cem_channels"
#: Customers read (and rows handed to ``queue_many``) per round trip.
CHUNK = 10_000
#: Channels addressed by something two customers can share (e-mail, phone number, postal address).
DEDUPE_CHANNELS = ("email", "sms", "kakao", "phone", "dm")
#: A step message that ended like this is sent once more on the step's fallback channel.
FALLBACK_REASONS = ("no_address", "no_consent")
PENDING_STATUSES = ("queued", "claimed", "failed_temporary")
#: A rendition to use when the message set has none for the channel itself.
RENDITION_FALLBACK = {"phone": ("sms", "kakao"), "kakao": ("sms",)}
_PARSER = SandboxedEnvironment()


# -- small helpers ------------------------------------------------------------------------------------------


def is_ab(campaign: CemCampaign) -> bool:
    """An A/B test runs: variants and a test share (variants without a share are ignored)."""
    return bool(campaign.variants) and bool(campaign.ab_test_share)


def lateness(campaign: CemCampaign) -> timedelta:
    return timedelta(minutes=campaign.max_lateness_minutes or 0)


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def set_counts(campaign: CemCampaign, **changes: Any) -> dict[str, Any]:
    """Replace ``campaign.counts`` with a changed copy (a JSON column notices only a new value)."""
    counts = dict(campaign.counts or {})
    counts.update(changes)
    campaign.counts = counts
    return counts


def _step_counts(campaign: CemCampaign, position: int) -> dict[str, Any]:
    return dict((campaign.counts or {}).get("steps", {}).get(str(position), {}))


def _save_step_counts(campaign: CemCampaign, position: int, values: dict[str, Any]) -> None:
    steps = dict((campaign.counts or {}).get("steps", {}))
    steps[str(position)] = values
    set_counts(campaign, steps=steps)


def step_messages(campaign: CemCampaign, position: int) -> list[Any]:
    """SQL conditions: the campaign's messages of step ``position`` (fallbacks included)."""
    return [Message.source == SOURCE, Message.source_object == campaign.source_object,
            Message.step == str(position)]


def _uses_customer(source: str | None) -> bool:
    """Does this template read ``customer``? (then it is rendered per customer)."""
    if not source:
        return False
    try:
        return "customer" in meta.find_undeclared_variables(_PARSER.parse(source))
    except TemplateSyntaxError:
        return False  # rendering once reports the error with its line


def _rendition(message_set: Any, channel: str, position: int) -> Any:
    by_channel = {r.channel: r for r in message_set.renditions}
    for name in (channel, *RENDITION_FALLBACK.get(channel, ())):
        if name in by_channel:
            return by_channel[name]
    raise CampaignError({f"steps[{position - 1}].message_set_id": _(
        "The message set “%(name)s” has no text for the channel %(channel)s.", name=message_set.name,
        channel=channel)}, 409)


def _customer_dicts(ids: list[int]) -> dict[int, dict[str, Any]]:
    """What a rendition may read as ``customer.…`` (as in the preview), plus the addresses."""
    rows = db.session.execute(
        select(Customer.id, Customer.code, Customer.name, Customer.tier, OrgUnit.name, Customer.email,
               Customer.phone, Customer.address, Customer.postal_code)
        .outerjoin(OrgUnit, OrgUnit.id == Customer.branch_id).where(id_in(Customer.id, ids)))
    return {r[0]: {"id": r[0], "code": r[1], "name": r[2] or "", "tier": r[3] or "", "branch": r[4] or "",
                   "_email": r[5], "_phone": r[6], "_address": r[7], "_postal": r[8]} for r in rows}


def _addresses(ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = db.session.execute(select(Customer.id, Customer.email, Customer.phone, Customer.address,
                                     Customer.postal_code).where(id_in(Customer.id, ids)))
    return {r[0]: {"_email": r[1], "_phone": r[2], "_address": r[3], "_postal": r[4]} for r in rows}


def address_key(channel: str, email: str | None = None, phone: str | None = None, address: str | None = None,
                postal_code: str | None = None) -> str | None:
    """The normalised address two customers may share on ``channel`` (None: no address, never a
    duplicate). E-mail case-folded and trimmed; phone numbers through ``normalize_phone``; a postal
    address as the core writes it (postal code + address), spaces collapsed, case-folded."""
    if channel == "email":
        value = (email or "").strip().casefold()
        return value or None
    if channel in ("sms", "kakao", "phone"):
        return normalize_phone(phone) if phone else None
    if channel == "dm":
        if not address:
            return None
        return " ".join(f"{postal_code or ''} {address}".split()).casefold() or None
    return None


def _stored_key(channel: str, to_addr: str | None) -> str | None:
    if channel == "email":
        return address_key("email", email=to_addr)
    if channel in ("sms", "kakao", "phone"):
        return address_key(channel, phone=to_addr)
    if channel == "dm":
        return " ".join((to_addr or "").split()).casefold() or None
    return None


# -- queueing one step ---------------------------------------------------------------------------------------


def queue_step(campaign: CemCampaign, step: CemCampaignStep, recipients_select: Select, *, now: datetime,
               due: datetime | None = None, variant: str | None = None, message_set: Any = None,
               channel: str | None = None, key_suffix: str = "", dedupe: bool | None = None) -> dict[str, int]:
    """Queue ``step`` for the customers of ``recipients_select`` (a SELECT of one column of customer
    ids); returns ``{"recipients", "queued", "deduped"}``.

    ``due`` (default ``now``) is the rows' ``not_before``; they expire ``max_lateness`` after it.
    ``variant`` / ``message_set``: an A/B variant's code and its message set (default: the step's).
    ``channel`` and ``key_suffix``: a fallback (``":fb"``) on another channel. Customers merged away
    or erased since the freeze are left out (no row). With the campaign's
    ``dedupe_by_address`` only the first customer (lowest id) of each normalised address gets a
    row on this step — also against rows of the step queued earlier (the A/B test group) — and
    the others are counted as ``deduped``. Raises ``CampaignError`` (409) when a text cannot be
    rendered or made lawful; the caller rolls back."""
    channel = channel or step.channel
    due = _naive(due or now)
    expires = due + lateness(campaign)
    if expires <= due:
        expires = due + timedelta(minutes=1)
    message_set = message_set if message_set is not None else _message_set(step)
    rendition = _rendition(message_set, channel, step.position)
    master = dict(message_set.master or {})
    personal = any(_uses_customer(getattr(rendition, f)) for f in ("subject", "body", "html"))
    fixed = None if personal else _render(rendition, master, {}, step.position)
    dedupe = campaign.dedupe_by_address and channel in DEDUPE_CHANNELS if dedupe is None else dedupe
    used = _used_addresses(campaign, step.position, channel) if dedupe else {}
    headers = _headers(campaign, step, channel)
    wanted = recipients_select.subquery().c[0]
    # customers still there and not erased (a merge deletes the duplicate; an erasure excludes, CE-28)
    ids = list(db.session.scalars(select(wanted).join(Customer, Customer.id == wanted)
                                  .where(Customer.pseudonymized_at.is_(None)).distinct()))
    ids.sort()
    stats = {"recipients": len(ids), "queued": 0, "deduped": 0}
    if not ids:
        return stats
    prefix = f"cem:{campaign.id}:{step.position}:"

    def rows() -> Iterator[dict[str, Any]]:
        for chunk in chunked(ids, CHUNK):
            people = _customer_dicts(list(chunk)) if personal else (_addresses(list(chunk)) if dedupe else {})
            for cid in chunk:
                person = people.get(cid)
                if dedupe:
                    key = address_key(channel, person.get("_email"), person.get("_phone"), person.get("_address"),
                                      person.get("_postal")) if person else None
                    if key is not None:
                        owner = used.setdefault(key, cid)
                        if owner != cid:
                            stats["deduped"] += 1
                            continue
                if personal:
                    if person is None:
                        continue  # not a customer any more (merged away): nothing to send
                    subject, body, html = _render(rendition, master, {k: v for k, v in person.items()
                                                                      if not k.startswith("_")}, step.position)
                else:
                    subject, body, html = fixed  # type: ignore[misc]
                idem = f"{prefix}{cid}{key_suffix}"  # e-mail tracking is added when sent (tracking.personalize)
                row = {"channel": channel, "purpose": campaign.purpose, "customer_id": cid, "subject": subject,
                       "body": body, "html": html, "idempotency_key": idem, "source": SOURCE,
                       "source_object": campaign.source_object, "step": str(step.position), "variant": variant,
                       "not_before": due, "expires_at": expires, "headers": headers}
                if channel == "push":
                    row["to"] = f"customer:{cid}"  # the provider finds the customer's devices
                yield row

    try:
        stats["queued"] = queue_many(rows())
    except (LawViolation, MessagingError) as exc:
        raise CampaignError({f"steps[{step.position - 1}].message_set_id": _(
            "The %(channel)s message cannot be sent: %(reason)s", channel=channel, reason=str(exc))}, 409) from exc
    return stats


def _message_set(step: CemCampaignStep) -> Any:
    from ..voice_models import CemMessageSet

    ms = db.session.get(CemMessageSet, step.message_set_id) if step.message_set_id else None
    if ms is None:
        raise CampaignError({f"steps[{step.position - 1}].message_set_id": _("The step has no message set.")}, 409)
    return ms


def _render(rendition: Any, master: dict[str, Any], customer: dict[str, Any], position: int
            ) -> tuple[str | None, str, str | None]:
    from ..voice import render_rendition

    out = render_rendition(rendition, master, customer)
    if out.problems:
        problem = out.problems[0]
        raise CampaignError({f"steps[{position - 1}].message_set_id": str(problem.message)}, 409)
    subject = out.subject
    if rendition.channel == "email" and not subject:
        subject = master.get("offer") or None
    return subject, out.body, out.html


def _headers(campaign: CemCampaign, step: CemCampaignStep, channel: str) -> dict[str, str] | None:
    headers: dict[str, str] = {}
    if channel in ("sms", "kakao"):
        sender = (get_settings(SOURCE) or {}).get("sms_sender")
        if sender:
            headers["sender"] = str(sender)
    if channel == "kakao" and campaign.purpose == "service" and step.kakao_template:
        headers["kakao_template"] = step.kakao_template
    return headers or None


def _used_addresses(campaign: CemCampaign, position: int, channel: str) -> dict[str, int]:
    """Normalised address → customer of the step's rows on ``channel`` queued before (not fallbacks)."""
    used: dict[str, int] = {}
    rows = db.session.execute(select(Message.customer_id, Message.to_addr).where(
        *step_messages(campaign, position), Message.channel == channel,
        Message.idempotency_key.not_like("%:fb")).order_by(Message.customer_id))
    for cid, to_addr in rows:
        key = _stored_key(channel, to_addr)
        if key is not None:
            used.setdefault(key, cid)
    return used


def record_step(campaign: CemCampaign, step: CemCampaignStep, stats: dict[str, int], *, now: datetime,
                variant: str | None = None) -> None:
    """Add a queueing's numbers to ``counts["steps"][position]`` (and per variant)."""
    current = _step_counts(campaign, step.position)
    for key in ("recipients", "queued", "deduped"):
        current[key] = int(current.get(key, 0)) + int(stats.get(key, 0))
    if variant is not None:
        variants = dict(current.get("variants", {}))
        mine = dict(variants.get(variant, {}))
        for key in ("recipients", "queued", "deduped"):
            mine[key] = int(mine.get(key, 0)) + int(stats.get(key, 0))
        variants[variant] = mine
        current["variants"] = variants
    _save_step_counts(campaign, step.position, current)
    step.queued_count = int(step.queued_count or 0) + int(stats.get("queued", 0))
    step.queued_at = step.queued_at or now


# -- pause time ---------------------------------------------------------------------------------------------


def paused_seconds(campaign: CemCampaign, now: datetime | None = None) -> int:
    """Seconds the campaign spent paused (pause → resume pairs of its workflow history); a pause
    still running counts up to ``now`` when given."""
    total = 0.0
    since: datetime | None = None
    for entry in workflow_history(campaign):
        if entry.transition == "pause":
            since = entry.at
        elif entry.transition in ("resume", "cancel") and since is not None:
            total += (entry.at - since).total_seconds()
            since = None
    if since is not None and now is not None:
        total += max((_naive(now) - since).total_seconds(), 0)
    return int(total)


def resumed(campaign: CemCampaign, now: datetime | None = None) -> int:
    """After a resume: push the expiry of the campaign's unsent messages by the time it was paused
    (not yet pushed), so a pause never makes them expire; returns how many rows moved. Idempotent
    (``counts["paused_seconds"]`` remembers what was applied). Call it in the resume's transaction
    (the tick calls it too, for a resume it did not see)."""
    total = paused_seconds(campaign)
    applied = int((campaign.counts or {}).get("paused_seconds", 0))
    delta = total - applied
    if delta <= 0:
        return 0
    moved = postpone_expiry(SOURCE, campaign.source_object, seconds=delta)
    set_counts(campaign, paused_seconds=total)
    return moved


def on_workflow_transitioned(obj: Any, transition: str, actor: Any = None, comment: str = "") -> None:
    """For ``portal_workflow_transitioned``: a resumed campaign's unsent messages keep their lateness."""
    if isinstance(obj, CemCampaign) and transition == "resume":
        resumed(obj)


# -- later steps --------------------------------------------------------------------------------------------


def step_base(campaign: CemCampaign) -> datetime | None:
    """When step 1 reached its whole audience: the start, or in an A/B campaign the moment the rest
    of the audience was queued with the winner. Later steps' delays count from here."""
    if campaign.started_at is None:
        return None
    if _rest_pending(campaign):
        return None
    rest_at = (campaign.counts or {}).get("ab_rest_queued_at")
    return datetime.fromisoformat(rest_at) if rest_at else campaign.started_at


def due_at(campaign: CemCampaign, step: CemCampaignStep) -> datetime | None:
    """Step ``n > 1``: the base + the delays of steps 2…n + the time spent paused."""
    base = step_base(campaign)
    if base is None:
        return None
    delay = sum(s.delay_hours or 0 for s in campaign.steps if 1 < s.position <= step.position)
    return base + timedelta(hours=delay, seconds=paused_seconds(campaign))


def condition_select(campaign: CemCampaign, step: CemCampaignStep) -> Select:
    """SELECT customer_id: the previous step's recipients for whom ``step.condition`` holds, from
    its message rows (fallbacks included) and the tracking events, grouped per customer.

    ``always``: every customer with a row; ``not_delivered``: no row ``sent`` without an
    ``undelivered`` report, and none still pending; ``not_opened`` / ``not_clicked``: something
    was sent to them and no row has an ``open`` / ``click`` event."""
    prev = step.position - 1
    m = Message
    base = select(m.customer_id).where(*step_messages(campaign, prev), m.customer_id.is_not(None)).group_by(m.customer_id)
    condition = step.condition or "always"
    if condition == "always":
        return base

    def event(kind: str) -> Any:
        return exists().where(CemMessageEvent.message_id == m.id, CemMessageEvent.kind == kind)

    sent = m.status == "sent"
    if condition == "not_delivered":
        delivered = func.sum(case((and_(sent, ~event("undelivered")), 1), else_=0))
        pending = func.sum(case((m.status.not_in(tuple(MESSAGE_TERMINAL)), 1), else_=0))
        return base.having(and_(delivered == 0, pending == 0))
    kind = "open" if condition == "not_opened" else "click"
    return base.having(and_(func.sum(case((sent, 1), else_=0)) > 0,
                            func.sum(case((and_(sent, event(kind)), 1), else_=0)) == 0))


def _previous_settled_at(campaign: CemCampaign, position: int) -> tuple[bool, datetime | None]:
    """(every row of the step terminal, when the last one settled)."""
    row = db.session.execute(select(
        func.count(), func.sum(case((Message.status.in_(tuple(MESSAGE_TERMINAL)), 1), else_=0)),
        func.max(Message.updated_at)).where(*step_messages(campaign, position))).one()
    total, terminal, last = int(row[0] or 0), int(row[1] or 0), row[2]
    return total == terminal, last


def _rest_pending(campaign: CemCampaign) -> bool:
    """An A/B campaign whose rest (treatment without a variant) has not been queued yet."""
    if not is_ab(campaign) or (campaign.counts or {}).get("ab_rest_queued_at"):
        return False
    return bool((campaign.counts or {}).get("rest", 0))


def _rest_select(campaign: CemCampaign) -> Select:
    r = CemCampaignRecipient
    return select(r.customer_id).where(r.campaign_id == campaign.id, r.arm == "treatment", r.variant.is_(None))


def queue_rest(campaign: CemCampaign, now: datetime) -> dict[str, int] | None:
    """A/B: once the winner is known (``ab.decide_winner`` after ``ab_wait_hours``, or a person's
    choice), queue step 1 for the rest of the treatment with the winner's message set."""
    if not _rest_pending(campaign):
        return None
    if campaign.ab_winner is None:
        from .ab import decide_winner

        if campaign.started_at is None or now < campaign.started_at + timedelta(hours=campaign.ab_wait_hours or 0):
            return None
        decide_winner(campaign, now)
        if campaign.ab_winner is None:
            return None
    variant = next((v for v in campaign.variants if v.code == campaign.ab_winner), None)
    step = campaign.steps[0]
    message_set = None
    if variant is not None and variant.message_set_id:
        from ..voice_models import CemMessageSet

        message_set = db.session.get(CemMessageSet, variant.message_set_id)
    stats = queue_step(campaign, step, _rest_select(campaign), now=now, message_set=message_set)
    record_step(campaign, step, stats, now=now)
    set_counts(campaign, ab_rest_queued_at=_naive(now).isoformat(), ab_rest_queued=stats["queued"])
    return stats


def _fallback_candidates(campaign: CemCampaign, step: CemCampaignStep) -> Select:
    """SELECT customer_id, variant of the step's messages that failed for good (or found no address
    or consent) and have no fallback yet."""
    m = Message
    fb = Message.__table__.alias("fb")
    key = literal(f"cem:{campaign.id}:{step.position}:") + cast(m.customer_id, String) + literal(":fb")
    failed = or_(m.status == "failed_permanent",
                 and_(m.status == "suppressed_at_send", m.status_reason.in_(FALLBACK_REASONS)))
    return (select(m.customer_id, m.variant)
            .where(*step_messages(campaign, step.position), m.customer_id.is_not(None),
                   m.channel != step.fallback_channel, m.idempotency_key.not_like("%:fb"), failed,
                   ~exists().where(fb.c.idempotency_key == key)))


def queue_fallbacks(campaign: CemCampaign, now: datetime) -> int:
    """Once per customer and step: the step's message again on its ``fallback_channel`` (key
    ``…:fb``, due now, the campaign's lateness), same variant and message set."""
    total = 0
    for step in campaign.steps:
        if not step.fallback_channel or step.queued_at is None:
            continue
        pairs = db.session.execute(_fallback_candidates(campaign, step)).all()
        by_variant: dict[str | None, list[int]] = {}
        for cid, code in pairs:
            by_variant.setdefault(code, []).append(int(cid))
        for code, ids in by_variant.items():
            message_set = None
            if code is not None and step.position == 1 and is_ab(campaign):
                variant = next((v for v in campaign.variants if v.code == code), None)
                if variant is not None and variant.message_set_id:
                    from ..voice_models import CemMessageSet

                    message_set = db.session.get(CemMessageSet, variant.message_set_id)
            for chunk in chunked(sorted(ids), CHUNK):
                r = CemCampaignRecipient
                chosen = select(r.customer_id).where(r.campaign_id == campaign.id, id_in(r.customer_id, list(chunk)))
                stats = queue_step(campaign, step, chosen, now=now, variant=code, message_set=message_set,
                                   channel=step.fallback_channel, key_suffix=":fb", dedupe=False)
                total += stats["queued"]
        if pairs:
            current = _step_counts(campaign, step.position)
            current["fallback"] = int(current.get("fallback", 0)) + len(pairs)
            _save_step_counts(campaign, step.position, current)
    return total


def advance(campaign: CemCampaign, now: datetime | None = None) -> dict[str, Any]:
    """One tick of a sending campaign: pause time applied, the A/B rest, fallbacks, and each later
    step that is due. Step n is queued at the first tick after its due time at which every row of
    step n−1 is terminal — so "not delivered" is known — or at most ``max_lateness`` after its due
    time (rows still pending then, a call not yet logged, count as not meeting ``not_delivered``).
    Its rows are due at the later of its due time and the moment step n−1 settled, and expire
    ``max_lateness`` after that. Writes in the caller's transaction; returns what it did."""
    now = _naive(now or utcnow())
    done: dict[str, Any] = {}
    if campaign.state != SENDING:
        return done
    if resumed(campaign, now):
        done["expiry_pushed"] = True
    rest = queue_rest(campaign, now)
    if rest is not None:
        done["ab_rest"] = rest
    fallbacks = queue_fallbacks(campaign, now)
    if fallbacks:
        done["fallback"] = fallbacks
    steps = sorted(campaign.steps, key=lambda s: s.position)
    for prev, step in zip(steps, steps[1:], strict=False):
        if step.queued_at is not None:
            continue
        if prev.queued_at is None:
            break
        due = due_at(campaign, step)
        if due is None or now < due:
            break
        settled, last = _previous_settled_at(campaign, prev.position)
        if not settled and now < due + lateness(campaign):
            break
        at = max(due, last) if settled and last is not None else (due if settled else due + lateness(campaign))
        stats = queue_step(campaign, step, condition_select(campaign, step), now=now, due=at)
        record_step(campaign, step, stats, now=now)
        step.queued_at = now
        done[f"step_{step.position}"] = stats
        break  # the next step waits for this one's rows to settle
    return done


# -- closing ------------------------------------------------------------------------------------------------


def all_queued(campaign: CemCampaign) -> bool:
    return all(s.queued_at is not None for s in campaign.steps) and not _rest_pending(campaign)


def finish_if_done(campaign: CemCampaign, now: datetime | None = None) -> bool:
    """``sending → done`` when every step (and an A/B rest) is queued, no fallback is owed and every
    message row is terminal (``progress()["done"]``: never at 500 of 1,000, CE-16); ``finished_at``
    set. Returns whether it closed. The results stay interim until ``results.freeze_due``."""
    now = _naive(now or utcnow())
    if campaign.state != SENDING or not all_queued(campaign):
        return False
    report = progress(SOURCE, campaign.source_object)
    if report["total"] and not report["done"]:
        return False
    for step in campaign.steps:
        if step.fallback_channel and db.session.execute(_fallback_candidates(campaign, step).limit(1)).first():
            return False
    campaign.finished_at = now
    set_counts(campaign, messages=report["counts"])
    system_transition(campaign, "finish")
    # The results are frozen later, once the attribution window's sales can have been imported
    # (results.freeze_due, from the tick): frozen now, a campaign would show no conversions at all.
    return True
