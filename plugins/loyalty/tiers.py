"""Tiers: qualification on points *earned* in a rolling window (not on the balance).

Upgrades happen at once, right after the points that cross a threshold are earned; downgrades
only in the period-end review (``portal loyalty tiers --period-end``), which also catches up any
upgrade. Every move is written to ``loy_tier_change``, and the tier is mirrored into the core's
``customer.tier`` through the core's tier service (``portal.toolkit.set_tiers``: validated,
audited, one statement) so lists and the overview show it. All set-based.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select, text

from portal.toolkit import Customer, OrgUnit, Partner, PartnerGroup, db, scope_filter, set_tiers

from .config import add_months, rules, tiers
from .models import LoyAccount, LoyEntry, LoyTier, LoyTierChange

TMP = "loy_tmp_tier"
ANALYZE_ABOVE = 50_000  # members in one review


def base_tier_code() -> str | None:
    return db.session.execute(select(LoyTier.code).order_by(LoyTier.threshold).limit(1)).scalar_one_or_none()


def window(as_of: date) -> tuple[date, date]:
    """(start, end]: the points earned after ``start`` up to and including ``end`` count."""
    return add_months(as_of, -rules().tier_window_months), as_of


def earned_in_window(customer_id: int, as_of: date) -> int:
    start, end = window(as_of)
    rev = LoyEntry.__table__.alias("r")
    return int(db.session.execute(
        select(func.coalesce(func.sum(LoyEntry.points), 0)).where(
            LoyEntry.member_id == customer_id, LoyEntry.kind == "earn", LoyEntry.effective_on > start,
            LoyEntry.effective_on <= end, ~select(rev.c.id).where(rev.c.reverses_id == LoyEntry.id).exists())
    ).scalar_one())


def qualified_tier(earned: int, ladder: list[LoyTier] | None = None) -> LoyTier | None:
    found = None
    for tier in ladder if ladder is not None else tiers():
        if earned >= tier.threshold:
            found = tier
    return found


def progress(customer_id: int, current: str | None, as_of: date | None = None) -> dict[str, Any]:
    """Earned in the window, the next tier and how far there is to go (for the points tab)."""
    as_of = as_of or date.today()
    ladder = tiers()
    earned = earned_in_window(customer_id, as_of)
    codes = [t.code for t in ladder]
    pos = codes.index(current) if current in codes else 0
    nxt = ladder[pos + 1] if pos + 1 < len(ladder) else None
    cur = ladder[pos] if ladder else None
    pct = 100
    if nxt is not None:
        span = max(1, nxt.threshold - (cur.threshold if cur else 0))
        pct = max(0, min(100, round(100 * (earned - (cur.threshold if cur else 0)) / span)))
    return {"earned": earned, "current": cur, "next": nxt, "to_go": max(0, nxt.threshold - earned) if nxt else 0,
            "pct": pct, "window_start": window(as_of)[0], "as_of": as_of, "qualified": qualified_tier(earned, ladder)}


def _cases(ladder: list[LoyTier], earned: str = "COALESCE(q.earned, 0)") -> tuple[str, str, str, dict[str, Any]]:
    """SQL for: earned → tier code, earned → rank, current tier code → rank (unknown = lowest)."""
    params: dict[str, Any] = {}
    code, rank = ["CASE"], ["CASE"]
    for i, tier in reversed(list(enumerate(ladder))):
        params[f"tt{i}"], params[f"tc{i}"] = tier.threshold, tier.code
        code.append(f"WHEN {earned} >= :tt{i} THEN :tc{i}")
        rank.append(f"WHEN {earned} >= :tt{i} THEN {i}")
    code.append("ELSE :tc0 END")
    rank.append("ELSE 0 END")
    old_rank = "CASE a.tier " + " ".join(f"WHEN :tc{i} THEN {i}" for i in range(len(ladder))) + " ELSE 0 END"
    return " ".join(code), " ".join(rank), old_rank, params


def review(as_of: date, *, members_sql: str | None = None, params: dict[str, Any] | None = None,
           allow_down: bool = False, reason: str = "earn") -> dict[str, int]:
    """Re-qualify members (all, or those ``members_sql`` selects: a SELECT of customer ids) on the
    window ending ``as_of``. Upgrades always; downgrades only with ``allow_down``. Idempotent:
    a second run with the same data changes nothing."""
    from portal.toolkit import utcnow

    ladder = tiers()
    if not ladder:
        return {"up": 0, "down": 0}
    start, end = window(as_of)
    code, new_rank, old_rank, p = _cases(ladder)
    p.update(params or {}, start=start, end=end, as_of=as_of, reason=reason, now=utcnow())
    members = members_a = ""
    if members_sql:  # materialised once (and analysed on PostgreSQL): the planner sees its real size
        db.session.execute(text("DROP TABLE IF EXISTS loy_tmp_members"))
        db.session.execute(text("CREATE TEMPORARY TABLE loy_tmp_members (member_id INTEGER PRIMARY KEY)"))
        sql = f"INSERT INTO loy_tmp_members (member_id) SELECT DISTINCT m.member_id FROM ({members_sql}) m"  # noqa: S608
        db.session.execute(text(sql + " WHERE m.member_id IS NOT NULL ORDER BY 1"), p)  # the key grows at its end
        count = db.session.execute(text("SELECT COUNT(*) FROM loy_tmp_members")).scalar_one()
        if not count:
            db.session.execute(text("DROP TABLE IF EXISTS loy_tmp_members"))
            return {"up": 0, "down": 0}
        if db.session.get_bind().dialect.name == "postgresql":
            # After a large batch the ledger's statistics may still describe it empty: a nested
            # loop per member would follow.
            db.session.execute(text("ANALYZE loy_tmp_members, loy_entry, loy_account" if count > ANALYZE_ABOVE
                                    else "ANALYZE loy_tmp_members"))
        members = "AND e.member_id IN (SELECT member_id FROM loy_tmp_members)"
        members_a = "AND a.customer_id IN (SELECT member_id FROM loy_tmp_members)"
    changed = "q.new_rank <> q.old_rank" if allow_down else "q.new_rank > q.old_rank"
    db.session.execute(text(f"DROP TABLE IF EXISTS {TMP}"))
    db.session.execute(text(f"CREATE TEMPORARY TABLE {TMP} (customer_id INTEGER, account_id INTEGER, "
                            "old_tier VARCHAR(20), new_tier VARCHAR(20), direction VARCHAR(4))"))
    db.session.execute(text(f"""
        INSERT INTO {TMP} (customer_id, account_id, old_tier, new_tier, direction)
        SELECT q.customer_id, q.account_id, q.old_tier, q.new_tier,
               CASE WHEN q.new_rank > q.old_rank THEN 'up' ELSE 'down' END
        FROM (SELECT a.customer_id, a.id AS account_id, a.tier AS old_tier, {code} AS new_tier,
                     {new_rank} AS new_rank, {old_rank} AS old_rank
              FROM loy_account a
              LEFT JOIN (SELECT e.member_id, SUM(e.points) AS earned FROM loy_entry e
                         WHERE e.kind = 'earn' AND e.effective_on > :start AND e.effective_on <= :end {members}
                           AND NOT EXISTS (SELECT 1 FROM loy_entry r WHERE r.reverses_id = e.id)
                         GROUP BY e.member_id) q ON q.member_id = a.customer_id
              WHERE a.kind = 'member' AND a.customer_id IS NOT NULL {members_a}) q
        WHERE {changed}"""), p)  # noqa: S608 - only our own fragments and bound parameters
    counts = dict(db.session.execute(text(f"SELECT direction, COUNT(*) FROM {TMP} GROUP BY direction")).all())  # noqa: S608
    if counts:
        _record(f"SELECT customer_id, account_id, old_tier, new_tier, direction FROM {TMP}", p)  # noqa: S608
    db.session.execute(text(f"DROP TABLE IF EXISTS {TMP}"))
    db.session.execute(text("DROP TABLE IF EXISTS loy_tmp_members"))
    return {"up": int(counts.get("up", 0)), "down": int(counts.get("down", 0))}


def _record(moves_sql: str, p: dict[str, Any], accounts: bool = True) -> None:
    """Write moves (``moves_sql``: customer_id, account_id, old_tier, new_tier, direction) to the
    history, the accounts (unless they hold the new tier already) and the mirror in
    ``customer.tier``; each in id order, so rows are visited (and indexes extended) page by page."""
    db.session.execute(text(f"""
        INSERT INTO loy_tier_change (customer_id, from_tier, to_tier, direction, reason, changed_on, created_at)
        SELECT m.customer_id, m.old_tier, m.new_tier, m.direction, :reason, :as_of, :now FROM ({moves_sql}) m
        ORDER BY m.customer_id"""), p)  # noqa: S608
    if accounts:
        db.session.execute(text(f"""
            UPDATE loy_account SET tier = m.new_tier, tier_since = :as_of
            FROM (SELECT account_id, new_tier FROM ({moves_sql}) x ORDER BY account_id) m
            WHERE loy_account.id = m.account_id"""), p)  # noqa: S608
    # The mirror, through the core (which rewrites a customer row only where it shows another tier:
    # on a full page the rewrite adds an entry to each of the customer table's indexes).
    set_tiers(text(f"SELECT customer_id, new_tier AS tier FROM ({moves_sql}) x"), source="loyalty",  # noqa: S608
              allowed=[t.code for t in tiers()], params=p)


def opening(as_of: date, earned: str) -> tuple[str, str, dict[str, Any]]:
    """For accounts a batch opens (PostgreSQL earning): SQL for the tier an account opens at and
    its ``tier_since`` — the tier its points earned in the window (``earned``, an SQL expression)
    qualify it for, i.e. the upgrade ``review`` would make at once, recorded by ``record_openings``.
    Parameters ``:tstart``/``:tend`` bound the window."""
    ladder = tiers()
    if not ladder:
        return "CAST(NULL AS VARCHAR)", "CAST(NULL AS DATE)", {}
    start, end = window(as_of)
    code, rank, _old, p = _cases(ladder, earned)
    return code, f"CASE WHEN {rank} > 0 THEN CAST(:opened_on AS DATE) END", {
        **p, "tstart": start, "tend": end, "opened_on": as_of}


def record_openings(table: str, as_of: date, reason: str = "earn") -> int:
    """History and mirror for the accounts in ``table`` (id, customer_id, tier, tier_since) that
    opened above the base tier (``tier_since`` set). Returns how many."""
    from portal.toolkit import utcnow

    p = {"base": base_tier_code(), "reason": reason, "as_of": as_of, "now": utcnow()}
    moves = f"""SELECT customer_id, id AS account_id, CAST(:base AS VARCHAR) AS old_tier, tier AS new_tier,
                       'up' AS direction FROM {table} WHERE tier_since IS NOT NULL"""  # noqa: S608
    count = db.session.execute(text(f"SELECT COUNT(*) FROM ({moves}) m"), p).scalar_one()  # noqa: S608
    if count:
        _record(moves, p, accounts=False)
    return int(count)


def history(customer_id: int, limit: int = 50) -> list[LoyTierChange]:
    return list(db.session.execute(select(LoyTierChange).where(LoyTierChange.customer_id == customer_id)
                                   .order_by(LoyTierChange.changed_on.desc(), LoyTierChange.id.desc())
                                   .limit(limit)).scalars())


def ladder_report(user: Any, months: int = 12, by: str = "branch", as_of: date | None = None) -> dict[str, Any]:
    """Moves up and down per month, by branch or partner group, for the customers in scope."""
    as_of = as_of or date.today()
    start = add_months(as_of.replace(day=1), -(months - 1))
    if by == "group":
        label = func.coalesce(PartnerGroup.code + " " + PartnerGroup.name, "—")
        stmt = (select(LoyTierChange.changed_on, label, LoyTierChange.direction, func.count())
                .join(Customer, Customer.id == LoyTierChange.customer_id)
                .outerjoin(Partner, Partner.id == Customer.partner_id)
                .outerjoin(PartnerGroup, PartnerGroup.id == Partner.group_id))
    else:
        label = func.coalesce(OrgUnit.code + " " + OrgUnit.name, "—")
        stmt = (select(LoyTierChange.changed_on, label, LoyTierChange.direction, func.count())
                .join(Customer, Customer.id == LoyTierChange.customer_id)
                .outerjoin(OrgUnit, OrgUnit.id == Customer.branch_id))
    stmt = (stmt.where(LoyTierChange.changed_on >= start, LoyTierChange.changed_on <= as_of,
                       scope_filter(user, "loyalty.view", Customer))
            .group_by(LoyTierChange.changed_on, label, LoyTierChange.direction))
    month_keys = [add_months(start, i).strftime("%Y-%m") for i in range(months)]
    per_month = {m: {"up": 0, "down": 0} for m in month_keys}
    per_key: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"up": 0, "down": 0})
    for day, key, direction, n in db.session.execute(stmt):
        month = day.strftime("%Y-%m")
        if month in per_month:
            per_month[month][direction] += int(n)
            per_key[(month, key)][direction] += int(n)
    rows = [{"month": m, "key": k, "up": v["up"], "down": v["down"]} for (m, k), v in sorted(per_key.items())]
    return {"months": month_keys, "per_month": per_month, "rows": rows, "by": by, "start": start, "as_of": as_of}


def distribution(user: Any) -> list[tuple[str, int]]:
    """How many customers in scope hold each tier now."""
    stmt = (select(LoyAccount.tier, func.count()).join(Customer, Customer.id == LoyAccount.customer_id)
            .where(LoyAccount.kind == "member", scope_filter(user, "loyalty.view", Customer))
            .group_by(LoyAccount.tier))
    counts = dict(db.session.execute(stmt).all())
    return [(t.code, int(counts.get(t.code, 0))) for t in tiers()]


def upgrade_one(customer_id: int, as_of: date, reason: str = "earn") -> str | None:
    """The single-customer form of an upgrade check (after a manual or API earn). Returns the
    new tier code when the customer moved up."""
    from portal.toolkit import utcnow

    acct = db.session.execute(select(LoyAccount).where(LoyAccount.customer_id == customer_id)).scalar_one_or_none()
    ladder = tiers()
    if acct is None or not ladder:
        return None
    codes = [t.code for t in ladder]
    target = qualified_tier(earned_in_window(customer_id, as_of), ladder)
    old_rank = codes.index(acct.tier) if acct.tier in codes else 0
    if target is None or codes.index(target.code) <= old_rank:
        return None
    db.session.add(LoyTierChange(customer_id=customer_id, from_tier=acct.tier, to_tier=target.code, direction="up",
                                 reason=reason, changed_on=as_of, created_at=utcnow()))
    acct.tier, acct.tier_since = target.code, as_of
    set_tiers({customer_id: target.code}, source="loyalty", allowed=codes)
    return target.code
