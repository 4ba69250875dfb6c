"""Workflow definitions: states and guarded transitions, as data (DCWorkflow's model, in Python).

A definition is a plain dict contributed through ``portal_workflows()`` (the core's own
``simple_publication`` comes from ``portal/workflow/hooks.py``); :func:`parse` checks it and turns
it into frozen :class:`Workflow` objects, so a typo (a transition to a state that does not exist)
is reported once with the add-on's name instead of failing on some user's click.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

Guard = Callable[[Any, Any], "str | None"]

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
RESERVED = frozenset({"approval_withdrawn"})  # history rows the service itself writes


@dataclass(frozen=True)
class State:
    id: str
    title: Any
    review: bool = False  # objects here wait for someone's decision: they show on "my tasks"


@dataclass(frozen=True)
class Transition:
    id: str
    title: Any
    from_states: tuple[str, ...]
    to_state: str
    permission: str
    guard: Guard | None = None
    requires_comment: bool = False
    min_comment_length: int = 0
    approves: bool = False  # firing it approves the object's current revision
    on_edit: bool = False  # fired by content_changed() when the content changes; never a button
    order: int = 100
    task: bool = True  # from a review state: a decision someone waits for ("my tasks"); False for the author's own

    @property
    def comment_minimum(self) -> int:
        """Characters a comment needs (0: optional)."""
        return max(self.min_comment_length, 1 if self.requires_comment else 0)


@dataclass(frozen=True)
class Workflow:
    name: str
    title: Any
    initial: str
    states: dict[str, State]
    transitions: dict[str, Transition] = field(default_factory=dict)

    def state(self, state_id: str) -> State | None:
        return self.states.get(state_id)

    def from_state(self, state_id: str) -> list[Transition]:
        """Transitions leaving ``state_id`` (not the on-edit ones), in their order."""
        return sorted((t for t in self.transitions.values() if state_id in t.from_states and not t.on_edit),
                      key=lambda t: (t.order, t.id))

    def on_edit_from(self, state_id: str) -> Transition | None:
        return next((t for t in self.transitions.values() if t.on_edit and state_id in t.from_states), None)

    def approvable_in(self, state_id: str) -> bool:
        return any(t.approves for t in self.from_state(state_id))

    @property
    def review_states(self) -> list[str]:
        return [s.id for s in self.states.values() if s.review]

    def tasks_from(self, state_id: str) -> list[Transition]:
        """The transitions out of ``state_id`` that are someone's decision ("my tasks")."""
        return [t for t in self.from_state(state_id) if t.task]


class DefinitionError(ValueError):
    """A workflow definition that cannot work (unknown state, duplicate id ...)."""


