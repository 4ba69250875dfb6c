"""The points ledger: every change of a balance is an appended entry; nothing is ever updated.

Rules that keep "no point lost, none spent twice":

- An entry's points are signed integers; an account's balance is the sum of its entries.
  ``loy_account.balance`` caches that sum and is changed only together with an entry, in the
  same transaction (``portal loyalty check`` proves the two agree).
- Credits (earn, positive adjust, transfer in) open a *lot* with an expiry date. Debits (redeem,
  expire, negative adjust, transfer out, the reversal of a credit) consume lots first-to-expire
  first; an *allocation* row records how much each lot gave. A lot's ``remaining`` = its points
  minus its allocations.
- Corrections are reversing entries (``reverses_id``, unique: an entry is reversed at most
  once). Reversing a debit gives back exactly the lots it took (negative allocations).
- Concurrency: a debit is one conditional ``UPDATE … SET balance = balance - :p WHERE
  balance >= :p`` — atomic on PostgreSQL (it also locks the account row until commit, so
  the lot bookkeeping after it is serialised per account), and on SQLite every write
  transaction holds the database write lock from ``BEGIN IMMEDIATE``. Operations on several
  accounts lock them in id order, so they cannot deadlock.

Service functions add to the session and never commit; the caller commits. Each public
operation runs in a savepoint, so a refused operation leaves the caller's transaction usable.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, text, update

from portal.toolkit import Customer, db, utcnow

from .config import expiry_for, rules
from .models import LoyAccount, LoyAllocation, LoyEntry, LoyLot

REVERSIBLE = ("earn", "redeem", "adjust")
MAX_POINTS = 100_000_000  # one operation; a typo guard, not a business limit


class LedgerError(Exception):
    """A refused operation; ``status`` is the HTTP answer, ``code`` the API's error code.

    ``message`` is English (the API's ``message`` is English by contract); pages show the user's
    language by ``key`` (a finer reason than ``code``, which stays stable for API clients).
    """

    status = 422
    code = "invalid"

    def __init__(self, message: str, code: str | None = None, key: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.key = key or self.code


class InsufficientPoints(LedgerError):
    status = 409
    code = "insufficient_points"


NO_BALANCE = "The balance does not cover this many points."
NO_VALID_LOTS = "Not enough points that are still valid."


@dataclass(frozen=True)
class Actor:
    id: int | None
    label: str

    @classmethod
    def of(cls, user: Any) -> Actor:
        if user is None:
            return cls(None, "system")
        if isinstance(user, Actor):
            return user
        return cls(getattr(user, "id", None), getattr(user, "email", str(user)))


SYSTEM = Actor(None, "system")


def is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# -- accounts ----------------------------------------------------------------------------------


def member_account(customer_id: int, create: bool = True) -> LoyAccount | None:
    """The customer's own account (created on first use; concurrent creators meet on the unique
    customer_id and both read the one row that won)."""
    acct = db.session.execute(select(LoyAccount).where(LoyAccount.customer_id == customer_id)).scalar_one_or_none()
    if acct is not None or not create:
        return acct
    from .tiers import base_tier_code

    now = utcnow()
    stmt = insert_ignore(LoyAccount.__table__, ["customer_id"]).values(
        kind="member", customer_id=customer_id, balance=0, tier=base_tier_code(), status="active",
        created_at=now, updated_at=now)
    db.session.execute(stmt)
    return db.session.execute(select(LoyAccount).where(LoyAccount.customer_id == customer_id)).scalar_one()


def insert_ignore(table: Any, conflict_cols: list[str]) -> Any:
    """INSERT … ON CONFLICT (cols) DO NOTHING on either database."""
    if is_postgres():
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=conflict_cols)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=conflict_cols)


def target_account(member: LoyAccount) -> LoyAccount:
    """Where a member's points live: the family pool while they are in one, else their own."""
    if member.pool_id:
        return db.session.get(LoyAccount, member.pool_id)
    return member


