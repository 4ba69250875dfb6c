"""A programme's whole path through the API, each transition through ``service.fire`` with the
other areas' work attached: create → submit → the G01 leader approves the exact revision (plan
frozen) → HQ starts (launch: holdout drawn, the e-mail campaign created) → measuring (the daily
job) → closed with the final result; the group's leaders are told when it starts and when it closes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.prm_groups.launch_fixtures import EMAIL, future_day, grant
from tests.plugins.prm_groups.programmes_fixtures import body

URL = "/api/v1/prm/programmes"


def _running(app):
    """A G01 programme through create → submit → the leader's approval → start; returns
    (client, pid, go, hq, leader, end of the run window)."""
    from portal.toolkit import Customer, Partner, PartnerGroup, db

    with app.app_context():
        hq, leader = bearer(api_token_for("hq@example.com")), bearer(api_token_for("leader1@example.com"))
        group = db.session.scalar(select(PartnerGroup).where(PartnerGroup.code == "G01"))
        ids = list(db.session.scalars(select(Customer.id).join(Partner, Partner.id == Customer.partner_id)
                                      .where(Partner.group_id == group.id)))
        grant(ids)
        db.session.commit()
    start, end = future_day(1), future_day(30)
    steps = [{"kind": "message", "title": "리더 메시지", "channels": ["email"], "offset_days": 0,
              "content": {"signer": "김한빛", "email": EMAIL}}]
    client = app.test_client()
    window = {"start": start.isoformat(), "end": end.isoformat()}
    baseline = {"start": date.fromordinal(start.toordinal() - 365).isoformat(),
                "end": date.fromordinal(start.toordinal() - 1).isoformat()}
    resp = client.post(URL, json=body(steps=steps, run_window=window, baseline_window=baseline), headers=hq)
    assert resp.status_code == 201, resp.get_json()
    pid = resp.get_json()["id"]
    go = lambda who, **b: client.post(f"{URL}/{pid}/transitions", json=b, headers=who)  # noqa: E731
    assert go(hq, transition="submit").status_code == 200
    # starting before the approval: not from leader_review
    assert go(hq, transition="start").status_code == 409
    rev = client.get(f"{URL}/{pid}", headers=leader).get_json()["revision"]
    resp = go(leader, transition="approve", revision=rev, comment="좋습니다")
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["state"] == "approved" and doc["plan"] and doc["steps"][0]["content"]["approved"]
    assert "start" not in doc["transitions"]  # the leader may not start it
    resp = go(hq, transition="start")
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["state"] == "running" and doc["started_at"] and doc["steps"][0]["campaign_id"]
    return client, pid, go, hq, leader, end


def test_create_submit_approve_start_and_measure(app):
    from plugins.prm_groups.programmes.jobs import end_runs

    client, pid, go, hq, leader, end = _running(app)
    with app.app_context():
        leader_id = scalar("SELECT id FROM user_account WHERE email = 'leader1@example.com'")
        assert scalar("SELECT count(*) FROM notification WHERE kind = 'prm.programme_started' AND user_id = :u",
                      u=leader_id) == 1
        assert end_runs(date.fromordinal(end.toordinal() + 1))["moved"] == 1
    assert client.get(f"{URL}/{pid}", headers=hq).get_json()["state"] == "measuring"
    resp = go(hq, transition="close")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "closed" and resp.get_json()["closed_at"]
    with app.app_context():
        assert scalar("SELECT count(*) FROM prm_result WHERE programme_id = :p AND kind = 'final'", p=pid) == 1
        assert scalar("SELECT count(*) FROM notification WHERE kind = 'prm.programme_closed' AND user_id = :u",
                      u=leader_id) == 1
    assert go(hq, transition="cancel").status_code == 409


def test_cancelling_a_running_programme_cancels_its_campaigns(app):
    client, pid, go, hq, leader, end = _running(app)
    with app.app_context():
        campaign = scalar("SELECT campaign_id FROM prm_step WHERE programme_id = :p AND kind = 'message'", p=pid)
    assert go(leader, transition="cancel").status_code == 403
    resp = go(hq, transition="cancel", comment="예산 문제로 중단")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "cancelled"
    with app.app_context():
        assert scalar("SELECT state FROM cem_campaign WHERE id = :c", c=campaign) == "cancelled"
