"""Workflow notifications: tell the people who must decide when an object starts waiting, and the
owner when someone decided on it (docs/platform/notify.md, "Who gets what").

:func:`after_move` runs for every transition, inside it (``service._move``), so a notification
exists exactly when the transition was saved, and in a SAVEPOINT, so a notification that cannot be
written never undoes the transition. Objects *created* waiting (loyalty's approval requests start
in ``pending``, with no transition) call :func:`notify_waiting` themselves — the same path.

Recipients are found in one SQL query — active users holding a role that grants the next
transition's permission globally, or as a local role on the object's org unit (or an ancestor),
its partner group or its partner (or an ancestor) — and each candidate is then confirmed with the
very check that firing uses (permission on the object, guard, visibility), so nobody is told about
something they cannot open or decide. The actor is never told about their own act.
"""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, union

from ..extensions import db
from ..models import LocalRole, PartnerGroup, User, UserRole
from .definitions import Transition, Workflow

log = logging.getLogger("portal.workflow")

KIND_WAITING = "workflow.waiting"
KIND_DECIDED = "workflow.decided"

#: Declared through ``portal_notification_kinds`` (``portal/workflow/hooks.py``).
KINDS: list[dict[str, Any]] = [
    {"kind": KIND_WAITING, "label": _l("Waiting for your decision"), "email_default": "digest"},
    {"kind": KIND_DECIDED, "label": _l("Decision on your request"), "email_default": False},
]

MAX_KEY_PART = 60


def _actor_id(actor: Any) -> int | None:
    value = getattr(actor, "id", actor)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _candidate_ids(binding: Any, obj: Any, transitions: list[Transition]) -> list[int]:
    """Active holders of a role granting one of ``transitions`` on ``obj``'s context (SQL)."""
    from ..security.permissions import _context_of, roles_granting

    roles: set[str] = set()
    for t in transitions:
        roles |= roles_granting(binding.permission(t.permission))
    if not roles:
        return []
    ctx = binding.context_of(obj)
    units, partners = _context_of(ctx) if ctx is not None else ([], [])
    unit_ids = {a for u in units for a in u.ancestor_ids()}
    partner_ids = {a for p in partners for a in p.ancestor_ids()}
    group_ids = {p.group_id for p in partners} | ({ctx.id} if isinstance(ctx, PartnerGroup) else set())
    parts = [select(UserRole.user_id.label("uid")).where(UserRole.role.in_(roles))]
    local = [col.in_(sorted(ids)) for col, ids in ((LocalRole.org_unit_id, unit_ids),
                                                   (LocalRole.partner_group_id, group_ids),
                                                   (LocalRole.partner_id, partner_ids)) if ids]
    if local:
        parts.append(select(LocalRole.user_id.label("uid")).where(LocalRole.role.in_(roles), or_(*local)))
    holders = union(*parts) if len(parts) > 1 else parts[0]
    return list(db.session.execute(select(User.id).where(User.active.is_(True), User.id.in_(holders))
                                   .order_by(User.id)).scalars())


def deciders(obj: Any, exclude: Any = None) -> list[int]:
    """The ids of the active users who may fire a decision ("my tasks" transition) on ``obj`` in
    its current state — permission on the object, guard and visibility checked as firing checks
    them — without ``exclude`` (the actor). Empty when the state waits for nobody."""
    from .service import _refusal, _visible, binding_of, state_of, workflow_for

    binding = binding_of(obj)
    wf = workflow_for(binding)
    state = state_of(obj)
    transitions = wf.tasks_from(state) if state in wf.review_states else []
    if not transitions:
        return []
    skip = _actor_id(exclude)
    ids = [i for i in _candidate_ids(binding, obj, transitions) if i != skip]
    found = []
    for user in db.session.execute(select(User).where(User.id.in_(ids)).order_by(User.id)).scalars() if ids else ():
        if _visible(binding, obj, user) and any(_refusal(binding, t, obj, user) is None for t in transitions):
            found.append(user.id)
    return found


def _key(*parts: Any) -> str:
    return ":".join(str(p)[:MAX_KEY_PART] for p in parts)


def _revision_part(binding: Any, obj: Any, entry_id: int | None) -> str:
    """The revision in a dedupe key; a type without revisions uses the history row (else it could
    be announced only once in its life)."""
    from .models import WorkflowHistory
    from .service import current_revision

    if binding.revision is not None:
        return current_revision(obj)[:16]
    if entry_id is None:
        entry_id = db.session.execute(select(WorkflowHistory.id).where(
            WorkflowHistory.object_type == binding.type_name, WorkflowHistory.object_id == obj.id,
            WorkflowHistory.transition != "approval_withdrawn")
            .order_by(WorkflowHistory.id.desc()).limit(1)).scalar_one_or_none()
    return f"h{entry_id}" if entry_id is not None else "new"


