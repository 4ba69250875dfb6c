"""The ``make run`` demo of cem_channels (issue 15): one finished campaign with a measured result
— a real simulated effect imported as sales — and one scheduled; idempotent."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import login


def _counts() -> dict[str, int]:
    from portal.toolkit import db

    tables = ["cem_banned_term", "cem_sender_number", "cem_kakao_template", "cem_message_set", "cem_campaign",
              "cem_campaign_recipient", "cem_message_event", "cem_campaign_result", "message", "sale_line",
              "sales_report", "experiment"]
    return {t: db.session.execute(db.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in tables}


def test_demo_seed_finished_and_scheduled_campaigns_idempotent(unconfigured_app):
    from plugins.cem_channels.campaign_models import CemCampaign
    from plugins.cem_channels.campaigns.results import attribution_window, campaign_results
    from plugins.cem_channels.seed import FINISHED, SCHEDULED, seed
    from portal.toolkit import Message, SaleLine, db, utcnow

    with unconfigured_app.app_context():
        seed("demo")
        finished = db.session.execute(db.select(CemCampaign).where(CemCampaign.name == FINISHED)).scalar_one()
        scheduled = db.session.execute(db.select(CemCampaign).where(CemCampaign.name == SCHEDULED)).scalar_one()
        assert finished.state == "done" and scheduled.state == "scheduled"
        assert scheduled.start_at > utcnow() and (scheduled.start_at + timedelta(hours=9)).hour == 10
        # four-eyes: composed by hq@, approved by reviewer@
        rows = db.session.execute(db.text(
            "SELECT h.transition, u.email FROM workflow_history h JOIN user_account u ON u.id = h.actor_id "
            "WHERE h.object_type = 'cem.campaign' AND h.object_id = :id"), {"id": finished.id}).all()
        by = dict(rows)
        assert by["submit"] == "hq@example.com" and by["approve"] == "reviewer@example.com"
        # e-mails really sent through the outbox, 40 days back
        sent = db.session.execute(db.select(db.func.count()).select_from(Message).where(
            Message.source_object == finished.source_object, Message.status == "sent")).scalar_one()
        assert sent == finished.counts["treatment"] > 0
        assert (utcnow() - finished.started_at).days >= 39
        # the holdout is 10 % and the lift is measured from imported sale lines
        doc = campaign_results(finished)
        assert doc["frozen"] is True
        holdout, treatment = doc["arms"]["holdout"], doc["arms"]["treatment"]
        assert round((holdout["n"]) / (holdout["n"] + treatment["n"]), 2) == 0.1
        assert doc["lift"] > 0 and doc["ci_low"] is not None and doc["ci_high"] > doc["lift"] > doc["ci_low"]
        start, end = attribution_window(finished)
        imported = db.session.execute(db.text(
            "SELECT COUNT(*) FROM sale_line l JOIN sales_report r ON r.id = l.report_id "
            "WHERE r.file_name LIKE '%정정%' AND r.status = 'committed'")).scalar_one()
        assert imported > 0
        in_window = db.session.execute(db.select(db.func.count()).select_from(SaleLine).where(
            SaleLine.sold_at >= start, SaleLine.sold_at <= end)).scalar_one()
        assert in_window > 0
        before = _counts()
        seed("demo")
        assert _counts() == before  # running the seed twice adds nothing
        finished_id = finished.id
    client = unconfigured_app.test_client()
    login(client, "hq@example.com")
    page = client.get(f"/campaigns/{finished_id}").get_data(as_text=True)
    assert FINISHED in page and "95" in page
    listing = client.get("/campaigns/").get_data(as_text=True)
    assert FINISHED in listing and SCHEDULED in listing
