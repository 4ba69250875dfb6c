"""Segment rules: JSON in, every problem found at once, one scoped SQL condition out.

A rule set is a tree of groups and conditions::

    {"all": [{"field": "branch", "op": "in", "value": ["B001", "B002"]},
             {"any": [{"field": "age", "op": "between", "value": [30, 49]},
                      {"not": {"field": "consent", "op": "eq", "value": "sms"}}]}]}

Why a closed vocabulary instead of free SQL: every field knows its type, its operators and how
to become a condition an index can serve, so a rule set is validated before it runs (the API
answers 422 with a path per problem) and always compiles to *one* SELECT over ``customer``,
ANDed with the viewer's scope and "not pseudonymized". Plugins add fields through the
``portal_segment_fields`` hook (docs/hooks.md).

The fields themselves (types, operators, their SQL) are in :mod:`.segment_fields`; this module
checks whole rule sets and compiles them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select, text, true

from ..customers.normalize import clean_text, unstorable
from ..extensions import db
from ..models import CHANNELS, Customer, CustomerScore
from ..security import scope_filter
from .segment_fields import (  # noqa: F401  (re-exported: the public names plugins and pages use)
    NULLS,
    OP_LABELS,
    TYPE_OPS,
    SegmentField,
    compare,
    consent_granted,
    field_catalog,
    local_today,
    op_labels,
    segment_fields,
    years_ago,
)

MAX_DEPTH = 5
MAX_CONDITIONS = 100
MAX_LIST = 1000
MAX_TEXT = 100
MAX_DAYS = 36_500
# A number compared with a field that sets no bound of its own: within a signed 64-bit integer
# (a bigger Python int fails at the driver — SQLite OverflowError — a 500), and far above any sum.
MAX_NUMBER = 10**18
GROUP_KEYS = ("all", "any", "not")
SCOPE_PERMISSION = "customer.view"  # the customer list's permission: a segment never sees more


# -- problems ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a rule set: where (``all[2].value``) and why (a lazy, translatable text)."""

    path: str
    message: Any


class RuleError(ValueError):
    """A rule set that cannot run; ``problems`` lists all of them, not just the first."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems

    def fields(self, english: bool = False) -> dict[str, str]:
        """``{path: message}``; English for the API, the user's language for pages."""
        def render() -> dict[str, str]:
            out: dict[str, str] = {}
            for p in self.problems:
                out[p.path] = f"{out[p.path]} {p.message}" if p.path in out else str(p.message)
            return out

        if english:
            with force_locale("en"):
                return render()
        return render()

    def summary(self) -> str:
        """The API's ``message``: English, naming the places."""
        paths = list(dict.fromkeys(p.path for p in self.problems))
        shown = ", ".join(paths[:10]) + (" …" if len(paths) > 10 else "")
        return f"The segment rules are not valid ({len(self.problems)} problem(s) at {shown}). Nothing was run."


# -- validation ----------------------------------------------------------------------------------------


@dataclass
class Condition:
    field: SegmentField
    op: str
    value: Any


@dataclass
class Group:
    kind: str  # all | any | not
    children: list[Any] = field(default_factory=list)


@dataclass
class Validated:
    """A rule set that passed validation: a tree of :class:`Group` / :class:`Condition` with normalized values."""

    root: Any
    uses_score: bool
    conditions: int


_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


