"""Organisation trees: HQ → regions → branches, and partner groups with sponsor lines."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import path_column_type, subtree_bounds, utcnow

ORG_KINDS = ("hq", "region", "branch")
PARTNER_LEVELS = ("top_leader", "leader", "distributor")


class TreeMixin:
    """Materialized path ``/<root id>/…/<own id>/``; subtree = one indexed range scan."""

    path: str
    depth: int

    def subtree_clause(self):
        low, high = subtree_bounds(self.path)
        col = type(self).path
        return (col >= low) & (col < high)

    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/") if p]


class OrgUnit(TreeMixin, db.Model):
    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    path: Mapped[str] = mapped_column(path_column_type(), default="/", index=True)
    depth: Mapped[int] = mapped_column(default=0)
    address: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code}>"


class PartnerGroup(db.Model):
    """An IBO distributor group (``G01``); its sponsor line lives in :class:`Partner`."""

    __tablename__ = "partner_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    region: Mapped[OrgUnit | None] = relationship()

    def __repr__(self) -> str:
        return f"<PartnerGroup {self.code}>"


class Partner(TreeMixin, db.Model):
    """A distributor (IBO) in a group's sponsor line: top leader → leaders → distributors."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("partner_group.id"), index=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(12), default="distributor")
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    path: Mapped[str] = mapped_column(path_column_type(), default="/", index=True)
    depth: Mapped[int] = mapped_column(default=0)
    phone: Mapped[str | None] = mapped_column(String(20))
    joined_on: Mapped[date | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    group: Mapped[PartnerGroup] = relationship()
    sponsor: Mapped[Partner | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Partner {self.code}>"


Index("ix_partner_group_path", Partner.group_id, Partner.path)
