"""What a segment rule may filter on: the core's fields, the plugins' (``portal_segment_fields``),
their types and operators, and how each becomes an indexable SQL condition over ``customer``.

Every condition built here is two-valued (never SQL NULL), so ``not`` is an exact complement:
"not in branch B001" includes the customers without a branch. Validation and compilation of
whole rule sets live in :mod:`.segments`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, exists, extract, not_, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    CHANNELS,
    Category,
    Consent,
    Customer,
    CustomerScore,
    OrgUnit,
    Partner,
    PartnerGroup,
    SaleLine,
)

log = logging.getLogger(__name__)

COMPARE = ("eq", "ne", "lt", "lte", "gt", "gte", "between")
NULLS = ("is_null", "not_null")
#: Operators per field type; a field may offer a subset.
TYPE_OPS: dict[str, tuple[str, ...]] = {
    "code": ("eq", "ne", "in", "not_in", *NULLS),
    "int": (*COMPARE, "in", "not_in", *NULLS),
    "number": (*COMPARE, *NULLS),
    "date": (*COMPARE, "within_days", "older_than_days", *NULLS),
    "bool": ("eq",),
    "channel": ("eq", "ne", "in"),
    "purchase": ("eq",),
}
PLUGIN_TYPES = ("code", "int", "number", "date", "bool")

OP_LABELS = {
    "eq": _l("is"), "ne": _l("is not"), "lt": _l("less than"), "lte": _l("at most"), "gt": _l("more than"),
    "gte": _l("at least"), "between": _l("between"), "in": _l("is one of"), "not_in": _l("is none of"),
    "is_null": _l("is empty"), "not_null": _l("is not empty"), "within_days": _l("within the last N days"),
    "older_than_days": _l("more than N days ago"),
}


@dataclass(frozen=True)
class SegmentField:
    """What a rule may filter on. ``condition(op, value)`` gets a validated, normalized value."""

    name: str
    label: Any
    type: str
    ops: tuple[str, ...]
    condition: Callable[[str, Any], ColumnElement[bool]]
    order: int = 100
    uses_score: bool = False
    minimum: float | None = None
    maximum: float | None = None
    #: Code fields: code → normalized code, and the lookup {code: id} for the codes that exist.
    normalize: Callable[[str], str] = str.strip
    lookup: Callable[[set[str]], dict[str, Any]] | None = None
    #: Static choices ``[(value, label)]`` (validated against); ``choices_for(user)`` feeds the UI only.
    choices: tuple[tuple[Any, Any], ...] | None = None
    choices_for: Callable[[Any], list[tuple[Any, Any]]] | None = None
    plugin: bool = False
    hint: Any = ""


def local_today() -> date:
    """Today in the portal's time zone (Asia/Seoul): ages and "within N days" follow the calendar there."""
    tz = current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Seoul"
    return datetime.now(ZoneInfo(tz)).date()