class _Validator:
    def __init__(self, fields: dict[str, SegmentField]):
        self.fields = fields
        self.problems: list[Problem] = []
        self.conditions = 0
        self.uses_score = False
        self.pending_codes: list[tuple[Condition, str, SegmentField]] = []  # resolved in one query per field

    def add(self, path: str, message: Any) -> None:
        self.problems.append(Problem(path, message))

    def node(self, node: Any, path: str, depth: int) -> Any:
        if not isinstance(node, dict):
            self.add(path, _l('Expected a group ({"all": [...]}, {"any": [...]}, {"not": {...}}) or a condition '
                              '({"field", "op", "value"}).'))
            return None
        groups = [k for k in GROUP_KEYS if k in node]
        if groups:
            return self.group(node, groups, path, depth)
        if "field" in node or "op" in node:
            return self.condition(node, path)
        self.add(path, _l('Expected a group ({"all": [...]}, {"any": [...]}, {"not": {...}}) or a condition '
                          '({"field", "op", "value"}).'))
        return None

    def group(self, node: dict[str, Any], groups: list[str], path: str, depth: int) -> Group | None:
        if len(groups) > 1 or len(node) > 1:
            self.add(path, _l("A group has exactly one key: all, any or not."))
            return None
        kind = groups[0]
        prefix = f"{path}." if path != "rules" else ""
        if depth > MAX_DEPTH:
            self.add(path, _l("Groups are nested more than %(n)d deep.", n=MAX_DEPTH))
            return None
        body = node[kind]
        if kind == "not":
            child = self.node(body, f"{prefix}not", depth + 1)
            return Group("not", [child]) if child is not None else None
        if not isinstance(body, list):
            self.add(f"{prefix}{kind}", _l("Expected a list of conditions and groups."))
            return None
        if not body and not (path == "rules" and kind == "all"):
            self.add(f"{prefix}{kind}", _l("This group is empty: add a condition or remove the group."))
            return None
        children = [self.node(child, f"{prefix}{kind}[{i}]", depth + 1) for i, child in enumerate(body)]
        return Group(kind, [c for c in children if c is not None])

    def condition(self, node: dict[str, Any], path: str) -> Condition | None:
        self.conditions += 1
        unknown = sorted(clean_text(str(k))[:MAX_TEXT] for k in set(node) - {"field", "op", "value"})
        if unknown:
            self.add(path, _l("Unknown key(s) %(keys)s: a condition has field, op and value.", keys=", ".join(unknown)))
        name, op = node.get("field"), node.get("op")
        spec = self.fields.get(name) if isinstance(name, str) else None
        if spec is None:
            shown = clean_text(name if isinstance(name, str) else "" if name is None else str(name))
            self.add(f"{path}.field", _l('Unknown field "%(field)s".', field=shown[:MAX_TEXT]) if shown
                     else _l("Choose a field."))
            return None
        if not isinstance(op, str) or op not in spec.ops:
            self.add(f"{path}.op", _l('The field "%(field)s" has no operator "%(op)s"; use one of: %(ops)s.',
                                      field=spec.name, op=clean_text(str(op))[:MAX_TEXT], ops=", ".join(spec.ops)))
            return None
        value = node.get("value")
        ok, normalized = self.value(spec, op, value, f"{path}.value")
        if not ok:
            return None
        if spec.uses_score:
            self.uses_score = True
        cond = Condition(spec, op, normalized)
        if spec.lookup is not None and op not in NULLS:
            self.pending_codes.append((cond, f"{path}.value", spec))
        return cond

    # values ---------------------------------------------------------------------------------------
    def value(self, spec: SegmentField, op: str, value: Any, path: str) -> tuple[bool, Any]:
        if op in NULLS:
            if value not in (None, "", []):
                self.add(path, _l("Leave the value empty for this operator."))
                return False, None
            return True, None
        kind = spec.type
        if kind == "purchase":
            return self.purchase(spec, value, path)
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                self.add(path, _l("Expected a non-empty list of values."))
                return False, None
            if len(value) > MAX_LIST:
                self.add(path, _l("At most %(n)d values.", n=MAX_LIST))
                return False, None
            items = [self.scalar(spec, v, f"{path}[{i}]") for i, v in enumerate(value)]
            if any(not ok for ok, _ in items):
                return False, None
            return True, list(dict.fromkeys(v for _, v in items))
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                self.add(path, _l("Expected two values: [from, to]."))
                return False, None
            lo, hi = (self.scalar(spec, v, f"{path}[{i}]") for i, v in enumerate(value))
            if not (lo[0] and hi[0]):
                return False, None
            if lo[1] > hi[1]:
                self.add(path, _l("The first value must not be greater than the second."))
                return False, None
            return True, [lo[1], hi[1]]
        if op in ("within_days", "older_than_days"):
            if not _is_int(value) or not 0 <= value <= MAX_DAYS:
                self.add(path, _l("Expected a number of days (0–%(max)d).", max=MAX_DAYS))
                return False, None
            return True, value
        if kind == "channel" and isinstance(value, list):
            self.add(path, _l("Expected one value; use the operator \"in\" for several."))
            return False, None
        return self.scalar(spec, value, path)

    def scalar(self, spec: SegmentField, value: Any, path: str) -> tuple[bool, Any]:
        kind = spec.type
        if kind in ("int", "number"):
            good = _is_int(value) if kind == "int" else _is_number(value)
            if not good:
                self.add(path, _l("Expected a whole number.") if kind == "int" else _l("Expected a number."))
                return False, None
            low = -MAX_NUMBER if spec.minimum is None else spec.minimum
            high = MAX_NUMBER if spec.maximum is None else spec.maximum
            if not low <= value <= high:
                lo, hi = f"{low:,}", f"{high:,}"
                self.add(path, _l("Out of range (%(lo)s–%(hi)s).", lo=lo, hi=hi))
                return False, None
            return True, value
        if kind == "date":
            if not isinstance(value, str) or not _ISO.match(value):
                self.add(path, _l("Expected a date as YYYY-MM-DD."))
                return False, None
            try:
                return True, date.fromisoformat(value)
            except ValueError:
                self.add(path, _l("Expected a date as YYYY-MM-DD."))
                return False, None
        if kind == "bool":
            if not isinstance(value, bool):
                self.add(path, _l("Expected true or false."))
                return False, None
            return True, value
        # code / channel: text
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT or unstorable(value):
            self.add(path, _l("Expected a text value (1–%(n)d characters).", n=MAX_TEXT))
            return False, None
        value = spec.normalize(value)
        if kind == "channel" and value not in CHANNELS:
            self.add(path, _l('Unknown channel "%(value)s"; use one of: %(choices)s.', value=value,
                              choices=", ".join(CHANNELS)))
            return False, None
        if spec.choices is not None and kind != "channel" and value not in {c for c, _ in spec.choices}:
            self.add(path, _l('Unknown value "%(value)s"; use one of: %(choices)s.', value=value,
                              choices=", ".join(str(c) for c, _ in spec.choices)))
            return False, None
        return True, value

    def purchase(self, spec: SegmentField, value: Any, path: str) -> tuple[bool, Any]:
        if not isinstance(value, dict) or set(value) - {"category", "days"} or "category" not in value:
            self.add(path, _l('Expected {"category": code, "days": number of days (optional)}.'))
            return False, None
        ok, code = self.scalar(spec, value["category"], f"{path}.category")
        days = value.get("days")
        if days is not None and (not _is_int(days) or not 1 <= days <= MAX_DAYS):
            self.add(f"{path}.days", _l("Expected a number of days (1–%(max)d) or nothing for any time.", max=MAX_DAYS))
            return False, None
        return ok, {"category": code, "days": days} if ok else None

    def resolve_codes(self) -> None:
        """Turn codes into ids with one query per field; unknown codes are problems."""
        wanted: dict[str, set[str]] = {}
        for cond, _path, spec in self.pending_codes:
            wanted.setdefault(spec.name, set()).update(self._codes_of(cond))
        found = {name: self.fields[name].lookup(codes) for name, codes in wanted.items() if codes}
        for cond, path, spec in self.pending_codes:
            ids = found.get(spec.name, {})
            missing = [c for c in self._codes_of(cond) if c not in ids]
            if missing:
                self.add(path, _l("Unknown code(s): %(codes)s.", codes=", ".join(missing[:20])))
                continue
            if spec.type == "purchase":
                cond.value = {**cond.value, "category_id": ids[cond.value["category"]]}
            elif isinstance(cond.value, list):
                cond.value = [ids[c] for c in cond.value]
            else:
                cond.value = ids[cond.value]

    @staticmethod
    def _codes_of(cond: Condition) -> list[str]:
        if cond.field.type == "purchase":
            return [cond.value["category"]]
        return list(cond.value) if isinstance(cond.value, list) else [cond.value]


