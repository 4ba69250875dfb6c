"""Inbound replies to our SMS (a provider webhook or a file): STOP keywords, auto-replies, and a
review queue for everything a machine should not decide.

Classification of one reply text (:func:`classify_reply`):

* ``auto_reply`` — vacation notices, "out of office", carrier system messages: never unsubscribe,
  stored as ``ignored``;
* ``stop`` — the whole text (trimmed, case-folded, spaces and trailing punctuation removed) is one
  of the configured keywords: SMS marketing consent withdrawn at once (unknown number → the
  global suppression list), stored as ``opted_out``;
* ``ambiguous`` — anything else that mentions a keyword or a refusal hint ("그만 보내세요 ㅠ",
  "Stop. Thank you", "?"), and ``other`` — any other text: the review queue (``pending``), where a
  person decides ``opt_out`` or ``keep``. A missed opt-out is a legal risk; a wrong one loses a
  customer: neither is left to guesswork.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from portal.toolkit import audit, db, normalize_phone, utcnow

from ..optout_models import CemInboundReply
from .consent import customers_by_number, withdraw_sms_marketing
from .suppression import suppress_numbers

SOURCE = "cem_stop_reply"
#: Default STOP keywords; ``CEM_STOP_KEYWORDS`` in the configuration replaces them.
DEFAULT_STOP_KEYWORDS = ("수신거부", "거부", "수신거절", "광고거부", "stop", "unsubscribe", "080")
#: Words that make a reply worth a person's look even when it is not an exact keyword.
REFUSAL_HINTS = ("그만", "보내지", "빼", "삭제", "차단", "싫", "해지", "탈퇴", "거절", "remove", "opt out", "opt-out",
                 "?")
#: Vacation notices, autoresponders and carrier system messages (matched case-folded, anywhere).
AUTO_REPLY_MARKERS = ("자동응답", "자동 응답", "부재중", "휴가", "out of office", "auto-reply", "autoreply",
                      "automatic reply", "auto reply", "vacation", "away from", "[자동", "(자동", "수신이 불가",
                      "전송 실패", "전송실패", "없는 번호", "결번", "delivery failure", "undeliverable",
                      "mailer-daemon", "[web발신]", "[통신사", "[skt]", "[kt]", "[lg u+]")
_TRAILING = re.compile(r"[\s.!~。,·…]+$")
_SPACES = re.compile(r"\s+")
ACTIONS = ("opt_out", "keep")


class ReplyError(ValueError):
    """Bad input for a reply or a decision; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def stop_keywords() -> tuple[str, ...]:
    """The configured keywords (case-folded, spaces removed), ``CEM_STOP_KEYWORDS`` or the defaults."""
    configured = current_app.config.get("CEM_STOP_KEYWORDS") or DEFAULT_STOP_KEYWORDS
    if isinstance(configured, str):
        configured = configured.split(",")
    return tuple(k for k in (_key(str(word)) for word in configured) if k)


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    return _SPACES.sub("", _TRAILING.sub("", text))


def classify_reply(text: str, keywords: Sequence[str] | None = None) -> str:
    """``stop``, ``auto_reply``, ``ambiguous`` or ``other`` for one reply text (see the module)."""
    words = tuple(keywords) if keywords is not None else stop_keywords()
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    if any(marker in folded for marker in AUTO_REPLY_MARKERS):
        return "auto_reply"
    key = _key(folded)
    if key and key in words:
        return "stop"
    squeezed = _SPACES.sub("", folded)
    if any(word in squeezed for word in words) or any(hint.replace(" ", "") in squeezed for hint in REFUSAL_HINTS):
        return "ambiguous"
    return "other"


def _opt_out(number: str, customer_ids: list[int], actor: Any, note: str) -> None:
    if customer_ids:
        withdraw_sms_marketing(customer_ids, method="message", source=SOURCE, actor=actor, note=note)
    else:
        suppress_numbers({number: None}, "stop_reply")