def years_ago(today: date, years: int) -> date:
    """The same calendar day ``years`` ago (29 February → 28 February)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def _both(col: Any, cond: ColumnElement[bool]) -> ColumnElement[bool]:
    return and_(col.is_not(None), cond)


def compare(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    """A two-valued comparison of a nullable column: ``ne``/``not_in`` include the empty ones."""
    if op == "is_null":
        return col.is_(None)
    if op == "not_null":
        return col.is_not(None)
    if op == "eq":
        return _both(col, col == value)
    if op == "ne":
        return or_(col.is_(None), col != value)
    if op == "in":
        return _both(col, col.in_(value))
    if op == "not_in":
        return or_(col.is_(None), col.not_in(value))
    if op == "lt":
        return _both(col, col < value)
    if op == "lte":
        return _both(col, col <= value)
    if op == "gt":
        return _both(col, col > value)
    if op == "gte":
        return _both(col, col >= value)
    if op == "between":
        return _both(col, col.between(value[0], value[1]))
    raise ValueError(op)  # validation lets no other operator through


def _date_compare(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "within_days":
        return _both(col, col >= local_today() - timedelta(days=value))
    if op == "older_than_days":
        return _both(col, col < local_today() - timedelta(days=value))
    return compare(col, op, value)


def _age(op: str, value: Any) -> ColumnElement[bool]:
    """Age as of today, as ranges of ``birth_date`` (an index can serve them; no per-row arithmetic)."""
    bd = Customer.birth_date
    today = local_today()

    def at_least(n: int) -> ColumnElement[bool]:
        return bd <= years_ago(today, n)

    def at_most(n: int) -> ColumnElement[bool]:
        return bd > years_ago(today, n + 1)

    if op in NULLS:
        return compare(bd, op, None)
    if op == "in":
        return _both(bd, or_(*[and_(at_least(n), at_most(n)) for n in value]))
    if op == "not_in":
        return or_(bd.is_(None), not_(or_(*[and_(at_least(n), at_most(n)) for n in value])))
    cond = {
        "eq": lambda: and_(at_least(value), at_most(value)),
        "ne": lambda: not_(and_(at_least(value), at_most(value))),
        "lt": lambda: at_most(value - 1),
        "lte": lambda: at_most(value),
        "gt": lambda: at_least(value + 1),
        "gte": lambda: at_least(value),
        "between": lambda: and_(at_least(value[0]), at_most(value[1])),
    }[op]()
    return or_(bd.is_(None), cond) if op == "ne" else _both(bd, cond)


def consent_granted(channels: Iterable[str], customer: Any = Customer) -> ColumnElement[bool]:
    """The customer's *current* marketing consent on one of ``channels`` is granted.

    Current = the newest record per (customer, channel, purpose), ties broken by id — the rule of
    the customer page. Written as "a grant that no later withdrawal follows", which is the same
    thing and lets PostgreSQL hash the (few) withdrawals instead of every record.
    """
    grant = aliased(Consent, name="seg_grant")
    refusal = aliased(Consent, name="seg_refusal")
    withdrawn_later = exists().where(
        refusal.customer_id == grant.customer_id, refusal.channel == grant.channel, refusal.purpose == grant.purpose,
        refusal.granted.is_(False),
        or_(refusal.recorded_at > grant.recorded_at, and_(refusal.recorded_at == grant.recorded_at, refusal.id > grant.id)))
    return exists().where(grant.customer_id == customer.id, grant.channel.in_(list(channels)),
                          grant.purpose == "marketing", grant.granted.is_(True), ~withdrawn_later)


def _consent(op: str, value: Any) -> ColumnElement[bool]:
    channels = value if isinstance(value, list) else [value]
    cond = consent_granted(channels)
    return not_(cond) if op == "ne" else cond


def _bought(negate: bool) -> Callable[[str, Any], ColumnElement[bool]]:
    def condition(_op: str, value: dict[str, Any]) -> ColumnElement[bool]:
        crit = [SaleLine.customer_id == Customer.id, SaleLine.category_id == value["category_id"]]
        if value.get("days") is not None:
            crit.append(SaleLine.sold_at >= local_today() - timedelta(days=value["days"]))
        cond = exists().where(*crit)
        return not_(cond) if negate else cond
    return condition


def _codes(model: Any, kind: str | None = None) -> Callable[[set[str]], dict[str, int]]:
    def lookup(codes: set[str]) -> dict[str, int]:
        stmt = select(model.code, model.id).where(model.code.in_(sorted(codes)))
        if kind:
            stmt = stmt.where(model.kind == kind)
        return {c: i for c, i in db.session.execute(stmt)}
    return lookup


def _ids(values: Any) -> list[int]:
    return values if isinstance(values, list) else [values]


def _branch(op: str, value: Any) -> ColumnElement[bool]:
    return compare(Customer.branch_id, op, value)


def _owner(op: str, value: Any) -> ColumnElement[bool]:
    return compare(Customer.partner_id, op, value)


def _group(op: str, value: Any) -> ColumnElement[bool]:
    """Customers whose distributor belongs to the group(s) (partner groups are flat: no sub-groups)."""
    if op in NULLS:
        return compare(Customer.partner_id, op, None)
    in_groups = Customer.partner_id.in_(select(Partner.id).where(Partner.group_id.in_(_ids(value))))
    if op in ("eq", "in"):
        return _both(Customer.partner_id, in_groups)
    return or_(Customer.partner_id.is_(None), not_(in_groups))


def _column(col: Any) -> Callable[[str, Any], ColumnElement[bool]]:
    return lambda op, value: compare(col, op, value)


def _branch_choices(_user: Any) -> list[tuple[str, str]]:
    rows = db.session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.kind == "branch", OrgUnit.active.is_(True))
                              .order_by(OrgUnit.code))
    return [(c, f"{c} {n}") for c, n in rows]


def _group_choices(_user: Any) -> list[tuple[str, str]]:
    rows = db.session.execute(select(PartnerGroup.code, PartnerGroup.name).order_by(PartnerGroup.code))
    return [(c, f"{c} {n}") for c, n in rows]


def _category_choices(_user: Any) -> list[tuple[str, str]]:
    from flask_babel import get_locale

    ko = str(get_locale() or "ko").startswith("ko")
    rows = db.session.execute(select(Category.code, Category.name_ko, Category.name_en).order_by(Category.code))
    return [(c, ko_name if ko else en_name) for c, ko_name, en_name in rows]


def _rfm_choices() -> tuple[tuple[str, Any], ...]:
    from .rfm import SEGMENT_LABELS, SEGMENTS

    return tuple((s, SEGMENT_LABELS.get(s, s)) for s in SEGMENTS)


def _upper(code: str) -> str:
    return code.strip().upper()


def _lower(code: str) -> str:
    return code.strip().lower()


def core_fields() -> list[SegmentField]:
    """The core's fields (orders 10–90; plugins usually come after)."""
    t = TYPE_OPS
    score = CustomerScore
    channel_choices = tuple((c, c) for c in CHANNELS)
    return [
        SegmentField("branch", _l("Branch"), "code", t["code"], _branch, 10, normalize=_upper,
                     lookup=_codes(OrgUnit, "branch"), choices_for=_branch_choices),
        SegmentField("partner_group", _l("Partner group"), "code", t["code"], _group, 12, normalize=_upper,
                     lookup=_codes(PartnerGroup), choices_for=_group_choices),
        SegmentField("owner", _l("Distributor (owner)"), "code", t["code"], _owner, 14, normalize=_upper,
                     lookup=_codes(Partner), hint=_l("Distributor code, e.g. G01-0002")),
        SegmentField("tier", _l("Tier"), "code", t["code"], _column(Customer.tier), 16),
        SegmentField("age", _l("Age"), "int", t["int"], _age, 20, minimum=0, maximum=150),
        SegmentField("birthday_month", _l("Birthday month"), "int", t["int"],
                     _column(extract("month", Customer.birth_date)), 22, minimum=1, maximum=12),
        SegmentField("consent", _l("Marketing consent on"), "channel", t["channel"], _consent, 30,
                     choices=channel_choices),
        SegmentField("total_spend", _l("Total spend (KRW)"), "int", t["int"], _column(Customer.total_spend), 40,
                     minimum=0),
        SegmentField("last_purchase_on", _l("Last purchase"), "date", t["date"],
                     lambda op, v: _date_compare(Customer.last_purchase_on, op, v), 42),
        SegmentField("bought_category", _l("Bought in category"), "purchase", t["purchase"], _bought(False), 44,
                     normalize=_lower, lookup=_codes(Category), choices_for=_category_choices),
        SegmentField("not_bought_category", _l("Did not buy in category"), "purchase", t["purchase"], _bought(True), 45,
                     normalize=_lower, lookup=_codes(Category), choices_for=_category_choices),
        SegmentField("rfm_segment", _l("RFM segment"), "code", t["code"], _column(score.rfm_segment), 50,
                     uses_score=True, normalize=_lower, choices=_rfm_choices()),
        SegmentField("r_score", _l("Recency score (1–5)"), "int", t["int"], _column(score.r_score), 52,
                     uses_score=True, minimum=1, maximum=5),
        SegmentField("f_score", _l("Frequency score (1–5)"), "int", t["int"], _column(score.f_score), 53,
                     uses_score=True, minimum=1, maximum=5),
        SegmentField("m_score", _l("Monetary score (1–5)"), "int", t["int"], _column(score.m_score), 54,
                     uses_score=True, minimum=1, maximum=5),
        SegmentField("p_alive", _l("P(alive)"), "number", t["number"], _column(score.p_alive), 56,
                     uses_score=True, minimum=0, maximum=1),
        SegmentField("expected_purchases", _l("Expected purchases"), "number", t["number"],
                     _column(score.expected_purchases), 57, uses_score=True, minimum=0),
        SegmentField("expected_value", _l("Expected value (KRW)"), "number", t["number"],
                     _column(score.expected_value), 58, uses_score=True, minimum=0),
    ]