def lock_accounts(ids: Iterable[int]) -> None:
    """Lock account rows in id order (PostgreSQL); SQLite's write transaction already excludes
    every other writer."""
    ids = sorted(set(ids))
    if ids and is_postgres():
        db.session.execute(select(LoyAccount.id).where(LoyAccount.id.in_(ids)).order_by(LoyAccount.id)
                           .with_for_update(key_share=True))


def _balance_delta(account_id: int, delta: int) -> int:
    """Apply ``delta`` to the cached balance; a debit only when the balance covers it. Returns
    the new balance. The conditional UPDATE is the double-spend guard."""
    tbl = LoyAccount.__table__
    stmt = update(tbl).where(tbl.c.id == account_id)
    if delta < 0:
        stmt = stmt.where(tbl.c.balance >= -delta)
    row = db.session.execute(stmt.values(balance=tbl.c.balance + delta, updated_at=utcnow())
                             .returning(tbl.c.balance)).first()
    if row is None:
        raise InsufficientPoints(NO_BALANCE)
    return int(row[0])


# -- the primitives: credit opens a lot, debit consumes lots -------------------------------------


def _check_points(points: Any) -> int:
    if isinstance(points, bool) or not isinstance(points, int):
        raise LedgerError("Points must be a whole number.", key="points_range")
    if not 0 < points <= MAX_POINTS:
        raise LedgerError(f"Points must be between 1 and {MAX_POINTS:,}.", key="points_range")
    return points


def _entry(**values: Any) -> int:
    """Append one entry; its row (every column, from RETURNING) is kept for :func:`_result`, which
    saves the hot redemption path a read-back."""
    tbl = LoyEntry.__table__
    values.setdefault("created_at", utcnow())
    values.setdefault("shortfall", 0)
    row = db.session.execute(insert(tbl).values(**values).returning(*tbl.c)).one()
    db.session.info.setdefault("loy_new_entries", {})[row.id] = row
    return int(row.id)


def _credit(account_id: int, points: int, *, kind: str, member_id: int | None, on: date, expires_on: date,
            actor: Actor, reason: str | None, **extra: Any) -> tuple[int, int]:
    """Add ``points`` as one entry and one lot. Returns (entry id, balance after)."""
    balance = _balance_delta(account_id, points)
    entry_id = _entry(account_id=account_id, member_id=member_id, kind=kind, points=points, effective_on=on,
                      expires_on=expires_on, reason=reason, actor_id=actor.id, actor_label=actor.label, **extra)
    db.session.execute(insert(LoyLot.__table__).values(
        account_id=account_id, entry_id=entry_id, member_id=member_id, points=points, remaining=points,
        earned_on=on, expires_on=expires_on))
    return entry_id, balance


def _open_lots(account_id: int, *, on: date, include_overdue: bool, member_id: int | None = None,
               first: Iterable[int] = ()) -> list[tuple[int, int, int | None, date]]:
    """(lot id, remaining, member, expires_on) in consumption order: the ``first`` lots, then
    first-to-expire first."""
    lot = LoyLot.__table__
    stmt = select(lot.c.id, lot.c.remaining, lot.c.member_id, lot.c.expires_on).where(
        lot.c.account_id == account_id, lot.c.remaining > 0)
    if not include_overdue:
        stmt = stmt.where(lot.c.expires_on >= on)
    if member_id is not None:
        stmt = stmt.where(lot.c.member_id == member_id)
    rows = [tuple(r) for r in db.session.execute(stmt.order_by(lot.c.expires_on, lot.c.id))]
    preferred = set(first)
    return [r for r in rows if r[0] in preferred] + [r for r in rows if r[0] not in preferred]


