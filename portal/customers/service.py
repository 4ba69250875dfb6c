"""Customer rules: scoped queries, validated writes, consent, flags, household, export.

Every read goes through ``scope_filter``; every write names its writable fields (no mass
assignment) and leaves an audit event in the same transaction.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, exists, literal, literal_column, select, union_all
from sqlalchemy.orm import aliased, joinedload

from .. import audit
from ..exports import FORMULA_START, csv_chunks, neutralize  # noqa: F401  (neutralize: public here too)
from ..extensions import db
from ..models import (
    QUALITY_FIELDS,
    Consent,
    Customer,
    Household,
    OrgUnit,
    Partner,
    PartnerGroup,
    QualityIssue,
    utcnow,
)
from ..pagination import Page, paginate_rows
from ..security import has_permission, partner_scope, scope_filter, unit_scope
from .name_search import name_contains, name_or, starts_with
from .normalize import (
    clean_text,
    format_phone,
    normalize_email,
    normalize_phone,
    postal_code_valid,
    unstorable,
)

WRITABLE_FIELDS = ("name", "phone", "email", "address", "postal_code", "birth_date", "gender", "branch_code",
                   "partner_code", "note")
SORTS = {
    "name": Customer.name, "code": Customer.code, "created": Customer.created_at, "updated": Customer.updated_at,
}


class CustomerError(Exception):
    """Validation failure: ``errors`` maps field → message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# -- queries ------------------------------------------------------------------------------------


@dataclass
class CustomerFilters:
    q: str = ""
    branch: str = ""
    group: str = ""
    partner: str = ""  # a distributor's code: their own customers (the scope still applies)
    complaint: str = ""
    quality: str = ""
    sort: str = "name"

    @classmethod
    def from_args(cls, args: Any) -> CustomerFilters:
        return cls(**{f: clean_text(args.get(f) or "").strip()[:100] for f in cls.__dataclass_fields__})

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PHONE_SEPARATORS = re.compile(r"[\s\-().+/]")
_EMAILISH = re.compile(r"[A-Za-z0-9._%+\-]+@?[A-Za-z0-9.\-]*")


def search_clause(q: str):
    """Search on indexed columns.

    * customer code: exact, any case (``c0000023``);
    * name: any part of it, A–Z in any case (``지호`` finds 김지호, ``유환`` 이유환), through the
      suffix index (:mod:`.name_search`);
    * e-mail: prefix, when the query looks like the start of an address (``kim``, ``kim261@``);
    * phone: digits prefix, whatever the separators (``010-1234-5678``, ``010 1234``,
      ``(02) 123-4567``, ``+82 10-1234-5678`` — stored numbers are digits with a leading 0).
    """
    q = q.strip()
    if not q:
        return None
    conds = []
    if q.isascii() and not any(ch.isspace() for ch in q):
        # Codes are ASCII without spaces (C0000023): a Hangul query needs no OR on the code.
        conds.append(Customer.code == q.upper())
    if _EMAILISH.fullmatch(q) and any(ch.isalpha() for ch in q):
        conds.append(starts_with(Customer.email, q.lower()))
    digits = _PHONE_SEPARATORS.sub("", q)
    if len(digits) >= 3 and digits.isascii() and digits.isdigit():
        if digits.startswith("82"):
            digits = digits[2:] if digits[2:].startswith("0") else "0" + digits[2:]
        conds.append(starts_with(Customer.phone, digits))
    if not conds:
        return name_contains(q)
    return name_or(q, conds)


