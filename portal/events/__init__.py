"""Events with actor and source: each add-on's reaction isolated, retried when it failed.

``fire(hook_name, **kwargs)`` is how every core service tells the add-ons that something happened
(docs/platform/events.md). It calls each active add-on's implementation of the event hook on its
own, in the order of the add-ons' names, each inside its own SAVEPOINT: an implementation that
raises loses only its own writes, is logged with the add-on's name and stored in
``event_failure`` for the ``events.retry`` job, and never spoils the event's own transaction or
another add-on's reaction.

Two kinds of event (``EVENTS``):

* **after the commit** (``portal_sales_imported``, ``portal_scores_refreshed``,
  ``portal_report_refused``, ``portal_messages_settled``): the caller's
  work is committed first (anything still pending is committed as one unit before the first
  reaction), then each reaction is committed on its own — a slow or failing add-on never holds
  or undoes the import, and a crash after reaction *k* keeps reactions 1..k.
* **inside the transaction** (``portal_customer_changed``, ``portal_household_changed``,
  ``portal_consent_changed``, ``portal_customers_created``, ``portal_quality_changed`` ...): each
  reaction is a savepoint inside the caller's transaction and commits (or rolls back) with the
  caller's change; ``fire`` never commits. ``portal_customers_merged`` is *strict*: an add-on that
  cannot move its rows aborts the merge (its reaction cannot wait for a retry: the duplicate's
  row is deleted right after).

The core's own implementations (``core``, ``core.<service>``) run first and are not isolated: they
are part of the change itself (an opt-out cancels queued marketing atomically), so their
exception propagates to the caller as any core bug would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Blueprint
from sqlalchemy import event as sa_event

from ..extensions import db
from ..models.base import utcnow
from ..plugins import registry
from .codec import EventArgError, encode_args

log = logging.getLogger("portal.events")
bp = Blueprint("events", __name__, url_prefix="/manage/events", template_folder="templates")

FIRST_RETRY = timedelta(minutes=1)  # then doubled per attempt, at most MAX_DELAY
MAX_DELAY = timedelta(hours=6)
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class EventSpec:
    """How ``fire`` runs an event: ``after_commit`` (each reaction committed on its own) or inside
    the caller's transaction (savepoints only); ``strict``: a failing reaction is rolled back and
    its exception re-raised, aborting the change (a merge whose add-on could not move its rows
    must not delete the duplicate) — nothing is stored for a retry."""

    name: str
    after_commit: bool
    strict: bool = False


EVENTS: dict[str, EventSpec] = {}


def register_event(hook_name: str, *, after_commit: bool, strict: bool = False) -> None:
    """Declare an event hook for :func:`fire` (the core's are below; an add-on that declares its
    own hookspecs through ``portal_add_hookspecs`` registers its events here)."""
    if after_commit and strict:
        raise ValueError("an after-commit event cannot abort the change it reports")
    EVENTS[hook_name] = EventSpec(hook_name, after_commit, strict)


for _name in ("portal_sales_imported", "portal_scores_refreshed", "portal_report_refused", "portal_messages_settled"):
    register_event(_name, after_commit=True)
for _name in ("portal_customer_changed", "portal_household_changed", "portal_consent_changed",
              "portal_customers_created", "portal_quality_changed", "portal_org_changed",
              "portal_extraction_created", "portal_workflow_transitioned", "portal_personal_data_erased"):
    register_event(_name, after_commit=False)
# Add-ons must move their rows for a merge to be complete: their failure aborts it.
register_event("portal_customers_merged", after_commit=False, strict=True)


@dataclass
class FireResult:
    """What ``fire`` did: the add-ons called (in order), those whose reaction failed (add-on →
    error text) and the ``event_failure`` ids stored for them."""

    hook: str
    called: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    failure_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def request_source() -> str:
    """How the current change came in, for an event's ``source``: ``api`` (the JSON API), ``web``
    (a page) or ``cli`` (no request: a command or a job — which pass their own when they know better)."""
    from flask import has_request_context, request

    if not has_request_context():
        return "cli"
    return "api" if (request.blueprint or "").split(".")[0] == "api" or request.path.startswith("/api/") else "web"


def current_actor() -> Any:
    """The signed-in user of the current request, or ``None`` (a command, a job, an anonymous page)."""
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user._get_current_object()
    return None


def is_core(plugin_name: str) -> bool:
    return plugin_name == "core" or plugin_name.startswith("core.")


def implementations(hook_name: str) -> list[Any]:
    """The active plugins' implementations of ``hook_name``: the core's first, then the add-ons'
    by name — never pluggy's registration order, so the order of installation never matters."""
    if hook_name not in EVENTS:
        raise ValueError(f"{hook_name!r} is not an event: register it with portal.events.register_event")
    impls = [i for i in registry().hook(hook_name).get_hookimpls() if not (i.hookwrapper or i.wrapper)]
    return sorted(impls, key=lambda i: (not is_core(i.plugin_name), i.plugin_name))


