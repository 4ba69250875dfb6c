"""The workflow service: bind types to workflows, move objects through them, approve revisions.

One call, :func:`transition`, moves an object: it is the only writer of workflow state, so the
checks (scope → 404, state → 409, permission and guard → 403, comment → 422), the compare-and-set
that keeps two reviewers from both publishing, the history row, the audit event and the
``portal_workflow_transitioned`` event can never be skipped. Nothing here commits: the caller's
request commits the transition together with the work it belongs to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from .. import audit
from ..extensions import db, write_intent
from ..models import utcnow
from ..security import has_permission, scope_filter
from .definitions import DefinitionError, Transition, Workflow, parse
from .models import WorkflowApproval, WorkflowHistory, WorkflowState

MAX_COMMENT = 2000


# -- errors ------------------------------------------------------------------------------------------


class WorkflowError(Exception):
    """A refused workflow action; ``status`` is the HTTP answer, ``code`` a stable machine code and
    ``message`` a text for people (translated when shown)."""

    status = 400

    def __init__(self, message: Any, *, code: str, reason: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.reason = reason


class WorkflowNotFound(WorkflowError):
    """The object is outside the user's scope (or its workflow is not available): 404."""

    status = 404


class WorkflowForbidden(WorkflowError):
    """The transition's permission or guard refuses: 403."""

    status = 403


class WorkflowConflict(WorkflowError):
    """The transition is not available from the object's current state (also after a race): 409."""

    status = 409


class WorkflowInvalid(WorkflowError):
    """Bad input: a missing or too short comment, an unknown transition: 422."""

    status = 422


# -- definitions -------------------------------------------------------------------------------------


def workflows() -> dict[str, Workflow]:
    """Every workflow of the core and the active add-ons, by name (built once per active set).

    A definition that does not parse is skipped and logged once with its add-on's name."""
    from ..plugins import hook, registry, report_skipped

    def build() -> dict[str, Workflow]:
        found: dict[str, Workflow] = {}
        for impl in reversed(hook("portal_workflows").get_hookimpls()):
            try:
                specs = impl.function() or []
            except Exception as exc:  # noqa: BLE001  (one add-on's bug must not break the others)
                report_skipped(impl.plugin_name, "portal_workflows", f"the hook raised {exc!r}", exc=exc)
                continue
            for spec in specs:
                try:
                    wf = parse(spec)
                except DefinitionError as exc:
                    report_skipped(impl.plugin_name, "portal_workflows", str(exc))
                    continue
                if wf.name in found:
                    report_skipped(impl.plugin_name, "portal_workflows", f"workflow {wf.name!r} is defined twice")
                    continue
                found[wf.name] = wf
        return found

    return registry().derived("workflows", build)


# -- bindings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """How one model takes part in a workflow (see :func:`register_type`)."""

    type_name: str
    model: type
    workflow: str
    scope_permission: str
    title: Callable[[Any], str]
    url: Callable[[Any], str]
    revision: Callable[[Any], Mapping[str, Any]] | None = None
    label: Any = None
    state_attr: str | None = None
    owner_attr: str | None = None
    since_attr: str | None = None
    scope: Callable[[Any, str], ColumnElement[bool]] | None = None
    context: Callable[[Any], Any] | None = None
    permissions: Mapping[str, str] = field(default_factory=dict)
    endpoint: bool = True

    def permission(self, name: str) -> str:
        return self.permissions.get(name, name)

    def scope_sql(self, user: Any, permission: str) -> ColumnElement[bool]:
        """SQL: the rows of the model ``user`` may ``permission`` (the lists' and the 404's rule)."""
        if self.scope is not None:
            return self.scope(user, permission)
        return scope_filter(user, permission, self.model)

    def context_of(self, obj: Any) -> Any:
        """The object permissions are checked on (local roles apply to it)."""
        return self.context(obj) if self.context is not None else obj


_TYPES: dict[str, Binding] = {}
_BY_MODEL: dict[type, Binding] = {}


