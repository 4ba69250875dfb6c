"""Starting a programme (launch.start): PG-7 (unapproved content → 409, nothing written), PG-9
(the holdout draw among the eligible: exact counts, same seed same assignment, suppressed in
neither arm, holdout never in a target list or a campaign's recipients), the message steps as
cem campaigns created approved by the leader and scheduled, with the programme's origin."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests.plugins.cem_channels.campaign_fixtures import users
from tests.plugins.prm_groups.launch_fixtures import grant, make_group, make_programme, settle


def _counts():
    from plugins.cem_channels.campaign_models import CemCampaign
    from portal.experiments.models import Experiment
    from portal.toolkit import Extraction, db

    return (db.session.scalar(select(func.count()).select_from(Experiment)),
            db.session.scalar(select(func.count()).select_from(Extraction)),
            db.session.scalar(select(func.count()).select_from(CemCampaign)))


def _arms(exp_id: int) -> dict[int, str]:
    from portal.toolkit import ExperimentAssignment, db

    a = ExperimentAssignment
    return dict(db.session.execute(select(a.customer_id, a.arm).where(a.experiment_id == exp_id)).all())


def test_pg7_unapproved_content_refused_nothing_written(app):
    from plugins.prm_groups.programmes import ProgrammeError, launch
    from portal.toolkit import db

    with app.app_context():
        group, _ids = make_group("G91", customers=200)
        p = make_programme(group, approved=False)
        before = _counts()
        with force_locale("en"), pytest.raises(ProgrammeError) as exc:
            launch.start(p, users().hq)
        assert exc.value.status == 409
        assert exc.value.errors == {"content": "content not approved"}
        db.session.rollback()
        assert _counts() == before  # no experiment, no extraction, no campaign
        assert db.session.get(type(p), p.id).experiment_id is None


def test_pg9_draw_campaign_and_holdout_never_targeted(app):
    """1,000 eligible of 1,100 (100 without consent), 10 % → exactly 100 holdout, 900 treatment,
    stratified by distributor; the e-mail campaign is approved by the leader and scheduled; its
    audience excludes the holdout and the suppressed; launching it queues only treatment."""
    from plugins.cem_channels.campaign_models import CemCampaign, CemCampaignRecipient
    from plugins.cem_channels.campaigns.launch import launch as launch_campaign
    from plugins.prm_groups.programmes import launch
    from portal.experiments.models import Experiment, ExperimentSource
    from portal.toolkit import ExperimentAssignment, ExtractionMember, Message, db
    from portal.workflow.models import WorkflowHistory

    with app.app_context():
        u = users()
        group, ids = make_group("G92", customers=1_100, consented=1_000, partners=7)
        p = make_programme(group)
        out = launch.start(p, u.hq)
        db.session.commit()
        assert out["counts"] == {"treatment": 900, "holdout": 100, "control": 0}
        p = db.session.get(type(p), p.id)
        assert p.started_at is not None and p.experiment_id == out["experiment"]
        exp = db.session.get(Experiment, p.experiment_id)
        assert (exp.owner_plugin, exp.owner_ref, exp.seed, exp.strata) == ("prm_groups", f"programme:{p.id}", 42,
                                                                             ["partner"])
        arms = _arms(exp.id)
        assert set(arms) == set(ids[:1_000])  # the 100 without consent are in neither arm
        # stratified by distributor: every partner's holdout is ⌊10 %⌋ or ⌈10 %⌉ of its customers
        a = ExperimentAssignment
        for stratum, n, held in db.session.execute(
                select(a.stratum, func.count(), func.sum((a.arm == "holdout").cast(db.Integer)))
                .where(a.experiment_id == exp.id).group_by(a.stratum)):
            assert int(n) // 10 <= int(held) <= -(-int(n) // 10), stratum

        step = p.steps[0]
        campaign = db.session.get(CemCampaign, step.campaign_id)
        assert campaign.origin == f"prm_groups:programme:{p.id}:step:1"
        assert campaign.state == "scheduled"
        assert campaign.created_by_id == u.hq.id
        assert campaign.holdout_share == 0 and campaign.use_global_control is False
        assert {"field": "experiment.arm", "op": "eq", "value": f"{exp.id}:treatment"} in campaign.rules["all"]
        history = list(db.session.scalars(select(WorkflowHistory).where(
            WorkflowHistory.object_type == "cem.campaign", WorkflowHistory.object_id == campaign.id)
            .order_by(WorkflowHistory.id)))
        assert [h.transition for h in history] == ["submit", "approve", "schedule"]
        assert u.leader1.name in history[1].comment and "좋습니다" in history[1].comment
        assert db.session.get(ExperimentSource, ("cem_channels", f"campaign:{campaign.id}", exp.id)) is not None
        # the message set sits with the group and carries the approved text
        from plugins.cem_channels.voice_models import CemMessageSet

        ms = db.session.get(CemMessageSet, campaign.steps[0].message_set_id)
        assert ms.partner_group_id == group.id
        assert {r.channel for r in ms.renditions} == {"email"}

        # the campaign's launch at its start time: only the treatment is frozen and queued
        at = campaign.start_at + timedelta(minutes=1)
        result = launch_campaign(campaign, now=at)
        db.session.commit()
        assert result["state"] == "sending"
        holdout = {c for c, arm in arms.items() if arm == "holdout"}
        treated = {c for c, arm in arms.items() if arm == "treatment"}
        members = set(db.session.scalars(select(ExtractionMember.customer_id)
                                         .where(ExtractionMember.extraction_id == campaign.extraction_id)))
        assert members == treated and not members & holdout
        assert not set(db.session.scalars(select(ExtractionMember.customer_id)
                                          .where(ExtractionMember.customer_id.in_(holdout))))
        recipients = set(db.session.scalars(select(CemCampaignRecipient.customer_id)
                                            .where(CemCampaignRecipient.campaign_id == campaign.id)))
        assert recipients == treated
        queued = set(db.session.scalars(select(Message.customer_id).where(
            Message.source == "cem_channels", Message.source_object == f"campaign:{campaign.id}")))
        assert queued == treated


def test_pg9_same_seed_same_assignment_and_never_redrawn(app):
    from plugins.prm_groups.programmes import ProgrammeError, launch
    from portal.toolkit import db

    with app.app_context():
        hq = users().hq
        group, _ids = make_group("G93", customers=500, partners=5)
        first = make_programme(group, seed=42, name="첫 프로그램")
        second = make_programme(group, seed=42, name="둘째 프로그램")
        third = make_programme(group, seed=7, name="셋째 프로그램")
        a = launch.start(first, hq)
        b = launch.start(second, hq)
        c = launch.start(third, hq)
        db.session.commit()
        arms_a, arms_b, arms_c = _arms(a["experiment"]), _arms(b["experiment"]), _arms(c["experiment"])
        assert arms_a == arms_b  # same seed, same eligible set → identical assignment
        assert Counter(arms_a.values()) == Counter(arms_c.values()) == Counter(treatment=450, holdout=50)
        assert arms_a != arms_c
        # started once: a second start is refused (the programme is running, the draw stays)
        first = db.session.get(type(first), first.id)
        first.state = "approved"  # even if the state were wrong, the draw is never repeated
        with pytest.raises(ProgrammeError) as exc:
            launch.start(first, hq)
        assert exc.value.status == 409 and "experiment" in exc.value.errors
        db.session.rollback()
        assert _arms(a["experiment"]) == arms_a


def test_empty_audience_refused_nothing_written(app):
    from plugins.prm_groups.programmes import ProgrammeError, launch
    from portal.toolkit import db

    with app.app_context():
        group, _ids = make_group("G94", customers=50, consented=0)
        p = make_programme(group)
        before = _counts()
        with pytest.raises(ProgrammeError) as exc:
            launch.start(p, users().hq)
        assert exc.value.status == 409 and set(exc.value.errors) == {"audience"}
        db.session.rollback()
        assert _counts() == before


def test_two_channels_two_campaigns_union_of_eligible(app):
    """E-mail and DM: one campaign per channel (origin …:step:1 and …:step:1:dm); a customer who
    consents only to DM is eligible (the union) and reached by the DM campaign's audience."""
    from plugins.cem_channels.campaign_models import CemCampaign
    from plugins.prm_groups.programmes import launch
    from portal.toolkit import db

    with app.app_context():
        group, ids = make_group("G95", customers=300, consented=200, partners=3)
        grant(ids[200:250], "dm")  # 50 more reachable by DM only
        db.session.commit()
        settle()
        p = make_programme(group, channels=("email", "dm"))
        out = launch.start(p, users().hq)
        db.session.commit()
        assert sum(out["counts"].values()) == 250
        assert [(c["channel"], c["origin"]) for c in out["campaigns"]] == [
            ("email", f"prm_groups:programme:{p.id}:step:1"), ("dm", f"prm_groups:programme:{p.id}:step:1:dm")]
        campaigns = [db.session.get(CemCampaign, c["campaign"]) for c in out["campaigns"]]
        assert all(c.state == "scheduled" for c in campaigns)
        assert db.session.get(type(p), p.id).steps[0].campaign_id == campaigns[0].id


