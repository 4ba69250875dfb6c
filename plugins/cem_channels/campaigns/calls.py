"""The phone step: a call list for branch staff and the outcome of each call.

A ``phone`` step queues core messages like any other channel, but no adapter sends them: they wait
(``queued``) until someone calls. :func:`call_list` shows the due calls of running campaigns for
the customers in the caller's scope (branch staff: their branch; leaders: their group; HQ: all) with
the script (the message body) and the number to dial; reading it is logged in the access log (the
list discloses phone numbers). :func:`record_call` stores the outcome in ``cem_call_outcome`` and
settles the core message through ``record_manual_outcome`` in the same transaction, so results,
contact history and frequency caps treat a call like any sent message:

=============  ===================  =================================================
outcome        message              also
=============  ===================  =================================================
reached        sent                 contact history "answered"
callback       sent                 contact history "answered" (they asked to be called again)
declined       sent                 contact history "declined"
no_answer      failed_permanent     nothing: one call per message (a new step calls again)
wrong_number   failed_permanent     a data-quality issue on the customer's phone
=============  ===================  =================================================
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.toolkit import (
    Customer,
    Message,
    MessagingError,
    audit,
    db,
    paginate,
    record_manual_outcome,
    scope_filter,
    utcnow,
)

from ..campaign_models import CALL_OUTCOMES, SENDING, CemCallOutcome, CemCampaign
from . import CampaignError

SOURCE = "cem_channels"
PERMISSION = "cem.call"
WAITING = ("queued", "failed_temporary")
#: outcome → (message status, contact-history outcome or None, open a phone quality issue)
SETTLE: dict[str, tuple[str, str | None, bool]] = {
    "reached": ("sent", "answered", False),
    "callback": ("sent", "answered", False),
    "declined": ("sent", "declined", False),
    "no_answer": ("failed_permanent", None, False),
    "wrong_number": ("failed_permanent", None, True),
}
MAX_NOTE = 500


def mask_phone(phone: str | None) -> str:
    """``01012345678`` → ``010-****-5678`` (what a list shows before a call is opened)."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if len(digits) < 7:
        return "***" if digits else ""
    return f"{digits[:3]}-{'*' * (len(digits) - 7)}-{digits[-4:]}"


def _customers_in_scope(actor: Any) -> Any:
    return select(Customer.id).where(scope_filter(actor, PERMISSION, Customer))


def _running_sources(campaign: CemCampaign | None) -> list[str]:
    """The ``source_object`` of every campaign whose calls are due (sending, not paused)."""
    if campaign is not None:
        return [campaign.source_object] if campaign.state == SENDING else []
    ids = db.session.execute(select(CemCampaign.id).where(CemCampaign.state == SENDING)).scalars()
    return [f"campaign:{i}" for i in ids]


def call_list(actor: Any, *, campaign: CemCampaign | None = None, page: int = 1, per_page: int = 50,
              now: datetime | None = None) -> Any:
    """One page of due calls (oldest first) for customers in ``actor``'s scope: items are dicts
    with ``message_id``, ``campaign_id``, ``campaign_name``, ``step``, ``customer_id``,
    ``customer_code``, ``customer_name``, ``phone`` (to dial), ``phone_masked``, ``script``,
    ``due_at``. The page is logged as a view of that many customers' personal data."""
    now = now or utcnow()
    sources = _running_sources(campaign)
    stmt = (select(Message.id, Message.source_object, Message.step, Message.customer_id, Message.body,
                   Message.to_addr, Message.not_before, Customer.code, Customer.name, Customer.phone)
            .join(Customer, Customer.id == Message.customer_id)
            .where(Message.channel == "phone", Message.source == SOURCE, Message.status.in_(WAITING),
                   Message.not_before <= now, Message.source_object.in_(sources),
                   Message.customer_id.in_(_customers_in_scope(actor)), Customer.pseudonymized_at.is_(None))
            .order_by(Message.not_before, Message.id))
    result = paginate(stmt, page, per_page, scalars=False)
    names = dict(db.session.execute(select(CemCampaign.id, CemCampaign.name).where(CemCampaign.id.in_(
        {int(r.source_object.split(":", 1)[1]) for r in result.items}))).all()) if result.items else {}
    items = []
    for r in result.items:
        campaign_id = int(r.source_object.split(":", 1)[1])
        phone = r.phone or r.to_addr
        items.append({"message_id": r.id, "campaign_id": campaign_id, "campaign_name": names.get(campaign_id),
                      "step": r.step, "customer_id": r.customer_id, "customer_code": r.code,
                      "customer_name": r.name, "phone": phone, "phone_masked": mask_phone(phone),
                      "script": r.body, "due_at": r.not_before})
    result.items = items
    if items:
        audit.log_access("view", count=len(items), detail="cem call list")
    return result


def record_call(actor: Any, message_id: int, outcome: str, note: str = "", *, at: datetime | None = None) -> CemCallOutcome:
    """Record the outcome of one call and settle its message (see the module table); commits.

    ``CampaignError``: 422 for an unknown outcome or a note over 500 characters; 404 for a message
    that is not a campaign call of a customer in ``actor``'s scope; 409 when it was already
    recorded or is no longer waiting (cancelled, expired). Nothing is written then."""
    errors: dict[str, str] = {}
    if outcome not in CALL_OUTCOMES:
        errors["outcome"] = _("Choose one of: %(choices)s.", choices=", ".join(CALL_OUTCOMES))
    note = (note or "").strip() if isinstance(note, str) else ""
    if len(note) > MAX_NOTE:
        errors["note"] = _("At most %(n)s characters.", n=MAX_NOTE)
    if errors:
        raise CampaignError(errors)
    if isinstance(message_id, bool) or not isinstance(message_id, int) or not 0 < message_id < 2**63:
        raise CampaignError({"message": _("No such call.")}, 404)
    row = db.session.execute(select(Message.id, Message.source_object, Message.customer_id, Message.status).where(
        Message.id == message_id, Message.channel == "phone", Message.source == SOURCE,
        Message.customer_id.in_(_customers_in_scope(actor)))).first()
    if row is None:
        raise CampaignError({"message": _("No such call.")}, 404)
    if db.session.execute(select(CemCallOutcome.id).where(CemCallOutcome.message_id == message_id)).first():
        raise CampaignError({"message": _("This call has already been recorded.")}, 409)
    if row.status not in WAITING:
        raise CampaignError({"message": _("This call is no longer due.")}, 409)
    status, contact_outcome, flag = SETTLE[outcome]
    campaign_id = int(row.source_object.split(":", 1)[1]) if (row.source_object or "").startswith("campaign:") else None
    record = CemCallOutcome(message_id=message_id, campaign_id=campaign_id, customer_id=row.customer_id,
                            outcome=outcome, note=note or None, recorded_by_id=getattr(actor, "id", None),
                            recorded_at=at or utcnow())
    try:
        db.session.add(record)
        db.session.flush()
        # commits the outcome row with the settled message (and the contact history / quality issue)
        record_manual_outcome(message_id, status=status, reason=f"call:{outcome}", actor=actor, at=at,
                              outcome=contact_outcome, note=note or None, quality_issue=flag)
    except IntegrityError:  # someone recorded the same call a moment ago
        db.session.rollback()
        raise CampaignError({"message": _("This call has already been recorded.")}, 409) from None
    except MessagingError as exc:
        db.session.rollback()
        if exc.field == "at":
            raise CampaignError({"at": _("The time of the call cannot be in the future.")}) from None
        # settled, cancelled or expired in the meantime
        raise CampaignError({"message": _("This call is no longer due.")}, 409) from None
    return record
