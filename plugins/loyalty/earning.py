"""Earning on imported sale lines: set-based, exactly once per line.

One pass over the lines computes every line's points in SQL (base rate × category × tier ×
birthday month × best promotion, in integers) into a temporary table, and one GROUP BY makes of
them the entries to be (one per report, account, member and day — a receipt-level statement
line). Then one INSERT … SELECT each opens the accounts of new buyers, writes the earn entries,
their lots and the balances (on PostgreSQL one statement), and the per-line record
``loy_earn_line`` (primary key = the sale line and its report: a second attempt on the same line
fails instead of paying twice); the members who crossed a threshold move up at once. No ORM object
per line; the same statements serve one daily report, a catch-up over every line not yet earned,
and the 10-million-line benchmark (docs/performance.md). On PostgreSQL a first, very large batch
into an empty ledger loads it without its indexes and builds them once at the end
(``BULK_INDEXES``).

Points per line::

    (amount // krw_per_point) × category% × tier% × birthday% × promotion% // 100⁴

where each % is 100 when nothing applies, the tier is the member's tier *before* this import,
and the promotion is the highest one running on the sale day for the line's category (or for
everything). ``points_for_line`` is the same formula in Python, for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from portal.toolkit import db, utcnow

from . import tiers as tier_service
from .config import rules
from .ledger import SYSTEM, Actor, is_postgres
from .models import LoyBatch, LoyCategoryRate, LoyEntry, LoyPromotion, LoyTier

TMP = "loy_tmp_earn"  # points per line
GROUPS = "loy_tmp_earn_group"  # per report, account, member and day
NEW = "loy_tmp_earn_new"  # accounts this batch opened, with their balance


def points_for_line(amount: int, krw_per_point: int, category_pct: int = 100, tier_pct: int = 100,
                    birthday_pct: int = 100, promo_pct: int = 100) -> int:
    return (amount // krw_per_point) * category_pct * tier_pct * birthday_pct * promo_pct // 100_000_000


def _month(col: str) -> str:
    if is_postgres():
        return f"EXTRACT(MONTH FROM {col})"
    return f"CAST(strftime('%m', {col}) AS INTEGER)"


def expiry_sql(col: str, months: int) -> str:
    """Last day of the month ``months`` after ``col``'s month (same rule as ``config.expiry_for``)."""
    months = int(months) + 1
    if is_postgres():  # (on a timestamp, not the default timestamptz: no time zone arithmetic per row)
        return (f"CAST(date_trunc('month', CAST({col} AS TIMESTAMP)) + INTERVAL '{months} months' "
                "- INTERVAL '1 day' AS DATE)")
    return f"date({col}, 'start of month', '+{months} months', '-1 day')"


def _rule_sql() -> tuple[str, dict[str, Any]]:
    """The per-line points expression with every rule inlined as a CASE over bound parameters
    (the rule tables are tiny; inlining saves a join per line)."""
    r = rules()
    params: dict[str, Any] = {"krw": r.krw_per_point, "bday": r.birthday_pct}
    cats = db.session.execute(select(LoyCategoryRate.category_id, LoyCategoryRate.multiplier_pct)
                              .where(LoyCategoryRate.multiplier_pct != 100)).all()
    cat = "100"
    if cats:
        parts = []
        for i, (cid, pct) in enumerate(cats):
            params[f"cc{i}"], params[f"cp{i}"] = cid, pct
            parts.append(f"WHEN :cc{i} THEN :cp{i}")
        cat = f"(CASE l.category_id {' '.join(parts)} ELSE 100 END)"
    tiers = db.session.execute(select(LoyTier.code, LoyTier.multiplier_pct).where(LoyTier.multiplier_pct != 100)).all()
    tier = "100"
    if tiers:  # a buyer without an account yet (a LEFT JOIN's NULL) will open one at the base tier
        parts = []
        for i, (code, pct) in enumerate(tiers):
            params[f"tc{i}"], params[f"tp{i}"] = code, pct
            parts.append(f"WHEN :tc{i} THEN :tp{i}")
        params["tbase"] = tier_service.base_tier_code()
        tier = f"(CASE (CASE WHEN a.id IS NULL THEN :tbase ELSE a.tier END) {' '.join(parts)} ELSE 100 END)"
    promos = db.session.execute(select(LoyPromotion).where(LoyPromotion.active.is_(True))
                                .order_by(LoyPromotion.multiplier_pct.desc(), LoyPromotion.id)).scalars().all()
    promo = "100"
    if promos:
        parts = []
        for i, p in enumerate(promos):
            params[f"ps{i}"], params[f"pe{i}"], params[f"pp{i}"] = p.starts_on, p.ends_on, p.multiplier_pct
            cond = f"l.sold_at BETWEEN :ps{i} AND :pe{i}"
            if p.category_id is not None:
                params[f"pc{i}"] = p.category_id
                cond += f" AND l.category_id = :pc{i}"
            parts.append(f"WHEN {cond} THEN :pp{i}")
        promo = f"(CASE {' '.join(parts)} ELSE 100 END)"
    bday = (f"(CASE WHEN c.birth_date IS NOT NULL AND {_month('c.birth_date')} = {_month('l.sold_at')} "
            "THEN :bday ELSE 100 END)")
    expr = f"(CAST(l.amount AS BIGINT) / :krw) * {cat} * {tier} * {bday} * {promo} / 100000000"
    return expr, params