def register_type(type_name: str, model: type, *, workflow: str, scope_permission: str,
                  title: Callable[[Any], str], url: Callable[[Any], str],
                  revision: Callable[[Any], Mapping[str, Any]] | None = None, label: Any = None,
                  state_attr: str | None = None, owner_attr: str | None = None, since_attr: str | None = None,
                  scope: Callable[[Any, str], ColumnElement[bool]] | None = None,
                  context: Callable[[Any], Any] | None = None,
                  permissions: Mapping[str, str] | None = None, endpoint: bool = True) -> Binding:
    """Put ``model`` under ``workflow`` as ``type_name`` (stored in the workflow tables).

    ``scope_permission``: who may see an object (SQL scope via ``scope_filter`` on ``model``, or
    ``scope(user, permission)`` for a model scoped through another table); ``title``/``url``: for
    "my tasks"; ``revision(obj) -> dict``: the content an approval binds to. ``state_attr``: the
    model keeps its state in this column of its own (the one source of truth; no
    ``workflow_state`` row); ``owner_attr``: the column with the owner's / requester's user id
    (guards ``owner_only``/``not_owner``); ``since_attr``: a timestamp column for "waiting since";
    ``context(obj)``: the object permissions are checked on; ``permissions``: rename the
    workflow's permissions for this type; ``endpoint=False``: the generic form endpoint
    (``POST /workflow/<type>/<id>/<transition>``) refuses this type with 404, because the add-on's
    own service must run with each transition (loyalty applies the points when approving). Calling
    it again with the same name replaces it.
    """
    if not type_name or len(type_name) > 60:
        raise ValueError("type_name must be 1-60 characters")
    for attr in (state_attr, owner_attr, since_attr):
        if attr is not None and not hasattr(model, attr):
            raise ValueError(f"{model.__name__} has no attribute {attr!r}")
    old = _TYPES.get(type_name)
    if old is not None:
        _BY_MODEL.pop(old.model, None)
    binding = Binding(type_name, model, workflow, scope_permission, title, url, revision, label or type_name,
                      state_attr, owner_attr, since_attr, scope, context, dict(permissions or {}), endpoint)
    _TYPES[type_name] = binding
    _BY_MODEL[model] = binding
    return binding


def unregister_type(type_name: str) -> None:
    """Forget a binding (tests; an add-on that stops offering a type). Its rows stay."""
    binding = _TYPES.pop(type_name, None)
    if binding is not None:
        _BY_MODEL.pop(binding.model, None)


def registered_types() -> list[Binding]:
    return list(_TYPES.values())


def binding_of(obj_or_type: Any) -> Binding:
    """The binding of an object, a model class or a type name; LookupError if none."""
    if isinstance(obj_or_type, str):
        binding = _TYPES.get(obj_or_type)
    else:
        cls = obj_or_type if isinstance(obj_or_type, type) else type(obj_or_type)
        binding = next((_BY_MODEL[c] for c in cls.__mro__ if c in _BY_MODEL), None)
    if binding is None:
        raise LookupError(f"{obj_or_type!r} has no workflow: call register_type() first")
    return binding


def workflow_for(binding: Binding) -> Workflow:
    wf = workflows().get(binding.workflow)
    if wf is None:
        raise WorkflowNotFound(_l("This workflow is not available."), code="no_workflow")
    return wf


def owner_id(obj: Any) -> int | None:
    """The owner's / requester's user id (``register_type(owner_attr=...)``), or None."""
    binding = binding_of(obj)
    return getattr(obj, binding.owner_attr) if binding.owner_attr else None


# -- revisions -----------------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError("revision data cannot hold NaN or infinity")
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("revision data keys must be strings")
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_canonical(v) for v in value)
    raise TypeError(f"revision data cannot hold {type(value).__name__}")


