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

Scope (docs/security.md, "Households and points"): a household spans branches and distributor
groups, so a viewer sees only the members in their own scope — the others are a count, never an
identity — and every staff action needs ``loyalty.family`` on *each* customer it touches. A card
number of a household with nobody in the viewer's scope is treated as unknown. Calls with a
signed-in user as ``actor`` are checked here, whatever page or command calls them; the system
(``actor=None``: seeding, the household-change hook) is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import exists, func, select

from portal.toolkit import Customer, Household, audit, db, has_permission, scope_filter

from .ledger import Actor, LedgerError, lock_accounts, member_account, transfer
from .models import LoyAccount, LoyEntry, LoyLot

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


class FamilyForbidden(LedgerError):
    """The user lacks ``loyalty.family`` on a customer the action would touch."""

    status = 403
    code = "forbidden"


def _is_user(actor: Any) -> bool:
    return actor is not None and not isinstance(actor, Actor)


def may_manage(user: Any, customer: Customer) -> bool:
    """May ``user`` change ``customer``'s family-card membership or points in the pool?"""
    return has_permission(user, "loyalty.family", customer)


def _require(actor: Any, *customers: Customer) -> None:
    if _is_user(actor) and not all(may_manage(actor, c) for c in customers):
        raise FamilyForbidden("You may not manage the family card of this customer.")


def household_in_scope(user: Any, household_id: int) -> Household | None:
    """The household when at least one member is in ``user``'s loyalty scope, else None — the
    same answer for a household that does not exist."""
    in_scope = exists().where(Customer.household_id == Household.id,
                              scope_filter(user, "loyalty.view", Customer))
    return db.session.execute(select(Household).where(Household.id == household_id, in_scope)).scalar_one_or_none()


def household_for_card_number(user: Any, number: str) -> int | None:
    """The household id behind a card number, only when the card's household is in scope."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if not valid_card_number(digits):
        return None
    card = db.session.execute(select(LoyAccount.household_id).where(LoyAccount.card_no == digits)).scalar_one_or_none()
    if card is None or household_in_scope(user, card) is None:
        return None
    return card


@dataclass
class HouseholdView:
    """What a viewer may see of a household and its card: members in their scope by name, the
    others only as counts and a points total."""

    household: Household
    card: LoyAccount | None
    people: list[Customer]  # household members in scope
    hidden_people: int  # household members outside it
    members: list[LoyAccount] = field(default_factory=list)  # card members in scope
    hidden_members: int = 0
    shares: dict[int, int] = field(default_factory=dict)  # in-scope member → their points in the pool
    hidden_points: int = 0  # pool points of members outside scope
    lots: list[LoyLot] = field(default_factory=list)
    statement: list[LoyEntry] = field(default_factory=list)
    names: dict[int, Customer] = field(default_factory=dict)  # every customer shown, by id
    manageable: set[int] = field(default_factory=set)  # ids the viewer may act on


def household_view(user: Any, household: Household, statement_limit: int = 50) -> HouseholdView:
    """The household page's data, scoped per member in SQL (SECURITY.md: a page showing related
    records scopes each one)."""
    in_scope = scope_filter(user, "loyalty.view", Customer)
    people = list(db.session.execute(select(Customer).where(Customer.household_id == household.id, in_scope)
                                     .order_by(Customer.id)).scalars())
    total = db.session.execute(select(func.count()).where(Customer.household_id == household.id)).scalar_one()
    card = card_for_household(household.id)
    view = HouseholdView(household, card, people, int(total) - len(people))
    view.names = {c.id: c for c in people}
    if card is not None:
        rows = db.session.execute(select(LoyAccount, Customer).join(Customer, Customer.id == LoyAccount.customer_id)
                                  .where(LoyAccount.pool_id == card.id, in_scope).order_by(LoyAccount.customer_id)).all()
        view.members = [a for a, _c in rows]
        view.names.update({c.id: c for _a, c in rows})
        all_members = db.session.execute(select(func.count()).where(LoyAccount.pool_id == card.id)).scalar_one()
        view.hidden_members = int(all_members) - len(view.members)
        shares = member_shares(card)
        visible = set(view.names)
        view.shares = {m: p for m, p in shares.items() if m in visible}
        view.hidden_points = sum(p for m, p in shares.items() if m not in visible)
        view.lots = list(db.session.execute(select(LoyLot).where(
            LoyLot.account_id == card.id, LoyLot.remaining > 0, LoyLot.member_id.in_(visible))
            .order_by(LoyLot.expires_on, LoyLot.id)).scalars()) if visible else []
        view.statement = list(db.session.execute(select(LoyEntry).where(
            LoyEntry.account_id == card.id, LoyEntry.member_id.in_(visible))
            .order_by(LoyEntry.id.desc()).limit(statement_limit)).scalars()) if visible else []
    view.manageable = {cid for cid, c in view.names.items() if may_manage(user, c)}
    return view


def scoped_customer(user: Any, customer_id: int) -> Customer | None:
    """A customer in ``user``'s loyalty scope, or None (unknown and foreign look the same)."""
    return db.session.execute(select(Customer).where(
        Customer.id == customer_id, scope_filter(user, "loyalty.view", Customer))).scalar_one_or_none()


