"""Later steps, fallbacks, pause time and closing (``campaigns/steps.py``): CE-13 (frozen Monday, opt-out
Tuesday, sent Wednesday → suppressed at send), conditions on the previous step's rows, the fallback
channel once, a pause that does not eat the lateness, and a campaign that is ``sending`` until every
row is terminal (CE-16, against the fake provider). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from plugins.cem_channels.campaign_models import CemCampaign, CemMessageEvent
from plugins.cem_channels.campaigns import steps as campaign_steps
from plugins.cem_channels.campaigns.jobs import tick
from plugins.cem_channels.campaigns.launch import launch
from portal.toolkit import db, dispatch, record_consent, transition, utcnow
from tests.plugins.cem_channels.sending_fixtures import (
    branch_ids,
    consent,
    message_set,
    messages,
    scheduled,
    set_status,
    user,
)

DAY = timedelta(days=1)


def _reload(campaign: CemCampaign) -> CemCampaign:
    db.session.expire_all()
    return db.session.get(CemCampaign, campaign.id)


def _two_steps(condition: str, *, start, lateness_minutes: int = 120, **step2):
    ms = message_set()
    return scheduled(user("hq@example.com"), ms, start_at=start, max_lateness_minutes=lateness_minutes,
                     steps=[{"channel": "email"}, {"channel": "email", "delay_hours": 48, "condition": condition,
                                                   **step2}])


def test_ce13_frozen_monday_opt_out_tuesday_send_wednesday(app):
    """The list is frozen (and step 1 sent) on Monday; one customer opts out on Tuesday; Wednesday's
    step goes to the frozen list and the dispatcher suppresses that customer: ``opted_out``."""
    ids = branch_ids("B001", with_email=True)
    consent(ids)
    monday = utcnow() - 2 * DAY - timedelta(minutes=5)
    campaign = _two_steps("always", start=monday, lateness_minutes=3 * 24 * 60)
    launch(campaign, now=monday)
    db.session.commit()
    dispatch()
    step1 = messages(campaign, 1)
    assert step1 and {m.status for m in step1} == {"sent"}
    leaver = step1[0].customer_id
    record_consent(leaver, "email", "marketing", False, method="web", source="test")  # Tuesday
    db.session.commit()
    campaign = _reload(campaign)
    assert campaign_steps.advance(campaign, monday + DAY) == {}  # step 2 is not due on Tuesday
    done = campaign_steps.advance(campaign, utcnow())  # Wednesday
    db.session.commit()
    assert done["step_2"]["queued"] == len(step1)
    dispatch()
    step2 = {m.customer_id: m for m in messages(campaign, 2)}
    assert (step2[leaver].status, step2[leaver].status_reason) == ("suppressed_at_send", "opted_out")
    assert {m.status for cid, m in step2.items() if cid != leaver} == {"sent"}
    assert tick()["finished"] == 1
    assert _reload(campaign).state == "done"


def test_conditions_read_the_previous_steps_rows(app):
    ids = branch_ids("B001", with_email=True)[:6]
    consent(ids)
    start = utcnow() - 3 * DAY
    campaigns = {c: _two_steps(c, start=start) for c in ("not_delivered", "not_opened", "not_clicked", "always")}
    for campaign in campaigns.values():
        launch(campaign, now=start)
    db.session.commit()
    for cond, campaign in campaigns.items():
        rows = {m.customer_id: m for m in messages(campaign, 1) if m.customer_id in ids}
        a, b, c, d, e, f = (rows[i] for i in ids)
        set_status([a.id, b.id, c.id], "sent")
        set_status([d.id], "failed_permanent", "refused")
        set_status([e.id], "suppressed_at_send", "opted_out")
        db.session.add_all([CemMessageEvent(message_id=a.id, campaign_id=campaign.id, customer_id=a.customer_id,
                                            kind="open"),
                            CemMessageEvent(message_id=a.id, campaign_id=campaign.id, customer_id=a.customer_id,
                                            kind="click"),
                            CemMessageEvent(message_id=b.id, campaign_id=campaign.id, customer_id=b.customer_id,
                                            kind="undelivered")])
        db.session.commit()
        campaign = _reload(campaign)
        chosen = set(db.session.scalars(campaign_steps.condition_select(campaign, campaign.steps[1]))) & set(ids)
        expected = {"not_delivered": {b.customer_id, d.customer_id, e.customer_id},
                    "not_opened": {b.customer_id, c.customer_id},
                    "not_clicked": {b.customer_id, c.customer_id},
                    "always": set(ids)}[cond]
        # f is still queued: unknown for not_delivered, not sent for not_opened / not_clicked
        assert chosen == expected, cond
    # step 2 waits for f's row to settle, at most max_lateness past its due time
    campaign = _reload(campaigns["not_delivered"])
    due = campaign_steps.due_at(campaign, campaign.steps[1])
    assert due == start + timedelta(hours=48)
    pending = [m.id for m in messages(campaign, 1) if m.status == "queued"]
    assert pending
    assert campaign_steps.advance(campaign, due + timedelta(minutes=1)) == {}
    done = campaign_steps.advance(campaign, due + timedelta(minutes=121))
    db.session.commit()
    assert "step_2" in done
    rows2 = messages(campaign, 2)
    assert rows2 and rows2[0].not_before == due + timedelta(minutes=120)


def test_fallback_channel_once(app):
    """E-mail step with an SMS fallback: a customer without an e-mail address (suppressed
    ``no_address``) gets the SMS once (key ``…:fb``); a second tick queues nothing more."""
    ids = branch_ids("B001", with_email=True)[:3]
    consent(ids)
    consent(ids, "sms", night=True)
    campaign = scheduled(user("hq@example.com"), message_set(),
                         rules={"all": [{"field": "branch", "op": "in", "value": ["B001"]}]},
                         steps=[{"channel": "email", "fallback_channel": "sms"}], dedupe_by_address=False)
    launch(campaign)
    db.session.commit()
    rows = {m.customer_id: m for m in messages(campaign, 1)}
    set_status([rows[ids[0]].id], "suppressed_at_send", "no_address")
    set_status([rows[ids[1]].id], "failed_permanent", "bounced")
    set_status([rows[ids[2]].id], "suppressed_at_send", "opted_out")  # no fallback for an opt-out
    campaign = _reload(campaign)
    assert campaign_steps.advance(campaign, utcnow())["fallback"] == 2
    db.session.commit()
    fb = [m for m in messages(campaign, 1) if m.idempotency_key.endswith(":fb")]
    assert {m.customer_id for m in fb} == {ids[0], ids[1]}
    assert {(m.channel, m.step) for m in fb} == {("sms", "1")}
    assert fb[0].idempotency_key == f"cem:{campaign.id}:1:{fb[0].customer_id}:fb"
    assert fb[0].body.startswith("(광고)")
    campaign = _reload(campaign)
    assert "fallback" not in campaign_steps.advance(campaign, utcnow())
    set_status([m.id for m in fb], "failed_permanent", "refused")
    campaign = _reload(campaign)
    assert "fallback" not in campaign_steps.advance(campaign, utcnow())  # once, never a fallback of a fallback


def test_pause_does_not_eat_the_lateness(app):
    """Paused for three hours: resuming pushes the unsent messages' expiry by three hours (once)."""
    consent(branch_ids("B001", with_email=True))
    campaign = scheduled(user("hq@example.com"), message_set())
    launch(campaign)
    db.session.commit()
    before = {m.id: m.expires_at for m in messages(campaign)}
    hq = user("hq@example.com")
    campaign = _reload(campaign)
    transition(campaign, "pause", hq)
    db.session.commit()
    db.session.execute(text("UPDATE workflow_history SET at = :t WHERE object_id = :i AND transition = 'pause'"),
                       {"t": utcnow() - timedelta(hours=3), "i": campaign.id})
    db.session.commit()
    campaign = _reload(campaign)
    transition(campaign, "resume", hq)
    campaign_steps.on_workflow_transitioned(campaign, "resume")
    db.session.commit()
    after = {m.id: m.expires_at for m in messages(campaign)}
    shift = {round((after[i] - before[i]).total_seconds() / 60) for i in before}
    assert shift == {180}
    campaign = _reload(campaign)
    assert campaign_steps.resumed(campaign) == 0  # applied once
    assert campaign.counts["paused_seconds"] >= 3 * 3600 - 5