def revision_hash(data: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``data`` as canonical JSON (sorted keys, no spaces, UTF-8): equal data,
    equal hash, whatever the key order; dates as ISO text, decimals as text."""
    text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


NO_REVISION = revision_hash({})  # the revision of a type that declares none: it never changes


def current_revision(obj: Any) -> str:
    """The revision hash of ``obj`` as it is now (from its type's ``revision`` callable)."""
    binding = binding_of(obj)
    return revision_hash(binding.revision(obj)) if binding.revision is not None else NO_REVISION


# -- reading -----------------------------------------------------------------------------------------


def _state_row(binding: Binding, obj: Any):
    return db.session.execute(select(WorkflowState.id, WorkflowState.state).where(
        WorkflowState.object_type == binding.type_name, WorkflowState.object_id == obj.id)).first()


def state_of(obj: Any) -> str:
    """The object's current state id (the workflow's initial state until its first transition)."""
    binding = binding_of(obj)
    if binding.state_attr:
        return getattr(obj, binding.state_attr)
    row = _state_row(binding, obj)
    return row.state if row is not None else workflow_for(binding).initial


def history(obj: Any) -> list[WorkflowHistory]:
    """The object's transitions, oldest first."""
    binding = binding_of(obj)
    return list(db.session.execute(select(WorkflowHistory).where(
        WorkflowHistory.object_type == binding.type_name, WorkflowHistory.object_id == obj.id)
        .order_by(WorkflowHistory.id)).scalars())


def _open_approval(binding: Binding, obj: Any) -> WorkflowApproval | None:
    return db.session.execute(select(WorkflowApproval).where(
        WorkflowApproval.object_type == binding.type_name, WorkflowApproval.object_id == obj.id,
        WorkflowApproval.withdrawn_at.is_(None))).scalar_one_or_none()


def approval_for(obj: Any) -> WorkflowApproval | None:
    """The approval in force: open, and of exactly the object's current revision (an object edited
    since is not approved, even before :func:`content_changed` is called)."""
    binding = binding_of(obj)
    approval = _open_approval(binding, obj)
    if approval is None or approval.revision_hash != current_revision(obj):
        return None
    return approval


def _visible(binding: Binding, obj: Any, user: Any) -> bool:
    model = binding.model
    return db.session.execute(select(literal(1)).select_from(model).where(
        model.id == obj.id, binding.scope_sql(user, binding.scope_permission))).first() is not None


def _refusal(binding: Binding, t: Transition, obj: Any, user: Any) -> WorkflowForbidden | None:
    if not has_permission(user, binding.permission(t.permission), binding.context_of(obj)):
        return WorkflowForbidden(_l("You may not do this."), code="permission")
    if t.guard is not None:
        reason = t.guard(obj, user)
        if reason:
            return WorkflowForbidden(reason, code="guard", reason=str(reason))
    return None


def available_transitions(obj: Any, user: Any) -> list[Transition]:
    """The transitions ``user`` may fire on ``obj`` now (for buttons), in their order."""
    binding = binding_of(obj)
    wf = workflow_for(binding)
    return [t for t in wf.from_state(state_of(obj)) if _refusal(binding, t, obj, user) is None]


# -- writing -----------------------------------------------------------------------------------------


def _clean_comment(t: Transition, comment: Any) -> str:
    comment = (comment or "").strip() if isinstance(comment, str | type(None)) else None
    if comment is None:
        raise WorkflowInvalid(_l("The comment must be text."), code="comment_invalid")
    if "\x00" in comment or len(comment) > MAX_COMMENT:
        raise WorkflowInvalid(_l("The comment must be at most %(n)s characters, without NUL.", n=MAX_COMMENT),
                              code="comment_invalid")
    try:
        comment.encode("utf-8")
    except UnicodeEncodeError:
        raise WorkflowInvalid(_l("Remove the characters that cannot be stored from the comment."),
                              code="comment_invalid") from None
    minimum = t.comment_minimum
    if len(comment) < minimum:
        if minimum <= 1:
            raise WorkflowInvalid(_l("A comment is required."), code="comment_required")
        raise WorkflowInvalid(_l("A comment of at least %(n)s characters is required.", n=minimum),
                              code="comment_required")
    return comment


def check_transition(obj: Any, name: str, user: Any, comment: str = "",
                     revision: str | None = None) -> tuple[Binding, Workflow, Transition, str, str]:
    """Everything :func:`transition` checks, without writing: (binding, workflow, transition,
    from state, clean comment). Raises the same errors."""
    binding = binding_of(obj)
    wf = workflow_for(binding)
    if user is None or not _visible(binding, obj, user):
        raise WorkflowNotFound(_l("This page does not exist, or you do not have access to it."), code="not_found")
    t = wf.transitions.get(name) if isinstance(name, str) else None
    if t is None or t.on_edit:
        raise WorkflowInvalid(_l("Unknown action."), code="unknown_transition")
    state = state_of(obj)
    if state not in t.from_states:
        raise WorkflowConflict(_l("This cannot be done now: the item is “%(state)s”.",
                                  state=_state_title(wf, state)), code="wrong_state")
    refusal = _refusal(binding, t, obj, user)
    if refusal is not None:
        raise refusal
    clean = _clean_comment(t, comment)
    if t.approves and revision is not None and revision != current_revision(obj):
        raise WorkflowConflict(_l("The item changed since you opened it: review it again."), code="revision_changed")
    return binding, wf, t, state, clean


def _state_title(wf: Workflow, state: str) -> str:
    found = wf.state(state)
    return str(found.title) if found else state


def transition(obj: Any, name: str, user: Any, comment: str = "", *, revision: str | None = None) -> WorkflowHistory:
    """Fire transition ``name`` on ``obj`` as ``user``; returns the history row.

    Raises WorkflowNotFound (404, out of scope), WorkflowInvalid (422: unknown transition, missing
    or short comment), WorkflowConflict (409: not available from the current state — also when a
    concurrent transition moved the object first — or, for an approving transition, ``revision``
    is not the current revision), WorkflowForbidden (403: permission or guard). An approving
    transition records an approval of the current revision (of ``revision`` when given: the hash
    the reviewer saw). Writes history and an audit event and fires
    ``portal_workflow_transitioned`` in the caller's transaction; does not commit.
    """
    binding, wf, t, state, clean = check_transition(obj, name, user, comment, revision)
    return _move(binding, wf, obj, t, state, user, clean)


def system_transition(obj: Any, name: str, comment: str = "") -> WorkflowHistory:
    """Fire ``name`` on ``obj`` for the system (a job starting, expiring or finishing a campaign):
    no user, so no scope, permission or guard check — only that the transition exists and leaves
    from the current state (422 / 409 as in :func:`transition`). History and audit name no actor."""
    binding = binding_of(obj)
    wf = workflow_for(binding)
    t = wf.transitions.get(name) if isinstance(name, str) else None
    if t is None or t.on_edit:
        raise WorkflowInvalid(_l("Unknown action."), code="unknown_transition")
    state = state_of(obj)
    if state not in t.from_states:
        raise WorkflowConflict(_l("This cannot be done now: the item is “%(state)s”.",
                                  state=_state_title(wf, state)), code="wrong_state")
    return _move(binding, wf, obj, t, state, None, comment[:MAX_COMMENT] if comment else "")


def approve(obj: Any, user: Any, revision_hash: str, comment: str = "") -> WorkflowHistory:
    """Approve exactly revision ``revision_hash`` of ``obj``: fires the workflow's approving
    transition available in the current state (409 when none is, or when the object's current
    revision differs from the one the reviewer saw)."""
    binding = binding_of(obj)
    wf = workflow_for(binding)
    candidates = [t for t in wf.from_state(state_of(obj)) if t.approves]
    if not candidates:
        if user is None or not _visible(binding, obj, user):
            raise WorkflowNotFound(_l("This page does not exist, or you do not have access to it."), code="not_found")
        raise WorkflowConflict(_l("There is nothing to approve in this state."), code="wrong_state")
    if not isinstance(revision_hash, str) or not revision_hash:
        raise WorkflowInvalid(_l("The revision you approve is missing."), code="revision_missing")
    chosen = next((t for t in candidates if _refusal(binding, t, obj, user) is None), candidates[0])
    return transition(obj, chosen.id, user, comment, revision=revision_hash)


def content_changed(obj: Any, user: Any = None, reason: str = "edited") -> bool:
    """Call after editing ``obj`` (same transaction). An open approval of another revision is
    withdrawn (history: ``approval_withdrawn``, comment = ``reason``), and the workflow's
    ``on_edit`` transition from the current state, if any, moves the object back (e.g. approved →
    pending). Returns whether anything was withdrawn or moved. No permission check: the edit was
    authorised by the caller."""
    binding = binding_of(obj)
    wf = workflow_for(binding)
    write_intent()
    current = current_revision(obj)
    changed_anyway = binding.revision is None  # no revision to compare: trust the caller
    state = state_of(obj)
    withdrawn = False
    approval = _open_approval(binding, obj)
    if approval is not None and (changed_anyway or approval.revision_hash != current):
        approval.withdrawn_at = utcnow()
        approval.withdrawn_reason = (reason or "edited")[:40]
        db.session.add(WorkflowHistory(object_type=binding.type_name, object_id=obj.id, from_state=state,
                                       to_state=state, transition="approval_withdrawn", actor_id=getattr(user, "id", None),
                                       comment=approval.withdrawn_reason, revision_hash=current))
        withdrawn = True
    t = wf.on_edit_from(state)
    if t is None:
        db.session.flush()
        return withdrawn
    last = db.session.execute(select(WorkflowHistory.revision_hash).where(
        WorkflowHistory.object_type == binding.type_name, WorkflowHistory.object_id == obj.id,
        WorkflowHistory.transition != "approval_withdrawn")
        .order_by(WorkflowHistory.id.desc()).limit(1)).scalar_one_or_none()
    if withdrawn or changed_anyway or (last is not None and last != current):
        _move(binding, wf, obj, t, state, user, "")
        return True
    db.session.flush()
    return withdrawn


def _compare_and_set(binding: Binding, wf: Workflow, obj: Any, from_state: str, to_state: str, rev: str,
                     user_id: int | None) -> None:
    """Move the stored state from ``from_state`` to ``to_state`` only if it still is ``from_state``
    (an UPDATE … WHERE state = old, or an INSERT against the unique key for an object still in its
    initial state): of two concurrent transitions one wins, the other gets 409."""
    conflict = WorkflowConflict(_l("Someone else changed this item just now: reload and try again."),
                                code="concurrent")
    if binding.state_attr:
        column = getattr(binding.model, binding.state_attr)
        result = db.session.execute(update(binding.model).where(binding.model.id == obj.id, column == from_state)
                                    .values({column: to_state}).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise conflict
        set_committed_value(obj, binding.state_attr, to_state)
        return
    values = {"state": to_state, "revision_hash": rev, "updated_at": utcnow(), "updated_by_id": user_id}
    row = _state_row(binding, obj)
    if row is not None:
        result = db.session.execute(update(WorkflowState).where(WorkflowState.id == row.id, WorkflowState.state == from_state)
                                    .values(values))
        if result.rowcount != 1:
            raise conflict
        return
    if from_state != wf.initial:
        raise conflict
    try:
        with db.session.begin_nested():
            db.session.execute(insert(WorkflowState).values(object_type=binding.type_name, object_id=obj.id,
                                                            workflow=wf.name, **values))
    except IntegrityError:
        raise conflict from None


def _move(binding: Binding, wf: Workflow, obj: Any, t: Transition, from_state: str, user: Any,
          comment: str) -> WorkflowHistory:
    write_intent()
    user_id = getattr(user, "id", None)
    rev = current_revision(obj)
    _compare_and_set(binding, wf, obj, from_state, t.to_state, rev, user_id)
    entry = WorkflowHistory(object_type=binding.type_name, object_id=obj.id, from_state=from_state,
                            to_state=t.to_state, transition=t.id, actor_id=user_id, comment=comment, revision_hash=rev)
    db.session.add(entry)
    now = utcnow()
    open_approval = _open_approval(binding, obj)
    if t.approves:
        if open_approval is not None:
            open_approval.withdrawn_at, open_approval.withdrawn_reason = now, "superseded"
            db.session.flush()
        db.session.add(WorkflowApproval(object_type=binding.type_name, object_id=obj.id, revision_hash=rev,
                                        approved_by_id=user_id, approved_at=now))
    elif open_approval is not None and (t.to_state == wf.initial or wf.approvable_in(t.to_state)):
        # Back where it could be approved again: the old approval no longer stands.
        open_approval.withdrawn_at, open_approval.withdrawn_reason = now, t.id
    db.session.flush()
    audit.record("workflow.transition", obj, summary=f"{binding.type_name}: {from_state} → {t.to_state} ({t.id})",
                 actor=user if user_id is not None else None)
    _fire(obj, t.id, user, comment)
    from .notifications import after_move  # who must decide now; the owner of a decided object

    after_move(obj, wf, t, from_state, user, comment, entry.id)
    return entry


def _fire(obj: Any, transition_id: str, actor: Any, comment: str) -> None:
    """``portal_workflow_transitioned`` through the events service (isolated per add-on) when it
    provides ``fire``, else the plain hook; in the caller's transaction either way."""
    try:
        from ..events import fire  # type: ignore[attr-defined]
    except ImportError:
        fire = None
    if fire is not None:
        fire("portal_workflow_transitioned", obj=obj, transition=transition_id, actor=actor, comment=comment)
        return
    from ..plugins import hook

    hook("portal_workflow_transitioned")(obj=obj, transition=transition_id, actor=actor, comment=comment)


def purge_type(type_name: str) -> int:
    """Delete every workflow row of ``type_name`` (an add-on uninstalled with purge); returns the
    number of rows deleted."""
    write_intent()
    total = 0
    for model in (WorkflowState, WorkflowHistory, WorkflowApproval):
        total += db.session.execute(delete(model).where(model.object_type == type_name)).rowcount or 0
    return total


def users_may(binding: Binding, t: Transition, user: Any) -> bool:
    """May ``user`` fire ``t`` on some object of this type (its permission anywhere)?"""
    return has_permission(user, binding.permission(t.permission))


__all__ = [
    "Binding", "WorkflowConflict", "WorkflowError", "WorkflowForbidden", "WorkflowInvalid", "WorkflowNotFound",
    "approval_for", "approve", "available_transitions", "binding_of", "check_transition", "content_changed",
    "current_revision", "history", "owner_id", "purge_type", "register_type", "registered_types", "unregister_type", "revision_hash",
    "state_of", "transition", "workflow_for", "workflows",
]