def earn_for_report(report_id: int, actor: Any = None, as_of: date | None = None) -> LoyBatch | None:
    """Points for one committed report's lines (the ``portal_sales_imported`` reaction)."""
    return earn_lines("l.report_id = :report_id", {"report_id": report_id}, report_id=report_id, actor=actor,
                      as_of=as_of)


def earn_pending(actor: Any = None, as_of: date | None = None, since: date | None = None,
                 step: Callable[[str], None] | None = None) -> LoyBatch | None:
    """Catch up: every sale line not earned yet (optionally sold on or after ``since``)."""
    if since is not None:
        return earn_lines("l.sold_at >= :since", {"since": since}, actor=actor, as_of=as_of, step=step)
    return earn_lines("1 = 1", {}, actor=actor, as_of=as_of, step=step)


def earn_lines(where: str, params: dict[str, Any], *, report_id: int | None = None, actor: Any = None,
               as_of: date | None = None, upgrade_tiers: bool = True,
               step: Callable[[str], None] | None = None) -> LoyBatch | None:
    """Earn on the sale lines ``where`` selects (SQL over ``sale_line l``) that have not earned
    yet. Returns the batch, or None when there was nothing to earn. Adds to the session; the
    caller commits (a failure rolls back everything, so a line is earned wholly or not at all).
    ``step(name)`` is called after each statement (the benchmark times them)."""
    step = step or (lambda _name: None)
    actor = Actor.of(actor) if actor is not None else SYSTEM
    now = utcnow()
    day = as_of or date.today()
    pg = is_postgres()
    if pg:  # sorts and hashes of a big batch stay in memory (this transaction only)
        db.session.execute(text("SET LOCAL work_mem = '1GB'"))
    _drop_temporary()
    # Decided before anything is read from the ledger, so the batch sees the ledger it will write.
    bulk = pg and _lock_empty_ledger(where, params)

    _points_per_line(where, {**params, "now": now})
    step("points per line")
    lines, points = _entry_groups()
    step("entry groups")
    if not lines:
        _drop_temporary()
        return None

    batch = LoyBatch(kind="earn", report_id=report_id, as_of=day, lines=int(lines), points=int(points),
                     actor_label=actor.label, created_at=now)
    db.session.add(batch)
    db.session.flush()
    p = {"batch": batch.id, "now": now, "actor": actor.label, "base_tier": tier_service.base_tier_code()}
    rebuild = _unindex_ledger() if bulk and lines >= BULK_LINES else {}
    if rebuild:
        step("unindexed")

    # The accounts that exist (a family pool, a returning buyer) are locked before anything else is
    # written — before this batch opens accounts, too: a batch that holds a new account uncommitted
    # while it waits for an existing one could deadlock with a batch opening the same customer's.
    # The ones this batch opens are its own.
    if pg and "loy_account" not in rebuild:  # (else this batch holds the whole table)
        lock_accounts_of(GROUPS)
    step("lock accounts")
    opened = _open_accounts(p, day, upgrade_tiers, bulk="loy_account" in rebuild,
                            ledger_empty="loy_entry" in rebuild)
    step("accounts")
    if opened and upgrade_tiers:
        tier_service.record_openings(opened, day)
        step("tiers of opened accounts")
    p["floor"] = db.session.execute(select(func.coalesce(func.max(LoyEntry.id), 0))).scalar_one()

    count, first, last = _write_entries(p, opened, rebuild, step)
    batch.entries, batch.first_entry_id, batch.last_entry_id = int(count), first, last
    # The per-line record: exactly once per sale line (primary key), 0-point lines included.
    db.session.execute(text(f"""
        INSERT INTO loy_earn_line (sale_line_id, report_id, points)
        SELECT line_id, COALESCE(report_id, 0), points FROM {TMP}"""))  # noqa: S608
    step("earn lines")

    if upgrade_tiers:  # upgrades at once for the members who just earned (those opened above: done)
        members = f"SELECT member_id FROM {GROUPS}"  # noqa: S608
        if "loy_account" in rebuild:
            members += " WHERE account_id IS NOT NULL"
        elif opened:
            members += f" g WHERE NOT EXISTS (SELECT 1 FROM {NEW} n WHERE n.customer_id = g.member_id)"  # noqa: S608
        tier_service.review(day, members_sql=members)
        step("tiers")
    if rebuild:
        for statements in rebuild.values():
            for statement in statements:
                db.session.execute(text(statement))
        # Their statistics, committed with the rows: until autovacuum came round, the planner would
        # take these tables for empty (a nested loop over a million accounts, for the next import).
        db.session.execute(text(f"ANALYZE {', '.join(rebuild)}"))
        step("indexes")
    _drop_temporary()
    return batch


