"""A done campaign's results freeze only after its attribution window's sales can be in: two days
after the window's last KST day (the tick, idempotent). Frozen at the last send they would show no
conversions at all."""

from __future__ import annotations

from datetime import timedelta

from portal.toolkit import Message, db, utcnow
from tests.plugins.cem_channels.sending_fixtures import (
    branch_ids,
    consent,
    message_set,
    scheduled,
    set_status,
    user,
)


def test_results_freeze_two_days_after_the_attribution_window(app):
    from plugins.cem_channels.campaign_models import CemCampaign, CemCampaignResult
    from plugins.cem_channels.campaigns.jobs import tick
    from plugins.cem_channels.campaigns.results import campaign_results, freeze_at

    with app.app_context():
        consent(branch_ids("B001", with_email=True), night=True)
        campaign = scheduled(user("hq@example.com"), message_set(), attribution_days=14)
        now = utcnow()
        assert tick(now).get("launched") == 1
        campaign = db.session.get(CemCampaign, campaign.id)
        set_status(list(db.session.scalars(db.select(Message.id).where(
            Message.source_object == campaign.source_object))), "sent")
        assert tick(now + timedelta(minutes=1)).get("finished") == 1
        campaign = db.session.get(CemCampaign, campaign.id)
        assert campaign.state == "done"
        at = freeze_at(campaign)
        # the window is 14 KST days from the launch's day; frozen at 00:00 KST two days after its end
        assert at - now > timedelta(days=14) and at - now < timedelta(days=17)
        assert (at + timedelta(hours=9)).hour == 0
        # done, but interim until then: the tick leaves it
        assert not tick(at - timedelta(seconds=1)).get("frozen")
        assert db.session.get(CemCampaignResult, campaign.id) is None
        assert campaign_results(campaign)["frozen"] is False
        # at the moment: frozen once
        assert tick(at).get("frozen") == 1
        assert tick(at + timedelta(minutes=1)).get("frozen") is None
        campaign = db.session.get(CemCampaign, campaign.id)
        assert campaign_results(campaign)["frozen"] is True
