"""Event arguments as JSON (ids and plain values) and back, so a failed reaction can be retried.

A retry runs later, in another process, on the database as it is then: an ORM object is stored
as its table and primary key and re-loaded (``{"$row": "sales_report", "id": 7}`` →
``db.session.get(SalesReport, 7)``); dates as ISO text; lists, tuples and dicts element by element.
A row deleted in the meantime makes the retry give up with a clear error (:class:`Gone`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper

from ..extensions import db

# Personal values never go into the failure table: a retry of ``portal_customer_changed`` gets
# these fields' names with ``None`` as old and new value (the add-on re-reads the customer).
PERSONAL_CHANGE_FIELDS = frozenset({"name", "phone", "email", "address", "postal_code", "birth_date", "gender",
                                    "note", "complaint_note"})


class EventArgError(TypeError):
    """An event argument that cannot be stored for a retry (fire it with ids or plain values)."""


class Gone(LookupError):
    """A row an event named no longer exists: the reaction cannot be retried."""


def _mapper_for(value: Any) -> Mapper | None:
    try:
        state = sa_inspect(value)
    except Exception:  # noqa: BLE001  (not an ORM object)
        return None
    return getattr(state, "mapper", None) if getattr(state, "is_instance", False) else None


def encode(value: Any) -> Any:
    """``value`` as JSON-serialisable data (see the module docstring)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    mapper = _mapper_for(value)
    if mapper is not None:
        ident = mapper.primary_key_from_instance(value)
        if len(ident) != 1 or ident[0] is None:
            raise EventArgError(f"{type(value).__name__} has no single primary key yet (flush before firing)")
        return {"$row": mapper.local_table.name, "id": ident[0]}
    raise EventArgError(f"{type(value).__name__} cannot be stored for a retry: pass an id or a plain value")


def _model_for(table: str) -> type:
    for mapper in db.Model.registry.mappers:
        if mapper.local_table.name == table:
            return mapper.class_
    raise Gone(f"no model maps table {table!r} (its add-on is not loaded)")


def decode(data: Any) -> Any:
    """The value :func:`encode` stored, with rows re-loaded in the current session."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "$datetime" in data:
        return datetime.fromisoformat(data["$datetime"])
    if "$date" in data:
        return date.fromisoformat(data["$date"])
    if "$dict" in data:
        return {_hashable(decode(k)): decode(v) for k, v in data["$dict"]}
    if "$row" in data:
        obj = db.session.get(_model_for(data["$row"]), data["id"])
        if obj is None:
            raise Gone(f"{data['$row']} #{data['id']} no longer exists")
        return obj
    raise EventArgError(f"unknown stored value {data!r}")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def encode_args(hook_name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The event's keyword arguments for the failure table (personal values left out)."""
    out = {}
    for name, value in kwargs.items():
        if hook_name == "portal_customer_changed" and name == "changes" and isinstance(value, dict):
            value = {k: ((None, None) if k in PERSONAL_CHANGE_FIELDS else v) for k, v in value.items()}
        out[name] = encode(value)
    return out


def decode_args(args: dict[str, Any]) -> dict[str, Any]:
    return {name: decode(value) for name, value in args.items()}
