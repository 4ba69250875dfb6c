"""The segment field ``cem.engagement``: what a customer did with one campaign's messages, so a
later step of another add-on's programme can say "opened or clicked step 1" (prm_groups rewrites
"step 1" to that step's campaign id).

Values ``"<campaign id>:<what>"`` with ``what`` one of ``opened``, ``clicked``,
``opened_or_clicked`` (the first open / click recorded by the e-mail tracking), ``delivered`` (a
message of the campaign was sent and no provider reported it undelivered — the same reading as a
step's ``not_delivered`` condition). ``eq``/``in`` match customers who did it, ``ne``/``not_in``
those who did not; an unreadable value matches nobody. One correlated ``EXISTS`` per value on the
indexed ``cem_message_event (campaign_id, kind)`` and ``message (source, source_object, status)``.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, false, or_
from sqlalchemy.sql.elements import ColumnElement

from portal.toolkit import Customer, Message

from ..campaign_models import CemMessageEvent

SOURCE = "cem_channels"
WHATS = ("opened", "clicked", "opened_or_clicked", "delivered")
_KINDS = {"opened": ("open",), "clicked": ("click",), "opened_or_clicked": ("open", "click")}
MAX_VALUES = 20


def _parse(value: Any) -> tuple[int, str] | None:
    campaign, _sep, what = str(value).strip().partition(":")
    if campaign.isascii() and campaign.isdigit() and 0 < int(campaign) < 2**31 and what in WHATS:
        return int(campaign), what
    return None


def _did(campaign_id: int, what: str) -> ColumnElement[bool]:
    if what in _KINDS:
        e = CemMessageEvent
        return exists().where(e.campaign_id == campaign_id, e.customer_id == Customer.id, e.kind.in_(_KINDS[what]))
    m = Message
    undelivered = exists().where(CemMessageEvent.message_id == m.id, CemMessageEvent.kind == "undelivered")
    return exists().where(m.source == SOURCE, m.source_object == f"campaign:{campaign_id}",
                          m.customer_id == Customer.id, m.status == "sent", ~undelivered)


def engagement_condition(op: str, value: Any) -> ColumnElement[bool]:
    """SQL over ``Customer``: did the customer (not) engage as ``value`` says (see the module)."""
    values = value if isinstance(value, list) else [value]
    pairs = [p for v in values[:MAX_VALUES] if (p := _parse(v)) is not None]
    match = or_(*[_did(c, w) for c, w in pairs]) if pairs else false()
    return ~match if op in ("ne", "not_in") else and_(match)


def segment_fields() -> list[dict[str, Any]]:
    return [{"name": "cem.engagement", "label": _l("Campaign engagement"), "type": "code",
             "ops": ["eq", "ne", "in", "not_in"], "order": 85, "hint": "12:opened_or_clicked",
             "condition": engagement_condition}]
