"""The demo seed: published stories, one pending review, a stale one flagged, sessions with an
agenda and action items (one overdue for B001) — made through the services, idempotent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from plugins.knowledge_share.models import KsActionItem, KsAgendaItem, KsSession, KsStory
from plugins.knowledge_share.seed import seed
from portal.toolkit import OrgUnit, db, plugin_hook, utcnow


def _counts() -> tuple[int, ...]:
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in
                 (KsStory, KsSession, KsAgendaItem, KsActionItem))


def test_demo_seed_is_lived_in_and_idempotent(app):
    seed("demo")
    states = dict(db.session.execute(select(KsStory.state, func.count()).group_by(KsStory.state)).all())
    assert states.get("published", 0) >= 4 and states.get("pending") == 1
    today = (utcnow() + timedelta(hours=9)).date()
    stale = db.session.scalars(select(KsStory).where(KsStory.review_due < today)).all()
    assert len(stale) == 1 and stale[0].state == "published"
    upcoming = db.session.scalars(select(KsSession).where(KsSession.starts_at > utcnow())).one()
    assert len(upcoming.agenda) == 2
    b001 = db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == "B001"))
    overdue = plugin_hook("ks_overdue_action_items")(on=today, unit_ids=[b001])
    assert [i["days_overdue"] for i in overdue] == [5]
    before = _counts()
    seed("demo")
    assert _counts() == before
