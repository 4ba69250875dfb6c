"""Action items of knowledge-sharing sessions: a title, an owner branch (an org unit of kind
``branch``), a due date (a Korean calendar day) and a status (open / done / cancelled).

Organisers add and edit them; the owner branch's staff (a local role on that branch) may mark
their own items done. :func:`overdue_items` is the implementation of the hookspec
``ks_overdue_action_items`` (branch monitoring counts a branch's overdue items through it), and
the daily job offers the items that became overdue today through ``ks_action_items_overdue``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.toolkit import BRANCH_STAFF, OrgUnit, db, notify, plugin_hook, role_in_scope, utcnow

from ..errors import StoryError
from ..models import KsActionItem, KsSession
from .service import (
    ACTION_STATUSES,
    _id,
    get_session_or_404,
    may_manage,
    parse_date,
    seoul_today,
    session_filter,
    session_url,
)

FIELDS = ("title", "owner_branch", "due_date", "status")


def _owner_branch(raw: Any) -> OrgUnit | None:
    stmt = select(OrgUnit).where(OrgUnit.kind == "branch", OrgUnit.active.is_(True))
    if isinstance(raw, str) and raw.strip() and not raw.strip().isdigit() and len(raw) <= 20:
        return db.session.scalar(stmt.where(OrgUnit.code == raw.strip()))
    uid = _id(raw)
    return db.session.scalar(stmt.where(OrgUnit.id == uid)) if uid else None


def clean(data: Mapping[str, Any], current: KsActionItem | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for key in sorted(set(data) - set(FIELDS), key=str):
        errors[str(key)[:40]] = str(_l("Unknown field."))
    new = current is None
    out: dict[str, Any] = {}
    if new or "title" in data:
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            errors["title"] = str(_l("Enter a title."))
        elif len(title.strip()) > 200:
            errors["title"] = str(_l("At most 200 characters."))
        else:
            out["title"] = title.strip()
    if new or "owner_branch" in data:
        unit = _owner_branch(data.get("owner_branch"))
        if unit is None:
            errors["owner_branch"] = str(_l("Choose a branch (its code or id)."))
        else:
            out["owner_unit_id"] = unit.id
    if new or "due_date" in data:
        due = parse_date(data.get("due_date"))
        if due is None:
            errors["due_date"] = str(_l("Expected a date such as 2027-03-31."))
        else:
            out["due_date"] = due
    if "status" in data:
        if data.get("status") not in ACTION_STATUSES:
            errors["status"] = str(_l("One of: open, done, cancelled."))
        else:
            out["status"] = data["status"]
    if errors:
        raise StoryError(errors)
    return out


def add_action(s: KsSession, data: Mapping[str, Any], actor: Any) -> KsActionItem:
    """A new open action item (organisers)."""
    if s.cancelled:
        raise StoryError({"": _l("The session is cancelled.")}, 409)
    values = clean(data)
    values.pop("status", None)
    item = KsActionItem(session_id=s.id, status="open", created_by_id=actor.id, **values)
    db.session.add(item)
    db.session.flush()
    notify(role_in_scope(BRANCH_STAFF, org_unit_id=item.owner_unit_id), "ks.action_item", item,
           str(_l("New action item for your branch: %(title)s (due %(due)s).", title=item.title,
                  due=item.due_date.isoformat())),
           url=session_url(s), dedupe_key=f"ks.action_item:new:{item.id}")
    return item


def is_owner_staff(user: Any, item: KsActionItem) -> bool:
    """Branch staff with a local role on the item's owner branch."""
    return any(lr.org_unit_id == item.owner_unit_id and lr.role == BRANCH_STAFF
               for lr in getattr(user, "local_roles", []) or [])


def action_or_404(action_id: Any, user: Any) -> tuple[KsActionItem, KsSession]:
    """The item if the user sees its session or is its owner branch's staff; 404 otherwise."""
    aid = _id(action_id)
    item = db.session.get(KsActionItem, aid) if aid else None
    if item is None:
        raise StoryError({"": _l("No action item with this id.")}, 404)
    s = db.session.get(KsSession, item.session_id)
    if is_owner_staff(user, item):
        return item, s
    return item, get_session_or_404(s.id, user)  # raises 404 outside the session's scope


def update_action(item: KsActionItem, s: KsSession, data: Mapping[str, Any], actor: Any) -> KsActionItem:
    """Organisers change anything; the owner branch's staff only the status (open ↔ done)."""
    values = clean(data, current=item)
    if not may_manage(actor, s):
        if not is_owner_staff(actor, item):
            raise StoryError({"": _l("Only the session's organisers may change it.")}, 403)
        if set(values) - {"status"} or values.get("status") == "cancelled":
            raise StoryError({"": _l("Your branch may only mark its action item done (or open again).")}, 403)
    if item.status == "cancelled" and values.get("status", "cancelled") == "cancelled" and set(values) - {"status"}:
        raise StoryError({"": _l("The action item is cancelled.")}, 409)
    status = values.get("status")
    for key, value in values.items():
        setattr(item, key, value)
    if status == "done" and item.done_at is None:
        item.done_at = utcnow()
    elif status in ("open", "cancelled"):
        item.done_at = None
    db.session.flush()
    return item