def card_for_household(household_id: int) -> LoyAccount | None:
    return db.session.execute(select(LoyAccount).where(LoyAccount.household_id == household_id,
                                                        LoyAccount.kind == "family")).scalar_one_or_none()


def issue_card(household: Household, actor: Any, on: date | None = None) -> LoyAccount:
    """Open the household's family card and bring in its current members — for a signed-in
    user, only the members they may manage (the others join when their own staff add them)."""
    if card_for_household(household.id) is not None:
        raise LedgerError("This household already has a family card.", code="exists")
    people = list(db.session.execute(select(Customer).where(Customer.household_id == household.id)
                                     .order_by(Customer.id)).scalars())
    joining = [c for c in people if not _is_user(actor) or may_manage(actor, c)]
    if not joining:
        raise FamilyForbidden("You may not manage the family card of this household.")
    card = LoyAccount(kind="family", household_id=household.id, balance=0, status="active")
    db.session.add(card)
    db.session.flush()
    card.card_no = card_number(card.id)
    audit.record("loyalty.card_issued", household, summary=f"family card {card.card_no}")
    for customer in joining:
        add_member(card, customer, actor, on=on)
    return card


def add_member(card: LoyAccount, customer: Customer, actor: Any, on: date | None = None) -> int:
    """Pool the customer's valid points on the card. Returns the points moved in."""
    _require(actor, customer)
    if customer.household_id != card.household_id:
        raise LedgerError("Only members of the card's household can join it; add the customer to the household first.",
                          code="not_in_household")
    member = member_account(customer.id)
    if member.pool_id == card.id:
        return 0
    if member.pool_id is not None:
        raise LedgerError("The customer is on another family card; remove them there first.", code="other_card")
    lock_accounts([member.id, card.id])
    moved = _valid_points(member.id, None, on)
    if moved:
        transfer(member, card, moved, "joined family card", actor=actor, on=on)
    member.pool_id = card.id
    audit.record("loyalty.card_member_added", customer, summary=f"card {card.card_no}: {moved} points pooled")
    return moved


def remove_member(card: LoyAccount, customer: Customer, actor: Any, on: date | None = None) -> int:
    """The member leaves with the points they earned that are still unspent in the pool."""
    _require(actor, customer)
    member = member_account(customer.id)
    if member.pool_id != card.id:
        raise LedgerError("The customer is not on this family card.", code="not_member")
    lock_accounts([member.id, card.id])
    moved = _valid_points(card.id, customer.id, on)
    if moved:
        transfer(card, member, moved, "left family card", actor=actor, on=on, from_member=customer.id)
    member.pool_id = None
    audit.record("loyalty.card_member_removed", customer, summary=f"card {card.card_no}: {moved} points taken out")
    return moved


def transfer_between_members(card: LoyAccount, source: Customer, target: Customer, points: int, reason: str,
                             actor: Any, on: date | None = None) -> None:
    """Move attribution of ``points`` from one member to another inside the pool (the user needs
    ``loyalty.family`` on both)."""
    _require(actor, source, target)
    ids = {m.customer_id for m in members(card)}
    if source.id not in ids or target.id not in ids:
        raise LedgerError("Both customers must be members of this family card.", code="not_member")
    if source.id == target.id:
        raise LedgerError("Choose two different members.", code="same_member")
    transfer(card, card, points, reason, actor=actor, on=on, from_member=source.id, to_member=target.id)
    audit.record("loyalty.card_transfer", card.household, summary=f"{points} points {source.code} → {target.code}: {reason}")


def household_changed(customer: Customer, old_household_id: int | None, new_household_id: int | None,
                      on: date | None = None) -> int:
    """A customer's household changed (``portal_household_changed``): a member of the old
    household's card leaves it at once, with the points they earned that are still unspent, so
    they stop spending from the family's pool. Joining a household with a card does not put them
    on it: staff add them (their points move into the pool only on request). Returns the points
    taken out."""
    member = member_account(customer.id, create=False)
    if member is None or member.pool_id is None:
        return 0
    card = db.session.get(LoyAccount, member.pool_id)
    if card is None or card.household_id == new_household_id:
        return 0
    return remove_member(card, customer, None, on=on)


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