def _take(entry_id: int, lots: list[tuple[int, int, int | None, date]], points: int) -> list[tuple[int, int, int | None, date]]:
    """Consume ``points`` from ``lots`` in order, writing allocations. Returns what each lot gave."""
    taken, need = [], points
    lot = LoyLot.__table__
    for lot_id, remaining, member, expires in lots:
        if need == 0:
            break
        part = min(remaining, need)
        res = db.session.execute(update(lot).where(lot.c.id == lot_id, lot.c.remaining >= part)
                                 .values(remaining=lot.c.remaining - part))
        if res.rowcount != 1:  # cannot happen while the account row is locked; refuse rather than guess
            raise LedgerError("A lot changed under this operation; try again.", code="conflict")
        taken.append((lot_id, part, member, expires))
        need -= part
    if taken:
        db.session.execute(insert(LoyAllocation.__table__),
                           [{"entry_id": entry_id, "lot_id": lot_id, "points": part} for lot_id, part, _m, _e in taken])
    return taken


def _debit(account_id: int, points: int, *, kind: str, on: date, actor: Actor, reason: str | None,
           include_overdue: bool = False, member_id: int | None = None, lot_member: int | None = None,
           **extra: Any) -> tuple[int, int, list]:
    """Take ``points`` FEFO; refuse (InsufficientPoints) unless the usable lots cover them.
    Returns (entry id, balance after, [(lot, taken, member, expires)])."""
    balance = _balance_delta(account_id, -points)
    entry_id, taken = _take_for_debit(account_id, points, kind=kind, on=on, actor=actor, reason=reason,
                                      include_overdue=include_overdue, member_id=member_id, lot_member=lot_member,
                                      **extra)
    return entry_id, balance, taken


def _take_for_debit(account_id: int, points: int, *, kind: str, on: date, actor: Actor, reason: str | None,
                    include_overdue: bool, member_id: int | None, lot_member: int | None,
                    **extra: Any) -> tuple[int, list]:
    """After the balance was lowered (and the account row locked): the entry, the lots first to
    expire first, the allocations. InsufficientPoints when the usable lots do not cover it."""
    if is_postgres():
        return _debit_pg(account_id, points, kind=kind, on=on, actor=actor, reason=reason,
                         include_overdue=include_overdue, member_id=member_id, lot_member=lot_member, **extra)
    lots = _open_lots(account_id, on=on, include_overdue=include_overdue, member_id=lot_member)
    if sum(r[1] for r in lots) < points:
        raise InsufficientPoints(NO_VALID_LOTS if not include_overdue else NO_BALANCE)
    entry_id = _entry(account_id=account_id, member_id=member_id, kind=kind, points=-points, effective_on=on,
                      reason=reason, actor_id=actor.id, actor_label=actor.label, **extra)
    return entry_id, _take(entry_id, lots, points)


_DEBIT_PG = """
WITH lots AS (
    SELECT id, remaining, member_id, expires_on,
           SUM(remaining) OVER (ORDER BY expires_on, id ROWS UNBOUNDED PRECEDING) AS cum
    FROM loy_lot WHERE account_id = :account_id AND remaining > 0 {filters}
), take AS (
    SELECT id, member_id, expires_on, LEAST(remaining, :points - (cum - remaining)) AS part
    FROM lots WHERE cum - remaining < :points
), ent AS (
    INSERT INTO loy_entry (account_id, member_id, kind, points, effective_on, reason, actor_id, actor_label,
                           created_at, shortfall, reward_id, approval_id)
    SELECT :account_id, :member_id, :kind, -:points, :on, :reason, :actor_id, :actor_label, :now, 0,
           :reward_id, :approval_id
    WHERE (SELECT COALESCE(SUM(part), 0) FROM take) = :points
    RETURNING *
), upd AS (
    UPDATE loy_lot SET remaining = loy_lot.remaining - take.part FROM take, ent
    WHERE loy_lot.id = take.id AND loy_lot.remaining >= take.part RETURNING loy_lot.id
), alloc AS (
    INSERT INTO loy_allocation (entry_id, lot_id, points) SELECT ent.id, take.id, take.part FROM ent, take
)
SELECT ent.*, (SELECT COUNT(*) FROM upd) AS loy_updated,
       (SELECT json_agg(json_build_array(id, part, member_id, expires_on) ORDER BY expires_on, id) FROM take)
           AS loy_taken
FROM ent"""