def action_rows(s: KsSession, on: date | None = None) -> list[dict[str, Any]]:
    """The session's action items with their owner branch, oldest due first."""
    on = on or seoul_today()
    rows = db.session.execute(
        select(KsActionItem, OrgUnit.code, OrgUnit.name).join(OrgUnit, OrgUnit.id == KsActionItem.owner_unit_id)
        .where(KsActionItem.session_id == s.id).order_by(KsActionItem.due_date, KsActionItem.id)).all()
    return [{"id": a.id, "title": a.title, "owner_branch": a.owner_unit_id, "owner_code": code, "owner_name": name,
             "due_date": a.due_date.isoformat(), "status": a.status,
             "days_overdue": (on - a.due_date).days if a.status == "open" and a.due_date < on else 0}
            for a, code, name in rows]


def overdue_items(on: date, unit_ids: list[int] | None) -> list[dict[str, Any]]:
    """Open items due before ``on`` for the owner branches ``unit_ids`` (None: every branch),
    oldest due first, in one query (hookspec ``ks_overdue_action_items``). Items of cancelled
    sessions are left out: nobody follows them up."""
    if unit_ids is not None and not unit_ids:
        return []
    stmt = (select(KsActionItem.id, KsActionItem.title, KsActionItem.owner_unit_id, KsActionItem.due_date,
                   KsActionItem.session_id, KsSession.title.label("session_title"))
            .join(KsSession, KsSession.id == KsActionItem.session_id)
            .where(KsActionItem.status == "open", KsActionItem.due_date < on, KsSession.cancelled.is_(False))
            .order_by(KsActionItem.due_date, KsActionItem.id))
    if unit_ids is not None:
        stmt = stmt.where(KsActionItem.owner_unit_id.in_(sorted({int(u) for u in unit_ids})))
    return [{"id": r.id, "title": r.title, "owner_unit_id": r.owner_unit_id, "due_date": r.due_date,
             "days_overdue": (on - r.due_date).days, "session_id": r.session_id, "session_title": r.session_title,
             "url": f"/stories/sessions/{r.session_id}"} for r in db.session.execute(stmt)]


def branch_open_items(user: Any, on: date | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """Open items owned by the branches where ``user`` is branch staff (the dashboard portlet)."""
    units = sorted({lr.org_unit_id for lr in getattr(user, "local_roles", []) or []
                    if lr.role == BRANCH_STAFF and lr.org_unit_id is not None})
    if not units:
        return []
    on = on or seoul_today()
    rows = db.session.execute(
        select(KsActionItem.id, KsActionItem.title, KsActionItem.due_date, KsActionItem.session_id)
        .join(KsSession, KsSession.id == KsActionItem.session_id)
        .where(KsActionItem.status == "open", KsActionItem.owner_unit_id.in_(units), KsSession.cancelled.is_(False))
        .order_by(KsActionItem.due_date, KsActionItem.id).limit(limit)).all()
    return [{"id": r.id, "title": r.title, "due_date": r.due_date, "days_overdue": max(0, (on - r.due_date).days),
             "url": f"/stories/sessions/{r.session_id}"} for r in rows]


def offer_overdue(on: date | None = None) -> dict[str, int]:
    """The daily job: items that became overdue today (due yesterday, still open) are offered once
    to other add-ons (``ks_action_items_overdue``) and their owner branch's staff are told (once
    per item: ``dedupe_key``). Run once a day after midnight KST; a run on a later day does not
    offer them again (their due date is no longer yesterday)."""
    on = on or seoul_today()
    items = [i for i in overdue_items(on, None) if i["due_date"] == on - timedelta(days=1)]
    notified = 0
    for item in items:
        notified += notify(role_in_scope(BRANCH_STAFF, org_unit_id=item["owner_unit_id"]), "ks.action_item", None,
                           str(_l("Action item overdue: %(title)s (due %(due)s).", title=item["title"],
                                  due=item["due_date"].isoformat())),
                           url=item["url"], title=item["title"], dedupe_key=f"ks.action_item:overdue:{item['id']}")
    if items:
        plugin_hook("ks_action_items_overdue")(items=items)
    db.session.commit()
    return {"offered": len(items), "notified": notified}


__all__ = ["overdue_items", "offer_overdue", "add_action", "update_action", "action_or_404", "action_rows",
           "branch_open_items", "session_filter"]
