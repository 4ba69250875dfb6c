"""Family cards: a household's members pool their points on one card.

The rule (docs/loyalty.md): the card is a ``family`` account tied to a core ``Household``.

- *Joining* moves the member's valid points into the pool (transfer entries, expiry dates
  kept, the points still attributed to the member); from then on the member earns into and
  redeems from the pool, while their own account keeps their tier.
- Spending from the pool takes the first-to-expire points whoever earned them.
- *Leaving* takes out what the leaving member earned that is still unspent in the pool (their
  attributed lots), back to their own account; what others earned stays.
- A *transfer between members* moves attribution inside the pool (the balance is unchanged),
  always with a recorded reason.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from portal import audit
from portal.extensions import db
from portal.models import Customer, Household

from .ledger import LedgerError, lock_accounts, member_account, transfer
from .models import LoyAccount, LoyLot

CARD_PREFIX = "9410"


def luhn_digit(digits: str) -> str:
    """The Luhn check digit for ``digits`` (what card readers and payment forms verify)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def card_number(account_id: int) -> str:
    """16 digits: prefix, the account id, a Luhn check digit."""
    body = f"{CARD_PREFIX}{account_id:011d}"
    return body + luhn_digit(body)


def valid_card_number(number: str) -> bool:
    number = "".join(ch for ch in number if ch.isdigit())
    return len(number) == 16 and luhn_digit(number[:-1]) == number[-1]


def card_for_household(household_id: int) -> LoyAccount | None:
    return db.session.execute(select(LoyAccount).where(LoyAccount.household_id == household_id,
                                                        LoyAccount.kind == "family")).scalar_one_or_none()


def issue_card(household: Household, actor: Any, on: date | None = None) -> LoyAccount:
    """Open the household's family card and bring in its current members."""
    if card_for_household(household.id) is not None:
        raise LedgerError("This household already has a family card.", code="exists")
    card = LoyAccount(kind="family", household_id=household.id, balance=0, status="active")
    db.session.add(card)
    db.session.flush()
    card.card_no = card_number(card.id)
    audit.record("loyalty.card_issued", household, summary=f"family card {card.card_no}")
    for customer in db.session.execute(select(Customer).where(Customer.household_id == household.id)
                                       .order_by(Customer.id)).scalars():
        add_member(card, customer, actor, on=on)
    return card


def add_member(card: LoyAccount, customer: Customer, actor: Any, on: date | None = None) -> int:
    """Pool the customer's valid points on the card. Returns the points moved in."""
    if customer.household_id != card.household_id:
        raise LedgerError("Only members of the card's household can join it; add the customer to the household first.")
    member = member_account(customer.id)
    if member.pool_id == card.id:
        return 0
    if member.pool_id is not None:
        raise LedgerError("The customer is on another family card; remove them there first.")
    lock_accounts([member.id, card.id])
    moved = _valid_points(member.id, None, on)
    if moved:
        transfer(member, card, moved, "joined family card", actor=actor, on=on)
    member.pool_id = card.id
    audit.record("loyalty.card_member_added", customer, summary=f"card {card.card_no}: {moved} points pooled")
    return moved


def remove_member(card: LoyAccount, customer: Customer, actor: Any, on: date | None = None) -> int:
    """The member leaves with the points they earned that are still unspent in the pool."""
    member = member_account(customer.id)
    if member.pool_id != card.id:
        raise LedgerError("The customer is not on this family card.")
    lock_accounts([member.id, card.id])
    moved = _valid_points(card.id, customer.id, on)
    if moved:
        transfer(card, member, moved, "left family card", actor=actor, on=on, from_member=customer.id)
    member.pool_id = None
    audit.record("loyalty.card_member_removed", customer, summary=f"card {card.card_no}: {moved} points taken out")
    return moved


def transfer_between_members(card: LoyAccount, source: Customer, target: Customer, points: int, reason: str,
                             actor: Any, on: date | None = None) -> None:
    """Move attribution of ``points`` from one member to another inside the pool."""
    ids = {m.customer_id for m in members(card)}
    if source.id not in ids or target.id not in ids:
        raise LedgerError("Both customers must be members of this family card.")
    if source.id == target.id:
        raise LedgerError("Choose two different members.")
    transfer(card, card, points, reason, actor=actor, on=on, from_member=source.id, to_member=target.id)
    audit.record("loyalty.card_transfer", card.household, summary=f"{points} points {source.code} → {target.code}: {reason}")


def _valid_points(account_id: int, member_id: int | None, on: date | None) -> int:
    stmt = select(func.coalesce(func.sum(LoyLot.remaining), 0)).where(
        LoyLot.account_id == account_id, LoyLot.remaining > 0, LoyLot.expires_on >= (on or date.today()))
    if member_id is not None:
        stmt = stmt.where(LoyLot.member_id == member_id)
    return int(db.session.execute(stmt).scalar_one())


def members(card: LoyAccount) -> list[LoyAccount]:
    return list(db.session.execute(select(LoyAccount).where(LoyAccount.pool_id == card.id)
                                   .order_by(LoyAccount.customer_id)).scalars())


def member_shares(card: LoyAccount) -> dict[int | None, int]:
    """Points in the pool per member they are attributed to."""
    rows = db.session.execute(select(LoyLot.member_id, func.sum(LoyLot.remaining)).where(
        LoyLot.account_id == card.id, LoyLot.remaining > 0).group_by(LoyLot.member_id)).all()
    return {m: int(p) for m, p in rows}
