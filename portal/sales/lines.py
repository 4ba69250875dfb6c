"""Sale-line browsing and export: one scoped, filtered query behind the page, the API and the files.

Built for ``sale_line`` at 10 million rows. Every filter is a condition an index can serve
(``(branch_id, sold_at)``, ``(partner_id, sold_at)``, ``(customer_id, sold_at)``): the scope
filter names the caller's branch / partner ids, a branch or customer search pins one index
range, and the default order (newest first) walks that range backwards. The totals stop
counting at ``COUNT_CAP`` like every list (``portal.pagination``), and the page's rows are read
by id after the window is found ("deferred join"), so a page never joins what it skips.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, case, func, null, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import True_

from ..customers.name_search import matching_ids
from ..customers.normalize import clean_text
from ..extensions import db
from ..models import Category, Customer, OrgUnit, Partner, Product, SaleLine
from ..pagination import COUNT_CAP, Page, page_of, up_to_cap
from .scope import customer_identity, sales_scope

DEFAULT_SORT = "-date"
SORTS = {"date": SaleLine.sold_at, "amount": SaleLine.amount}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CUSTOMER_CODE = re.compile(r"[Cc][0-9]{7,}")  # C + the zero-padded id: never also tried as a receipt


class SaleLineFilterError(ValueError):
    """Filter values that cannot be applied: ``errors`` maps parameter → message (UI language)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class SaleLineFilters:
    """The query-string filters of the page, the export and the API (all plain strings)."""

    date_from: str = ""
    date_to: str = ""
    branch: str = ""
    category: str = ""
    q: str = ""
    sort: str = DEFAULT_SORT

    @classmethod
    def from_args(cls, args: Any) -> SaleLineFilters:
        values = {f.name: clean_text(args.get(f.name) or "").strip()[:100] for f in fields(cls)}
        values["sort"] = values["sort"] if values["sort"].lstrip("-") in SORTS else DEFAULT_SORT
        return cls(**values)

    def as_args(self) -> dict[str, str]:
        """The filters for links (page, sort, export), without the default sort."""
        return {k: v for k, v in self.__dict__.items() if v and not (k == "sort" and v == DEFAULT_SORT)}

    def dates(self) -> tuple[date | None, date | None]:
        """``(date_from, date_to)``; :class:`SaleLineFilterError` when one is not a real date."""
        errors: dict[str, str] = {}
        parsed: dict[str, date | None] = {}
        for name in ("date_from", "date_to"):
            raw = getattr(self, name)
            parsed[name] = None
            if not raw:
                continue
            try:
                # Only YYYY-MM-DD: fromisoformat alone would also take 20240101 or 2024-W01-1.
                if not _ISO_DATE.fullmatch(raw):
                    raise ValueError(raw)
                parsed[name] = date.fromisoformat(raw)
            except ValueError:
                errors[name] = _("Not a date: %(value)s. Use the form YYYY-MM-DD.", value=raw)
        start, end = parsed["date_from"], parsed["date_to"]
        if start and end and start > end:
            errors["date_to"] = _("The end date is before the start date.")
        if errors:
            raise SaleLineFilterError(errors)
        return start, end


def search_clause(q: str, user: Any = None) -> ColumnElement[bool] | None:
    """``q``: a customer code (exact, any case), any part of a customer name (the start of it for a
    single character, which the suffix index would answer with a fifth of all customers), or a
    receipt number.

    The customer part is a small id list the ``(customer_id, sold_at)`` index serves; it looks
    only at customers whose identity ``user`` may see, so a name search cannot tell who bought
    a visible sale of a customer outside the viewer's scope. A receipt number has no index of
    its own, so it is only tried for ASCII terms with a digit that are not a customer code (never
    for a name or a code): cheap once the scope or a branch narrows the lines, a full scan for a
    global-scope search without other filters.
    """
    q = q.strip()
    if not q:
        return None
    if len(q) >= 2:
        customer = Customer.id.in_(matching_ids(q))  # "지호" finds 김지호, as on the customer list
    else:
        customer = Customer.name.startswith(q, autoescape=True)
    simple = q.isascii() and not any(ch.isspace() for ch in q)
    if simple:
        customer = or_(Customer.code == q.upper(), customer)
    conds = [SaleLine.customer_id.in_(select(Customer.id).where(customer, customer_identity(user)))]
    if simple and any(ch.isdigit() for ch in q) and not _CUSTOMER_CODE.fullmatch(q):
        conds.append(SaleLine.receipt_no == q)
    return or_(*conds)


