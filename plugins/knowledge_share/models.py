"""Story tables (prefix ``ks_``, migration ``ks_0001``).

A story is one row of ``ks_story``. A *working copy* (plone.app.iterate's check-out) is another
row of the same table with ``base_id`` pointing at the published story it edits: it goes through
review on its own while the published story stays online unchanged; publishing the copy writes its
content into the base story (``version`` + 1, so helpful votes, which are per version, start
again) and the copy ends in state ``merged``. Lists and search show base stories only
(``base_id IS NULL``).

``state`` is the one source of truth of the workflow ``ks_story`` (``private → pending →
published → archived``). Who may *see* a story is its visibility (``stories/visibility.py``):
``scope_unit_id`` (the author's branch, or its region, for ``branch``/``region``) or
``scope_group_id`` (``group``); ``all`` is everyone with ``ks.view``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.toolkit import db, utcnow

PRIVATE, PENDING, PUBLISHED, ARCHIVED, MERGED = "private", "pending", "published", "archived", "merged"
STATES = (PRIVATE, PENDING, PUBLISHED, ARCHIVED, MERGED)
VISIBILITIES = ("branch", "region", "group", "all")
#: Channels a story may name (the core's channel registry codes plus face-to-face work).
STORY_CHANNELS = ("email", "sms", "kakao", "push", "dm", "phone", "visit", "seminar", "store")
SEASONS = ("spring", "summer", "autumn", "winter", "new_year", "chuseok", "year_end", "any")
#: The story's text fields, in the order of the form and the page (Markdown, sanitised on render).
TEXT_FIELDS = ("summary", "problem", "audience", "offer", "timeline", "steps", "result_text", "lessons")
TITLE_MAX = 200
#: The result block's marks.
VERIFIED, INTERIM, SELF_REPORTED = "verified", "interim", "self_reported"


class KsStory(db.Model):
    __tablename__ = "ks_story"
    __table_args__ = (
        Index("ix_ks_story_list", "state", "base_id", "published_at"),
        Index("ix_ks_story_scope", "visibility", "scope_unit_id", "scope_group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Set on a working copy: the published story it edits.
    base_id: Mapped[int | None] = mapped_column(ForeignKey("ks_story.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    summary: Mapped[str] = mapped_column(Text, default="")
    problem: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(Text, default="")
    #: A snapshot of the audience's segment rules, when the story came from a campaign.
    audience_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    offer: Mapped[str] = mapped_column(Text, default="")
    timeline: Mapped[str] = mapped_column(Text, default="")
    steps: Mapped[str] = mapped_column(Text, default="")
    #: Figures and narrative the author writes; labelled self-reported unless a link verifies them.
    result_text: Mapped[str] = mapped_column(Text, default="")
    lessons: Mapped[str] = mapped_column(Text, default="")
    # tags
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="SET NULL"))
    rfm_segment: Mapped[str | None] = mapped_column(String(40))
    season: Mapped[str | None] = mapped_column(String(20))
    #: Free keywords (≤ 10, each ≤ 30 characters).
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    # authorship and visibility
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    author_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    author_group_id: Mapped[int | None] = mapped_column(ForeignKey("partner_group.id"), index=True)
    visibility: Mapped[str] = mapped_column(String(10), default="all")
    scope_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    scope_group_id: Mapped[int | None] = mapped_column(ForeignKey("partner_group.id"))
    # links to measured work (a cem_channels campaign id, a prm_groups programme id)
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)
    programme_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: The result block copied from the linked frozen snapshot (``results/``); None when unlinked.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result_mark: Mapped[str] = mapped_column(String(15), default=SELF_REPORTED)
    result_checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # workflow
    state: Mapped[str] = mapped_column(String(10), default=PRIVATE, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The last time a reviewer published this story (or a working copy of it): freshness counts from here.
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    review_due: Mapped[date | None] = mapped_column(Date, index=True)
    #: Helpful votes of the current version (kept in step with ``ks_vote`` by the vote service).
    helpful_count: Mapped[int] = mapped_column(Integer, default=0)
    reuse_count: Mapped[int] = mapped_column(Integer, default=0)

    base = relationship("KsStory", remote_side=[id], foreign_keys=[base_id])
    attachments = relationship("KsAttachment", back_populates="story", cascade="all, delete-orphan",
                               order_by="KsAttachment.id")

    def __repr__(self) -> str:
        return f"<KsStory {self.id} {self.state}>"


class KsAttachment(db.Model):
    """An image or PDF of a story; the bytes live in the core's file store (``file_id``)."""

    __tablename__ = "ks_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("ks_story.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    story = relationship("KsStory", back_populates="attachments")