def validate(rules: Any, fields: dict[str, SegmentField] | None = None) -> Validated:
    """Check a rule set and return it normalized, or raise :class:`RuleError` with every problem."""
    fields = fields if fields is not None else segment_fields()
    v = _Validator(fields)
    if not isinstance(rules, dict) or not any(k in rules for k in GROUP_KEYS) and "field" not in rules:
        v.add("rules", _l('Expected a rule set: a JSON object such as {"all": [conditions…]}.'))
        raise RuleError(v.problems)
    root = v.node(rules, "rules", 1)
    if v.conditions > MAX_CONDITIONS:
        v.add("rules", _l("At most %(max)d conditions (this rule set has %(n)d).", max=MAX_CONDITIONS, n=v.conditions))
    v.resolve_codes()
    if v.problems:
        raise RuleError(v.problems)
    return Validated(root, v.uses_score, v.conditions)


# -- compilation -----------------------------------------------------------------------------------------


def compile_node(node: Any) -> ColumnElement[bool]:
    if isinstance(node, Condition):
        return node.field.condition(node.op, node.value)
    parts = [compile_node(c) for c in node.children]
    if node.kind == "not":
        return not_(parts[0])
    if not parts:
        return true()
    return and_(*parts) if node.kind == "all" else or_(*parts)


