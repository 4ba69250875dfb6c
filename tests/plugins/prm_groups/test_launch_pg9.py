"""PG-9 at full size: 10,000 eligible after suppression (of 10,500: 300 without consent, 100 opted
out, 100 with an open complaint), holdout 10 %, seed 42 → exactly 1,000 holdout and 9,000
treatment, stratified by distributor; the same seed over the same set gives the identical
assignment; the suppressed are in neither arm; the holdout is in no ``extraction_member`` and
gets no message when the step's campaign launches."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update

from tests.plugins.cem_channels.campaign_fixtures import users
from tests.plugins.prm_groups.launch_fixtures import make_group, make_programme, settle


def _arms(exp_id: int) -> dict[int, str]:
    from portal.toolkit import ExperimentAssignment, db

    a = ExperimentAssignment
    return dict(db.session.execute(select(a.customer_id, a.arm).where(a.experiment_id == exp_id)).all())


def test_pg9_ten_thousand_eligible(app):
    from plugins.cem_channels.campaign_models import CemCampaign
    from plugins.cem_channels.campaigns.launch import launch as launch_campaign
    from plugins.prm_groups.programmes import launch
    from portal.toolkit import Consent, Customer, ExtractionMember, Message, db, utcnow

    with app.app_context():
        hq = users().hq
        group, ids = make_group("G96", customers=10_500, consented=10_200, partners=37)
        opted_out, complaint = ids[10_000:10_100], ids[10_100:10_200]
        db.session.execute(Consent.__table__.insert(), [
            {"customer_id": c, "channel": "email", "purpose": "marketing", "granted": False, "method": "web",
             "recorded_at": utcnow(), "kind": "consent", "source": "test"} for c in opted_out])
        db.session.execute(update(Customer).where(Customer.id.in_(complaint)).values(complaint=True))
        db.session.commit()
        settle()

        first = make_programme(group, seed=42, holdout_share=0.1, name="PG-9 첫째")
        again = make_programme(group, seed=42, holdout_share=0.1, name="PG-9 재실행")
        out = launch.start(first, hq)
        out_again = launch.start(again, hq)
        db.session.commit()
        assert out["counts"] == out_again["counts"] == {"treatment": 9_000, "holdout": 1_000, "control": 0}
        arms = _arms(out["experiment"])
        assert arms == _arms(out_again["experiment"])  # rerun with seed 42 → identical assignment
        assert set(arms) == set(ids[:10_000])  # the 500 suppressed are in neither arm
        assert Counter(arms.values()) == Counter(treatment=9_000, holdout=1_000)

        campaign = db.session.get(CemCampaign, db.session.get(type(first), first.id).steps[0].campaign_id)
        result = launch_campaign(campaign, now=campaign.start_at + timedelta(minutes=1))
        db.session.commit()
        assert result["state"] == "sending" and result["counts"]["eligible"] == 9_000
        holdout = [c for c, arm in arms.items() if arm == "holdout"]
        assert db.session.scalar(select(ExtractionMember.customer_id)
                                 .where(ExtractionMember.customer_id.in_(holdout)).limit(1)) is None
        assert db.session.scalar(select(Message.id).where(Message.source == "cem_channels",
                                                          Message.customer_id.in_(holdout)).limit(1)) is None
