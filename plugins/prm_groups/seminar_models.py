"""Seminar tables (prefix ``prm_``, migration ``prm_0002``): the sessions of a programme's
seminar series, invitations (one per invitee and series, with the token of the registration link
that needs no login) and registrations per session (capacity, waiting list, time-limited seat
offers, QR check-in token, tri-state attendance)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.toolkit import db, utcnow

INVITED, REGISTERED, DECLINED = "invited", "registered", "declined"
WAITLISTED, OFFERED, CANCELLED, EXPIRED = "waitlisted", "offered", "cancelled", "expired"
#: Invitation statuses (per invitee and series).
INVITATION_STATUSES = (INVITED, REGISTERED, DECLINED)
#: Registration statuses (per invitee and session).
REGISTRATION_STATUSES = (REGISTERED, WAITLISTED, OFFERED, CANCELLED, DECLINED, EXPIRED)
ATTENDED, NO_SHOW, NOT_MARKED = "attended", "no_show", "not_marked"
ATTENDANCE = (ATTENDED, NO_SHOW, NOT_MARKED)
OFFER_HOURS = 48
#: After this many days past a session's end, attendance edits need HQ and a reason (audited).
EDIT_DAYS = 7


class PrmSession(db.Model):
    """One seminar of a series; times stored in UTC, shown and entered in Asia/Seoul."""

    __tablename__ = "prm_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("prm_programme.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("prm_step.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    venue_branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    address: Mapped[str | None] = mapped_column(String(255))
    online_url: Mapped[str | None] = mapped_column(String(500))
    #: None = unlimited; 0 or less is refused (422).
    capacity: Mapped[int | None] = mapped_column(Integer)
    registration_deadline: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    venue = relationship("OrgUnit")


class PrmInvitation(db.Model):
    """An invitee of a seminar series: a customer (or a distributor), with the secret token of the
    registration link. One per (series step, customer)."""

    __tablename__ = "prm_invitation"
    __table_args__ = (UniqueConstraint("step_id", "customer_id", name="uq_prm_invitation_customer"),
                      UniqueConstraint("step_id", "partner_invitee_id", name="uq_prm_invitation_partner"))

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("prm_programme.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("prm_step.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    partner_invitee_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    #: The inviting customer's distributor at invitation time (distributors see their customers' invitations).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=INVITED)
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    responded_at: Mapped[datetime | None]


class PrmRegistration(db.Model):
    """A seat (or a place on the waiting list) at one session."""

    __tablename__ = "prm_registration"
    __table_args__ = (UniqueConstraint("session_id", "invitation_id", name="uq_prm_registration_invitation"),
                      Index("ix_prm_registration_waitlist", "session_id", "status", "waitlist_position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("prm_session.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("prm_invitation.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(12), default=REGISTERED)
    waitlist_position: Mapped[int | None] = mapped_column(Integer)
    offered_at: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None]
    attendance: Mapped[str] = mapped_column(String(12), default=NOT_MARKED)
    checkin_token: Mapped[str] = mapped_column(String(64), unique=True)
    checked_in_at: Mapped[datetime | None]
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    marked_at: Mapped[datetime | None]
    mark_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    session = relationship("PrmSession")
