"""Double submits at the same instant (PostgreSQL, where requests really run in parallel): two
leaders' approvals, two HQ starts, two submits of one programme — one succeeds, the other is
409 and leaves no trace (one launch: one holdout draw, one campaign per channel; one history row)."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.dbs import BACKEND
from tests.plugins.prm_groups.launch_fixtures import EMAIL, future_day, grant
from tests.plugins.prm_groups.programmes_fixtures import body

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="parallel requests need PostgreSQL; SQLite has one writer")

URL = "/api/v1/prm/programmes"


def _race(app, url: str, payloads: list[tuple[dict, dict]]) -> list[int]:
    barrier = threading.Barrier(len(payloads))
    out: list[int] = []

    def run(headers: dict, data: dict) -> None:
        client = app.test_client()
        barrier.wait(timeout=20)
        out.append(client.post(url, json=data, headers=headers).status_code)

    threads = [threading.Thread(target=run, args=p) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return sorted(out)


def _draft(app):
    from sqlalchemy import select

    from portal.toolkit import Customer, Partner, PartnerGroup, db

    with app.app_context():
        hq, leader = bearer(api_token_for("hq@example.com")), bearer(api_token_for("leader1@example.com"))
        group = db.session.scalar(select(PartnerGroup).where(PartnerGroup.code == "G01"))
        grant(list(db.session.scalars(select(Customer.id).join(Partner, Partner.id == Customer.partner_id)
                                      .where(Partner.group_id == group.id))))
        db.session.commit()
    start, end = future_day(1), future_day(30)
    steps = [{"kind": "message", "title": "리더 메시지", "channels": ["email"], "offset_days": 0,
              "content": {"signer": "김한빛", "email": EMAIL}}]
    baseline = {"start": date.fromordinal(start.toordinal() - 365).isoformat(),
                "end": date.fromordinal(start.toordinal() - 1).isoformat()}
    resp = app.test_client().post(URL, json=body(steps=steps, run_window={"start": start.isoformat(),
                                                                          "end": end.isoformat()},
                                                 baseline_window=baseline), headers=hq)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"], hq, leader


def test_double_submit_approve_and_start(app):
    pid, hq, leader = _draft(app)
    url = f"{URL}/{pid}/transitions"
    assert _race(app, url, [(hq, {"transition": "submit"})] * 2) == [200, 409]
    rev = app.test_client().get(f"{URL}/{pid}", headers=leader).get_json()["revision"]
    assert _race(app, url, [(leader, {"transition": "approve", "revision": rev})] * 2) == [200, 409]
    assert _race(app, url, [(hq, {"transition": "start"})] * 2) == [200, 409]
    with app.app_context():
        assert scalar("SELECT state FROM prm_programme WHERE id = :p", p=pid) == "running"
        assert scalar("SELECT count(*) FROM prm_step WHERE programme_id = :p AND campaign_id IS NOT NULL", p=pid) == 1
        assert scalar("SELECT count(*) FROM experiment WHERE owner_plugin = 'prm_groups' AND owner_ref LIKE :r",
                      r=f"%{pid}") == 1
        assert scalar("SELECT count(*) FROM prm_content_revision r JOIN prm_step s ON s.id = r.step_id "
                      "WHERE s.programme_id = :p AND r.approved_at IS NOT NULL", p=pid) == 1


def test_the_same_invitee_registering_four_times_at_once_is_one_registration(app):
    from tests.plugins.prm_groups.seminars_fixtures import add_session, invite_customers, make_programme

    with app.app_context():
        p = make_programme()
        s = add_session(p, capacity=5)
        inv = invite_customers(p, 1)[0]
        token, sid = inv.token, s.id
    codes = _race(app, f"/api/v1/prm/r/{token}/register", [({}, {"session": sid})] * 4)
    assert codes == [200] * 4, codes
    with app.app_context():
        assert scalar("SELECT count(*) FROM prm_registration WHERE session_id = :s", s=sid) == 1


def test_two_invite_runs_at_once_invite_each_customer_once(app):
    from sqlalchemy import select

    from portal.toolkit import ExperimentAssignment, db
    from tests.plugins.prm_groups.seminars_fixtures import add_session, consent_email, make_programme

    with app.app_context():
        p = make_programme()
        add_session(p)
        pid = p.id
        consent_email(list(db.session.scalars(select(ExperimentAssignment.customer_id).where(
            ExperimentAssignment.experiment_id == p.experiment_id))))
        hq = bearer(api_token_for("hq@example.com"))
    codes = _race(app, f"{URL}/{pid}/invitations", [(hq, {})] * 2)
    assert all(c in (200, 409) for c in codes) and 200 in codes, codes
    with app.app_context():
        assert scalar("SELECT count(*) FROM prm_invitation WHERE programme_id = :p", p=pid) > 10
        assert scalar("SELECT count(*) FROM prm_invitation WHERE programme_id = :p", p=pid) == scalar(
            "SELECT count(DISTINCT customer_id) FROM prm_invitation WHERE programme_id = :p", p=pid)