def fire(hook_name: str, **kwargs: Any) -> FireResult:
    """Tell every active add-on about an event, each reaction isolated (see the module docstring).

    Arguments are keywords as the hookspec names them; an implementation may accept fewer
    (pluggy's rule). Objects must be ORM rows with an id or plain values, so that a failed reaction
    can be stored and retried — an argument that cannot be raises :class:`EventArgError` before
    any reaction runs.
    """
    spec = EVENTS.get(hook_name)
    impls = implementations(hook_name)
    result = FireResult(hook_name)
    add_ons = [i for i in impls if not is_core(i.plugin_name)]
    stored = encode_args(hook_name, kwargs) if add_ons else {}  # fails early on an unstorable argument
    if spec.after_commit:
        db.session.commit()
    for impl in impls:
        result.called.append(impl.plugin_name)
        if is_core(impl.plugin_name):
            _call(impl, kwargs)
            if spec.after_commit:
                db.session.commit()
            continue
        error = run_isolated(impl, kwargs, reraise=spec.strict)
        if error is not None:
            result.failed[impl.plugin_name] = error
            log.error("Add-on %r: its reaction to %s failed and will be retried: %s", impl.plugin_name,
                      hook_name, error)
            failure = _store_failure(hook_name, impl.plugin_name, stored, error)
            result.failure_ids.append(failure.id)
        if spec.after_commit:
            db.session.commit()
    if result.failed:
        _retry_soon(after_commit=spec.after_commit)
    return result


def _call(impl: Any, kwargs: dict[str, Any]) -> Any:
    return impl.function(*[kwargs[arg] for arg in impl.argnames])


def run_isolated(impl: Any, kwargs: dict[str, Any], *, reraise: bool = False) -> str | None:
    """Call one implementation inside a SAVEPOINT; ``None`` when it succeeded, else the error text
    (its writes rolled back, the caller's transaction intact, the traceback logged); ``reraise``:
    roll back, log and raise the exception instead."""
    savepoint = db.session.begin_nested()  # flushes the caller's pending changes first
    try:
        _call(impl, kwargs)
        if savepoint.is_active:
            savepoint.commit()  # RELEASE SAVEPOINT (flushes the reaction's own ORM changes)
    except Exception as exc:  # noqa: BLE001  (one add-on's bug must not spoil the event)
        log.warning("Add-on %r: reaction raised", impl.plugin_name, exc_info=True)
        if savepoint.is_active:
            savepoint.rollback()
        elif (outer := db.session().get_transaction()) is not None and not outer.is_active:
            db.session.rollback()  # the add-on broke the outer transaction itself (it committed or rolled back)
        if reraise:
            log.error("Add-on %r: its reaction failed, the change is refused: %s", impl.plugin_name, exc)
            raise
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None


def _store_failure(hook_name: str, plugin: str, args: dict[str, Any], error: str):
    from .models import EventFailure

    now = utcnow()
    failure = EventFailure(hook=hook_name, plugin=plugin, args=args, error=error, attempts=1,
                           next_try_at=now + FIRST_RETRY, created_at=now)
    db.session.add(failure)
    db.session.flush()
    return failure


def retry_delay(attempts: int) -> timedelta:
    """Back-off after ``attempts`` failed tries: 1, 2, 4 ... minutes, at most ``MAX_DELAY``."""
    return min(FIRST_RETRY * (2 ** max(0, attempts - 1)), MAX_DELAY)


def _retry_soon(*, after_commit: bool) -> None:
    """Ask the queue for a retry run at the first back-off step (the periodic ``events.retry``
    catches it anyway). Inside a transaction: only once it commits — the failure rows must exist."""
    if after_commit:
        _enqueue_retry()
        return
    session = db.session()
    session.info["portal_events_retry_pending"] = True
    if not session.info.get("portal_events_retry_listener"):
        session.info["portal_events_retry_listener"] = True
        sa_event.listen(session, "after_commit", _after_commit)
        sa_event.listen(session, "after_soft_rollback", _after_rollback)


def _after_commit(session: Any) -> None:
    # SQLAlchemy dispatches after_commit for a released savepoint too: wait for the real commit.
    if session.in_nested_transaction():
        return
    if session.info.pop("portal_events_retry_pending", None):
        _enqueue_retry()


def _after_rollback(session: Any, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the whole transaction, failure rows included, is gone
        session.info.pop("portal_events_retry_pending", None)


def _enqueue_retry() -> None:
    try:
        from ..jobs import enqueue

        enqueue("events.retry", delay=FIRST_RETRY.total_seconds())
    except Exception:  # noqa: BLE001  (no queue reachable: the periodic run picks the failure up)
        log.warning("events.retry could not be queued; the periodic run will retry", exc_info=True)


from . import ui, views  # noqa: E402,F401  (the UI contribution checks; the failures page)


def init_app(app: Any) -> None:
    """Template global ``object_actions(kind, obj)``: the add-ons' buttons for ``obj`` that the
    signed-in user may use (``portal_object_actions``), for any page's template."""
    from flask_login import current_user

    app.jinja_env.globals["object_actions"] = lambda kind, obj: ui.object_actions(kind, obj, current_user)

__all__ = ["EVENTS", "EventArgError", "EventSpec", "FireResult", "current_actor", "fire", "register_event",
           "request_source", "retry_delay"]