def customer_query(user: Any, filters: CustomerFilters, permission: str = "customer.view") -> Select:
    stmt = select(Customer).where(scope_filter(user, permission, Customer))
    clause = search_clause(filters.q)
    if clause is not None:
        stmt = stmt.where(clause)
    if filters.branch:
        stmt = stmt.where(Customer.branch_id == select(OrgUnit.id).where(OrgUnit.code == filters.branch).scalar_subquery())
    if filters.group:
        stmt = stmt.where(Customer.partner_id.in_(
            select(Partner.id).join(PartnerGroup, PartnerGroup.id == Partner.group_id).where(PartnerGroup.code == filters.group)))
    if filters.partner:
        stmt = stmt.where(Customer.partner_id == select(Partner.id).where(Partner.code == filters.partner.upper()).scalar_subquery())
    if filters.complaint == "1":
        stmt = stmt.where(Customer.complaint.is_(True))
    if filters.quality == "open":
        stmt = stmt.where(exists().where(QualityIssue.customer_id == Customer.id, QualityIssue.resolved_at.is_(None)))
    key = filters.sort.lstrip("-")
    column = SORTS.get(key, Customer.name)
    order = column.desc() if filters.sort.startswith("-") else column.asc()
    return stmt.order_by(order, Customer.id.desc() if filters.sort.startswith("-") else Customer.id)


def with_owner(stmt: Select) -> Select:
    return stmt.options(joinedload(Customer.branch), joinedload(Customer.partner))


def branch_choices(user: Any, permission: str = "customer.edit") -> list[OrgUnit]:
    return list(db.session.execute(_branch_choices_stmt(user, permission).with_only_columns(OrgUnit)).scalars())


def group_choices(user: Any, permission: str = "customer.view") -> list[PartnerGroup]:
    return list(db.session.execute(_group_choices_stmt(user, permission).with_only_columns(PartnerGroup)).scalars())


def _branch_choices_stmt(user: Any, permission: str) -> Select:
    return (select(literal("b").label("kind"), OrgUnit.code, OrgUnit.name)
            .where(OrgUnit.kind == "branch", OrgUnit.active.is_(True), unit_scope(user, permission)).order_by(OrgUnit.code))


def _group_choices_stmt(user: Any, permission: str) -> Select:
    visible = select(Partner.group_id).where(partner_scope(user, permission))
    return (select(literal("g").label("kind"), PartnerGroup.code, PartnerGroup.name)
            .where(PartnerGroup.id.in_(visible)).order_by(PartnerGroup.code))


def filter_choices(user: Any, permission: str = "customer.view") -> tuple[list[Any], list[Any]]:
    """(branches, partner groups) for the list's filter menus — ``branch_choices`` and
    ``group_choices`` in one round trip, as rows of ``code`` and ``name``."""
    stmt = union_all(_branch_choices_stmt(user, permission).order_by(None),
                     _group_choices_stmt(user, permission).order_by(None))
    rows = db.session.execute(stmt.order_by(literal_column("kind"), literal_column("code"))).all()
    return [r for r in rows if r.kind == "b"], [r for r in rows if r.kind == "g"]


# The list shows the owner's codes: outer joins to aliases, so that a filter's own subquery on
# org_unit / partner is never correlated to them.
_OWNER_BRANCH = aliased(OrgUnit, name="owner_branch")
_OWNER_PARTNER = aliased(Partner, name="owner_partner")
LIST_COLUMNS = (
    Customer.id, Customer.code, Customer.name, Customer.phone, Customer.email, Customer.complaint, Customer.tier,
    Customer.created_at, _OWNER_BRANCH.code.label("branch_code"), _OWNER_PARTNER.code.label("partner_code"),
)
LIST_JOINS = ((_OWNER_BRANCH, _OWNER_BRANCH.id == Customer.branch_id),
              (_OWNER_PARTNER, _OWNER_PARTNER.id == Customer.partner_id))


def list_page(stmt: Select, page_no: int, per_page: int) -> Page:
    """One page of a :func:`customer_query` as rows of ``LIST_COLUMNS`` (see ``paginate_rows``)."""
    return paginate_rows(stmt, page_no, per_page, key=Customer.id, columns=LIST_COLUMNS, joins=LIST_JOINS)


# -- validation and writes ------------------------------------------------------------------------