def _points_per_line(where: str, params: dict[str, Any]) -> None:
    """1. Every line's points into ``TMP``, lines already earned left out. The member's tier (and
    family pool) come from their account; a buyer without one yet will open it at the base tier.
    While no line has earned at all (a first catch-up) there is nothing to leave out and the check
    is skipped: against an empty table the planner rescans it once per line. (The primary key of
    loy_earn_line, not this filter, is what makes a line earn once.)"""
    pg = is_postgres()
    expr, rule_params = _rule_sql()
    earned = ""
    if _has_rows("loy_earn_line"):
        earned = """AND NOT EXISTS (SELECT 1 FROM loy_earn_line el
                                    WHERE el.sale_line_id = l.id AND el.report_id = COALESCE(l.report_id, 0))"""
    if pg:  # a read of every line, as many rows out as in: worth sharing out among parallel workers
        db.session.execute(text("SET LOCAL parallel_tuple_cost = 0.01"))
    db.session.execute(text(f"""
        CREATE TEMPORARY TABLE {TMP} AS
        SELECT l.id AS line_id, l.report_id, l.customer_id AS member_id, COALESCE(a.pool_id, a.id) AS account_id,
               l.sold_at, {expr} AS points
        FROM sale_line l
        JOIN customer c ON c.id = l.customer_id
        LEFT JOIN loy_account a ON a.customer_id = l.customer_id
        WHERE {where} {earned}"""), {**params, **rule_params})  # noqa: S608
    if pg:  # the statements that follow move rows more than they compute: compiling them costs more
        db.session.execute(text("SET LOCAL parallel_tuple_cost TO DEFAULT"))
        db.session.execute(text("SET LOCAL jit = off"))


def _entry_groups() -> tuple[int, int]:
    """2. The entries to be, in ``GROUPS``: one per report, account (NULL: not opened yet), member
    and sale day. Returns the lines and points of the batch."""
    db.session.execute(text(f"""
        CREATE TEMPORARY TABLE {GROUPS} AS
        SELECT account_id, member_id, report_id, sold_at, COUNT(*) AS lines, CAST(SUM(points) AS BIGINT) AS points
        FROM {TMP} GROUP BY account_id, member_id, report_id, sold_at"""))  # noqa: S608
    if is_postgres():
        db.session.execute(text(f"ANALYZE {GROUPS}"))
    lines, points = db.session.execute(text(
        f"SELECT COALESCE(SUM(lines), 0), COALESCE(SUM(points), 0) FROM {GROUPS}")).one()  # noqa: S608
    return int(lines), int(points)


