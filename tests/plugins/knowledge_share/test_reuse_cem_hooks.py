"""cem_channels' hooks knowledge_share uses: ``cem_campaign_summary`` answers within the actor's
scope (or for the caller's own decision with ``actor=None``), ``cem_copy_message_set`` copies a set
into the actor's place; and an HQ reuser keeps the original's rules."""

from __future__ import annotations

from sqlalchemy import select

from plugins.cem_channels.campaign_models import CemCampaign
from plugins.cem_channels.voice_models import CemMessageSet
from plugins.knowledge_share.models import KsReuse
from plugins.knowledge_share.results.service import link_result
from plugins.knowledge_share.reuse.service import reuse_campaign
from portal.toolkit import db, plugin_hook
from tests.plugins.knowledge_share.results_fixtures import AUDIENCE, measured_campaign, story, unit_id, users


def test_campaign_summary_respects_the_scope(app):
    u = users()
    campaign = measured_campaign()
    summary = plugin_hook("cem_campaign_summary")
    assert summary(ref=campaign.id, actor=u.store2) is None  # B002 does not see B001's campaign
    mine = summary(ref=campaign.id, actor=u.store1)
    assert mine["name"] == campaign.name and mine["branch_id"] == unit_id("B001") and mine["frozen"] is True
    assert mine["rules"] == AUDIENCE and [s["channel"] for s in mine["steps"]] == ["sms"]
    assert summary(ref=campaign.id, actor=None)["id"] == campaign.id
    for junk in (0, -1, "x", True, 2**40, 99_999_999):
        assert summary(ref=junk, actor=None) is None


def test_copy_message_set_goes_to_the_actors_place(app):
    u = users()
    campaign = measured_campaign()
    original = db.session.get(CemMessageSet, campaign.steps[0].message_set_id)
    made = plugin_hook("cem_copy_message_set")(set_id=original.id, actor=u.store2)
    copy = db.session.get(CemMessageSet, made["id"])
    assert copy.id != original.id and copy.org_unit_id == unit_id("B002") and copy.created_by_id == u.store2.id
    assert {r.channel for r in copy.renditions} == {r.channel for r in original.renditions}
    assert plugin_hook("cem_copy_message_set")(set_id=99_999_999, actor=u.store2) is None


def test_hq_reuse_keeps_the_rules(app):
    u = users()
    campaign = measured_campaign()
    s = story(u.store1)
    link_result(s, campaign_id=campaign.id, actor=u.store1)
    made = reuse_campaign(s, u.hq)
    db.session.commit()
    draft = db.session.get(CemCampaign, made["id"])
    assert draft.rules == AUDIENCE and draft.branch_id is None and draft.state == "draft"
    reuse = db.session.execute(select(KsReuse).where(KsReuse.campaign_id == draft.id)).scalar_one()
    assert reuse.actor_id == u.hq.id and reuse.partner_group_id is None
