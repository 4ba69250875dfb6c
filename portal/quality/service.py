"""Data quality: the data-to-fix queue, duplicate candidates and the audited merge.

Everything is scoped in SQL (``customer.edit`` for the queue, ``customer.merge`` for
duplicates and merges) and set-based: the queue's issues come in one query per page, duplicate
pairs come from ``GROUP BY key HAVING COUNT(*) > 1``, and a merge moves rows with one UPDATE per
table, never a loop over a customer's sale lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from .. import audit
from ..customers.normalize import clean_text
from ..customers.service import CustomerError, check_quality, household_changed, with_owner
from ..events import fire
from ..extensions import db, write_intent
from ..models import (
    QUALITY_FIELDS,
    Consent,
    Customer,
    CustomerAlias,
    OrgUnit,
    Partner,
    QualityIssue,
    SaleLine,
    utcnow,
)
from ..pagination import Page, page_of
from ..sales.warehouse import refresh_customer_totals
from ..security import has_global_permission, has_permission, scope_filter

QUEUE_PERMISSION = "customer.edit"
MERGE_PERMISSION = "customer.merge"

# -- the data-to-fix queue --------------------------------------------------------------------------


class FilterError(ValueError):
    """A filter value a strict caller (the API) refuses with 400."""


@dataclass
class QueueFilters:
    branch: str = ""
    field: str = ""

    @classmethod
    def from_args(cls, args: Any, strict: bool = False) -> QueueFilters:
        """Lenient (the page): an unknown field is dropped. Strict (the API): it raises."""
        branch = clean_text(args.get("branch") or "").strip().upper()[:20]
        field = clean_text(args.get("field") or "").strip()[:20]
        if field and field not in QUALITY_FIELDS:
            if strict:
                raise FilterError(f"field must be one of: {', '.join(QUALITY_FIELDS)}.")
            field = ""
        return cls(branch=branch, field=field)

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


_OWNER_BRANCH = aliased(OrgUnit, name="owner_branch")
_OWNER_PARTNER = aliased(Partner, name="owner_partner")
QUEUE_COLUMNS = (
    Customer.id, Customer.code, Customer.name, Customer.phone, Customer.email, Customer.address, Customer.postal_code,
    Customer.total_spend, Customer.last_purchase_on, _OWNER_BRANCH.code.label("branch_code"),
    _OWNER_BRANCH.name.label("branch_name"), _OWNER_PARTNER.code.label("partner_code"),
)
QUEUE_JOINS = ((_OWNER_BRANCH, _OWNER_BRANCH.id == Customer.branch_id),
               (_OWNER_PARTNER, _OWNER_PARTNER.id == Customer.partner_id))


def _open_issue(field: str = ""):
    conds = [QualityIssue.customer_id == Customer.id, QualityIssue.resolved_at.is_(None)]
    if field:
        conds.append(QualityIssue.field == field)
    return exists().where(*conds)


def _queue_conditions(user: Any, branch: str) -> tuple[list[Any], bool]:
    """Scope and branch conditions on ``customer`` for the queue, and whether any are needed.

    Erased (pseudonymized) customers are left out of the list: their contact data is gone on
    purpose. (Counts for HQ without a branch filter read ``quality_issue`` alone and rely on
    erasure resolving a customer's open issues.)
    """
    conds: list[Any] = []
    if not has_global_permission(user, QUEUE_PERMISSION):
        conds.append(scope_filter(user, QUEUE_PERMISSION, Customer))
    if branch:
        conds.append(Customer.branch_id == select(OrgUnit.id).where(OrgUnit.code == branch).scalar_subquery())
    return conds, bool(conds)


# Most valuable first. Ties newest first: ``total_spend, id`` both descending is one backward walk of
# ``ix_customer_value``, so a page costs a few hundred index entries, not a sort of every match.
QUEUE_ORDER = (Customer.total_spend.desc(), Customer.id.desc())


def queue_query(user: Any, filters: QueueFilters) -> Select:
    """Customers in the caller's ``customer.edit`` scope with an open issue, most valuable first."""
    conds, _ = _queue_conditions(user, filters.branch)
    return (select(Customer).where(*conds, Customer.pseudonymized_at.is_(None), _open_issue(filters.field))
            .order_by(*QUEUE_ORDER))


@dataclass
class QueuePage:
    page: Page
    issues: dict[int, list[Any]]  # customer id → its open issues (field, reason, created_at, id)
    counts: dict[str, int]  # field → customers with an open issue on it (branch filter applied)


def fix_queue(user: Any, filters: QueueFilters, page_no: int = 1, per_page: int = 50) -> QueuePage:
    """One page of the data-to-fix queue, its rows' open issues and the per-field counts.

    Three statements whatever the page size: the counts (per field and in total, exact, one pass
    over the open issues in scope), the page (its ids by a walk of ``ix_customer_value``, then
    those rows with their owner codes), and the page's open issues.
    """
    counts, total = _queue_counts(user, filters.branch)
    if filters.field:
        total = counts.get(filters.field, 0)
    stmt = queue_query(user, filters)
    window = page_of(stmt.with_only_columns(Customer.id), page_no, per_page)
    rows_stmt = stmt.with_only_columns(*QUEUE_COLUMNS, maintain_column_froms=False).select_from(Customer.__table__)
    for target, onclause in QUEUE_JOINS:
        rows_stmt = rows_stmt.outerjoin(target, onclause)
    rows = db.session.execute(rows_stmt.where(Customer.id.in_(window))).all() if total else []
    issues: dict[int, list[Any]] = {r.id: [] for r in rows}
    if issues:
        found = db.session.execute(
            select(QualityIssue.customer_id, QualityIssue.field, QualityIssue.reason, QualityIssue.created_at,
                   QualityIssue.id)
            .where(QualityIssue.customer_id.in_(list(issues)), QualityIssue.resolved_at.is_(None))
            .order_by(QualityIssue.customer_id, QualityIssue.created_at, QualityIssue.id)).all()
        for r in found:
            issues[r.customer_id].append(r)
    return QueuePage(page=Page(rows, page_no, per_page, total, False), issues=issues, counts=counts)


def _queue_counts(user: Any, branch: str = "") -> tuple[dict[str, int], int]:
    """({field: customers with an open issue on it}, customers with any open issue), in scope.

    One statement: the open issues in scope are read once (a materialized CTE) and counted twice.
    """
    conds, join = _queue_conditions(user, branch)
    open_issues = select(QualityIssue.customer_id, QualityIssue.field).where(QualityIssue.resolved_at.is_(None))
    if join:
        open_issues = open_issues.join(Customer, Customer.id == QualityIssue.customer_id).where(
            *conds, Customer.pseudonymized_at.is_(None))
    o = open_issues.cte("open_issues").prefix_with("MATERIALIZED", dialect="postgresql")
    distinct_customers = func.count(func.distinct(o.c.customer_id))
    rows = db.session.execute(union_all(
        select(o.c.field, distinct_customers).group_by(o.c.field),
        select(cast(null(), String), distinct_customers),
    )).all()
    counts = {f: n for f, n in rows if f is not None}
    total = next((n for f, n in rows if f is None), 0)
    return {f: counts[f] for f in QUALITY_FIELDS if counts.get(f)}, total


def field_counts(user: Any, branch: str = "") -> dict[str, int]:
    """Customers with an open issue per field, in scope (for the filter chips)."""
    return _queue_counts(user, branch)[0]


# -- duplicate candidates -----------------------------------------------------------------------------

# Keys two customers may share that make them likely the same person, in display order.
REASONS = ("phone", "email", "name_birth")
# A value shared by more customers than this is a placeholder (a store's own number, "none@…"),
# not a duplicate: its pairs would grow quadratically, so it is reported apart instead.
MAX_GROUP = 10
CROWDED_LIMIT = 20


@dataclass
class Candidate:
    a: Customer
    b: Customer
    reasons: list[str]


@dataclass
class CrowdedKey:
    reason: str
    value: str
    count: int


@dataclass
class CandidatePage(Page):
    crowded: list[CrowdedKey] = dc_field(default_factory=list)


def _key_columns(src: Any, reason: str) -> list[Any]:
    return {"phone": [src.c.phone], "email": [src.c.email], "name_birth": [src.c.name, src.c.birth_date]}[reason]


def _candidates_statement(user: Any, page_no: int, per_page: int) -> tuple[Select, Select]:
    """(page statement, count statement) for the caller's duplicate candidates.

    One statement does it all: per key a ``GROUP BY … HAVING COUNT(*) >= 2`` (materialized once),
    the pairs of every group of at most ``MAX_GROUP`` customers, one row per pair with a flag per
    shared key and a window count, and — in the same result — the crowded keys.

    HQ (global scope) groups whole indexes (``ix_customer_phone``, ``ix_customer_email``,
    ``ix_customer_name_birth``: index-only scans) and finds each group's members by index. A
    local scope (a store, a group) reads its customers once into a materialized CTE and does
    everything on that. Erased customers need no condition: erasure clears the keys' columns.
    """
    postgres = db.session.get_bind().dialect.name == "postgresql"
    cols = (Customer.id, Customer.phone, Customer.email, Customer.name, Customer.birth_date)
    whole_table = has_global_permission(user, MERGE_PERMISSION)
    if whole_table:
        src: Any = Customer.__table__
    else:
        src = (select(*cols).where(scope_filter(user, MERGE_PERMISSION, Customer)).cte("scoped")
               .prefix_with("MATERIALIZED", dialect="postgresql"))

    pair_selects, crowded_selects = [], []
    for reason in REASONS:
        keys = _key_columns(src, reason)
        groups = (select(*keys, func.count().label("n")).where(*(k.is_not(None) for k in keys)).group_by(*keys)
                  .having(func.count() >= 2).cte(f"g_{reason}").prefix_with("MATERIALIZED", dialect="postgresql"))
        small = [c for c in groups.c if c.key != "n"]
        a, b = src.alias(f"a_{reason}"), src.alias(f"b_{reason}")
        a_keys, b_keys = _key_columns(a, reason), _key_columns(b, reason)
        stmt = select(a.c.id.label("a_id"), b.c.id.label("b_id"), literal(reason).label("reason"))
        if len(keys) == 1 and whole_table and postgres:
            # ``= ANY(ARRAY(subquery))``: the planner cannot estimate how many keys HAVING keeps,
            # guesses ~10% and would hash-join a full scan; with an array it walks the index per key.
            small_keys = select(small[0]).where(groups.c.n <= MAX_GROUP).scalar_subquery()
            stmt = stmt.select_from(a).where(a_keys[0] == func.any(func.array(small_keys)))
        else:
            stmt = stmt.select_from(a).join(groups, and_(*(ak == gk for ak, gk in zip(a_keys, small, strict=True)),
                                                         groups.c.n <= MAX_GROUP))
        stmt = stmt.join(b, and_(b.c.id > a.c.id, *(ak == bk for ak, bk in zip(a_keys, b_keys, strict=True))))
        pair_selects.append(stmt)
        crowded_selects.append(select(
            literal(reason).label("reason"), cast(small[0], String).label("k1"),
            (small[1] if len(small) > 1 else cast(null(), Date)).label("k2"), groups.c.n)
            .where(groups.c.n > MAX_GROUP))

    pairs = union_all(*pair_selects).subquery("pairs")
    flags = [func.max(case((pairs.c.reason == r, 1), else_=0)).label(r) for r in REASONS]
    grouped = select(pairs.c.a_id, pairs.c.b_id, *flags).group_by(pairs.c.a_id, pairs.c.b_id).subquery("grouped")
    shared = grouped.c.phone + grouped.c.email + grouped.c.name_birth
    page = page_of(select(grouped, func.count().over().label("total"))
                   .order_by(shared.desc(), grouped.c.a_id, grouped.c.b_id), page_no, per_page).subquery("page")
    crowded = (union_all(*crowded_selects).subquery("crowded_all"))
    crowded_top = (select(crowded).order_by(crowded.c.n.desc(), crowded.c.reason, crowded.c.k1)
                   .limit(CROWDED_LIMIT)).subquery("crowded")
    none_int, none_str, none_date = cast(null(), Integer), cast(null(), String), cast(null(), Date)
    stmt = union_all(
        select(literal("pair").label("kind"), page.c.a_id, page.c.b_id, page.c.phone, page.c.email,
               page.c.name_birth, page.c.total, none_str.label("reason"), none_str.label("k1"),
               none_date.label("k2"), none_int.label("n")),
        select(literal("crowded"), none_int, none_int, none_int, none_int, none_int, none_int, crowded_top.c.reason,
               crowded_top.c.k1, crowded_top.c.k2, crowded_top.c.n),
    )
    return select(stmt.subquery("result")), select(func.count()).select_from(grouped)


def duplicate_candidates(user: Any, page_no: int = 1, per_page: int = 50) -> CandidatePage:
    """One page of duplicate-candidate pairs in the caller's ``customer.merge`` scope.

    Pairs sharing more keys come first, then by ids; ``a.id < b.id``. ``items`` are
    :class:`Candidate`; ``total`` is exact (the pairs are computed whole anyway), and ``crowded``
    lists the values too common to pair (placeholders worth fixing themselves).
    """
    stmt, count_stmt = _candidates_statement(user, page_no, per_page)
    rows = db.session.execute(stmt).all()
    pair_rows = sorted((r for r in rows if r.kind == "pair"),
                       key=lambda r: (-(r.phone + r.email + r.name_birth), r.a_id, r.b_id))
    crowded = sorted((CrowdedKey(r.reason, r.k1 if r.k2 is None else f"{r.k1} / {r.k2}", r.n)
                      for r in rows if r.kind == "crowded"), key=lambda k: (-k.count, k.reason, k.value))
    total = pair_rows[0].total if pair_rows else db.session.execute(count_stmt).scalar_one()
    ids = {i for r in pair_rows for i in (r.a_id, r.b_id)}
    people = {}
    if ids:
        people = {c.id: c for c in db.session.execute(with_owner(select(Customer).where(Customer.id.in_(ids))))
                  .unique().scalars()}
    items = [Candidate(people[r.a_id], people[r.b_id], [k for k in REASONS if getattr(r, k)]) for r in pair_rows]
    return CandidatePage(items, page_no, per_page, total, False, crowded=crowded)


# -- merge --------------------------------------------------------------------------------------------------

# Filled on the survivor when empty there. Address and postal code travel together (below).
FILL_FIELDS = ("phone", "email", "birth_date", "gender", "branch_id", "partner_id", "household_id")
# Bulk statements here leave the identity map alone; the merge expires it once at the end.
_NO_SYNC = {"synchronize_session": False}
SNAPSHOT_FIELDS = ("code", "name", "phone", "email", "address", "postal_code", "birth_date", "gender")


@dataclass
class MergeResult:
    survivor: Customer
    merged_code: str
    moved: dict[str, int]
    filled: dict[str, tuple[Any, Any]]


def merge_counts(customer_ids: list[int]) -> dict[int, dict[str, int]]:
    """Sale lines and consent records per customer, for the side-by-side merge page."""
    out = {i: {"sale_lines": 0, "consents": 0} for i in customer_ids}
    for model, key in ((SaleLine, "sale_lines"), (Consent, "consents")):
        for cid, n in db.session.execute(select(model.customer_id, func.count()).where(
                model.customer_id.in_(customer_ids)).group_by(model.customer_id)).all():
            out[cid][key] = n
    return out


def _planned_fill(survivor: Customer, duplicate: Customer) -> dict[str, Any]:
    """The survivor's empty fields that the duplicate can fill (the survivor's values win)."""
    values = {f: getattr(duplicate, f) for f in FILL_FIELDS
              if getattr(survivor, f) in (None, "") and getattr(duplicate, f) not in (None, "")}
    if not survivor.address and duplicate.address:
        # An address and its postal code describe one place: take both or neither.
        values["address"] = duplicate.address
        values["postal_code"] = duplicate.postal_code
    elif survivor.address and survivor.address == duplicate.address and not survivor.postal_code and duplicate.postal_code:
        values["postal_code"] = duplicate.postal_code
    values["complaint"] = bool(survivor.complaint or duplicate.complaint)
    notes = [n for n in (survivor.complaint_note, duplicate.complaint_note) if n]
    values["complaint_note"] = " / ".join(dict.fromkeys(notes))[:500] or None
    if duplicate.note and duplicate.note != survivor.note:
        values["note"] = f"{survivor.note}\n---\n{duplicate.note}" if survivor.note else duplicate.note
    return values


def merge_customers(user: Any, survivor: Customer, duplicate: Customer) -> MergeResult:
    """Merge ``duplicate`` into ``survivor`` in one savepoint: all or nothing.

    Moves the duplicate's sale lines, consent history and quality issues, fills the survivor's
    empty contact fields and owners, records the duplicate's code as an alias (imports quoting it
    land on the survivor), lets plugins move their rows (``portal_customers_merged``), deletes
    the duplicate, recomputes the survivor's totals and quality flags, and writes the audit
    event. The caller commits; any error rolls the whole merge back and re-raises.
    """
    if survivor.id == duplicate.id:
        raise CustomerError({"duplicate_id": _("A customer cannot be merged with itself.")})
    for c in (survivor, duplicate):
        if not has_permission(user, MERGE_PERMISSION, c):
            raise CustomerError({"duplicate_id": _("No such customer in your scope.")})
        if c.pseudonymized_at is not None:
            # Re-linking an erased person's history to a named customer would undo the erasure.
            raise CustomerError({"duplicate_id": _("%(code)s was erased on request and cannot be merged.", code=c.code)})
    duplicate_code = duplicate.code
    # The audit writes inside must not restart the transaction (SQLite, see ``write_intent``):
    # declare the write before the savepoint opens.
    write_intent()
    try:
        with db.session.begin_nested():
            return _merge(user, survivor, duplicate)
    except IntegrityError as exc:
        # A row still points at the duplicate (an add-on that does not implement
        # ``portal_customers_merged``): the savepoint is rolled back, nothing was merged.
        raise CustomerError({"duplicate_id": _("Other records still refer to %(code)s; nothing was merged. "
                                               "Ask an administrator which add-on keeps them.",
                                               code=duplicate_code)}) from exc


def _merge(user: Any, survivor: Customer, duplicate: Customer) -> MergeResult:
    s_id, d_id = survivor.id, duplicate.id
    # Lock both rows (in id order: no deadlock with a merge of the same pair the other way round)
    # and re-read them: a concurrent merge may have changed or removed one meanwhile.
    locked = db.session.execute(select(Customer).where(Customer.id.in_((s_id, d_id))).order_by(Customer.id)
                                .with_for_update().execution_options(populate_existing=True)).scalars().all()
    if len(locked) != 2:
        raise CustomerError({"duplicate_id": _("One of the customers was just merged or removed; reload the page.")})
    if not all(has_permission(user, MERGE_PERMISSION, c) for c in locked):  # moved out of scope meanwhile
        raise CustomerError({"duplicate_id": _("No such customer in your scope.")})
    snapshot = {f: getattr(duplicate, f) for f in SNAPSHOT_FIELDS}
    snapshot["branch"] = duplicate.branch.code if duplicate.branch else None
    snapshot["partner"] = duplicate.partner.code if duplicate.partner else None
    now, uid = utcnow(), getattr(user, "id", None)

    values = _planned_fill(survivor, duplicate)
    taken = {f for f in ("phone", "email", "address", "postal_code", "birth_date") if f in values}
    # Issues about a value that is thrown away are moot: the survivor's own issues on a field it
    # takes from the duplicate, and the duplicate's issues on every field the survivor keeps.
    resolve = update(QualityIssue).where(QualityIssue.resolved_at.is_(None)).values(resolved_at=now, resolved_by_id=uid)
    if taken:
        db.session.execute(resolve.where(QualityIssue.customer_id == s_id, QualityIssue.field.in_(taken)),
                           execution_options=_NO_SYNC)
    kept = [f for f in QUALITY_FIELDS if f not in taken]
    db.session.execute(resolve.where(QualityIssue.customer_id == d_id, QualityIssue.field.in_(kept)),
                       execution_options=_NO_SYNC)

    moved = {}
    for model, key in ((SaleLine, "sale_lines"), (Consent, "consents"), (QualityIssue, "quality_issues")):
        result = db.session.execute(update(model).where(model.customer_id == d_id).values(customer_id=s_id),
                                    execution_options=_NO_SYNC)
        moved[key] = result.rowcount
    db.session.execute(update(CustomerAlias).where(CustomerAlias.customer_id == d_id).values(customer_id=s_id),
                       execution_options=_NO_SYNC)
    db.session.execute(insert(CustomerAlias).values(code=duplicate.code, customer_id=s_id, merged_at=now,
                                                    merged_by_id=uid))

    filled = audit.diff(survivor, values)
    db.session.flush()
    # A strict event: an add-on that cannot move its rows raises, and the whole merge rolls back.
    fire("portal_customers_merged", survivor=survivor, merged_id=d_id)
    if "household_id" in filled:  # the survivor took the duplicate's household
        household_changed(survivor, *filled["household_id"], actor=user, source="merge")

    changes: dict[str, tuple[Any, Any]] = dict(filled)
    changes.update({f"merged.{k}": (v, None) for k, v in snapshot.items() if v is not None})
    changes.update({f"moved.{k}": (None, n) for k, n in moved.items()})
    summary = (f"{snapshot['code']} {snapshot['name']} → {survivor.code}: {moved['sale_lines']} sale lines, "
               f"{moved['consents']} consents, {moved['quality_issues']} quality issues")
    audit.record("customer.merged", survivor, summary=summary, changes=changes)
    # Under the duplicate's id too: its history page and audit searches by id say where it went.
    audit.record("customer.merged_away", duplicate, summary=f"{snapshot['code']} → {survivor.code}")
    db.session.flush()
    # Core delete (the ORM would try to null the moved children through its stale collections).
    # The duplicate object stays in the session, expired below: after a rollback it is usable again.
    db.session.execute(delete(Customer).where(Customer.id == d_id), execution_options=_NO_SYNC)

    # The bulk statements bypassed the identity map: reload what they changed (nothing is pending).
    db.session.expire_all()
    refresh_customer_totals([s_id])
    check_quality(survivor, user, source="merge")
    if filled:
        fire("portal_customer_changed", customer=survivor, changes=filled)
    db.session.flush()
    return MergeResult(survivor=survivor, merged_code=snapshot["code"], moved=moved, filled=filled)
