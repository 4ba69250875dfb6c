"""One voice tables (prefix ``cem_``): message sets, their channel renditions, HQ banned terms.

A message set holds one *master* (offer, price, validity, call to action, brand header and
footer, as JSON in ``master``) and one rendition per channel whose text refers to the master's
variables (``{{ price }}``, ``{{ valid_until }}`` ...) instead of retyping them. ``revision`` is
the toolkit's ``revision_hash`` of master + renditions, so an approval names exactly what it saw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.toolkit import db, utcnow

RENDITION_CHANNELS = ("email", "sms", "kakao", "push", "dm")


class CemMessageSet(db.Model):
    """One master and its renditions; scoped to an org unit and/or a partner group."""

    __tablename__ = "cem_message_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    master: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    org_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="SET NULL"), index=True)
    partner_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_group.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    revision: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    renditions: Mapped[list[CemRendition]] = relationship(
        back_populates="message_set", cascade="all, delete-orphan", order_by="CemRendition.id")


class CemRendition(db.Model):
    """The text of one channel: ``subject`` (e-mail), ``body`` (plain text) and ``html`` (e-mail)."""

    __tablename__ = "cem_rendition"
    __table_args__ = (UniqueConstraint("message_set_id", "channel", name="uq_cem_rendition_set_channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_set_id: Mapped[int] = mapped_column(ForeignKey("cem_message_set.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)

    message_set: Mapped[CemMessageSet] = relationship(back_populates="renditions")


class CemBannedTerm(db.Model):
    """A term HQ forbids in one product category's copy (e.g. 건강식품: "치료")."""

    __tablename__ = "cem_banned_term"
    __table_args__ = (
        UniqueConstraint("category", "term", name="uq_cem_banned_term_category_term"),
        Index("ix_cem_banned_term_category", "category"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(100))
    term: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(300))