def _debit_pg(account_id: int, points: int, *, kind: str, on: date, actor: Actor, reason: str | None,
              include_overdue: bool, member_id: int | None, lot_member: int | None,
              **extra: Any) -> tuple[int, list]:
    """PostgreSQL: choose the lots, write the entry, the allocations and the lots' new remaining
    in one statement (one round trip on the hot redemption path). It runs after the account row
    is locked, so its snapshot sees every committed change to the account's lots."""
    filters = ("" if include_overdue else "AND expires_on >= :on") + \
        ("" if lot_member is None else " AND member_id = :lot_member")
    row = db.session.connection().execute(text(_DEBIT_PG.format(filters=filters)), {
        "account_id": account_id, "points": points, "member_id": member_id, "kind": kind, "on": on,
        "reason": reason, "actor_id": actor.id, "actor_label": actor.label, "now": utcnow(),
        "reward_id": extra.get("reward_id"), "approval_id": extra.get("approval_id"), "lot_member": lot_member,
    }).first()
    if row is None:
        raise InsufficientPoints(NO_VALID_LOTS if not include_overdue else NO_BALANCE)
    taken = [(t[0], int(t[1]), t[2], date.fromisoformat(t[3])) for t in row.loy_taken]
    if row.loy_updated != len(taken):  # cannot happen while the account row is locked; refuse rather than guess
        raise LedgerError("A lot changed under this operation; try again.", code="conflict")
    db.session.info.setdefault("loy_new_entries", {})[row.id] = row
    return int(row.id), taken


# -- operations ---------------------------------------------------------------------------------


@dataclass
class Result:
    entry: Any  # the new entry's row (attributes as on LoyEntry)
    balance: int
    account_id: int

    @property
    def account(self) -> LoyAccount:
        return db.session.get(LoyAccount, self.account_id)


def _result(entry_id: int, balance: int, account_id: int) -> Result:
    row = db.session.info.get("loy_new_entries", {}).pop(entry_id, None)
    return Result(row if row is not None else db.session.get(LoyEntry, entry_id), balance, account_id)



def unstorable(text_value: str) -> bool:
    """NUL (PostgreSQL text cannot hold it) or a lone surrogate such as ``"\\ud800"`` (not
    encodable as UTF-8, so no database can store it): refused as input, never a 500."""
    if "\x00" in text_value:
        return True
    try:
        text_value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


UNSTORABLE_REASON = "The reason contains characters that cannot be stored (a NUL or a lone surrogate)."


def clean_reason(reason: str | None, required: bool = True) -> str | None:
    """Whitespace runs folded to one space, at most 200 characters (every entry's reason)."""
    if reason and unstorable(reason):
        raise LedgerError(UNSTORABLE_REASON, code="unstorable")
    reason = " ".join((reason or "").split())[:200]
    if required and not reason:
        raise LedgerError("Give a reason.", key="no_reason")
    return reason or None


def earn(customer: Customer, points: int, reason: str, actor: Any = None, on: date | None = None,
         **extra: Any) -> Result:
    """Credit points to the customer (into the family pool while they are in one)."""
    points, reason = _check_points(points), clean_reason(reason)
    on = on or date.today()
    with db.session.begin_nested():
        acct = target_account(member_account(customer.id))
        entry_id, balance = _credit(acct.id, points, kind=extra.pop("kind", "earn"), member_id=customer.id, on=on,
                                    expires_on=expiry_for(on, rules().expiry_months), actor=Actor.of(actor),
                                    reason=reason, **extra)
    from .tiers import upgrade_one

    upgrade_one(customer.id, on)
    return _result(entry_id, balance, acct.id)