def _open_accounts(p: dict[str, Any], day: date, upgrade_tiers: bool, bulk: bool, ledger_empty: bool) -> str | None:
    """3. Every buyer gets a member account (concurrent importers meet on the unique key; no NOT
    EXISTS against loy_account: on a freshly analysed empty table the planner picks a nested loop
    that rescans the rows the statement itself inserts). On PostgreSQL a new account opens complete,
    one row version instead of three: with its balance — the points of its entries below, written
    in the same transaction — and, with ``upgrade_tiers``, at the tier those points qualify it for:
    the upgrade the review would make at once, recorded the same way (``tiers.record_openings``).
    Returns the table that holds the accounts opened (None on SQLite, where they open at 0 and the
    base tier, and the balance update and the review do the rest)."""
    if not is_postgres():
        db.session.execute(text(f"""
            INSERT INTO loy_account (kind, customer_id, balance, tier, status, created_at, updated_at)
            SELECT 'member', x.member_id, 0, :base_tier, 'active', :now, :now
            FROM (SELECT DISTINCT member_id FROM {GROUPS} WHERE account_id IS NULL) x
            WHERE true
            ON CONFLICT (customer_id) DO NOTHING"""), p)  # noqa: S608
        return None
    if upgrade_tiers:
        tier, since, tp = tier_service.opening(day, "(m.earned + COALESCE(b.earned, 0))")
    else:
        tier, since, tp = ":base_tier", "CAST(NULL AS DATE)", {}
    window = "AND g.sold_at > :tstart AND g.sold_at <= :tend" if "tstart" in tp else "AND false"
    before = _EARNED_BEFORE if "tstart" in tp and not ledger_empty else _NOTHING_BEFORE
    # Into an empty table this batch holds, each account takes its customer's id (the sequence is
    # moved past them): the entries then name their account without a join.
    own_id = ("id, ", "m.member_id, ") if bulk else ("", "")
    insert = f"""
        INSERT INTO loy_account ({own_id[0]}kind, customer_id, balance, tier, tier_since, status, created_at,
                                 updated_at)
        SELECT {own_id[1]}'member', m.member_id, m.balance, {tier}, {since}, 'active', :now, :now
        FROM (SELECT g.member_id, CAST(SUM(CASE WHEN g.points > 0 THEN g.points ELSE 0 END) AS BIGINT) AS balance,
                     CAST(SUM(CASE WHEN g.points > 0 {window} THEN g.points ELSE 0 END) AS BIGINT) AS earned
              FROM {GROUPS} g WHERE g.account_id IS NULL GROUP BY g.member_id) m
        LEFT JOIN ({before}) b ON b.member_id = m.member_id
        {"" if bulk else "ORDER BY m.member_id"}"""  # noqa: S608
    if bulk:
        db.session.execute(text(insert), {**p, **tp})
        db.session.execute(text(f"""
            SELECT setval(s.seq, GREATEST(COALESCE((SELECT MAX(member_id) FROM {GROUPS}), 1),
                                          COALESCE(pg_sequence_last_value(s.seq), 1)))
            FROM (SELECT {_SEQUENCE.format(table="loy_account")} AS seq) s"""))  # noqa: S608
        return "loy_account"
    # The accounts opened, not those another transaction opened meanwhile, are remembered in NEW.
    db.session.execute(text(f"CREATE TEMPORARY TABLE {NEW} (id INTEGER, customer_id INTEGER, "
                            "tier VARCHAR(20), tier_since DATE)"))
    db.session.execute(text(f"""
        WITH opened AS ({insert} ON CONFLICT (customer_id) DO NOTHING RETURNING id, customer_id, tier, tier_since)
        INSERT INTO {NEW} (id, customer_id, tier, tier_since)
        SELECT id, customer_id, tier, tier_since FROM opened"""), {**p, **tp})  # noqa: S608
    db.session.execute(text(f"ANALYZE {NEW}"))
    return NEW