_NAMESPACED = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*$")


def _plugin_field(spec: Any, taken: set[str]) -> SegmentField | None:
    """A ``portal_segment_fields`` contribution, or ``None`` (logged) when it breaks the contract."""
    try:
        name, kind, condition = spec["name"], spec.get("type", "code"), spec["condition"]
        if not isinstance(name, str) or not _NAMESPACED.match(name) or name in taken:
            raise ValueError(f"name {name!r} must be namespaced (plugin.field) and unique")
        if kind not in PLUGIN_TYPES or not callable(condition):
            raise ValueError(f"type must be one of {PLUGIN_TYPES} and condition a callable")
        ops = tuple(spec.get("ops") or TYPE_OPS[kind])
        if not set(ops) <= set(TYPE_OPS[kind]):
            raise ValueError(f"ops {ops} are not all valid for type {kind}")
        choices = spec.get("choices")
        return SegmentField(name, spec.get("label", name), kind, ops, condition, int(spec.get("order", 100)),
                            minimum=spec.get("min"), maximum=spec.get("max"),
                            choices=tuple((c[0], c[1]) for c in choices) if choices else None, plugin=True,
                            hint=spec.get("hint", ""))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        log.warning("portal_segment_fields: ignoring %r: %s", spec.get("name") if isinstance(spec, dict) else spec, exc)
        return None


