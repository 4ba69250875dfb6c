"""Write the audit trail and the personal-data access log (both append-only)."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import insert

from .extensions import db, write_intent
from .models import AccessLog, AuditEvent


def _actor() -> tuple[int | None, str, str | None]:
    ip = request.remote_addr if has_request_context() else None
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user.id, current_user.email, ip
    return None, "system", ip


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def record(action: str, obj: Any = None, summary: str = "", changes: dict[str, tuple[Any, Any]] | None = None,
           actor: Any = None) -> AuditEvent:
    """Add an audit event to the current transaction (it commits with the change it describes)."""
    write_intent()
    actor_id, label, ip = _actor()
    if actor is not None:
        actor_id, label = actor.id, actor.email
    event = AuditEvent(
        actor_id=actor_id,
        actor_label=label,
        ip=ip,
        action=action,
        object_type=type(obj).__tablename__ if obj is not None and hasattr(type(obj), "__tablename__") else None,
        object_id=str(getattr(obj, "id", obj)) if obj is not None else None,
        summary=summary[:500],
        changes={k: [_jsonable(a), _jsonable(b)] for k, (a, b) in changes.items()} if changes else None,
    )
    db.session.add(event)
    return event


def log_access(action: str, object_id: Any = None, count: int = 1, detail: str | None = None,
               object_type: str = "customer") -> None:
    """Record a view or export of personal data (kept ≥ 2 years, not editable in the app).

    A Core INSERT on the request's transaction, not an ORM object: every list page and API call
    writes one, and the unit-of-work flush of a write-only row cost more CPU than the row itself.
    It commits or rolls back with the request, as before.
    """
    write_intent()
    actor_id, _label, ip = _actor()
    db.session.execute(insert(AccessLog).values(
        user_id=actor_id, ip=ip, action=action, object_type=object_type,
        object_id=str(object_id) if object_id is not None else None, count=count,
        detail=detail[:500] if detail else None))


def diff(obj: Any, new_values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Apply ``new_values`` to ``obj`` and return what actually changed."""
    changes = {}
    for field, new in new_values.items():
        old = getattr(obj, field)
        if old != new:
            changes[field] = (old, new)
            setattr(obj, field, new)
    return changes