def _write_entries(p: dict[str, Any], opened: str | None, rebuild: dict[str, list[str]],
                   step: Callable[[str], None]) -> tuple[int, int | None, int | None]:
    """4. The earn entries (in account order, so the account and member indexes grow at their
    ends — unless they are built afterwards), one lot per entry, and the balances of the accounts
    not opened just now. Returns the number of entries and their first and last id."""
    expires = expiry_sql("x.sold_at", rules().expiry_months)
    if opened == "loy_account":  # every account opened by this batch, with its customer's id
        account, joined = "g.member_id", f"{GROUPS} g"
    elif opened:  # (a buyer whose account another transaction opened meanwhile: not in NEW)
        account = f"COALESCE(g.account_id, n.id, {_ACCOUNT_OF_MEMBER})"
        joined = f"{GROUPS} g LEFT JOIN {NEW} n ON g.account_id IS NULL AND n.customer_id = g.member_id"
    else:
        account, joined = f"COALESCE(g.account_id, {_ACCOUNT_OF_MEMBER})", f"{GROUPS} g"
    # Into an empty ledger this batch holds, the entries are numbered in the statement (the sequence
    # is moved past them) and each lot takes the number of its entry: no sequence call per row.
    numbered = "loy_entry" in rebuild and "loy_lot" in rebuild
    if numbered:
        for key, table in (("first_entry", "loy_entry"), ("first_lot", "loy_lot")):
            p[key] = db.session.execute(text(f"SELECT nextval({_SEQUENCE.format(table=table)})")).scalar_one()
    entries_sql = f"""
        INSERT INTO loy_entry ({"id, " if numbered else ""}account_id, member_id, kind, points, effective_on,
                               expires_on, report_id, batch_id, shortfall, reason, actor_label, created_at)
        SELECT {":first_entry - 1 + row_number() OVER (), " if numbered else ""}x.account_id, x.member_id, 'earn',
               x.points, x.sold_at, {expires}, x.report_id, :batch, 0, NULL, :actor, :now
        FROM (SELECT {account} AS account_id, g.member_id, g.points, g.sold_at, g.report_id
              FROM {joined} WHERE g.points > 0) x
        {"" if "loy_entry" in rebuild else "ORDER BY x.account_id, x.sold_at"}"""  # noqa: S608
    if not is_postgres():
        db.session.execute(text(entries_sql), p)
        step("entries")
        db.session.execute(text("""
            INSERT INTO loy_lot (account_id, entry_id, member_id, points, remaining, earned_on, expires_on)
            SELECT account_id, id, member_id, points, points, effective_on, expires_on
            FROM loy_entry WHERE id > :floor AND batch_id = :batch ORDER BY account_id, expires_on"""), p)
        step("lots")
        db.session.execute(text("""
            UPDATE loy_account SET balance = loy_account.balance + s.p, updated_at = :now
            FROM (SELECT account_id, SUM(points) AS p FROM loy_entry WHERE id > :floor AND batch_id = :batch
                  GROUP BY account_id) s
            WHERE loy_account.id = s.account_id"""), p)
        step("balances")
        return db.session.execute(text(
            "SELECT COUNT(*), MIN(id), MAX(id) FROM loy_entry WHERE id > :floor AND batch_id = :batch"), p).one()
    # One statement: the new entries feed the lots and the balances without a re-read.
    balances = "" if opened == "loy_account" else f""",
        balances AS (UPDATE loy_account SET balance = loy_account.balance + s.p, updated_at = :now
                     FROM (SELECT ins.account_id, SUM(ins.points) AS p FROM ins
                           WHERE NOT EXISTS (SELECT 1 FROM {NEW} n WHERE n.id = ins.account_id)
                           GROUP BY ins.account_id ORDER BY ins.account_id) s
                     WHERE loy_account.id = s.account_id)"""  # noqa: S608
    count, first, last = db.session.execute(text(f"""
        WITH ins AS ({entries_sql}
                     RETURNING id, account_id, member_id, points, effective_on, expires_on),
        lots AS (INSERT INTO loy_lot ({"id, " if numbered else ""}account_id, entry_id, member_id, points, remaining,
                                      earned_on, expires_on)
                 SELECT {"id - :first_entry + :first_lot, " if numbered else ""}account_id, id, member_id, points,
                        points, effective_on, expires_on FROM ins){balances}
        SELECT COUNT(*), MIN(id), MAX(id) FROM ins"""), p).one()  # noqa: S608
    if numbered and count:
        for key, table in (("first_entry", "loy_entry"), ("first_lot", "loy_lot")):
            db.session.execute(text(f"SELECT setval({_SEQUENCE.format(table=table)}, :last)"),
                               {"last": p[key] + count - 1})
    step("entries, lots, balances")
    return count, first, last