def receive_reply(number: str, text: str, received_at: datetime | None = None) -> CemInboundReply:
    """Record one inbound reply and act on it, in the caller's transaction (the caller commits).

    Raises :class:`ReplyError` for a number that is not a Korean phone number or an empty text.
    """
    normalised = normalize_phone(number) if isinstance(number, str) else None
    if normalised is None:
        raise ReplyError("number", _("%(value)s is not a Korean phone number.", value=str(number)[:40]))
    if not isinstance(text, str) or not text.strip():
        raise ReplyError("text", _("The reply has no text."))
    kind = classify_reply(text)
    customers = customers_by_number([normalised]).get(normalised, [])
    status = {"stop": "opted_out", "auto_reply": "ignored"}.get(kind, "pending")
    reply = CemInboundReply(number=normalised, text=text.strip()[:2000], kind=kind,
                            customer_id=customers[0] if customers else None,
                            received_at=received_at or utcnow(), status=status)
    db.session.add(reply)
    db.session.flush()
    if kind == "stop":
        _opt_out(normalised, customers, None, _("STOP reply %(id)d", id=reply.id))
        audit.record("cem.reply_stop", reply, summary=_("STOP reply from %(number)s: SMS marketing withdrawn.",
                                                        number=_mask(normalised)))
    return reply


def _mask(number: str) -> str:
    return number[:3] + "****" + number[-4:] if len(number) >= 8 else "****"


def pending_replies(limit: int = 100) -> list[CemInboundReply]:
    """The review queue, oldest first."""
    return list(db.session.execute(select(CemInboundReply).where(CemInboundReply.status == "pending")
                                   .order_by(CemInboundReply.received_at, CemInboundReply.id).limit(limit)).scalars())


def decide_reply(reply_id: int, action: str, actor: Any) -> CemInboundReply:
    """A person's decision on a queued reply: ``opt_out`` (withdraw SMS marketing, or list the
    number) or ``keep``. Only pending replies; raises :class:`ReplyError` otherwise."""
    if action not in ACTIONS:
        raise ReplyError("action", _("Unknown decision %(value)s; use one of: %(choices)s.", value=repr(action),
                                     choices=", ".join(ACTIONS)))
    if actor is None or getattr(actor, "id", None) is None:
        raise ReplyError("actor", _("A decision needs the person who makes it."))
    reply = db.session.get(CemInboundReply, reply_id) if isinstance(reply_id, int) else None
    if reply is None:
        raise ReplyError("reply", _("No such reply."))
    if reply.status != "pending":
        raise ReplyError("reply", _("This reply was already decided (%(status)s).", status=reply.status))
    if action == "opt_out":
        customers = customers_by_number([reply.number]).get(reply.number, [])
        _opt_out(reply.number, customers, actor, _("Reviewed reply %(id)d", id=reply.id))
    reply.status = "opted_out" if action == "opt_out" else "kept"
    reply.decided_by, reply.decided_at = actor.id, utcnow()
    audit.record("cem.reply_decided", reply, actor=actor,
                 summary=_("Reply from %(number)s reviewed: %(decision)s.", number=_mask(reply.number),
                           decision=reply.status))
    return reply


def erase_customer_replies(customer_id: int, number: str | None) -> int:
    """Erasure: the customer's replies lose their text and number (the decision trail stays)."""
    cond = [CemInboundReply.customer_id == customer_id]
    if number:
        cond.append(CemInboundReply.number == number)
    result = db.session.execute(update(CemInboundReply).where(or_(*cond))
                                .values(text="", number="", customer_id=None)
                                .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def customer_replies_export(customer_id: int, number: str | None) -> list[dict[str, Any]]:
    cond = [CemInboundReply.customer_id == customer_id]
    if number:
        cond.append(CemInboundReply.number == number)
    rows = db.session.execute(select(CemInboundReply).where(or_(*cond)).order_by(CemInboundReply.id)).scalars()
    return [{"number": r.number, "text": r.text, "kind": r.kind, "received_at": r.received_at.isoformat(),
             "status": r.status, "decided_at": r.decided_at.isoformat() if r.decided_at else None} for r in rows]