def sale_line_query(user: Any, filters: SaleLineFilters, permission: str = "sales.view") -> Select:
    """The caller's sale lines (:func:`~portal.sales.scope.sales_scope`, in SQL) matching ``filters``,
    in list order.

    Raises :class:`SaleLineFilterError` for dates that are not dates. An unknown branch or
    category code simply matches nothing, like a branch outside the scope.
    """
    start, end = filters.dates()
    stmt = select(SaleLine).where(sales_scope(user, permission))
    if start:
        stmt = stmt.where(SaleLine.sold_at >= start)
    if end:
        stmt = stmt.where(SaleLine.sold_at <= end)
    if filters.branch:
        stmt = stmt.where(SaleLine.branch_id == select(OrgUnit.id).where(OrgUnit.code == filters.branch).scalar_subquery())
    if filters.category:
        stmt = stmt.where(SaleLine.category_id == select(Category.id).where(Category.code == filters.category)
                          .scalar_subquery())
    clause = search_clause(filters.q, user)
    if clause is not None:
        stmt = stmt.where(clause)
    key = filters.sort.lstrip("-")
    column = SORTS.get(key, SaleLine.sold_at)
    if filters.sort.startswith("-"):
        return stmt.order_by(column.desc(), SaleLine.id.desc())
    return stmt.order_by(column.asc(), SaleLine.id.asc())


# What a row shows: the codes and names beside the line. Aliases, so that a filter's own
# subquery on org_unit / category / customer is never correlated to the display joins.
_BRANCH = aliased(OrgUnit, name="line_branch")
_PARTNER = aliased(Partner, name="line_partner")
_CUSTOMER = aliased(Customer, name="line_customer")
_PRODUCT = aliased(Product, name="line_product")
_CATEGORY = aliased(Category, name="line_category")
_HEAD = (SaleLine.id, SaleLine.report_id, SaleLine.sold_at, SaleLine.receipt_no, SaleLine.quantity,
         SaleLine.unit_price, SaleLine.amount)
_TAIL = (
    SaleLine.branch_id, _BRANCH.code.label("branch_code"), _BRANCH.name.label("branch_name"),
    SaleLine.partner_id, _PARTNER.code.label("partner_code"), SaleLine.product_id, _PRODUCT.sku.label("product_sku"),
    _PRODUCT.name.label("product_name"), SaleLine.category_id, _CATEGORY.code.label("category_code"),
    _CATEGORY.name_ko.label("category_ko"), _CATEGORY.name_en.label("category_en"),
)
_WHO = (SaleLine.customer_id, _CUSTOMER.code, _CUSTOMER.name)
_WHO_LABELS = ("customer_id", "customer_code", "customer_name")
LINE_COLUMNS = (*_HEAD, *(c.label(n) for c, n in zip(_WHO, _WHO_LABELS, strict=True)), *_TAIL)


def line_columns(viewer: Any) -> tuple[Any, ...]:
    """``LINE_COLUMNS`` as ``viewer`` may see them: the customer's id, number and name are NULL
    on lines whose customer is outside the viewer's ``customer.view`` scope (a sale at the
    viewer's branch to another branch's customer shows the sale, never who bought)."""
    visible = customer_identity(viewer, _CUSTOMER)
    if isinstance(visible, True_):  # a global grant: plain columns
        return LINE_COLUMNS
    who = (case((visible, col), else_=null()).label(n) for col, n in zip(_WHO, _WHO_LABELS, strict=True))
    return (*_HEAD, *who, *_TAIL)


def with_columns(stmt: Select, viewer: Any = None) -> Select:
    """``stmt`` (a :func:`sale_line_query`) as rows of ``LINE_COLUMNS``, same filters and order,
    with the customer's identity masked per :func:`line_columns` (no viewer: masked on every line)."""
    rows = stmt.with_only_columns(*line_columns(viewer), maintain_column_froms=False).select_from(SaleLine)
    return (rows.join(_CUSTOMER, _CUSTOMER.id == SaleLine.customer_id)
            .outerjoin(_BRANCH, _BRANCH.id == SaleLine.branch_id)
            .outerjoin(_PARTNER, _PARTNER.id == SaleLine.partner_id)
            .outerjoin(_PRODUCT, _PRODUCT.id == SaleLine.product_id)
            .outerjoin(_CATEGORY, _CATEGORY.id == SaleLine.category_id))


