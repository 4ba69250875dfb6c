"""Import one branch's daily sales report: the one service behind the web upload, API and CLI.

Whole columns are checked at once (pandas); the report, its new customers and products, its sale
lines, the quality flags and the audit event are written in ONE transaction with bulk inserts,
so a report is in the warehouse whole or not at all — a killed process leaves nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import bindparam, case, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import True_

from .. import audit
from ..extensions import db, sqlite_bulk_load
from ..models import IMPORT_MODES, Category, Customer, OrgUnit, SalesReport, utcnow
from ..security import has_global_permission, scope_filter, unit_scope
from . import bulk
from .matching import fetch_in, match_customers
from .reading import ReportFileError, column_labels, read_report
from .scope import customer_identity, writable_customers
from .service import already_filed_message
from .validation import MAX_LEN, Problems, check_columns, on_distinct

log = logging.getLogger(__name__)
SHOWN_ERRORS = 200  # messages returned to the caller; all of them go to the rejection report
STORED_REJECTIONS = 50_000
Progress = Callable[[str, float], None]  # (stage label, fraction done 0..1)


@dataclass
class ImportResult:
    status: str  # committed | rejected | duplicate | refused
    report_id: int | None = None
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    customers_created: int = 0
    customers_matched: int = 0
    customers_elsewhere: int = 0  # matched customers outside the uploader's scope: counted, never named
    duplicate_of: int | None = None
    existing_report_id: int | None = None  # refused: the day's committed report
    replaced_report_id: int | None = None
    branch_code: str | None = None
    report_date: date | None = None
    encoding: str | None = None
    message: str = ""
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    # For the events fired after the commit (not part of the answer): the new customers' ids and
    # the data-quality issues opened / resolved, as (field, opened) → customer ids.
    created_ids: list[int] = field(default_factory=list, repr=False)
    quality: dict[tuple[str, bool], set[int]] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "committed"

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["created_ids"], out["quality"]
        out["report_date"] = self.report_date.isoformat() if self.report_date else None
        return out

    def note_quality(self, field_name: str, opened: bool, ids: Any) -> None:
        self.quality.setdefault((field_name, opened), set()).update(int(i) for i in ids)


class _Rejected(Exception):
    def __init__(self, result: ImportResult):
        self.result = result


def import_report(data: bytes, filename: str, user: Any, *, mode: str = "strict", replace: bool = False,
                  source: str = "web", progress: Progress | None = None) -> ImportResult:
    """Validate and commit ``data`` as one daily report; see docs/sales-import.md.

    ``user`` is the uploader (their ``sales.import`` scope decides the branches), or ``None`` for
    the command line run by an operator (any branch). Never raises for bad input: the result
    says what happened and why.
    """
    step = progress or (lambda _label, _frac: None)
    if mode not in IMPORT_MODES:
        return ImportResult(status="rejected", message=_("Unknown mode %(mode)s: use strict or lenient.", mode=mode))
    file_hash = hashlib.sha256(data).hexdigest()
    dup = _committed_with_hash(file_hash, user)
    if dup is not None:
        db.session.rollback()
        return ImportResult(status="duplicate", duplicate_of=dup.id, report_id=dup.id, rows=dup.rows,
                            branch_code=dup.branch.code, report_date=dup.report_date,
                            message=_("This file was already imported as report #%(id)d (%(branch)s, %(day)s); "
                                      "nothing was imported again.", id=dup.id, branch=dup.branch.code,
                                      day=dup.report_date.isoformat()))
    step(_("Reading the file"), 0.02)
    try:
        parsed = read_report(data, filename)
    except ReportFileError as exc:
        db.session.rollback()
        return ImportResult(status="rejected", message=str(exc))
    db.session.rollback()  # end the read-only lookup so the import's own transaction can begin in bulk mode
    with sqlite_bulk_load():
        try:
            result = _import(parsed, data, filename, file_hash, user, mode, replace, source, step)
        except _Rejected as rej:
            result = rej.result
    if result.status == "committed":
        step(_("Done"), 1.0)
        _fire_committed(result, user, source)
    elif result.status in ("rejected", "refused"):
        _fire_refused(result, user, source)
    return result


def _committed_with_hash(file_hash: str, user: Any) -> SalesReport | None:
    stmt = select(SalesReport).where(SalesReport.file_hash == file_hash, SalesReport.status == "committed")
    if user is not None:
        stmt = stmt.where(scope_filter(user, "sales.view", SalesReport))
    return db.session.execute(stmt.limit(1)).scalar_one_or_none()


def _mode(series: pd.Series) -> Any:
    counts = series.dropna().value_counts()
    return counts.index[0] if len(counts) else None


def _import(parsed, data: bytes, filename: str, file_hash: str, user: Any, mode: str, replace: bool,
            source: str, step: Progress) -> ImportResult:
    df = parsed.frame
    for col in df.columns:
        df[col] = on_distinct(df[col], lambda u: u.str.strip())
    n = len(df)
    result = ImportResult(status="rejected", rows=n, encoding=parsed.encoding, ignored_columns=parsed.ignored_columns)
    problems = Problems(header_row=parsed.header_row, labels=column_labels(parsed.headers))
    step(_("Checking the rows"), 0.1)
    typed = check_columns(df, problems)

    # -- the report's branch and day ----------------------------------------------------------
    branch_codes = df["branch_code"].str.upper()
    branches = dict(db.session.execute(select(OrgUnit.code, OrgUnit.id).where(
        OrgUnit.kind == "branch", OrgUnit.code.in_(branch_codes[branch_codes != ""].unique().tolist()))).all())
    report_date = _mode(typed.report_date)
    known = branch_codes.map(branches)
    branch_code = _mode(branch_codes.where(known.notna()))
    if report_date is None:
        raise _Rejected(_file_refusal(result, _("No row has a valid sales date (report_date / 판매일자).")))
    if branch_code is None:
        raise _Rejected(_file_refusal(result, _("No row names a known branch (branch_code / 지점코드): %(codes)s.",
                                                codes=", ".join(sorted(branch_codes.unique()))[:200])))
    result.branch_code, result.report_date = branch_code, report_date
    branch_id = int(branches[branch_code])
    if user is not None and not _may_import(user, branch_id):
        raise _Rejected(_file_refusal(result, _("You may not import reports for branch %(code)s.", code=branch_code)))
    problems.add((branch_codes != "") & known.isna(), "branch_code", df["branch_code"], _("Unknown branch code."))
    problems.add(known.notna() & (branch_codes != branch_code), "branch_code", df["branch_code"],
                 _("One file holds one branch's report: this file is for %(code)s.", code=branch_code))
    other_day = typed.report_date.notna() & (typed.report_date != report_date)
    problems.add(other_day, "report_date", df["report_date"],
                 _("One file holds one day's report: this file is for %(day)s.", day=report_date.isoformat()))

    # -- categories and products ------------------------------------------------------------------
    category_id = _categories(df, problems)
    product_id, new_products = _products(df, typed, category_id, problems)

    # -- customers (only rows that passed everything else) ---------------------------------------------
    step(_("Matching customers"), 0.35)
    good = ~problems.bad_rows(n)
    no_key = (df["customer_code"] == "") & typed.phone.isna() & typed.email.isna()
    walk_in = pd.Series("", index=df.index, dtype=object)  # built only where needed: a million-row file has few
    walk_in[no_key] = df["customer_name"][no_key] + "\x1f" + df["phone"][no_key] + "\x1f" + df["email"][no_key]
    rows = pd.DataFrame({"customer_code": df["customer_code"], "phone_n": typed.phone, "email_n": typed.email,
                         "walk_in": walk_in})[good]
    matches = match_customers(rows)
    problems.add(matches.ambiguous.reindex(df.index, fill_value=False), "phone", df["phone"],
                 _("This phone or e-mail belongs to several customers; give the customer number."))
    new_key = matches.new_key.reindex(df.index)
    named = df["customer_name"] != ""
    keys_with_name = set(new_key[named & new_key.notna()])
    nameless = new_key.notna() & ~new_key.isin(keys_with_name)
    walk_in = new_key.str.startswith("w:", na=False)
    problems.add(nameless & ~walk_in, "customer_name", df["customer_name"],
                 _("A new customer needs a name (customer_name / 고객명)."))
    problems.add(nameless & walk_in, "customer_name", df["customer_name"],
                 _("The phone and e-mail are not valid, so no customer can be found: give the customer number, "
                   "or a name (customer_name / 고객명) to add a new customer."))

    errors = problems.frame()
    bad = problems.bad_rows(n)
    result.rejected = int(bad.sum())
    result.accepted = n - result.rejected
    result.error_count = len(errors)
    result.errors = [
        {"row": int(r.row_no), "column": r.column, "field": r.field, "value": r.value, "message": r.message}
        for r in errors.head(SHOWN_ERRORS).itertuples()
    ]
    if result.rejected and (mode == "strict" or result.accepted == 0):
        db.session.rollback()
        result.accepted = 0
        result.message = (_("%(bad)d of %(n)d rows have problems; nothing was imported (strict mode). Fix them and "
                            "upload again, or import in lenient mode to keep the good rows.", bad=result.rejected, n=n)
                          if mode == "strict" else _("No row could be imported."))
        _record_rejected(result, errors, filename, file_hash, len(data), user, mode, source, branch_id)
        return result

    step(_("Writing the report"), 0.5)
    return _commit(df, typed, good=~bad, matches=matches, new_key=new_key, category_id=category_id,
                   product_id=product_id, new_products=new_products, errors=errors, result=result,
                   meta={"filename": filename, "file_hash": file_hash, "size": len(data), "user": user, "mode": mode,
                         "source": source, "branch_id": branch_id, "replace": replace,
                         "header_row": parsed.header_row},
                   step=step)


def _may_import(user: Any, branch_id: int) -> bool:
    if has_global_permission(user, "sales.import"):
        return True
    return db.session.execute(select(OrgUnit.id).where(OrgUnit.id == branch_id,
                                                       unit_scope(user, "sales.import"))).first() is not None


def _file_refusal(result: ImportResult, message: str) -> ImportResult:
    db.session.rollback()
    result.message = message
    result.accepted = 0
    result.rejected = result.rows
    return result


def _categories(df: pd.DataFrame, problems: Problems) -> pd.Series:
    lookup: dict[str, int] = {}
    for cid, code, ko, en in db.session.execute(select(Category.id, Category.code, Category.name_ko,
                                                       Category.name_en)).all():
        for key in (code, ko, en):
            if key:
                lookup.setdefault(key.strip().lower(), cid)
    ids = df["category"].str.lower().map(lookup)
    problems.add((df["category"] != "") & ids.isna(), "category", df["category"],
                 _("Unknown category (known: %(known)s).", known=", ".join(sorted(
                     {c for c, in db.session.execute(select(Category.code)).all()}))[:200]))
    return ids


def _products(df: pd.DataFrame, typed, category_id: pd.Series, problems: Problems) -> tuple[pd.Series, pd.DataFrame]:
    skus = df["product_sku"]
    known = fetch_in("SELECT p.sku, p.id, p.category_id FROM product p", "p.sku",
                     skus[skus != ""].unique().tolist(), ("sku", "id", "category_id"))
    product_id = skus.map(dict(zip(known["sku"], known["id"], strict=True)))
    product_cat = skus.map(dict(zip(known["sku"], known["category_id"], strict=True)))
    unknown = (skus != "") & product_id.isna()
    problems.add(unknown & (df["product_name"] == ""), "product_sku", skus,
                 _("Unknown product code; give product_name (상품명) and category to add it."))
    problems.add(unknown & (df["product_name"] != "") & (df["category"] == ""), "category", df["category"],
                 _("A new product needs its category."))
    creatable = unknown & (df["product_name"] != "") & category_id.notna()
    new_products = pd.DataFrame({"sku": skus[creatable], "name": df["product_name"][creatable],
                                 "category_id": category_id[creatable],
                                 "unit_price": typed.unit_price[creatable]}).drop_duplicates("sku")
    category_id.update(category_id.where(category_id.notna(), product_cat))
    return product_id, new_products


def _record_rejected(result: ImportResult, errors: pd.DataFrame, filename: str, file_hash: str, size: int,
                     user: Any, mode: str, source: str, branch_id: int) -> None:
    """Keep the failed attempt and its row messages (no sale lines) for the status board."""
    report = SalesReport(branch_id=branch_id, report_date=result.report_date, status="rejected", file_name=filename[:255],
                         file_hash=file_hash, rows=result.rows, accepted=0, rejected=result.rejected,
                         uploaded_by_id=getattr(user, "id", None), mode=mode, source=source,
                         encoding=result.encoding, file_size=size, message=result.message[:500])
    db.session.add(report)
    db.session.flush()
    _store_rejections(report.id, errors)
    audit.record("sales_report.rejected", report, summary=f"{result.branch_code} {result.report_date}: "
                 f"{result.rejected}/{result.rows} rows refused ({mode})", actor=user)
    db.session.commit()
    result.report_id = report.id


def _store_rejections(report_id: int, errors: pd.DataFrame) -> None:
    if errors.empty:
        return
    part = errors.head(STORED_REJECTIONS)
    frame = pd.DataFrame({"report_id": report_id, "row_no": part["row_no"].astype("int64"),
                          "column": part["column"], "value": part["value"],
                          "message": part["message"].str.slice(0, 500)})
    bulk.insert_frame("sales_report_rejection", frame.rename(columns={"column": '"column"'}))


def _commit(df: pd.DataFrame, typed, *, good: np.ndarray, matches, new_key: pd.Series, category_id: pd.Series,
            product_id: pd.Series, new_products: pd.DataFrame, errors: pd.DataFrame, result: ImportResult,
            meta: dict[str, Any], step: Progress) -> ImportResult:
    user, branch_id = meta["user"], meta["branch_id"]
    existing = db.session.execute(select(SalesReport).where(
        SalesReport.branch_id == branch_id, SalesReport.report_date == result.report_date,
        SalesReport.status == "committed")).scalar_one_or_none()
    if existing is not None and not meta["replace"]:
        db.session.rollback()
        result.status, result.existing_report_id = "refused", existing.id
        result.accepted, result.rejected = 0, 0
        result.message = already_filed_message(result.branch_code, result.report_date, existing, meta["source"])
        return result
    old_customers: list[int] = []
    if existing is not None:
        old_customers = [r for r, in db.session.execute(
            text("SELECT DISTINCT customer_id FROM sale_line WHERE report_id = :r"), {"r": existing.id}).all()]
        db.session.execute(text("DELETE FROM sale_line WHERE report_id = :r"), {"r": existing.id})
        existing.status, existing.replaced_at = "replaced", utcnow()
        db.session.flush()
        result.replaced_report_id = existing.id

    report = SalesReport(branch_id=branch_id, report_date=result.report_date, status="committed",
                         file_name=meta["filename"][:255], file_hash=meta["file_hash"], rows=result.rows,
                         accepted=result.accepted, rejected=result.rejected, uploaded_by_id=getattr(user, "id", None),
                         mode=meta["mode"], source=meta["source"], encoding=result.encoding, file_size=meta["size"],
                         replaces_id=existing.id if existing is not None else None)
    db.session.add(report)
    db.session.flush()

    # New products (a handful per day).
    if not new_products.empty:
        ids = bulk.next_ids("product", len(new_products))
        frame = new_products.assign(id=ids, active=True)[["id", "sku", "name", "category_id", "unit_price", "active"]]
        frame["category_id"] = frame["category_id"].astype("int64")
        bulk.insert_frame("product", frame)
        product_id = product_id.fillna(df["product_sku"].map(dict(zip(frame["sku"], frame["id"], strict=True))))

    lines = pd.DataFrame({
        "customer_id": matches.customer_id.reindex(df.index), "new_key": new_key, "product_id": product_id,
        "category_id": category_id, "receipt_no": df["receipt_no"].where(df["receipt_no"] != "", None),
        "sold_at": typed.report_date, "quantity": typed.quantity, "unit_price": typed.unit_price,
        "amount": typed.amount,
    })[good]

    # New customers: one per key, with the first row's data.
    step(_("Creating new customers"), 0.6)
    created = _create_customers(df[good], typed, lines, branch_id, result, meta["header_row"])
    lines["customer_id"] = lines["customer_id"].fillna(lines["new_key"].map(created))
    lines["customer_id"] = lines["customer_id"].astype("int64")
    matched_ids = matches.existing["id"].astype("int64")
    result.customers_created = len(created)
    result.created_ids = sorted(created.values())
    result.customers_matched = int(lines.loc[lines["new_key"].isna(), "customer_id"].nunique())

    # Contact data: filled only on customers the uploader may write, offered to the owner of any
    # other customer, and never anything for an erased one (see portal.sales.scope).
    known = matches.existing
    used = sorted(set(lines.loc[lines["new_key"].isna(), "customer_id"].tolist()))
    access = _matched_access(user, used).set_index("id")
    result.customers_elsewhere = int((~access["visible"]).sum())
    offer = _report_offer(df[good], typed, lines)
    offer = offer[~offer["id"].isin(set(known.loc[known["erased"], "id"].tolist()))]
    writable = offer["id"].isin(access.index[access["writable"].astype(bool)])
    for field_name, ids in _fill_matched(offer[writable].reset_index(drop=True), known).items():
        result.note_quality(field_name, False, ids)
    _note_opened(result, _offer_to_owner(offer[~writable].reset_index(drop=True), known, result.branch_code))
    _flag_matched(df[good], typed, lines, known, offer[writable], result, meta["header_row"])

    step(_("Writing sale lines"), 0.7)
    partner = dict(zip(matched_ids, matches.existing["partner_id"], strict=True))
    out = pd.DataFrame({
        "report_id": report.id, "customer_id": lines["customer_id"], "branch_id": branch_id,
        "partner_id": pd.array(lines["customer_id"].map(partner), dtype="Int64"),
        "product_id": lines["product_id"].astype("int64"), "category_id": pd.array(lines["category_id"], dtype="Int64"),
        "receipt_no": lines["receipt_no"], "sold_at": lines["sold_at"], "quantity": lines["quantity"],
        "unit_price": lines["unit_price"], "amount": lines["amount"],
    })
    bulk.insert_frame("sale_line", out)
    _store_rejections(report.id, errors)

    step(_("Updating customer totals"), 0.9)
    if existing is not None:
        from .warehouse import refresh_customer_totals

        refresh_customer_totals(set(old_customers) | set(out["customer_id"].unique().tolist()))
    else:
        sums = out.groupby("customer_id").agg(v_spend=("amount", "sum")).reset_index().rename(
            columns={"customer_id": "id"})
        sums = sums[~sums["id"].isin(list(created.values()))]
        sums["v_day"] = result.report_date
        bulk.update_from_frame("customer", "id", sums, [
            "total_spend = total_spend + :v_spend",
            "last_purchase_on = CASE WHEN last_purchase_on IS NULL OR last_purchase_on < :v_day "
            "THEN :v_day ELSE last_purchase_on END"], types={"v_day": "date"})
    report.total_amount = int(out["amount"].sum())
    action = "sales_report.replaced" if existing is not None else "sales_report.imported"
    audit.record(action, report, actor=user, summary=(
        f"{result.branch_code} {result.report_date}: {result.accepted} lines, {result.customers_created} new "
        f"customers, {result.rejected} rows refused ({meta['mode']})"
        + (f"; replaces #{existing.id}" if existing is not None else "")))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        result.status = "refused"
        result.accepted = 0
        result.message = _("Another import for %(code)s on %(day)s finished at the same moment; nothing was "
                           "imported. Check the reports and try again.", code=result.branch_code,
                           day=result.report_date.isoformat())
        return result
    result.status, result.report_id = "committed", report.id
    result.message = _("Imported %(n)d sale lines for %(code)s on %(day)s.", n=result.accepted,
                       code=result.branch_code, day=result.report_date.isoformat())
    return result


def _fire_committed(result: ImportResult, user: Any, source: str) -> None:
    """After the commit, the add-ons react, each on its own (``portal.events.fire``): the new
    customers and the data-quality issues the report opened or resolved (one transaction, one
    savepoint per add-on), then the report itself (each add-on's reaction committed separately).
    A failure is kept and retried; nothing an add-on does undoes the report."""
    from ..customers.service import quality_changed
    from ..events import fire

    if result.created_ids:
        fire("portal_customers_created", customer_ids=result.created_ids, actor=user, source="import")
    for (field_name, opened), ids in sorted(result.quality.items()):
        quality_changed(sorted(ids), field_name, opened, actor=user, source="import")
    db.session.commit()
    fire("portal_sales_imported", report=db.session.get(SalesReport, result.report_id))


def _fire_refused(result: ImportResult, user: Any, source: str) -> None:
    """``portal_report_refused`` when a whole upload was refused (no report committed) for a known
    branch and day; ``reason``: ``rows`` (row problems), ``already_filed``, ``concurrent``, ``file``."""
    if result.branch_code is None or result.report_date is None:
        return  # unreadable file or no branch: nothing an add-on could attach the refusal to
    from ..events import fire

    db.session.rollback()
    branch_id = db.session.execute(select(OrgUnit.id).where(OrgUnit.code == result.branch_code)).scalar_one_or_none()
    if branch_id is None or (user is not None and not _may_import(user, branch_id)):
        return  # a branch the uploader may not file for: their attempt is not the branch's refusal
    if result.status == "refused":
        reason = "already_filed" if result.existing_report_id else "concurrent"
    else:
        reason = "rows" if result.error_count else "file"
    fire("portal_report_refused", branch_id=branch_id, report_date=result.report_date, reason=reason, actor=user,
         source=source)


def N_(message: str) -> str:
    """Marks a message for ``pybabel extract`` (a default keyword); translated where it is used."""
    return message


QUALITY_REASONS = {
    "phone": N_("No valid phone number."), "email": N_("No valid e-mail address."),
    "address": N_("Address is empty."), "postal_code": N_("Postal code is missing or not 5 digits."),
    "birth_date": N_("Birth date is not a real, plausible date."),
}
ADDRESS_TOO_LONG = N_("Address is longer than %(n)d characters.")
CONTACT_FIELDS = ("phone", "email", "address", "postal_code", "birth_date")


def _create_customers(rows: pd.DataFrame, typed, lines: pd.DataFrame, branch_id: int, result: ImportResult,
                      header_row: int) -> dict[str, int]:
    """Insert one customer per new key; returns key → id."""
    has_new = lines["new_key"].notna()
    if not has_new.any():
        return {}
    first = lines[has_new].drop_duplicates("new_key")
    idx = first.index
    named = rows.loc[lines.index[has_new]]
    name_by_key = named.assign(k=lines.loc[has_new, "new_key"])
    name_by_key = name_by_key[name_by_key["customer_name"] != ""].drop_duplicates("k").set_index("k")["customer_name"]
    keys = first["new_key"]
    ids = bulk.next_ids("customer", len(keys))
    codes = np.where(keys.str.startswith("c:"), keys.str.slice(2), [f"C{i:07d}" for i in ids])
    clash = fetch_in("SELECT c.code FROM customer c", "c.code", codes.tolist(), ("code",))
    if len(clash):
        raise _Rejected(_file_refusal(result, _("Customer number %(code)s is taken by another customer; nothing "
                                               "was imported.", code=clash["code"].iloc[0])))
    now = utcnow()
    sums = lines[has_new].groupby("new_key")["amount"].sum()
    frame = pd.DataFrame({
        "id": ids, "code": codes, "name": keys.map(name_by_key).values,
        "phone": typed.phone[idx].values, "email": typed.email[idx].values,
        "address": typed.address[idx].values,
        "postal_code": rows.loc[idx, "postal_code"].where(
            (rows.loc[idx, "postal_code"] != "") & (rows.loc[idx, "postal_code"].str.len() <= MAX_LEN["postal_code"]),
            None).values,
        "birth_date": typed.birth_date[idx].values, "branch_id": branch_id,
        "complaint": False, "created_at": now, "updated_at": now,
        "total_spend": keys.map(sums).astype("int64").values, "last_purchase_on": result.report_date,
    })
    bulk.insert_frame("customer", frame)
    raw = {f: rows.loc[idx, f].values for f in ("phone", "email", "address", "birth_date")}
    bad = {
        "phone": frame["phone"].isna().values, "email": frame["email"].isna().values,
        "address": frame["address"].isna().values, "postal_code": typed.postal_bad[idx].values,
        "birth_date": typed.birth_bad[idx].values,
    }
    issues = []
    where = _("sales report %(code)s %(day)s, row", code=result.branch_code, day=result.report_date.isoformat())
    row_no = idx.to_numpy() + header_row + 1
    for field_name, mask in bad.items():
        if not mask.any():
            continue
        reason = pd.Series(_(QUALITY_REASONS[field_name]), index=range(len(frame)))
        if field_name == "address":
            reason = reason.where(~typed.address_too_long[idx].values, _(ADDRESS_TOO_LONG, n=MAX_LEN["address"]))
        if field_name in raw:
            given = pd.Series(raw[field_name]) != ""
            reason = reason.where(~given, reason + " '" + pd.Series(raw[field_name]).str.slice(0, 80) + "' ("
                                  + where + " " + pd.Series(row_no).astype(str) + ")")
        issues.append(pd.DataFrame({"customer_id": frame["id"][mask], "field": field_name,
                                    "reason": reason[mask].str.slice(0, 255), "created_at": now}))
    if issues:
        frame_issues = pd.concat(issues, ignore_index=True)
        bulk.insert_frame("quality_issue", frame_issues)
        for field_name, part in frame_issues.groupby("field"):
            result.note_quality(str(field_name), True, part["customer_id"])
    return dict(zip(keys, (int(i) for i in ids), strict=True))


def _report_offer(rows: pd.DataFrame, typed, lines: pd.DataFrame) -> pd.DataFrame:
    """Per matched customer, the first valid value the report gives for each contact field."""
    idx = lines.index[lines["new_key"].isna()]
    offer = pd.DataFrame({"id": lines.loc[idx, "customer_id"].astype("int64"), "phone": typed.phone[idx],
                          "email": typed.email[idx], "address": typed.address[idx],
                          "postal_code": rows.loc[idx, "postal_code"].where(~typed.postal_bad[idx], None),
                          "birth_date": typed.birth_date[idx]})
    return offer.groupby("id").first().reset_index()  # first non-null per column


def _matched_access(user: Any, ids: list[int]) -> pd.DataFrame:
    """``id, visible, writable`` for matched customers: may the uploader see who they are
    (``customer.view``), may the report fill their contact data (``customer.edit``)? One scoped
    query per 5,000 ids; none for the command line or a global grant."""
    visible_cond, write_cond = customer_identity(user), writable_customers(user)
    if user is None or (isinstance(visible_cond, True_) and isinstance(write_cond, True_)):
        return pd.DataFrame({"id": ids, "visible": True, "writable": True})
    found: list[Any] = []
    stmt = select(Customer.id, case((visible_cond, 1), else_=0), case((write_cond, 1), else_=0))
    for start in range(0, len(ids), 5000):
        found += db.session.execute(stmt.where(Customer.id.in_(ids[start:start + 5000]))).all()
    return pd.DataFrame({"id": [r[0] for r in found], "visible": [bool(r[1]) for r in found],
                         "writable": [bool(r[2]) for r in found]})


def _note_opened(result: ImportResult, inserted: pd.DataFrame | None) -> None:
    if inserted is not None:
        for field_name, part in inserted.groupby("field"):
            result.note_quality(str(field_name), True, part["customer_id"])


def _fill_matched(offer: pd.DataFrame, existing: pd.DataFrame) -> dict[str, list[int]]:
    """Fill matched customers' empty contact fields from the report; never overwrite a value.
    Returns the customers whose open issues this resolved, by field.

    ``offer`` holds only customers the uploader may write (and none erased): see ``_commit``.
    """
    if offer.empty:
        return {}
    cur = existing.set_index("id").reindex(offer["id"]).reset_index()
    fill = {f: cur[f].isna().values & offer[f].notna().values for f in CONTACT_FIELDS}
    any_fill = np.logical_or.reduce([fill[f] for f in CONTACT_FIELDS])
    if not any_fill.any():
        return {}
    upd = pd.DataFrame({"id": offer["id"][any_fill].astype("int64")})
    for f in CONTACT_FIELDS:
        upd["v_" + f] = offer[f][any_fill].where(fill[f][any_fill], None).values
    bulk.update_from_frame("customer", "id", upd, [f"{f} = COALESCE({f}, :v_{f})" for f in CONTACT_FIELDS]
                           + ["updated_at = CURRENT_TIMESTAMP"], types={"v_birth_date": "date"})
    filled_fields = [f for f in CONTACT_FIELDS if f != "birth_date" and fill[f].any()]
    ids = upd["id"].tolist()
    if filled_fields and ids:
        return _resolve_filled(ids, filled_fields)
    return {}


def _flag_matched(rows: pd.DataFrame, typed, lines: pd.DataFrame, existing: pd.DataFrame, offer: pd.DataFrame,
                  result: ImportResult, header_row: int) -> None:
    """A matched customer the uploader may write (``offer``: their valid values from the report),
    whose empty field the report gives only a faulty value for (a mistyped phone, ``1985-02-30``):
    the sale is kept and the customer flagged, like a new one — unless an issue on that field is
    already open."""
    idx = lines.index[lines["new_key"].isna()]
    writable = set(offer["id"].tolist())
    if not writable or not len(idx):
        return
    filled = offer.set_index("id")
    bad = {"phone": typed.phone_bad[idx], "email": typed.email_bad[idx], "address": typed.address_too_long[idx],
           "postal_code": typed.postal_bad[idx] & (rows.loc[idx, "postal_code"] != ""),
           "birth_date": typed.birth_bad[idx]}
    ids = lines.loc[idx, "customer_id"].astype("int64")
    cur = existing.drop_duplicates("id").set_index("id")
    where = _("sales report %(code)s %(day)s, row", code=result.branch_code, day=result.report_date.isoformat())
    parts = []
    for f, mask in bad.items():
        mask = mask & ids.isin(writable)
        if not mask.any():
            continue
        hit = pd.DataFrame({"customer_id": ids[mask], "raw": rows.loc[mask[mask].index, f].str.slice(0, 80),
                            "row_no": (mask[mask].index.to_numpy() + header_row + 1)}).drop_duplicates("customer_id")
        # A stored value, or a valid one from another row of the report, leaves nothing to fix.
        hit = hit[cur.reindex(hit["customer_id"])[f].isna().values & filled.reindex(hit["customer_id"])[f].isna().values]
        if hit.empty:
            continue
        base = _(ADDRESS_TOO_LONG, n=MAX_LEN["address"]) if f == "address" else _(QUALITY_REASONS[f])
        parts.append(pd.DataFrame({"customer_id": hit["customer_id"].values, "field": f, "reason": (
            base + " '" + hit["raw"] + "' (" + where + " " + hit["row_no"].astype(str) + ")").str.slice(0, 255).values}))
    _note_opened(result, _insert_unless_open(parts, ("customer_id", "field")))


def _insert_unless_open(parts: list[pd.DataFrame], same: tuple[str, ...]) -> pd.DataFrame | None:
    """Insert the issues in ``parts`` (``customer_id, field, reason``) except those matching an open
    issue on the columns ``same``; one batched lookup of the customers' open issues. Returns the
    inserted issues."""
    if not parts:
        return None
    issues = pd.concat(parts, ignore_index=True)
    already = fetch_in("SELECT q.customer_id, q.field, q.reason FROM (SELECT customer_id, field, reason FROM "
                       "quality_issue WHERE resolved_at IS NULL) q", "q.customer_id",
                       issues["customer_id"].unique().tolist(), ("customer_id", "field", "reason"))
    if len(already):
        seen = set(zip(*(already[c] for c in same), strict=True))
        issues = issues[[k not in seen for k in zip(*(issues[c] for c in same), strict=True)]]
    if issues.empty:
        return None
    bulk.insert_frame("quality_issue", issues.assign(created_at=utcnow()))
    return issues


OFFER_REASONS = {
    "phone": N_("A sales report of %(branch)s gives the phone %(value)s: check it and add it if it is right."),
    "email": N_("A sales report of %(branch)s gives the e-mail %(value)s: check it and add it if it is right."),
    "address": N_("A sales report of %(branch)s gives the address %(value)s: check it and add it if it is right."),
    "postal_code": N_("A sales report of %(branch)s gives the postal code %(value)s: check it and add it if it "
                      "is right."),
    "birth_date": N_("A sales report of %(branch)s gives the birth date %(value)s: check it and add it if it "
                     "is right."),
}


def _offer_to_owner(offer: pd.DataFrame, existing: pd.DataFrame, branch_code: str) -> pd.DataFrame | None:
    """Customers the uploader may not write: what the report would have filled becomes an open
    issue in their owner's data-to-fix queue (the owner decides), never a write. An offer already
    open with the same text is not repeated, so a regular's daily sales do not pile up. Returns the
    issues opened."""
    if offer.empty:
        return None
    cur = existing.set_index("id").reindex(offer["id"]).reset_index()
    parts = []
    for f in CONTACT_FIELDS:
        mask = cur[f].isna().values & offer[f].notna().values
        if not mask.any():
            continue
        values = offer[f][mask].map(lambda v: v.isoformat() if isinstance(v, date) else str(v)).str.slice(0, 80)
        template = _(OFFER_REASONS[f], branch=branch_code, value="\x01")
        parts.append(pd.DataFrame({"customer_id": offer["id"][mask].astype("int64").values, "field": f,
                                   "reason": values.map(lambda v, t=template: t.replace("\x01", f"'{v}'"))
                                   .str.slice(0, 255).values}))
    return _insert_unless_open(parts, ("customer_id", "field", "reason"))


def _resolve_filled(ids: list[int], fields: list[str]) -> dict[str, list[int]]:
    """Open issues of fields that now hold a valid value are resolved (like ``check_quality``);
    returns the customers whose issues were resolved, by field."""
    now = utcnow()
    resolved: dict[str, list[int]] = {}
    for f in fields:
        cond = {"phone": "c.phone IS NOT NULL", "email": "c.email IS NOT NULL",
                "address": "c.address IS NOT NULL AND c.address <> ''", "postal_code": "c.postal_code IS NOT NULL"}[f]
        stmt = text(f"UPDATE quality_issue SET resolved_at = :now WHERE resolved_at IS NULL AND field = :f "  # noqa: S608
                    f"AND customer_id IN (SELECT c.id FROM customer c WHERE {cond} AND c.id IN :ids) "
                    "RETURNING customer_id")
        for start in range(0, len(ids), 5000):
            hit = db.session.execute(stmt.bindparams(bindparam("ids", expanding=True)),
                                     {"now": now, "f": f, "ids": ids[start:start + 5000]}).scalars().all()
            if hit:
                resolved.setdefault(f, []).extend(hit)
    return resolved