def redeem(customer: Customer, points: int, reason: str, actor: Any = None, on: date | None = None,
           reward_id: int | None = None, savepoint: bool = True) -> Result:
    """Spend points (from the pool for a family card member); only lots not yet expired count.

    ``savepoint=False`` is for a caller that rolls back its whole transaction when this raises
    (the API): two round trips fewer on the hot path."""
    points, reason = _check_points(points), clean_reason(reason)
    on = on or date.today()
    with db.session.begin_nested() if savepoint else nullcontext():
        tbl = LoyAccount.__table__
        target = select(func.coalesce(tbl.c.pool_id, tbl.c.id)).where(tbl.c.customer_id == customer.id).scalar_subquery()
        # Find the account (the pool's for a card member), lock it and take the points: one statement.
        # Core on the session's connection: no ORM statement handling on the hot path.
        row = db.session.connection().execute(update(tbl).where(tbl.c.id == target, tbl.c.balance >= points)
                                 .values(balance=tbl.c.balance - points, updated_at=utcnow())
                                 .returning(tbl.c.id, tbl.c.balance)).first()
        if row is None:
            raise InsufficientPoints(NO_BALANCE)
        account_id, balance = int(row[0]), int(row[1])
        entry_id, _taken = _take_for_debit(account_id, points, kind="redeem", on=on, actor=Actor.of(actor),
                                           reason=reason, include_overdue=False, member_id=customer.id,
                                           lot_member=None, reward_id=reward_id)
    return _result(entry_id, balance, account_id)