@dataclass
class LinesPage:
    """One page of lines plus the totals of the whole filter."""

    page: Page
    amount: int | None  # sum of ``amount``; None when the count is capped (too many lines to add up)


def lines_page(stmt: Select, page_no: int, per_page: int, viewer: Any = None) -> LinesPage:
    """A page of :func:`sale_line_query` with its capped count and amount (two queries at most);
    ``viewer`` decides whose identity the rows show (:func:`line_columns`).

    The totals read at most ``COUNT_CAP + 1`` lines: past that the page says "10,000+ lines" and
    leaves the amount out rather than scan millions of rows for it.
    """
    sub = up_to_cap(stmt.order_by(None).with_only_columns(SaleLine.amount)).subquery()
    count, amount = db.session.execute(select(func.count(), func.coalesce(func.sum(sub.c.amount), 0))).one()
    capped = count > COUNT_CAP
    rows: list[Any] = []
    if capped or count > (page_no - 1) * per_page:
        window = page_of(stmt.with_only_columns(SaleLine.id), page_no, per_page)
        rows = list(db.session.execute(with_columns(stmt, viewer).where(SaleLine.id.in_(window))).all())
    page = Page(rows, page_no, per_page, min(count, COUNT_CAP), capped)
    return LinesPage(page, None if capped else int(amount))


def count_lines(stmt: Select, cap: int | None = None) -> int:
    """Matching lines, exactly (for the export's access log) or up to ``cap`` + 1 (enough to refuse)."""
    ids = stmt.order_by(None).with_only_columns(SaleLine.id)
    if cap is not None:
        ids = ids.limit(cap + 1)
    return db.session.execute(select(func.count()).select_from(ids.subquery())).scalar_one()


def category_label(row: Any, locale: str) -> str:
    """The category's name in the UI language (Korean for ``ko``, else English)."""
    return (row.category_ko if locale.startswith("ko") else row.category_en) or row.category_code or ""


EXPORT_COLUMNS = ("sold_at", "branch", "receipt_no", "customer_code", "customer_name", "partner", "product_sku",
                  "product_name", "category", "category_name", "quantity", "unit_price", "amount")


def export_rows(stmt: Select, locale: str, viewer: Any = None) -> Iterator[list[Any]]:
    """The export's rows in ``EXPORT_COLUMNS`` order, streamed from the database in chunks
    (customer identity as ``viewer`` may see it).

    The statement is built at the call, while the viewer's roles are loaded; the rows are read
    when the iterator is consumed (a CSV streams after the request's commit)."""
    return _stream(with_columns(stmt, viewer).execution_options(yield_per=2000), locale)


def _stream(query: Select, locale: str) -> Iterator[list[Any]]:
    for r in db.session.execute(query):
        yield [r.sold_at, r.branch_code, r.receipt_no, r.customer_code, r.customer_name, r.partner_code, r.product_sku,
               r.product_name, r.category_code, category_label(r, locale) if r.category_code else None,
               r.quantity, r.unit_price, r.amount]


def to_dict(r: Any) -> dict[str, Any]:
    """A row of :func:`line_columns` for the API: ids, codes, ISO date, amounts as integers."""
    return {
        "id": int(r.id), "report_id": r.report_id, "sold_at": r.sold_at.isoformat(), "receipt_no": r.receipt_no,
        "customer_id": r.customer_id, "customer_code": r.customer_code, "customer_name": r.customer_name,
        "customer_hidden": r.customer_code is None,  # a customer outside the viewer's scope: who stays unsaid
        "branch_code": r.branch_code, "partner_code": r.partner_code, "product_sku": r.product_sku,
        "product_name": r.product_name, "category_code": r.category_code,
        "quantity": int(r.quantity), "unit_price": int(r.unit_price), "amount": int(r.amount),
    }


def category_choices() -> list[Category]:
    """Every category, for the filter menu (the catalogue is small and not scoped)."""
    return list(db.session.execute(select(Category).order_by(Category.code)).scalars())