def _ident(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 40 or not set(value) <= _ID_CHARS:
        raise DefinitionError(f"{what} {value!r} must be 1-40 characters of a-z, 0-9 and _")
    return value


def parse(spec: Mapping[str, Any]) -> Workflow:
    """A checked :class:`Workflow` from a ``portal_workflows()`` dict; raises DefinitionError."""
    if not isinstance(spec, Mapping):
        raise DefinitionError(f"a workflow must be a dict, not {type(spec).__name__}")
    name = spec.get("name")
    if not isinstance(name, str) or not name or len(name) > 60 or not set(name) <= _ID_CHARS | {"."}:
        raise DefinitionError(f"workflow name {name!r} must be 1-60 characters of a-z, 0-9, _ and .")
    states: dict[str, State] = {}
    for raw in spec.get("states") or ():
        sid = _ident(raw.get("id"), f"{name}: state id")
        if sid in states:
            raise DefinitionError(f"{name}: state {sid!r} defined twice")
        states[sid] = State(sid, raw.get("title") or sid, bool(raw.get("review", False)))
    if not states:
        raise DefinitionError(f"{name}: no states")
    initial = spec.get("initial")
    if initial not in states:
        raise DefinitionError(f"{name}: initial state {initial!r} is not one of its states")
    transitions: dict[str, Transition] = {}
    for raw in spec.get("transitions") or ():
        tid = _ident(raw.get("id"), f"{name}: transition id")
        if tid in transitions or tid in RESERVED:
            raise DefinitionError(f"{name}: transition {tid!r} defined twice or reserved")
        sources = raw.get("from") or ()
        sources = (sources,) if isinstance(sources, str) else tuple(sources)
        unknown = [s for s in (*sources, raw.get("to")) if s not in states]
        if unknown or not sources:
            raise DefinitionError(f"{name}.{tid}: unknown or missing states {unknown or 'from'}")
        permission = raw.get("permission")
        if not isinstance(permission, str) or not permission:
            raise DefinitionError(f"{name}.{tid}: a permission is required")
        guard = raw.get("guard")
        if guard is not None and not callable(guard):
            raise DefinitionError(f"{name}.{tid}: guard must be callable")
        minimum = raw.get("min_comment_length", 0)
        if isinstance(minimum, bool) or not isinstance(minimum, int) or not 0 <= minimum <= 2000:
            raise DefinitionError(f"{name}.{tid}: min_comment_length must be 0-2000")
        transitions[tid] = Transition(
            id=tid, title=raw.get("title") or tid, from_states=sources, to_state=raw["to"], permission=permission,
            guard=guard, requires_comment=bool(raw.get("requires_comment", False)), min_comment_length=minimum,
            approves=bool(raw.get("approves", False)), on_edit=bool(raw.get("on_edit", False)),
            order=int(raw.get("order", 100)), task=bool(raw.get("task", True)))
    return Workflow(name, spec.get("title") or name, initial, states, transitions)


def owner_only(obj: Any, user: Any) -> str | None:
    """Guard: only the object's owner (``register_type(owner_attr=...)``) may fire it."""
    from .service import owner_id

    if owner_id(obj) is None or owner_id(obj) != getattr(user, "id", None):
        return str(_l("Only the author may do this."))
    return None


def not_owner(obj: Any, user: Any) -> str | None:
    """Guard, four-eyes: anyone but the owner / requester may fire it."""
    from .service import owner_id

    owner = owner_id(obj)
    if owner is not None and owner == getattr(user, "id", None):
        return str(_l("A second person must decide on your own request."))
    return None


# The SQL counterpart of a built-in guard, for the "my tasks" list (a custom guard has none: its
# items are listed, and firing then answers with the guard's reason).
owner_only.sql = lambda owner_col, user: owner_col == user.id  # type: ignore[attr-defined]
not_owner.sql = lambda owner_col, user: (owner_col.is_(None)) | (owner_col != user.id)  # type: ignore[attr-defined]


SIMPLE_PUBLICATION: dict[str, Any] = {
    "name": "simple_publication",
    "title": _l("Simple publication"),
    "initial": "private",
    "states": [
        {"id": "private", "title": _l("Private")},
        {"id": "pending", "title": _l("Pending review"), "review": True},
        {"id": "published", "title": _l("Published")},
    ],
    "transitions": [
        {"id": "submit", "title": _l("Submit for review"), "from": ["private"], "to": "pending",
         "permission": "content.submit", "order": 10},
        {"id": "publish", "title": _l("Publish"), "from": ["private", "pending"], "to": "published",
         "permission": "content.review", "approves": True, "order": 20},
        {"id": "reject", "title": _l("Send back"), "from": ["pending"], "to": "private",
         "permission": "content.review", "requires_comment": True, "min_comment_length": 10, "order": 30},
        {"id": "retract", "title": _l("Retract"), "from": ["pending", "published"], "to": "private",
         "permission": "content.submit", "guard": owner_only, "task": False, "order": 40},
        {"id": "edited", "title": _l("Edited after publishing"), "from": ["published"], "to": "pending",
         "permission": "content.submit", "on_edit": True},
    ],
}