def test_sending_until_every_row_is_terminal(app, provider):
    """CE-16 (the kill itself: tests/platform/test_messaging_kill.py): the campaign stays ``sending``
    while any SMS is not terminal — never ``done`` at half — and the provider sees each key once."""
    ids = branch_ids("B001")
    consent(ids, "sms", night=True)
    campaign = scheduled(user("hq@example.com"), message_set(), steps=[{"channel": "sms"}], dedupe_by_address=False)
    tick()
    total = len(messages(campaign))
    assert total > 10
    dispatch(limit=total // 2)
    assert tick().get("finished", 0) == 0
    campaign = _reload(campaign)
    assert campaign.state == "sending" and campaign.finished_at is None
    dispatch()
    assert tick()["finished"] == 1
    campaign = _reload(campaign)
    assert campaign.state == "done" and campaign.finished_at is not None
    keys = [r.body["idempotency_key"] for r in provider.to("/v1/sms")]
    sent = [m for m in messages(campaign) if m.status == "sent"]
    assert len(keys) == len(set(keys)) == len(sent) > 0
    assert set(keys) == {m.idempotency_key for m in sent}
    assert db.session.execute(select(CemCampaign.counts).where(CemCampaign.id == campaign.id)).scalar_one()[
        "messages"]["sent"] == len(sent)


def test_ce17_pause_change_the_rate_resume(app, provider):
    """CE-17: paused after the first third, the provider's rate lowered, resumed: nobody of the first
    third gets a second message, and the rest goes out at the new rate (no 1-second window over it)."""
    from portal.toolkit import pause, resume

    ids = branch_ids("B001")
    consent(ids, "sms", night=True)
    campaign = scheduled(user("hq@example.com"), message_set(), steps=[{"channel": "sms"}], dedupe_by_address=False)
    tick()
    total = len(messages(campaign))
    first = total // 3
    assert dispatch(limit=first)["sent"] == first
    hq = user("hq@example.com")
    campaign = _reload(campaign)
    transition(campaign, "pause", hq)
    pause("cem_channels", campaign.source_object, actor=hq)
    db.session.commit()
    assert dispatch()["claimed"] == 0 and tick().get("finished", 0) == 0
    app.config["PORTAL_CEM_RATE_PER_SECOND"] = "4"
    campaign = _reload(campaign)
    transition(campaign, "resume", hq)
    resume("cem_channels", campaign.source_object)
    campaign_steps.resumed(campaign)
    db.session.commit()
    before = len(provider.to("/v1/sms"))
    assert before == first
    assert dispatch()["sent"] == total - first
    requests = provider.to("/v1/sms")
    keys = [r.body["idempotency_key"] for r in requests]
    assert len(keys) == len(set(keys)) == total
    later = sorted(r.at for r in requests[first:])
    assert later[-1] - later[0] >= (len(later) - 1) / 4 - 0.3
    for i, t in enumerate(later):
        assert sum(1 for u in later[i:] if u - t < 1.0) <= 4 + 1  # evenly spaced at the new rate
    assert tick()["finished"] == 1
