"""The seminar series' part of merges and data-subject requests.

* **Merge** (``portal_customers_merged``): the duplicate's invitations move to the survivor where
  the survivor has none for that series. Where both were invited, the survivor keeps its own
  invitation; the duplicate's seats move onto it for sessions the survivor holds none of, its other
  live seats are cancelled (and offered to the waiting list), and its invitation is marked
  ``declined`` with its link retired — one person, one invitation, one seat per session.
* **Export** (``portal_personal_data``): the customer's invitations and registrations (no tokens:
  a token is a key, not data about the person).
* **Erasure** (``portal_personal_data_erased``): every registration link and check-in token of the
  customer is replaced by a retired value that no URL can match, so the old e-mail's link answers
  404 and nothing links back to the erased person; counts stay for the programme's figures.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select, update

from portal.toolkit import db, utcnow

from ..seminar_models import DECLINED, PrmInvitation, PrmRegistration, PrmSession

#: Retired tokens contain ':' — never produced by ``secrets.token_urlsafe`` and refused by the lookup.
RETIRED = "retired:"


def retired_token() -> str:
    return RETIRED + secrets.token_hex(24)


def on_customers_merged(survivor: Any, merged_id: int) -> None:
    from .registration import LIVE, cancel

    now = utcnow()
    dup_invs = list(db.session.scalars(select(PrmInvitation).where(PrmInvitation.customer_id == merged_id)))
    for dup in dup_invs:
        own = db.session.scalar(select(PrmInvitation).where(PrmInvitation.step_id == dup.step_id,
                                                            PrmInvitation.customer_id == survivor.id))
        if own is None:
            dup.customer_id = survivor.id
            db.session.execute(update(PrmRegistration).where(PrmRegistration.invitation_id == dup.id)
                               .values(customer_id=survivor.id))
            continue
        held = set(db.session.scalars(select(PrmRegistration.session_id).where(PrmRegistration.invitation_id == own.id)))
        for reg in list(db.session.scalars(select(PrmRegistration).where(PrmRegistration.invitation_id == dup.id))):
            if reg.session_id not in held:
                reg.invitation_id, reg.customer_id = own.id, survivor.id
                held.add(reg.session_id)
            elif reg.status in LIVE and now < reg.session.starts_at:
                cancel(reg, now=now)
        dup.status = DECLINED
        dup.responded_at = now
        dup.token = retired_token()
    db.session.flush()


def export_customer(customer: Any) -> dict[str, Any] | None:
    invs = list(db.session.scalars(select(PrmInvitation).where(PrmInvitation.customer_id == customer.id)
                                   .order_by(PrmInvitation.id)))
    if not invs:
        return None
    regs = db.session.execute(select(PrmRegistration, PrmSession.title, PrmSession.starts_at)
                              .join(PrmSession, PrmSession.id == PrmRegistration.session_id)
                              .where(PrmRegistration.invitation_id.in_([i.id for i in invs]))
                              .order_by(PrmRegistration.id)).all()
    iso = (lambda v: v.isoformat() if v is not None else None)  # noqa: E731
    return {"name": "prm_groups", "data": {
        "seminar_invitations": [{"programme": i.programme_id, "status": i.status, "invited_at": iso(i.invited_at),
                                 "responded_at": iso(i.responded_at)} for i in invs],
        "seminar_registrations": [{"session": title, "starts_at_utc": iso(starts), "status": r.status,
                                   "waitlist_position": r.waitlist_position, "attendance": r.attendance,
                                   "checked_in_at": iso(r.checked_in_at), "created_at": iso(r.created_at)}
                                  for r, title, starts in regs]}}


def erase_customer(customer: Any) -> None:
    ids = list(db.session.scalars(select(PrmInvitation.id).where(PrmInvitation.customer_id == customer.id)))
    for inv_id in ids:  # a customer has a handful of invitations: one UPDATE each, unique tokens
        db.session.execute(update(PrmInvitation).where(PrmInvitation.id == inv_id).values(token=retired_token()))
    for reg_id in db.session.scalars(select(PrmRegistration.id).where(PrmRegistration.customer_id == customer.id)):
        db.session.execute(update(PrmRegistration).where(PrmRegistration.id == reg_id)
                           .values(checkin_token=retired_token()))
    db.session.flush()
