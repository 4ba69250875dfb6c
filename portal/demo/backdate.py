"""Back-dating for demo data only: a demo shows a campaign sent weeks ago, but the services record
"now" (the dispatcher's ``sent_at``, the contact history, the workflow history). These helpers move
those timestamps for one source object after the fact — in the caller's transaction — so an add-on's
demo seed never writes core tables with its own SQL. Never call them outside a demo seed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from ..contact.models import Contact
from ..extensions import db
from ..messaging.models import Message
from ..workflow.models import WorkflowHistory


def demo_backdate_messages(source: str, source_object: str, *, created_at: datetime, sent_at: datetime,
                           contacts_after: datetime) -> int:
    """The messages of ``(source, source_object)`` created at ``created_at`` and (those sent) sent
    at ``sent_at``; their recipients' contact-history rows of ``source`` written after
    ``contacts_after`` moved to ``sent_at``. Returns how many messages moved."""
    ids = select(Message.id).where(Message.source == source, Message.source_object == source_object)
    moved = db.session.execute(update(Message).where(Message.id.in_(ids))
                               .values(sent_at=sent_at, claimed_at=sent_at, created_at=created_at, updated_at=sent_at)
                               .execution_options(synchronize_session=False)).rowcount or 0
    customers = select(Message.customer_id).where(Message.source == source, Message.source_object == source_object)
    db.session.execute(update(Contact).where(Contact.source == source, Contact.customer_id.in_(customers),
                                             Contact.at >= contacts_after).values(at=sent_at)
                       .execution_options(synchronize_session=False))
    return moved


def demo_backdate_history(object_type: str, object_id: int, at_by_transition: dict[str, datetime],
                          default: datetime | None = None) -> int:
    """The workflow history of one object: each transition named in ``at_by_transition`` at that
    time, every other at ``default`` (when given). Returns how many rows moved."""
    moved = 0
    for name, at in at_by_transition.items():
        moved += db.session.execute(update(WorkflowHistory).where(
            WorkflowHistory.object_type == object_type, WorkflowHistory.object_id == object_id,
            WorkflowHistory.transition == name).values(at=at).execution_options(synchronize_session=False)).rowcount or 0
    if default is not None:
        moved += db.session.execute(update(WorkflowHistory).where(
            WorkflowHistory.object_type == object_type, WorkflowHistory.object_id == object_id,
            WorkflowHistory.transition.not_in(list(at_by_transition))).values(at=default)
            .execution_options(synchronize_session=False)).rowcount or 0
    return moved


def demo_backdate_report(report_id: int, created_at: datetime) -> int:
    """A daily report (판매일보) filed at ``created_at`` (naive UTC) instead of when the demo loaded
    it: branch monitoring's demo shows a few reports filed after their deadline. Returns 1 when the
    report exists (0 otherwise)."""
    from ..models import SalesReport

    return db.session.execute(update(SalesReport).where(SalesReport.id == report_id).values(created_at=created_at)
                              .execution_options(synchronize_session=False)).rowcount or 0
