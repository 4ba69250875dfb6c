"""Org-tree rules: codes unique, paths maintained on insert, audit and an event on every change.

Every change is told to the add-ons as ``portal_org_changed(kind, object_id, change, actor, source)``
(``kind``: ``org_unit``, ``partner_group``, ``partner``; ``change``: ``created``, ``updated``,
``moved``) in the change's transaction, each add-on in its own savepoint (``portal.events``).
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import audit
from ..extensions import db
from ..models import OrgUnit, Partner, PartnerGroup


class OrgError(Exception):
    """A refused org-tree change; the message (translated) is shown next to the form."""


def _changed(kind: str, obj: Any, change: str) -> None:
    from ..events import current_actor, fire, request_source

    db.session.flush()
    fire("portal_org_changed", kind=kind, object_id=obj.id, change=change, actor=current_actor(),
         source=request_source())


def _place(node, parent) -> None:
    """Set ``path``/``depth`` once the node has an id (paths embed ids)."""
    db.session.flush()
    node.path = f"{parent.path if parent else '/'}{node.id}/"
    node.depth = (parent.depth + 1) if parent else 0


def create_unit(code: str, name: str, kind: str, parent_code: str | None, address: str | None = None,
                phone: str | None = None) -> OrgUnit:
    code = code.strip().upper()
    if db.session.execute(select(OrgUnit.id).where(OrgUnit.code == code)).first():
        raise OrgError(_("Code %(code)s is taken.", code=code))
    parent = db.session.execute(select(OrgUnit).where(OrgUnit.code == parent_code)).scalar_one_or_none() if parent_code else None
    if kind != "hq" and parent is None:
        raise OrgError(_("Choose a parent unit."))
    if parent is not None and parent.kind == "branch":
        raise OrgError(_("A branch cannot contain other units."))
    unit = OrgUnit(code=code, name=name.strip(), kind=kind, parent_id=parent.id if parent else None,
                   address=address or None, phone=phone or None)
    db.session.add(unit)
    _place(unit, parent)
    audit.record("org.unit_created", unit, summary=f"{code} {name}")
    _changed("org_unit", unit, "created")
    return unit


def update_unit(unit: OrgUnit, name: str, address: str | None, phone: str | None, active: bool) -> None:
    changes = audit.diff(unit, {"name": name.strip(), "address": address or None, "phone": phone or None, "active": bool(active)})
    if changes:
        audit.record("org.unit_updated", unit, summary=unit.code, changes=changes)
        _changed("org_unit", unit, "updated")


def create_group(code: str, name: str, leader_name: str) -> PartnerGroup:
    code = code.strip().upper()
    if db.session.execute(select(PartnerGroup.id).where(PartnerGroup.code == code)).first():
        raise OrgError(_("Code %(code)s is taken.", code=code))
    group = PartnerGroup(code=code, name=name.strip())
    db.session.add(group)
    db.session.flush()
    create_partner(group, leader_name, None, None, level="top_leader")
    audit.record("org.group_created", group, summary=f"{code} {name}")
    _changed("partner_group", group, "created")
    return group


def create_partner(group: PartnerGroup, name: str, sponsor_code: str | None, phone: str | None,
                   level: str | None = None) -> Partner:
    sponsor = None
    if sponsor_code:
        sponsor = db.session.execute(select(Partner).where(Partner.code == sponsor_code, Partner.group_id == group.id)).scalar_one_or_none()
        if sponsor is None:
            raise OrgError(_("The sponsor must be in the same group."))
    n = db.session.execute(select(func.count()).where(Partner.group_id == group.id)).scalar_one()
    code = f"{group.code}-{n + 1:04d}"
    partner = Partner(group_id=group.id, code=code, name=name.strip(), sponsor_id=sponsor.id if sponsor else None,
                      phone=phone or None, level=level or ("leader" if sponsor and sponsor.level == "top_leader" else "distributor"))
    db.session.add(partner)
    _place(partner, sponsor)
    audit.record("org.partner_created", partner, summary=f"{code} {name}")
    _changed("partner", partner, "created")
    return partner


def move_subtree(node, new_parent) -> int:
    """Re-hang ``node`` (and everything below it) under ``new_parent`` in one UPDATE.

    Paths embed ancestor ids, so a move rewrites the prefix of every row in the subtree;
    returns how many rows moved.
    """
    from sqlalchemy import literal, update

    from ..models.base import subtree_bounds

    model = type(node)
    if new_parent is not None and new_parent.path.startswith(node.path):
        raise OrgError(_("A unit or distributor cannot move below itself."))
    old_path = node.path
    new_path = f"{new_parent.path if new_parent else '/'}{node.id}/"
    if new_path == old_path:
        return 0
    delta = ((new_parent.depth + 1) if new_parent else 0) - node.depth
    low, high = subtree_bounds(old_path)
    result = db.session.execute(
        update(model).where(model.path >= low, model.path < high)
        .values(path=literal(new_path) + func.substr(model.path, len(old_path) + 1), depth=model.depth + delta)
        .execution_options(synchronize_session=False)
    )
    parent_attr = "sponsor_id" if model is Partner else "parent_id"
    setattr(node, parent_attr, new_parent.id if new_parent else None)
    db.session.flush()
    db.session.expire_all()
    return result.rowcount or 0


def update_partner(partner: Partner, name: str, phone: str | None, active: bool, sponsor_code: str | None) -> None:
    changes = audit.diff(partner, {"name": name.strip(), "phone": phone or None, "active": bool(active)})
    current = partner.sponsor.code if partner.sponsor else None
    if (sponsor_code or None) != current:
        if not sponsor_code:
            raise OrgError(_("Only the group's top leader has no sponsor."))
        sponsor = db.session.execute(select(Partner).where(Partner.code == sponsor_code,
                                                           Partner.group_id == partner.group_id)).scalar_one_or_none()
        if sponsor is None:
            raise OrgError(_("The sponsor must be in the same group."))
        moved = move_subtree(partner, sponsor)
        changes["sponsor"] = (current, sponsor_code)
        changes["moved_rows"] = (None, moved)
    if changes:
        audit.record("org.partner_updated", partner, summary=partner.code, changes=changes)
        _changed("partner", partner, "moved" if "sponsor" in changes else "updated")


def move_unit(unit: OrgUnit, parent_code: str) -> None:
    parent = db.session.execute(select(OrgUnit).where(OrgUnit.code == parent_code)).scalar_one_or_none()
    if parent is None or parent.kind == "branch":
        raise OrgError(_("Choose a region or HQ as the parent."))
    if unit.kind == "hq":
        raise OrgError(_("HQ is the root of the tree."))
    if unit.parent_id == parent.id:
        return
    before = unit.parent.code if unit.parent else None
    moved = move_subtree(unit, parent)
    audit.record("org.unit_moved", unit, summary=unit.code, changes={"parent": (before, parent.code), "moved_rows": (None, moved)})
    _changed("org_unit", unit, "moved")