# A first, very large batch (the catch-up over the history after the add-on is installed, or the
# benchmark) loads the ledger's tables, all still empty, without these indexes and builds each once
# at the end: one sort instead of millions of index insertions. The tables stay locked (ACCESS
# EXCLUSIVE) until the commit, and rebuilding a unique index checks its uniqueness over every row,
# so exactly-once holds as before; a failure rolls the indexes back with everything else.
BULK_LINES = 500_000
BULK_INDEXES = {  # (in the order the earning reads them: the lock statement names them so)
    "loy_earn_line": ("pk_loy_earn_line",),
    "loy_account": ("pk_loy_account", "uq_loy_account_customer_id"),
    "loy_entry": ("pk_loy_entry", "ix_loy_entry_account", "ix_loy_entry_member"),
    "loy_lot": ("pk_loy_lot", "ix_loy_lot_open", "ix_loy_lot_expiring"),
    "loy_tier_change": ("pk_loy_tier_change", "ix_loy_tier_change_customer_id", "ix_loy_tier_change_changed_on"),
}


def _has_rows(table: str) -> bool:
    return db.session.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None  # noqa: S608


def _lock_empty_ledger(where: str, params: dict[str, Any]) -> bool:
    """PostgreSQL, before a batch of at least ``BULK_LINES`` lines while the ledger is empty: lock
    every table of ``BULK_INDEXES`` (ACCESS EXCLUSIVE until the commit) and confirm they are still
    empty. Without waiting (NOWAIT): a lock that is not free at once means the ledger is in use —
    the batch then takes the ordinary path, and no reader queues behind a waiting exclusive lock,
    no deadlock with an import hook reading the tables in another order. The attempt runs in a
    savepoint, so a refusal releases whatever it had locked."""
    if any(_has_rows(table) for table in BULK_INDEXES):
        return False
    enough = db.session.execute(text(f"SELECT COUNT(*) FROM (SELECT 1 FROM sale_line l WHERE {where} LIMIT :n) x"),  # noqa: S608
                                {**params, "n": BULK_LINES}).scalar_one()
    if enough < BULK_LINES:
        return False
    savepoint = db.session.begin_nested()
    try:
        db.session.execute(text(f"LOCK TABLE {', '.join(BULK_INDEXES)} IN ACCESS EXCLUSIVE MODE NOWAIT"))
        empty = not any(_has_rows(table) for table in BULK_INDEXES)  # (filled before the lock?)
    except OperationalError:  # lock_not_available
        empty = False
    if not empty:
        savepoint.rollback()
        return False
    savepoint.commit()  # RELEASE SAVEPOINT: the locks stay with the transaction
    return True