def _clean(data: dict[str, Any], user: Any, partial: bool, current: Customer | None) -> dict[str, Any]:
    """Turn submitted values into model values, collecting every error at once."""
    unknown = sorted(set(data) - set(WRITABLE_FIELDS))
    if unknown:
        raise CustomerError({f: _("This field cannot be set.") for f in unknown})
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}

    def text(field: str, max_len: int) -> str | None:
        value = data.get(field)
        if value is None:
            return None
        if not isinstance(value, str):
            errors[field] = _("Must be text.")
            return None
        if unstorable(value):
            errors[field] = _("Contains characters that are not allowed.")
            return None
        value = value.strip()
        if len(value) > max_len:
            errors[field] = _("At most %(n)d characters.", n=max_len)
        return value or None

    if "name" in data or not partial:
        name = text("name", 120)
        if not name:
            errors.setdefault("name", _("A name is required."))
        out["name"] = name
    if "phone" in data:
        raw = text("phone", 30)
        phone = normalize_phone(raw) if raw else None
        if raw and phone is None:
            errors["phone"] = _("Not a Korean phone number (e.g. 010-1234-5678).")
        out["phone"] = phone
    if "email" in data:
        raw = text("email", 254)
        email = normalize_email(raw) if raw else None
        if raw and email is None:
            errors["email"] = _("Not a valid e-mail address.")
        out["email"] = email
    if "address" in data:
        out["address"] = text("address", 255)
    if "postal_code" in data:
        raw = text("postal_code", 10)
        if raw and not postal_code_valid(raw):
            errors["postal_code"] = _("A postal code has 5 digits.")
        out["postal_code"] = raw
    if "birth_date" in data:
        raw = data.get("birth_date")
        if raw in (None, ""):
            out["birth_date"] = None
        elif isinstance(raw, date):
            out["birth_date"] = raw
        elif not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw.strip()):
            # Only YYYY-MM-DD: date.fromisoformat would also take 19900101, 1990-W01-1 or a JSON number.
            errors["birth_date"] = _("Use the form YYYY-MM-DD.")
        else:
            try:
                out["birth_date"] = date.fromisoformat(raw.strip())
            except ValueError:
                errors["birth_date"] = _("Use the form YYYY-MM-DD.")
        bd = out.get("birth_date")
        if bd and (bd > date.today() or bd.year < 1900):
            errors["birth_date"] = _("This birth date is not plausible.")
    if "gender" in data:
        g = text("gender", 1)
        if g and g not in ("F", "M"):
            errors["gender"] = _("Use F or M, or leave empty.")
        out["gender"] = g
    if "note" in data:
        out["note"] = text("note", 4000)
    if "branch_code" in data:
        code = text("branch_code", 20)
        if code and current is not None and current.branch is not None and code.upper() == current.branch.code:
            out["branch_id"] = current.branch_id  # unchanged: a co-owner may keep an owner outside their scope
        elif code:
            branch = db.session.execute(select(OrgUnit).where(
                OrgUnit.code == code.upper(), OrgUnit.kind == "branch", unit_scope(user, "customer.edit"))).scalar_one_or_none()
            if branch is None:
                errors["branch_code"] = _("No branch %(code)s in your scope.", code=code)
            else:
                out["branch_id"] = branch.id
        else:
            out["branch_id"] = None
        if (current is not None and current.branch_id and out.get("branch_id") != current.branch_id
                and "branch_code" not in errors and not _unit_in_scope(user, current.branch_id)):
            errors["branch_code"] = _("The owner branch is outside your scope; only its staff or HQ can change it.")
    if "partner_code" in data:
        code = text("partner_code", 20)
        if code and current is not None and current.partner is not None and code.upper() == current.partner.code:
            out["partner_id"] = current.partner_id  # unchanged (see branch_code)
        elif code:
            partner = db.session.execute(select(Partner).where(
                Partner.code == code.upper(), partner_scope(user, "customer.edit"))).scalar_one_or_none()
            if partner is None:
                errors["partner_code"] = _("No distributor %(code)s in your scope.", code=code)
            else:
                out["partner_id"] = partner.id
        else:
            out["partner_id"] = None
        if (current is not None and current.partner_id and out.get("partner_id") != current.partner_id
                and "partner_code" not in errors and not _partner_in_scope(user, current.partner_id)):
            errors["partner_code"] = _("The owner distributor is outside your scope; only their line or HQ can change it.")
    branch_id = out.get("branch_id", current.branch_id if current else None)
    partner_id = out.get("partner_id", current.partner_id if current else None)
    if not errors and branch_id is None and partner_id is None:
        errors["branch_code"] = _("A customer needs an owner branch or distributor.")
    if errors:
        raise CustomerError(errors)
    return out


