"""Earning on imported sale lines: set-based, exactly once per line.

One pass over the lines computes every line's points in SQL (base rate × category × tier ×
birthday month × best promotion, in integers) into a temporary table; then one INSERT … SELECT
each writes the earn entries (one per report, account, member and day — a receipt-level
statement line), the per-line record ``loy_earn_line`` (primary key = the sale line and its
report: a second attempt on the same line fails instead of paying twice), the lots, and the balances.
No ORM object per line; the same statements serve one daily report, a catch-up over every
line not yet earned, and the 10-million-line benchmark.

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

from portal.extensions import db
from portal.models import utcnow

from . import tiers as tier_service
from .config import rules
from .ledger import SYSTEM, Actor, is_postgres
from .models import LoyBatch, LoyCategoryRate, LoyEntry, LoyPromotion, LoyTier

TMP = "loy_tmp_earn"


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
    if is_postgres():
        return f"CAST(date_trunc('month', {col}) + INTERVAL '{months} months' - INTERVAL '1 day' AS DATE)"
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
    if tiers:
        parts = []
        for i, (code, pct) in enumerate(tiers):
            params[f"tc{i}"], params[f"tp{i}"] = code, pct
            parts.append(f"WHEN :tc{i} THEN :tp{i}")
        tier = f"(CASE a.tier {' '.join(parts)} ELSE 100 END)"
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
    r = rules()
    now = utcnow()
    base = {**params, "now": now}
    from .tiers import base_tier_code

    if is_postgres():  # sorts and hashes of a big batch stay in memory (this transaction only)
        db.session.execute(text("SET LOCAL work_mem = '1GB'"))
    # 1. Every buyer gets a member account (idempotent; concurrent importers meet on the unique key).
    # No NOT EXISTS against loy_account here: on a freshly analysed empty table the planner picks a
    # nested loop that rescans the rows this very statement inserts (quadratic). The unique index
    # decides instead, one probe per buyer.
    db.session.execute(text(f"""
        INSERT INTO loy_account (kind, customer_id, balance, tier, status, created_at, updated_at)
        SELECT 'member', x.customer_id, 0, :base_tier, 'active', :now, :now
        FROM (SELECT DISTINCT l.customer_id FROM sale_line l WHERE {where}) x
        WHERE true
        ON CONFLICT (customer_id) DO NOTHING"""), {**base, "base_tier": base_tier_code()})  # noqa: S608
    step("accounts")

    # 2. Points per line into a temporary table (lines already earned are left out).
    expr, rule_params = _rule_sql()
    db.session.execute(text(f"DROP TABLE IF EXISTS {TMP}"))
    db.session.execute(text(f"CREATE TEMPORARY TABLE {TMP} (line_id BIGINT, report_id INTEGER, member_id INTEGER, "
                            "account_id INTEGER, sold_at DATE, points BIGINT)"))
    db.session.execute(text(f"""
        INSERT INTO {TMP} (line_id, report_id, member_id, account_id, sold_at, points)
        SELECT l.id, l.report_id, l.customer_id, COALESCE(a.pool_id, a.id), l.sold_at, {expr}
        FROM sale_line l
        JOIN customer c ON c.id = l.customer_id
        JOIN loy_account a ON a.customer_id = l.customer_id
        WHERE {where} AND NOT EXISTS (SELECT 1 FROM loy_earn_line el
                                       WHERE el.sale_line_id = l.id AND el.report_id = COALESCE(l.report_id, 0))"""),  # noqa: S608
        {**base, **rule_params})
    step("points per line")
    if is_postgres():
        db.session.execute(text(f"ANALYZE {TMP}"))
    lines, points = db.session.execute(text(f"SELECT COUNT(*), COALESCE(SUM(points), 0) FROM {TMP}")).one()  # noqa: S608
    if not lines:
        db.session.execute(text(f"DROP TABLE IF EXISTS {TMP}"))
        return None

    batch = LoyBatch(kind="earn", report_id=report_id, as_of=as_of or date.today(), lines=int(lines),
                     points=int(points), actor_label=actor.label, created_at=now)
    db.session.add(batch)
    db.session.flush()
    if is_postgres():
        lock_accounts_of(TMP)
    floor = db.session.execute(select(func.coalesce(func.max(LoyEntry.id), 0))).scalar_one()
    step("lock accounts")
    ids = {"batch": batch.id, "floor": floor, "now": now, "actor": actor.label}

    # 3. Earn entries: one per report, account, member and sale day (in account order, so the
    # account and member indexes grow at their ends); 4. one lot per entry; 5. the balances.
    entries_sql = f"""
        INSERT INTO loy_entry (account_id, member_id, kind, points, effective_on, expires_on, report_id, batch_id,
                               shortfall, reason, actor_label, created_at)
        SELECT account_id, member_id, 'earn', SUM(points), sold_at, {expiry_sql('sold_at', r.expiry_months)},
               report_id, :batch, 0, NULL, :actor, :now
        FROM {TMP} GROUP BY account_id, member_id, report_id, sold_at HAVING SUM(points) > 0
        ORDER BY account_id, sold_at"""  # noqa: S608
    if is_postgres():  # one statement: the new entries feed the lots and the balances without a re-read
        db.session.execute(text(f"""
            WITH ins AS ({entries_sql}
                         RETURNING id, account_id, member_id, points, effective_on, expires_on),
                 lots AS (INSERT INTO loy_lot (account_id, entry_id, member_id, points, remaining, earned_on, expires_on)
                          SELECT account_id, id, member_id, points, points, effective_on, expires_on FROM ins)
            UPDATE loy_account SET balance = loy_account.balance + s.p, updated_at = :now
            FROM (SELECT account_id, SUM(points) AS p FROM ins GROUP BY account_id) s
            WHERE loy_account.id = s.account_id"""), ids)  # noqa: S608
        step("entries, lots, balances")
    else:
        db.session.execute(text(entries_sql), ids)
        step("entries")
        db.session.execute(text("""
            INSERT INTO loy_lot (account_id, entry_id, member_id, points, remaining, earned_on, expires_on)
            SELECT account_id, id, member_id, points, points, effective_on, expires_on
            FROM loy_entry WHERE id > :floor AND batch_id = :batch ORDER BY account_id, expires_on"""), ids)
        step("lots")
        db.session.execute(text("""
            UPDATE loy_account SET balance = loy_account.balance + s.p, updated_at = :now
            FROM (SELECT account_id, SUM(points) AS p FROM loy_entry WHERE id > :floor AND batch_id = :batch
                  GROUP BY account_id) s
            WHERE loy_account.id = s.account_id"""), ids)
        step("balances")
    # 6. The per-line record: exactly once per sale line (primary key), 0-point lines included.
    db.session.execute(text(f"""
        INSERT INTO loy_earn_line (sale_line_id, report_id, points)
        SELECT line_id, COALESCE(report_id, 0), points FROM {TMP}"""), ids)  # noqa: S608
    step("earn lines")
    count, first, last = db.session.execute(text(
        "SELECT COUNT(*), MIN(id), MAX(id) FROM loy_entry WHERE id > :floor AND batch_id = :batch"), ids).one()
    batch.entries, batch.first_entry_id, batch.last_entry_id = int(count), first, last
    # 7. Upgrades at once for the members who just earned.
    if upgrade_tiers:
        tier_service.review(as_of or date.today(), members_sql=f"SELECT DISTINCT member_id FROM {TMP}")  # noqa: S608
        step("tiers")
    db.session.execute(text(f"DROP TABLE IF EXISTS {TMP}"))
    return batch


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
    from portal.models import SalesReport

    replaced = db.session.execute(select(SalesReport.id).where(SalesReport.status == "replaced")
                                  .order_by(SalesReport.id)).scalars().all()
    return sum(reverse_report(rid, actor=actor, on=on) for rid in replaced)
