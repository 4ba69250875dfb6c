"""Invitations by conditions: the group's treatment customers matching the step's rules who may be
e-mailed, one invitation each with a token, one marketing e-mail each; idempotent; the holdout is
never invited; "opened or clicked step 1" needs step 1 sent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.plugins.prm_groups.seminars_fixtures import add_session, consent_email, hq, make_programme, series


def _group_ids(p):
    from portal.extensions import db
    from portal.toolkit import Customer, Partner

    return list(db.session.scalars(select(Customer.id).join(Partner, Partner.id == Customer.partner_id)
                                   .where(Partner.group_id == p.partner_group_id)))


def test_invite_treatment_contactable_once(app):
    from plugins.prm_groups.seminar_models import PrmInvitation
    from plugins.prm_groups.seminars.invitations import invite
    from portal.extensions import db
    from portal.toolkit import ExperimentAssignment, Message

    p = make_programme()
    add_session(p)
    ids = _group_ids(p)
    consent_email(ids)
    arms = dict(db.session.execute(select(ExperimentAssignment.customer_id, ExperimentAssignment.arm)
                                   .where(ExperimentAssignment.experiment_id == p.experiment_id)).all())
    n = invite(p, series(p), hq())
    db.session.commit()
    invited = dict(db.session.execute(select(PrmInvitation.customer_id, PrmInvitation.token)
                                      .where(PrmInvitation.step_id == series(p).id)).all())
    assert n == len(invited) > 0
    assert {arms[c] for c in invited} == {"treatment"}
    treatment = {c for c, a in arms.items() if a == "treatment"}
    from portal.toolkit import contactable

    assert set(invited) == set(contactable(treatment, "email", "marketing"))  # every contactable treated one
    assert all(len(t) >= 40 for t in invited.values()) and len(set(invited.values())) == len(invited)
    msgs = list(db.session.scalars(select(Message).where(Message.source == "prm_groups",
                                                         Message.idempotency_key.like("prm:invite:%"))))
    assert len(msgs) == n
    m = msgs[0]
    assert m.purpose == "marketing" and m.source_object == f"programme:{p.id}"
    assert m.subject.startswith("(광고)")
    assert f"/prm/r/{invited[m.customer_id]}" in m.body and "calendar.ics" in m.body
    # Idempotent: inviting again adds nobody and queues nothing.
    assert invite(p, series(p), hq()) == 0
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Message)
                             .where(Message.idempotency_key.like("prm:invite:%"))) == n


def test_invite_rules_and_consent(app):
    from plugins.prm_groups.seminar_models import PrmInvitation
    from plugins.prm_groups.seminars.invitations import invite
    from portal.extensions import db
    from portal.toolkit import Customer

    p = make_programme(rules={"all": [{"field": "total_spend", "op": "gte", "value": 0}]})
    ids = sorted(_group_ids(p))
    consent_email(ids[: len(ids) // 2])
    n = invite(p, series(p), hq())
    db.session.commit()
    invited = set(db.session.scalars(select(PrmInvitation.customer_id).where(PrmInvitation.step_id == series(p).id)))
    assert n == len(invited) > 0 and invited <= set(ids[: len(ids) // 2])
    owners = dict(db.session.execute(select(Customer.id, Customer.partner_id).where(Customer.id.in_(invited))).all())
    assert all(inv.partner_id == owners[inv.customer_id] for inv in db.session.scalars(
        select(PrmInvitation).where(PrmInvitation.step_id == series(p).id)))


def test_engagement_rule_needs_step_one_sent(app):
    from plugins.prm_groups.programmes import ProgrammeError
    from plugins.prm_groups.seminars.invitations import invite, translate_rules

    rule = {"all": [{"field": "prm.step_engagement", "op": "eq", "value": "1:opened_or_clicked"}]}
    p = make_programme(rules=rule)
    with pytest.raises(ProgrammeError) as err:
        invite(p, series(p), hq())
    assert err.value.status == 409 and "rules.all[0].value" in err.value.errors
    p.steps[0].campaign_id = 77
    assert translate_rules(p, rule) == {"all": [{"field": "cem.engagement", "op": "eq", "value": "77:opened_or_clicked"}]}
    with pytest.raises(ProgrammeError) as err:
        translate_rules(p, {"field": "prm.step_engagement", "op": "eq", "value": "2:opened"})
    assert err.value.status == 422


def test_invite_refused_unless_running(app):
    from plugins.prm_groups.programmes import ProgrammeError
    from plugins.prm_groups.seminars.invitations import invite

    p = make_programme(state="draft", draw=False, extra_customers=0)
    with pytest.raises(ProgrammeError) as err:
        invite(p, series(p), hq())
    assert err.value.status == 409


def test_daily_job_invites_due_series_once(app):
    from datetime import date, timedelta

    from plugins.prm_groups.seminar_models import PrmInvitation
    from plugins.prm_groups.seminars.jobs import send_invitations_job
    from portal.extensions import db

    p = make_programme()
    add_session(p)
    consent_email(_group_ids(p))
    p.created_by_id = hq().id
    series(p).offset_days = 14
    p.run_start = date.today() - timedelta(days=20)
    db.session.commit()
    first = send_invitations_job()
    assert first["programmes"] == 1 and first["invited"] > 0
    assert send_invitations_job()["invited"] == 0
    assert db.session.scalar(select(func.count()).select_from(PrmInvitation)
                             .where(PrmInvitation.step_id == series(p).id)) == first["invited"]
    # Not due yet: nothing.
    q = make_programme("G02", extra_customers=0)
    add_session(q)
    q.created_by_id = hq().id
    series(q).offset_days = 30
    db.session.commit()
    assert send_invitations_job()["programmes"] == 1  # only p again, with nobody new


def test_launch_spelling_of_step_engagement(app):
    from plugins.prm_groups.seminars.invitations import translate_rules

    p = make_programme(draw=False, extra_customers=0)
    p.steps[0].campaign_id = 5
    assert translate_rules(p, {"field": "cem.engagement", "op": "eq", "value": "step:1:clicked"}) == \
        {"field": "cem.engagement", "op": "eq", "value": "5:clicked"}
    assert translate_rules(p, {"field": "cem.engagement", "op": "eq", "value": "9:clicked"}) == \
        {"field": "cem.engagement", "op": "eq", "value": "9:clicked"}


def test_invite_thousands_in_chunks(app):
    """5,000 invitees: several insert chunks and queue chunks, one invitation and one e-mail each."""
    import time

    from plugins.prm_groups.seminar_models import PrmInvitation
    from plugins.prm_groups.seminars.invitations import invite
    from portal.extensions import db
    from portal.toolkit import Message

    p = make_programme(extra_customers=5000, holdout=0.1)
    add_session(p)
    consent_email(_group_ids(p))
    started = time.monotonic()
    n = invite(p, series(p), hq())
    db.session.commit()
    elapsed = time.monotonic() - started
    assert n >= 4500
    assert db.session.scalar(select(func.count()).select_from(PrmInvitation)
                             .where(PrmInvitation.step_id == series(p).id)) == n
    assert db.session.scalar(select(func.count()).select_from(Message)
                             .where(Message.idempotency_key.like(f"prm:invite:{series(p).id}:%"))) == n
    assert elapsed < 60, elapsed