class KsSearchDoc(db.Model):
    """One row per base story: the bigram-expanded terms the search matches (``search/``). On
    SQLite an FTS5 table mirrors ``terms`` (migration ``ks_0002``); on PostgreSQL a stored
    ``tsv`` column (``to_tsvector('simple', terms)``) with a GIN index (``ks_0003``). Both exist
    only in the migrations, not in this model."""

    __tablename__ = "ks_search_doc"

    story_id: Mapped[int] = mapped_column(ForeignKey("ks_story.id", ondelete="CASCADE"), primary_key=True)
    terms: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class KsComment(db.Model):
    __tablename__ = "ks_comment"
    __table_args__ = (Index("ix_ks_comment_story", "story_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("ks_story.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime)
    hidden_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class KsVote(db.Model):
    """One "helpful" vote per person per story version."""

    __tablename__ = "ks_vote"
    __table_args__ = (UniqueConstraint("story_id", "version", "user_id", name="uq_ks_vote"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("ks_story.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class KsFollow(db.Model):
    """A followed tag: ``kind`` is ``category`` (value: category id), ``channel``, ``rfm``,
    ``season`` or ``keyword``; new stories with it go into the follower's digest."""

    __tablename__ = "ks_follow"
    __table_args__ = (UniqueConstraint("user_id", "kind", "value", name="uq_ks_follow"),
                      Index("ix_ks_follow_tag", "kind", "value"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Stories published up to this time have been in a digest for this follow.
    digested_until: Mapped[datetime | None] = mapped_column(DateTime)


class KsSession(db.Model):
    """A knowledge-sharing session: stories presented, invitees, attendance, minutes, actions."""

    __tablename__ = "ks_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # naive UTC
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    place: Mapped[str | None] = mapped_column(String(200))
    online_url: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    host_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    #: The organising unit (HQ, a region or a branch): who may manage the session.
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    #: How invitees were chosen: ``{"regions": [ids], "branches": [ids], "roles": [names]}``.
    invite_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    minutes: Mapped[str] = mapped_column(Text, default="")
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    uid: Mapped[str] = mapped_column(String(80), unique=True)  # iCalendar UID, stable across updates
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    agenda = relationship("KsAgendaItem", cascade="all, delete-orphan", order_by="KsAgendaItem.position")


class KsAgendaItem(db.Model):
    __tablename__ = "ks_agenda_item"
    __table_args__ = (UniqueConstraint("session_id", "position", name="uq_ks_agenda_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ks_session.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    story_id: Mapped[int] = mapped_column(ForeignKey("ks_story.id", ondelete="CASCADE"), index=True)
    presenter_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    minutes_note: Mapped[str] = mapped_column(Text, default="")


class KsInvitee(db.Model):
    __tablename__ = "ks_invitee"
    __table_args__ = (UniqueConstraint("session_id", "user_id", name="uq_ks_invitee"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ks_session.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    #: Tri-state: None = not marked, True = attended, False = absent (only after the start).
    attended: Mapped[bool | None] = mapped_column(Boolean)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    marked_at: Mapped[datetime | None] = mapped_column(DateTime)
    invited_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class KsActionItem(db.Model):
    __tablename__ = "ks_action_item"
    __table_args__ = (Index("ix_ks_action_due", "status", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ks_session.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | done | cancelled
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class KsReuse(db.Model):
    """A reuse of a story's campaign: the draft campaign created in the reuser's unit."""

    __tablename__ = "ks_reuse"
    __table_args__ = (Index("ix_ks_reuse_story", "story_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("ks_story.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(Integer, index=True)
    #: The reusing unit: a branch (``org_unit_id``) or a partner group (``partner_group_id``).
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    partner_group_id: Mapped[int | None] = mapped_column(ForeignKey("partner_group.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: The reused campaign's result once it is closed (copied like a story's result block).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

