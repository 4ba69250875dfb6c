"""A stored campaign's audience is counted in its creator's scope — what its launch will freeze —
whoever looks: an HQ approver sees the 0 that branch staff's B002 rules reach (CE-26), not HQ's own
count, and scheduling it is refused for nobody eligible (CE-29)."""

from __future__ import annotations

import pytest

from tests.plugins.cem_channels.campaign_fixtures import (
    branch_customer_ids,
    branch_rules,
    grant_marketing,
    make_campaign,
    noon_kst,
    users,
)


def test_preview_of_a_stored_campaign_counts_in_the_creators_scope(app):
    from plugins.cem_channels.campaigns.audience import preview

    with app.app_context():
        u = users()
        grant_marketing(branch_customer_ids("B001") + branch_customer_ids("B002"))
        campaign = make_campaign(u.store1, rules=branch_rules("B002"))
        assert preview(u.store1, campaign)["eligible"] == 0
        assert preview(u.hq, campaign)["eligible"] == 0  # HQ sees the campaign's audience, not its own
        # a draft's input (not stored yet) is counted in the actor's own scope
        data = {"name": "x", "purpose": "marketing", "rules": branch_rules("B002"),
                "steps": [{"channel": "sms", "message_set_id": campaign.steps[0].message_set_id}]}
        assert preview(u.hq, data)["eligible"] > 0
        mine = make_campaign(u.store1, rules=branch_rules("B001", "B002"))
        assert preview(u.hq, mine)["eligible"] == preview(u.store1, mine)["eligible"] > 0


def test_schedule_refuses_a_campaign_its_creator_cannot_reach(app):
    from plugins.cem_channels.campaigns import CampaignError
    from plugins.cem_channels.campaigns.service import approve, schedule, submit
    from portal.toolkit import current_revision, db

    with app.app_context():
        u = users()
        grant_marketing(branch_customer_ids("B002"))
        campaign = make_campaign(u.store1, rules=branch_rules("B002"))
        submit(u.store1, campaign)
        db.session.commit()
        approve(u.reviewer, campaign, current_revision(campaign))
        db.session.commit()
        with pytest.raises(CampaignError) as err:
            schedule(u.hq, campaign, noon_kst())
        assert err.value.status == 409