def _url_of(binding: Any, obj: Any) -> str | None:
    try:
        url = str(binding.url(obj))
    except Exception:  # noqa: BLE001  (a link is a convenience: the notification's own page serves)
        log.warning("workflow: url of %s #%s failed", binding.type_name, getattr(obj, "id", "?"), exc_info=True)
        return None
    return url if url.startswith("/") and not url.startswith("//") and len(url) <= 500 else None


def _send(user_ids: list[int], kind: str, obj: Any, url: str | None, key: str, text: Any) -> int:
    """Notify ``user_ids``, each in their own language (``text(locale_user)`` → str)."""
    from ..notify import notify
    from ..notify.service import _locale_of

    if not user_ids:
        return 0
    by_locale: dict[str, list[int]] = {}
    for user in db.session.execute(select(User).where(User.id.in_(user_ids))).scalars():
        by_locale.setdefault(_locale_of(user), []).append(user.id)
    created = 0
    for locale, ids in sorted(by_locale.items()):
        with force_locale(locale):
            created += notify(ids, kind, obj, text(), url=url, dedupe_key=key, title=_binding_title(obj))
    return created


def notify_waiting(obj: Any, actor: Any = None) -> int:
    """Tell the users who may decide on ``obj`` (see :func:`deciders`) that it waits for them —
    for an object *created* in a review state (a transition into one does this itself). Nothing
    unless its current state is a review state; once per object, state and revision. Returns how
    many notifications were created; in a SAVEPOINT, so a failure is logged and returns 0 without
    spoiling the caller's work. Does not commit."""
    try:
        with db.session.begin_nested():
            return _waiting(obj, actor)
    except Exception:  # noqa: BLE001  (telling people is secondary to saving the request)
        log.exception("workflow: notifying the deciders of %s #%s failed", type(obj).__name__,
                      getattr(obj, "id", "?"))
        return 0


def _waiting(obj: Any, actor: Any = None, *, entry_id: int | None = None) -> int:
    from .service import binding_of, state_of, workflow_for

    binding = binding_of(obj)
    wf = workflow_for(binding)
    state = state_of(obj)
    ids = deciders(obj, exclude=actor)
    if not ids:
        return 0
    title = str(binding.title(obj))
    label = binding.label
    key = _key("wf.waiting", binding.type_name, obj.id, state, _revision_part(binding, obj, entry_id))
    return _send(ids, KIND_WAITING, obj, _url_of(binding, obj), key,
                 lambda: _("%(kind)s “%(title)s” is %(state)s and waits for your decision.",
                           kind=str(label), title=title, state=_state_title(wf, state)))


def _binding_title(obj: Any) -> str | None:
    """The workflow binding's own title of ``obj`` (e.g. "C00012 · +8,000 P · reason"), not "type #id"."""
    from .service import binding_of

    try:
        return str(binding_of(obj).title(obj))
    except Exception:  # a title that cannot be built must not stop the notification
        return None


def _state_title(wf: Workflow, state: str) -> str:
    found = wf.state(state)
    return str(found.title) if found else state


def notify_owner(obj: Any, t: Transition, from_state: str, actor: Any, comment: str = "", *,
                 entry_id: int | None = None) -> int:
    """Tell the owner (``register_type(owner_attr=...)``) that someone else decided on their
    object: an approving transition, or a decision out of a review state (publish, send back,
    reject). The comment is in the in-app text only (e-mails stay neutral). Does not commit."""
    from .service import _visible, binding_of, owner_id, workflow_for

    binding = binding_of(obj)
    wf = workflow_for(binding)
    owner = owner_id(obj)
    if owner is None or owner == _actor_id(actor) or t.on_edit:
        return 0
    if not (t.approves or (t.task and from_state in wf.review_states)):
        return 0
    user = db.session.get(User, owner)
    if user is None or not user.active or not _visible(binding, obj, user):
        return 0
    title = str(binding.title(obj))
    label = binding.label
    key = _key("wf.decided", binding.type_name, obj.id, t.to_state, _revision_part(binding, obj, entry_id))
    clean = (comment or "").strip()

    def text() -> str:
        said = _("%(kind)s “%(title)s”: %(action)s — now %(state)s.", kind=str(label), title=title,
                 action=str(t.title), state=_state_title(wf, t.to_state))
        return f"{said}\n{_('Comment')}: {clean}" if clean else said

    return _send([owner], KIND_DECIDED, obj, _url_of(binding, obj), key, text)


def after_move(obj: Any, wf: Workflow, t: Transition, from_state: str, actor: Any, comment: str,
               entry_id: int | None) -> None:
    """The notifications of one transition (called by ``service._move``), in a SAVEPOINT: a
    failure is logged and loses only the notifications, never the transition."""
    try:
        with db.session.begin_nested():
            notify_owner(obj, t, from_state, actor, comment, entry_id=entry_id)
            if t.to_state in wf.review_states:
                _waiting(obj, actor, entry_id=entry_id)
    except Exception:  # noqa: BLE001  (telling people is secondary to the decision itself)
        log.exception("workflow: notifications for %s #%s (%s) failed", type(obj).__name__,
                      getattr(obj, "id", "?"), t.id)
