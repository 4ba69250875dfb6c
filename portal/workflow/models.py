"""Tables of the workflow service (``migrations/versions/0013_workflow.py`` creates them).

Objects are referenced generically by ``(object_type, object_id)`` — the type name given to
:func:`portal.workflow.register_type` — so any core or add-on table can have a workflow without a
foreign key into it (an add-on's table may be dropped on uninstall; :func:`purge_type` clears its
rows here).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import utcnow

BIGID = BigInteger().with_variant(Integer, "sqlite")  # autoincrementing 64-bit ids on both databases


class WorkflowState(db.Model):
    """The current state of one object (types that keep their state in a column of their own,
    ``register_type(state_attr=...)``, have no row here). No row = the workflow's initial state."""

    __tablename__ = "workflow_state"
    __table_args__ = (UniqueConstraint("object_type", "object_id", name="uq_workflow_state_object"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[int] = mapped_column(BigInteger)
    workflow: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(40))
    revision_hash: Mapped[str | None] = mapped_column(String(64))  # the revision when it entered the state
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


# "my tasks": every object of a type in a review state, newest first.
Index("ix_workflow_state_type_state", WorkflowState.object_type, WorkflowState.state, WorkflowState.updated_at)


class WorkflowHistory(db.Model):
    """One transition of one object (append-only): from, to, who, when, why, which revision."""

    __tablename__ = "workflow_history"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[int] = mapped_column(BigInteger)
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    transition: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    comment: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    revision_hash: Mapped[str | None] = mapped_column(String(64))


Index("ix_workflow_history_object", WorkflowHistory.object_type, WorkflowHistory.object_id, WorkflowHistory.id)


class WorkflowApproval(db.Model):
    """An approval of one exact revision of an object; valid while the object's current revision
    hash equals ``revision_hash`` and it is not withdrawn. At most one open approval per object."""

    __tablename__ = "workflow_approval"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[int] = mapped_column(BigInteger)
    revision_hash: Mapped[str] = mapped_column(String(64))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(String(40))


Index("ix_workflow_approval_object", WorkflowApproval.object_type, WorkflowApproval.object_id)
Index("uq_workflow_approval_open", WorkflowApproval.object_type, WorkflowApproval.object_id, unique=True,
      postgresql_where=text("withdrawn_at IS NULL"), sqlite_where=text("withdrawn_at IS NULL"))