def test_leader_as_actor_cannot_be_own_approver(app):
    """cem's four-eyes through the hook: the approver must differ from the person creating it."""
    from plugins.cem_channels.campaigns import CampaignError
    from plugins.cem_channels.campaigns.bridge import create_from_hook
    from portal.toolkit import db
    from tests.plugins.cem_channels.campaign_fixtures import campaign_data, make_message_set, noon_kst

    with app.app_context():
        u = users()
        ms = make_message_set()
        draft = campaign_data(ms, start_at=noon_kst(3).isoformat() + "Z", origin="prm_groups:test",
                              approval={"approved_by": u.hq.id, "note": "ok"}, schedule=True)
        with pytest.raises(CampaignError) as exc:
            create_from_hook(draft, u.hq)
        assert exc.value.status == 403 and "approval.approved_by" in exc.value.errors
        db.session.rollback()


def test_cancel_cancels_the_campaigns_and_their_messages(app):
    from plugins.cem_channels.campaign_models import CemCampaign
    from plugins.prm_groups.programmes import launch
    from portal.toolkit import db

    with app.app_context():
        hq = users().hq
        group, _ids = make_group("G97", customers=200, partners=2)
        grant(_ids[:100], "dm")
        db.session.commit()
        settle()
        p = make_programme(group, channels=("email", "dm"))
        out = launch.start(p, hq)
        db.session.commit()
        done = launch.cancel(db.session.get(type(p), p.id), hq, "예산 취소")
        db.session.commit()
        assert sorted(d["id"] for d in done) == sorted(c["campaign"] for c in out["campaigns"])
        assert {db.session.get(CemCampaign, c["campaign"]).state for c in out["campaigns"]} == {"cancelled"}
        assert launch.cancel(db.session.get(type(p), p.id), hq) == [
            {"id": c["campaign"], "state": "cancelled"} for c in out["campaigns"]]  # idempotent
        # another user's scope: a leader of another group sees no campaign to cancel
        from portal.plugins import hook

        assert hook("cem_cancel_campaign")(ref="prm_groups:nothing", actor=hq, comment="") is None