@dataclass
class SegmentQuery:
    """The compiled segment: ``FROM customer [LEFT JOIN customer_score]`` and its WHERE, scoped."""

    where: list[ColumnElement[bool]]
    uses_score: bool
    rules: Validated

    def from_clause(self) -> Any:
        if self.uses_score:
            return Customer.__table__.outerjoin(CustomerScore.__table__, CustomerScore.customer_id == Customer.id)
        return Customer.__table__

    def select(self, *columns: Any) -> Select:
        return select(*columns).select_from(self.from_clause()).where(*self.where)

    def count(self) -> int:
        return db.session.execute(self.select(func.count())).scalar_one()


def segment_query(viewer: Any, rules: Any, fields: dict[str, SegmentField] | None = None) -> SegmentQuery:
    """Validate and compile ``rules`` for ``viewer``: always within their customer scope, never a
    pseudonymized customer. Raises :class:`RuleError`."""
    checked = rules if isinstance(rules, Validated) else validate(rules, fields)
    where = [scope_filter(viewer, SCOPE_PERMISSION, Customer), Customer.pseudonymized_at.is_(None),
             compile_node(checked.root)]
    return SegmentQuery(where, checked.uses_score, checked)


def tune_for_analytics() -> None:
    """PostgreSQL, this transaction only: no JIT (compiling costs more than it saves on one
    aggregate) and room to hash a million customers in memory (``PORTAL_ANALYTICS_WORK_MEM``)."""
    if db.engine.dialect.name != "postgresql":
        return
    work_mem = str(current_app.config.get("PORTAL_ANALYTICS_WORK_MEM") or "64MB")
    db.session.execute(text("SELECT set_config('jit', 'off', true), set_config('work_mem', :w, true)"), {"w": work_mem})


def count_segment(viewer: Any, rules: Any) -> int:
    """How many customers in ``viewer``'s scope match ``rules``."""
    seg = segment_query(viewer, rules)
    tune_for_analytics()
    return seg.count()