def segment_fields() -> dict[str, SegmentField]:
    """Core fields plus those of the active plugins, in display order (collected per call: a plugin
    enabled or disabled in another worker counts at once)."""
    from ..plugins import collect

    fields = {f.name: f for f in core_fields()}
    for spec in collect("portal_segment_fields"):
        extra = _plugin_field(spec, set(fields))
        if extra is not None:
            fields[extra.name] = extra
    return dict(sorted(fields.items(), key=lambda kv: (kv[1].order, kv[0])))


def field_catalog(user: Any, fields: dict[str, SegmentField] | None = None) -> list[dict[str, Any]]:
    """The fields as the rule builder (JS) needs them: labels in the user's language, choices for selects."""
    fields = fields if fields is not None else segment_fields()
    out = []
    for f in fields.values():
        choices = f.choices if f.choices is not None else (f.choices_for(user) if f.choices_for else None)
        if f.name == "consent":
            from ..customers.labels import label

            choices = [(c, label("channel", c)) for c, _ in f.choices or ()]
        out.append({"name": f.name, "label": str(f.label), "type": f.type, "ops": list(f.ops),
                    "choices": [[c, str(lbl)] for c, lbl in choices] if choices is not None else None,
                    "min": f.minimum, "max": f.maximum, "hint": str(f.hint or "")})
    return out


def op_labels() -> dict[str, str]:
    return {k: str(v) for k, v in OP_LABELS.items()}
