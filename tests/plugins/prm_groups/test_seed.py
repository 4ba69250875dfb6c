"""The demo seed (``make run``): a finished G01 × 건강식품 programme with a measured, frozen result
from imported sale lines, its letters sent as cem campaigns, a seminar series with attendance; and
one programme waiting for leader1's approval. Idempotent."""

from __future__ import annotations

from sqlalchemy import func, select


def test_demo_seed_finished_and_waiting_programmes(app):
    from plugins.prm_groups.measurement.results import document
    from plugins.prm_groups.models import PrmProgramme, PrmResult
    from plugins.prm_groups.seed import FINISHED, WAITING, seed
    from plugins.prm_groups.seminar_models import PrmInvitation, PrmRegistration
    from portal.extensions import db

    seed("demo")
    seed("demo")  # idempotent
    done = db.session.execute(select(PrmProgramme).where(PrmProgramme.name == FINISHED)).scalar_one()
    waiting = db.session.execute(select(PrmProgramme).where(PrmProgramme.name == WAITING)).scalar_one()
    assert done.state == "closed" and done.plan and done.experiment_id
    assert waiting.state == "leader_review"
    assert db.session.scalar(select(func.count()).select_from(PrmResult).where(
        PrmResult.programme_id == done.id, PrmResult.kind == "final")) == 1
    doc = document(done)
    assert doc["frozen"] is True
    holdout = doc["holdout"]
    # the test template is small (a few dozen G01 customers): the effect is real, its significance
    # is the make-run demo's (5,000 customers; docs/prm_groups.md)
    arms = holdout["arms"]
    assert arms["holdout"]["n"] >= 1 and arms["treatment"]["n"] > arms["holdout"]["n"]
    assert arms["treatment"]["rate"] > arms["holdout"]["rate"] and holdout["lift"] > 0
    assert doc["did"]["available"] is True
    # the letters went out as cem campaigns (e-mail and DM), sent, never to the holdout
    from portal.toolkit import ExperimentAssignment, Message

    sent = db.session.execute(select(Message.channel, func.count()).where(
        Message.source == "cem_channels", Message.status == "sent",
        Message.customer_id.in_(select(ExperimentAssignment.customer_id).where(
            ExperimentAssignment.experiment_id == done.experiment_id, ExperimentAssignment.arm == "treatment")))
        .group_by(Message.channel)).all()
    assert {c for c, n in sent if n} >= {"email", "dm"}
    held = select(ExperimentAssignment.customer_id).where(ExperimentAssignment.experiment_id == done.experiment_id,
                                                          ExperimentAssignment.arm == "holdout")
    assert db.session.scalar(select(func.count()).select_from(Message).where(
        Message.source.in_(("cem_channels", "prm_groups")), Message.customer_id.in_(held),
        Message.created_at >= done.created_at)) == 0
    assert db.session.scalar(select(func.count()).select_from(PrmInvitation).where(
        PrmInvitation.programme_id == done.id, PrmInvitation.customer_id.in_(held))) == 0
    # the seminar series: registrations with all three attendance states
    marks = dict(db.session.execute(select(PrmRegistration.attendance, func.count())
                                    .join(PrmInvitation, PrmInvitation.id == PrmRegistration.invitation_id)
                                    .where(PrmInvitation.programme_id == done.id, PrmRegistration.status == "registered")
                                    .group_by(PrmRegistration.attendance)).all())
    assert marks.get("attended", 0) > 0


def test_demo_pages_show_the_programmes(app):
    from plugins.prm_groups.seed import FINISHED, WAITING, seed
    from tests.conftest import login

    seed("demo")
    hq = app.test_client()
    assert login(hq, "hq@example.com").status_code == 302
    listing = hq.get("/prm/programmes/").get_data(as_text=True)
    assert FINISHED in listing and WAITING in listing
    leader = app.test_client()
    assert login(leader, "leader1@example.com").status_code == 302
    approvals = leader.get("/prm/programmes/approvals").get_data(as_text=True)
    assert WAITING in approvals