def _unindex_ledger() -> dict[str, list[str]]:
    """Drop the indexes of ``BULK_INDEXES`` (their tables locked and empty: ``_lock_empty_ledger``).
    Returns, per table, the statements that rebuild them (their definitions as they are in the
    database)."""
    rebuild: dict[str, list[str]] = {}
    for table, names in BULK_INDEXES.items():
        statements = rebuild.setdefault(table, [])
        for name in names:
            constraint = db.session.execute(text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass) AND conname = :n"), {"t": table, "n": name}).scalar()
            if constraint is not None:
                db.session.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
                statements.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} {constraint}")
                continue
            index = db.session.execute(text(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = CAST(:t AS regclass) AND c.relname = :n"), {"t": table, "n": name}).scalar()
            if index is not None:
                db.session.execute(text(f"DROP INDEX {name}"))
                statements.append(index)
    if rebuild:  # the sorts of the rebuilds, in memory
        db.session.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
    return rebuild


# Points a member earned in the tier window before this batch (asked only for a member without an
# account yet, so nearly always none; counted as ``tiers.review`` counts them).
_EARNED_BEFORE = f"""SELECT e.member_id, SUM(e.points) AS earned FROM loy_entry e
    WHERE e.kind = 'earn' AND e.effective_on > :tstart AND e.effective_on <= :tend
      AND e.member_id IN (SELECT member_id FROM {GROUPS} WHERE account_id IS NULL)
      AND NOT EXISTS (SELECT 1 FROM loy_entry r WHERE r.reverses_id = e.id)
    GROUP BY e.member_id"""  # noqa: S608
_NOTHING_BEFORE = "SELECT CAST(NULL AS INTEGER) AS member_id, CAST(0 AS BIGINT) AS earned WHERE false"
# A member's account, for a buyer whose account another transaction opened while this batch ran.
_ACCOUNT_OF_MEMBER = "(SELECT COALESCE(a.pool_id, a.id) FROM loy_account a WHERE a.customer_id = g.member_id)"
_SEQUENCE = "CAST(pg_get_serial_sequence('{table}', 'id') AS regclass)"


def _drop_temporary() -> None:
    for table in (TMP, GROUPS, NEW):
        db.session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    if is_postgres():
        db.session.execute(text("SET LOCAL jit TO DEFAULT"))


def lock_accounts_of(table: str, where: str = "", params: dict[str, Any] | None = None,
                     table_lock_above: int = 20_000) -> None:
    """PostgreSQL: lock the accounts a batch will change, so it cannot deadlock with another batch
    or a transfer — in id order, or for a very large batch the whole table (one lock instead of a
    row lock per account; single-account operations wait for the batch's few seconds)."""
    count = db.session.execute(text(f"SELECT COUNT(DISTINCT account_id) FROM {table} {where}"), params or {}).scalar_one()  # noqa: S608
    if count > table_lock_above:
        db.session.execute(text("LOCK TABLE loy_account IN EXCLUSIVE MODE"))
    elif count:
        db.session.execute(text(f"""SELECT id FROM loy_account WHERE id IN (SELECT account_id FROM {table} {where})
                                    ORDER BY id FOR NO KEY UPDATE"""), params or {})  # noqa: S608


def report_earn_entries(report_id: int) -> list[int]:
    """Earn entries of a report not reversed yet, found through the batches that may hold them
    (the report's own, and catch-up batches) by primary-key range."""
    batches = db.session.execute(select(LoyBatch.id, LoyBatch.first_entry_id, LoyBatch.last_entry_id).where(
        LoyBatch.kind == "earn", LoyBatch.first_entry_id.is_not(None),
        (LoyBatch.report_id == report_id) | LoyBatch.report_id.is_(None))).all()
    rev = LoyEntry.__table__.alias("r")
    ids: list[int] = []
    for batch_id, first, last in batches:
        ids += db.session.execute(select(LoyEntry.id).where(
            LoyEntry.id.between(first, last), LoyEntry.batch_id == batch_id, LoyEntry.report_id == report_id,
            LoyEntry.kind == "earn", ~select(rev.c.id).where(rev.c.reverses_id == LoyEntry.id).exists())).scalars().all()
    return sorted(ids)


def reverse_report(report_id: int, actor: Any = None, on: date | None = None) -> int:
    """Reverse every earn entry of a replaced report (its lines are gone; the entries name it).
    A handful of entries per report, so one at a time through the ledger's own reversal."""
    from .ledger import reverse

    ids = report_earn_entries(report_id)
    for entry_id in ids:
        reverse(entry_id, f"report #{report_id} replaced", actor=actor, on=on)
    return len(ids)


def on_report_imported(report: Any) -> None:
    """``portal_sales_imported``: earn on the new lines first, then reverse the replaced report
    (so a corrected file re-credits before the old points are clawed back)."""
    if not rules().earn_on_import:
        return
    if report.status == "committed":
        earn_for_report(report.id)
    if report.replaces_id:
        reverse_report(report.replaces_id)


def reverse_replaced(actor: Any = None, on: date | None = None) -> int:
    """Catch-up for replaced reports whose earn entries were not reversed yet (a hook that failed)."""
    from portal.toolkit import SalesReport

    replaced = db.session.execute(select(SalesReport.id).where(SalesReport.status == "replaced")
                                  .order_by(SalesReport.id)).scalars().all()
    return sum(reverse_report(rid, actor=actor, on=on) for rid in replaced)