def _unit_in_scope(user: Any, unit_id: int) -> bool:
    return db.session.execute(select(OrgUnit.id).where(OrgUnit.id == unit_id, unit_scope(user, "customer.edit"))).first() is not None


def _partner_in_scope(user: Any, partner_id: int) -> bool:
    return db.session.execute(select(Partner.id).where(Partner.id == partner_id,
                                                       partner_scope(user, "customer.edit"))).first() is not None


def _placeholder_code() -> str:
    """Unique until the row has its id; then the code becomes ``C`` + the zero-padded id.

    (Guessing ``max(id) + 1`` up front collides when two requests create at once on PostgreSQL.)
    """
    return "new-" + secrets.token_hex(12)


def _fire_changed(customer: Customer, changes: dict[str, Any]) -> None:
    """``portal_customer_changed`` in the change's transaction, each add-on in its own savepoint."""
    from ..events import fire

    fire("portal_customer_changed", customer=customer, changes=changes)


def request_source() -> str:
    """How the current change came in, for events' ``source``: ``api``, ``web`` or ``cli``."""
    from ..events import request_source as source

    return source()


def create_customer(user: Any, data: dict[str, Any], *, source: str | None = None) -> Customer:
    """Create a customer (web form or API: ``source`` defaults to which one the request is) and
    tell the add-ons (``portal_customer_changed`` and ``portal_customers_created``)."""
    from ..events import fire

    values = _clean(data, user, partial=False, current=None)
    customer = Customer(code=_placeholder_code(), **values)
    db.session.add(customer)
    db.session.flush()
    customer.code = f"C{customer.id:07d}"
    check_quality(customer, user)
    changes = {k: (None, v) for k, v in values.items() if v is not None}
    audit.record("customer.created", customer, summary=customer.code, changes=changes)
    _fire_changed(customer, changes)
    fire("portal_customers_created", customer_ids=[customer.id], actor=user, source=source or request_source())
    return customer


