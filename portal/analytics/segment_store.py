"""Saved segments: named rule sets, validated on save, owned by their creator.

A segment stores rules, never a customer list: it is evaluated within the scope of whoever runs
it. The owner, and users holding ``segment.manage`` globally (HQ, administrators), may open,
change and delete it; anyone else gets a 404.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from .. import audit
from ..customers.normalize import clean_text, unstorable
from ..extensions import db
from ..models import Segment
from ..security import has_global_permission
from .segments import Problem, RuleError, validate

PERMISSION = "segment.manage"
WRITABLE = ("name", "description", "rules")


def sees_all(viewer: Any) -> bool:
    return has_global_permission(viewer, PERMISSION)


def visible_stmt(viewer: Any) -> Select:
    """The segments ``viewer`` may open, newest change first."""
    stmt = select(Segment).order_by(Segment.updated_at.desc(), Segment.id.desc())
    return stmt if sees_all(viewer) else stmt.where(Segment.created_by_id == viewer.id)


def segment_or_404(viewer: Any, ident: Any) -> Segment:
    text_id = str(ident)
    if not (text_id.isascii() and text_id.isdigit()) or not 0 < int(text_id) < 2**31:
        abort(404, description="No segment with this id.")
    seg = db.session.execute(visible_stmt(viewer).where(Segment.id == int(text_id))).scalar_one_or_none()
    if seg is None:
        abort(404, description="No segment with this id.")
    return seg


def _text(data: dict[str, Any], key: str, max_len: int, required: bool, problems: list[Problem]) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem(key, _l("A name is required.")))
        return None
    if not isinstance(value, str):
        problems.append(Problem(key, _l("Must be text.")))
        return None
    if unstorable(value):
        problems.append(Problem(key, _l("Contains characters that are not allowed.")))
        return None
    value = clean_text(value).strip()
    if len(value) > max_len:
        problems.append(Problem(key, _l("At most %(n)d characters.", n=max_len)))
    return value or None


def clean(data: dict[str, Any]) -> dict[str, Any]:
    """The writable fields, checked all at once (unknown keys are refused: no mass assignment)."""
    problems = [Problem(clean_text(str(k))[:100], _l("This field cannot be set.")) for k in sorted(map(str, set(data) - set(WRITABLE)))]
    values = {"name": _text(data, "name", 120, True, problems),
              "description": _text(data, "description", 500, False, problems)}
    if "rules" not in data:
        problems.append(Problem("rules", _l("Rules are required.")))
    else:
        try:
            validate(data["rules"])
        except RuleError as exc:
            problems += exc.problems
        values["rules"] = data["rules"]
    if problems:
        raise RuleError(problems)
    return values


def create_segment(viewer: Any, data: dict[str, Any]) -> Segment:
    values = clean(data)
    seg = Segment(created_by_id=viewer.id, **values)
    db.session.add(seg)
    db.session.flush()
    audit.record("segment.created", seg, summary=seg.name)
    return seg


def update_segment(viewer: Any, seg: Segment, data: dict[str, Any]) -> Segment:
    """Replace name, description and rules (a PUT: a field left out is cleared, rules required)."""
    values = clean(data)
    changes = audit.diff(seg, values)
    if changes:
        audit.record("segment.updated", seg, summary=seg.name,
                     changes={k: v for k, v in changes.items() if k != "rules"} | (
                         {"rules": ("…", "changed")} if "rules" in changes else {}))
    return seg


def delete_segment(viewer: Any, seg: Segment) -> None:
    """Extractions made from it keep their rules; their ``segment_id`` becomes empty."""
    audit.record("segment.deleted", seg, summary=seg.name)
    db.session.delete(seg)


def segment_dict(seg: Segment) -> dict[str, Any]:
    return {"id": seg.id, "name": seg.name, "description": seg.description, "rules": seg.rules,
            "created_by_id": seg.created_by_id, "created_at": seg.created_at.isoformat(),
            "updated_at": seg.updated_at.isoformat()}