def adjust(customer: Customer, points: int, reason: str, actor: Any = None, on: date | None = None,
           approval_id: int | None = None) -> Result:
    """A manual correction, positive or negative (the approval rule lives in ``redemption``)."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise LedgerError("Points must be a whole number other than 0.", key="points_nonzero")
    _check_points(abs(points))
    reason = clean_reason(reason)
    on = on or date.today()
    with db.session.begin_nested():
        acct = target_account(member_account(customer.id))
        if points > 0:
            entry_id, balance = _credit(acct.id, points, kind="adjust", member_id=customer.id, on=on,
                                        expires_on=expiry_for(on, rules().expiry_months), actor=Actor.of(actor),
                                        reason=reason, approval_id=approval_id)
        else:
            entry_id, balance, _ = _debit(acct.id, -points, kind="adjust", on=on, actor=Actor.of(actor),
                                          reason=reason, include_overdue=True, member_id=customer.id,
                                          approval_id=approval_id)
    return _result(entry_id, balance, acct.id)


def reverse(entry_id: int, reason: str, actor: Any = None, on: date | None = None) -> Result:
    """Undo an earn, redeem or adjustment with a reversing entry.

    A debit is undone by giving its lots back (negative allocations), expiry dates intact. A
    credit is clawed back from its own lot first, then first-to-expire first; what the balance
    no longer covers (already spent) is recorded as ``shortfall`` on the reversal and never
    drives the balance below zero.
    """
    reason = clean_reason(reason)
    on = on or date.today()
    actor = Actor.of(actor)
    with db.session.begin_nested():
        orig = db.session.get(LoyEntry, entry_id)
        if orig is None:
            raise LedgerError("No such entry.", code="not_found")
        if orig.kind not in REVERSIBLE:
            raise LedgerError(f"A {orig.kind} entry cannot be reversed.", key="not_reversible")
        if db.session.execute(select(LoyEntry.id).where(LoyEntry.reverses_id == orig.id)).first():
            raise LedgerError("This entry was already reversed.", code="already_reversed")
        lock_accounts([orig.account_id])
        new_id, balance = _reverse_locked(orig, reason, actor, on)
    return _result(new_id, balance, orig.account_id)


def _reverse_locked(orig: LoyEntry, reason: str | None, actor: Actor, on: date) -> tuple[int, int]:
    if orig.points < 0:
        alloc = LoyAllocation.__table__
        given = db.session.execute(select(alloc.c.lot_id, func.sum(alloc.c.points)).where(alloc.c.entry_id == orig.id)
                                   .group_by(alloc.c.lot_id).order_by(alloc.c.lot_id)).all()
        total = sum(int(p) for _lot, p in given)
        balance = _balance_delta(orig.account_id, total)
        new_id = _entry(account_id=orig.account_id, member_id=orig.member_id, kind="reverse", points=total,
                        effective_on=on, reverses_id=orig.id, reason=reason, actor_id=actor.id, actor_label=actor.label)
        lot = LoyLot.__table__
        for lot_id, part in given:
            db.session.execute(update(lot).where(lot.c.id == lot_id).values(remaining=lot.c.remaining + int(part)))
        if given:
            db.session.execute(insert(alloc), [{"entry_id": new_id, "lot_id": lot_id, "points": -int(part)}
                                               for lot_id, part in given])
        return new_id, balance
    account = db.session.get(LoyAccount, orig.account_id)
    db.session.refresh(account)
    collect = min(orig.points, account.balance)
    own = [r for r, in db.session.execute(select(LoyLot.id).where(  # the open-lot index serves this
        LoyLot.account_id == orig.account_id, LoyLot.remaining > 0, LoyLot.entry_id == orig.id))]
    lots = _open_lots(orig.account_id, on=on, include_overdue=True, first=own)
    balance = _balance_delta(orig.account_id, -collect) if collect else account.balance
    new_id = _entry(account_id=orig.account_id, member_id=orig.member_id, kind="reverse", points=-collect,
                    effective_on=on, reverses_id=orig.id, shortfall=orig.points - collect, reason=reason,
                    actor_id=actor.id, actor_label=actor.label)
    _take(new_id, lots, collect)
    return new_id, balance


def transfer(source: LoyAccount, target: LoyAccount, points: int, reason: str, actor: Any = None,
             on: date | None = None, from_member: int | None = None, to_member: int | None = None,
             all_of_member: bool = False) -> tuple[int | None, list[int]]:
    """Move points between accounts (or between members inside one family pool) with a reason.

    The source gives valid lots first-to-expire first (only ``from_member``'s lots when given);
    the target receives one lot per expiry date, so transferred points keep their expiry.
    ``all_of_member`` moves every valid point of ``from_member`` (a member leaving a pool).
    Returns (the outgoing entry id, the incoming entry ids).
    """
    reason = clean_reason(reason)
    on = on or date.today()
    actor = Actor.of(actor)
    with db.session.begin_nested():
        lock_accounts([source.id, target.id])
        if all_of_member:
            stmt = select(func.coalesce(func.sum(LoyLot.remaining), 0)).where(
                LoyLot.account_id == source.id, LoyLot.remaining > 0, LoyLot.expires_on >= on)
            if from_member is not None:
                stmt = stmt.where(LoyLot.member_id == from_member)
            points = int(db.session.execute(stmt).scalar_one())
            if points == 0:
                return None, []
        points = _check_points(points)
        out_id, _bal, taken = _debit(source.id, points, kind="transfer", on=on, actor=actor, reason=reason,
                                     member_id=from_member, lot_member=from_member)
        groups: dict[tuple[date, int | None], int] = {}
        for _lot, part, member, expires in taken:
            key = (expires, to_member if to_member is not None else member)
            groups[key] = groups.get(key, 0) + part
        in_ids = []
        for (expires, member), part in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
            entry_id, _b = _credit(target.id, part, kind="transfer", member_id=member, on=on, expires_on=expires,
                                   actor=actor, reason=reason, peer_id=out_id)
            in_ids.append(entry_id)
    return out_id, in_ids


# -- reading ------------------------------------------------------------------------------------


def balance_of(account_id: int) -> int:
    """The ledger's answer (sum of entries), not the cache."""
    return int(db.session.execute(select(func.coalesce(func.sum(LoyEntry.points), 0))
                                  .where(LoyEntry.account_id == account_id)).scalar_one())


def open_lots(account_id: int) -> list[LoyLot]:
    return list(db.session.execute(select(LoyLot).where(LoyLot.account_id == account_id, LoyLot.remaining > 0)
                                   .order_by(LoyLot.expires_on, LoyLot.id)).scalars())


def check(limit: int = 50) -> list[str]:
    """Prove the caches against the ledger: every account's balance = the sum of its entries =
    the sum of its lots' remaining points; every lot's remaining = points − allocations, within
    [0, points]; every entry's points = lots it opened − allocations it made. Returns problems."""
    problems: list[str] = []
    queries = {
        "balance": """
            SELECT a.id, a.balance, COALESCE(s.total, 0) FROM loy_account a
            LEFT JOIN (SELECT account_id, SUM(points) AS total FROM loy_entry GROUP BY account_id) s
              ON s.account_id = a.id
            WHERE a.balance <> COALESCE(s.total, 0) OR a.balance < 0""",
        "lots": """
            SELECT a.id, a.balance, COALESCE(s.total, 0) FROM loy_account a
            LEFT JOIN (SELECT account_id, SUM(remaining) AS total FROM loy_lot GROUP BY account_id) s
              ON s.account_id = a.id
            WHERE a.balance <> COALESCE(s.total, 0)""",
        "lot": """
            SELECT l.id, l.remaining, l.points - COALESCE(s.total, 0) FROM loy_lot l
            LEFT JOIN (SELECT lot_id, SUM(points) AS total FROM loy_allocation GROUP BY lot_id) s ON s.lot_id = l.id
            WHERE l.remaining <> l.points - COALESCE(s.total, 0) OR l.remaining < 0 OR l.remaining > l.points""",
        "entry": """
            SELECT e.id, e.points, COALESCE(o.total, 0) - COALESCE(t.total, 0) FROM loy_entry e
            LEFT JOIN (SELECT entry_id, SUM(points) AS total FROM loy_lot GROUP BY entry_id) o ON o.entry_id = e.id
            LEFT JOIN (SELECT entry_id, SUM(points) AS total FROM loy_allocation GROUP BY entry_id) t ON t.entry_id = e.id
            WHERE e.points <> COALESCE(o.total, 0) - COALESCE(t.total, 0)""",
        "lot account": """
            SELECT l.id, l.account_id, e.account_id FROM loy_lot l JOIN loy_entry e ON e.id = l.entry_id
            WHERE l.account_id <> e.account_id""",
        "orphans": """
            SELECT 'account', a.id, a.customer_id FROM loy_account a
            WHERE a.customer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customer c WHERE c.id = a.customer_id)
            UNION ALL SELECT 'account', a.id, a.pool_id FROM loy_account a
            WHERE a.pool_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loy_account p WHERE p.id = a.pool_id)
            UNION ALL SELECT 'entry', e.id, e.account_id FROM loy_entry e
            WHERE NOT EXISTS (SELECT 1 FROM loy_account a WHERE a.id = e.account_id)
            UNION ALL SELECT 'reversal', e.id, e.reverses_id FROM loy_entry e
            WHERE e.reverses_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loy_entry o WHERE o.id = e.reverses_id)
            UNION ALL SELECT 'lot', l.id, l.entry_id FROM loy_lot l
            WHERE NOT EXISTS (SELECT 1 FROM loy_entry e WHERE e.id = l.entry_id)
            UNION ALL SELECT 'allocation', t.id, t.lot_id FROM loy_allocation t
            WHERE NOT EXISTS (SELECT 1 FROM loy_lot l WHERE l.id = t.lot_id)
               OR NOT EXISTS (SELECT 1 FROM loy_entry e WHERE e.id = t.entry_id)""",
    }
    labels = {
        "balance": "account {0}: cached balance {1} but entries sum to {2}",
        "lots": "account {0}: balance {1} but open lots hold {2}",
        "lot": "lot {0}: remaining {1} but points − allocations = {2}",
        "entry": "entry {0}: points {1} but lots − allocations = {2}",
        "lot account": "lot {0}: on account {1} but its entry is on account {2}",
        "orphans": "{0} {1}: refers to {2}, which does not exist",
    }
    for name, sql in queries.items():
        for row in db.session.execute(text(sql + f" LIMIT {int(limit)}")):  # noqa: S608 - constant SQL
            problems.append(labels[name].format(*row))
    return problems