def update_customer(user: Any, customer: Customer, data: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    values = _clean(data, user, partial=True, current=customer)
    changes = audit.diff(customer, values)
    if changes:
        check_quality(customer, user, fields={k for k in changes} & {"phone", "email", "address", "postal_code"})
        audit.record("customer.updated", customer, summary=customer.code, changes=changes)
        _fire_changed(customer, changes)
    return changes


# -- data quality, complaint, consent, household ----------------------------------------------------


def check_quality(customer: Customer, user: Any = None, fields: set[str] | None = None, *,
                  source: str | None = None) -> None:
    """Open or resolve automatic quality issues for contact fields (Samsung's rule); each field
    opened or resolved is a ``portal_quality_changed`` event."""
    checks = {
        "phone": (customer.phone is None, _("No valid phone number.")),
        "email": (customer.email is None, _("No valid e-mail address.")),
        "address": (not customer.address, _("Address is empty.")),
        "postal_code": (not postal_code_valid(customer.postal_code), _("Postal code is missing or not 5 digits.")),
    }
    changed: list[tuple[str, bool]] = []
    for field, (bad, reason) in checks.items():
        if fields is not None and field not in fields:
            continue
        open_issues = [q for q in customer.quality_issues if q.field == field and q.resolved_at is None]
        if bad and not open_issues:
            customer.quality_issues.append(QualityIssue(field=field, reason=reason,
                                                        created_by_id=getattr(user, "id", None)))
            changed.append((field, True))
        elif not bad and open_issues:
            # Every open issue of a field that now holds a valid value: the automatic one and any
            # offer from another branch's sales report (portal.sales.importer) alike.
            for issue in open_issues:
                issue.resolved_at = utcnow()
                issue.resolved_by_id = getattr(user, "id", None)
            changed.append((field, False))
    for field, opened in changed:
        quality_changed([customer.id], field, opened, actor=user, source=source or request_source())


def quality_changed(customer_ids: list[int], field: str, opened: bool, *, actor: Any, source: str) -> None:
    """``portal_quality_changed`` (in the change's transaction, each add-on in its own savepoint)."""
    if not customer_ids:
        return
    from ..events import fire

    db.session.flush()  # the issue rows exist before any add-on looks
    fire("portal_quality_changed", customer_ids=list(customer_ids), field=field, opened=opened, actor=actor,
         source=source)


def flag_quality(user: Any | None, customer: Customer, field: str, reason: str, *, source: str | None = None,
                 announce: bool = True) -> QualityIssue:
    """Open a data-quality issue on ``customer``'s ``field`` — the one way an issue is opened.

    ``user`` is the staff member who found it, or ``None`` for the system (messaging after a hard
    bounce): then no ``created_by``, and the audit line ends ", by <source>" so the trail says who
    found it. ``source`` defaults to how the request came in. ``announce=False`` leaves
    ``portal_quality_changed`` to a caller that fires it once for a whole batch after committing.
    """
    if field not in QUALITY_FIELDS:
        raise CustomerError({"field": _("Unknown field.")})
    reason = clean_text(reason or "").strip()
    if not reason:
        raise CustomerError({"reason": _("Say why the data is wrong.")})
    issue = QualityIssue(customer_id=customer.id, field=field, reason=reason[:255],
                         created_by_id=user.id if user is not None else None)
    db.session.add(issue)
    by = f", by {source}" if user is None and source else ""
    audit.record("customer.quality_flagged", customer, summary=f"{field}: {reason[:200]}{by}")
    if announce:
        quality_changed([customer.id], field, True, actor=user, source=source or request_source())
    return issue


def resolve_quality(user: Any, customer: Customer, issue_id: int) -> None:
    issue = next((q for q in customer.quality_issues if q.id == issue_id and q.resolved_at is None), None)
    if issue is None:
        raise CustomerError({"issue": _("No such open issue.")})
    issue.resolved_at, issue.resolved_by_id = utcnow(), user.id
    audit.record("customer.quality_resolved", customer, summary=f"{issue.field}: {issue.reason}")
    quality_changed([customer.id], issue.field, False, actor=user, source=request_source())


def set_complaint(user: Any, customer: Customer, complaint: bool, note: str = "") -> None:
    changes = audit.diff(customer, {"complaint": complaint, "complaint_note": clean_text(note or "").strip()[:500] or None})
    if changes:
        audit.record("customer.complaint", customer, summary=customer.code, changes=changes)
        _fire_changed(customer, changes)


def current_consents(customer: Customer) -> dict[tuple[str, str], Consent]:
    """Newest record per (channel, purpose): see :func:`portal.contact.service.current_consents`."""
    from ..contact.service import current_consents as current

    return current(customer)


def record_consent(user: Any, customer: Customer, channel: str, purpose: str, granted: bool, method: str,
                   note: str = "") -> Consent:
    """A consent given or withdrawn through a staff page: :func:`portal.contact.record_consent`
    with ``source="staff"`` (its errors as :class:`CustomerError`)."""
    from ..contact.service import ContactError
    from ..contact.service import record_consent as record

    try:
        return record(customer, channel, purpose, granted, method=method, source="staff", actor=user, note=note or None)
    except ContactError as exc:
        raise CustomerError(exc.errors) from None


def set_household(user: Any, customer: Customer, household_id: int | None, new_name: str = "") -> Household | None:
    """Join an existing household (of a customer in scope), start a new one, or leave."""
    new_name = clean_text(new_name or "").strip()
    if new_name:
        household = Household(name=new_name[:120])
        db.session.add(household)
        db.session.flush()
    elif household_id:
        in_scope = exists().where(Customer.household_id == household_id,
                                  scope_filter(user, "customer.edit", Customer))
        household = db.session.execute(select(Household).where(Household.id == household_id, in_scope)).scalar_one_or_none()
        if household is None:
            raise CustomerError({"household": _("No such household in your scope.")})
    else:
        household = None
    changes = audit.diff(customer, {"household_id": household.id if household else None})
    if changes:
        audit.record("customer.household", customer, summary=household.name if household else "-", changes=changes)
        household_changed(customer, *changes["household_id"], actor=user, source="web")
    return household


def household_changed(customer: Customer, old_household_id: int | None, new_household_id: int | None, *,
                      actor: Any = None, source: str = "web") -> None:
    """Tell the add-ons (``portal_household_changed``) in the change's transaction, each in its own
    savepoint: a customer who leaves a household must stop sharing what it holds (a family card's
    points) at once; a failing add-on is retried (``portal.events``), the change stands."""
    if old_household_id != new_household_id:
        from ..events import fire

        fire("portal_household_changed", customer=customer, old_household_id=old_household_id,
             new_household_id=new_household_id, actor=actor, source=source)


# -- serialization and export ----------------------------------------------------------------------

EXPORT_COLUMNS = ("code", "name", "phone", "email", "address", "postal_code", "birth_date", "gender", "branch",
                  "partner", "complaint", "created_at")


def to_dict(c: Customer, detail: bool = False) -> dict[str, Any]:
    data = {
        "id": c.id, "code": c.code, "name": c.name, "phone": format_phone(c.phone) or None, "email": c.email,
        "branch_code": c.branch.code if c.branch else None, "partner_code": c.partner.code if c.partner else None,
        "complaint": c.complaint, "tier": c.tier,
    }
    if detail:
        data.update({
            "address": c.address, "postal_code": c.postal_code,
            "birth_date": c.birth_date.isoformat() if c.birth_date else None, "gender": c.gender, "note": c.note,
            "household_id": c.household_id, "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
            "quality_issues": [{"field": q.field, "reason": q.reason} for q in c.open_quality_issues],
            "consents": [{"channel": k[0], "purpose": k[1], "granted": v.granted, "method": v.method,
                          "recorded_at": v.recorded_at.isoformat()} for k, v in sorted(current_consents(c).items())],
        })
    return data


def row_to_dict(r: Any) -> dict[str, Any]:
    """``to_dict`` of a :func:`list_page` row (the same keys and values)."""
    return {
        "id": r.id, "code": r.code, "name": r.name, "phone": format_phone(r.phone) or None, "email": r.email,
        "branch_code": r.branch_code, "partner_code": r.partner_code, "complaint": r.complaint, "tier": r.tier,
    }


def export_rows(stmt: Select) -> Iterator[list[Any]]:
    """Stream rows in chunks; never holds the whole export in memory."""
    stmt = with_owner(stmt).execution_options(yield_per=2000)
    for c in db.session.execute(stmt).scalars():
        yield [neutralize(v) for v in (
            c.code, c.name, format_phone(c.phone), c.email, c.address, c.postal_code,
            c.birth_date.isoformat() if c.birth_date else "", c.gender or "", c.branch.code if c.branch else "",
            c.partner.code if c.partner else "", "Y" if c.complaint else "", c.created_at.strftime("%Y-%m-%d %H:%M"))]


def export_csv(stmt: Select) -> Iterator[str]:
    """The CSV text of :func:`export_rows` (UTF-8 with BOM, in chunks)."""
    return csv_chunks(EXPORT_COLUMNS, export_rows(stmt))


def can_edit(user: Any, customer: Customer) -> bool:
    return has_permission(user, "customer.edit", customer)

