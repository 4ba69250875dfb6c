"""Org-tree rules: codes unique, paths maintained on insert, audit on every change."""

from __future__ import annotations

from sqlalchemy import func, select

from .. import audit
from ..extensions import db
from ..models import OrgUnit, Partner, PartnerGroup


class OrgError(Exception):
    pass


def _place(node, parent) -> None:
    """Set ``path``/``depth`` once the node has an id (paths embed ids)."""
    db.session.flush()
    node.path = f"{parent.path if parent else '/'}{node.id}/"
    node.depth = (parent.depth + 1) if parent else 0


def create_unit(code: str, name: str, kind: str, parent_code: str | None, address: str | None = None,
                phone: str | None = None) -> OrgUnit:
    code = code.strip().upper()
    if db.session.execute(select(OrgUnit.id).where(OrgUnit.code == code)).first():
        raise OrgError(f"Code {code} is taken.")
    parent = db.session.execute(select(OrgUnit).where(OrgUnit.code == parent_code)).scalar_one_or_none() if parent_code else None
    if kind != "hq" and parent is None:
        raise OrgError("Choose a parent unit.")
    if parent is not None and parent.kind == "branch":
        raise OrgError("A branch cannot contain other units.")
    unit = OrgUnit(code=code, name=name.strip(), kind=kind, parent_id=parent.id if parent else None,
                   address=address or None, phone=phone or None)
    db.session.add(unit)
    _place(unit, parent)
    audit.record("org.unit_created", unit, summary=f"{code} {name}")
    return unit


def update_unit(unit: OrgUnit, name: str, address: str | None, phone: str | None, active: bool) -> None:
    changes = audit.diff(unit, {"name": name.strip(), "address": address or None, "phone": phone or None, "active": bool(active)})
    if changes:
        audit.record("org.unit_updated", unit, summary=unit.code, changes=changes)


def create_group(code: str, name: str, leader_name: str) -> PartnerGroup:
    code = code.strip().upper()
    if db.session.execute(select(PartnerGroup.id).where(PartnerGroup.code == code)).first():
        raise OrgError(f"Code {code} is taken.")
    group = PartnerGroup(code=code, name=name.strip())
    db.session.add(group)
    db.session.flush()
    create_partner(group, leader_name, None, None, level="top_leader")
    audit.record("org.group_created", group, summary=f"{code} {name}")
    return group


def create_partner(group: PartnerGroup, name: str, sponsor_code: str | None, phone: str | None,
                   level: str | None = None) -> Partner:
    sponsor = None
    if sponsor_code:
        sponsor = db.session.execute(select(Partner).where(Partner.code == sponsor_code, Partner.group_id == group.id)).scalar_one_or_none()
        if sponsor is None:
            raise OrgError("The sponsor must be in the same group.")
    n = db.session.execute(select(func.count()).where(Partner.group_id == group.id)).scalar_one()
    code = f"{group.code}-{n + 1:04d}"
    partner = Partner(group_id=group.id, code=code, name=name.strip(), sponsor_id=sponsor.id if sponsor else None,
                      phone=phone or None, level=level or ("leader" if sponsor and sponsor.level == "top_leader" else "distributor"))
    db.session.add(partner)
    _place(partner, sponsor)
    audit.record("org.partner_created", partner, summary=f"{code} {name}")
    return partner
