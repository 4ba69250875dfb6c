"""Programmes API (/api/v1/prm/programmes): create with field-path errors (PG-10, PG-21), scope
(PG-3), transitions refused without a trace (PG-4), edits, and the run-end job."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.prm_groups.programmes_fixtures import BODY, body, programme, set_state

URL = "/api/v1/prm/programmes"
BODY_STEPS = BODY["steps"]


@pytest.fixture
def hq(app):
    with app.app_context():
        return bearer(api_token_for("hq@example.com"))


@pytest.fixture
def leader(app):
    with app.app_context():
        return bearer(api_token_for("leader1@example.com"))


def _count(table: str) -> int:
    return scalar(f"SELECT count(*) FROM {table}")


def test_create_returns_the_document(app, hq):
    client = app.test_client()
    resp = client.post(URL, json=body(), headers=hq)
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    assert resp.headers["Location"].endswith(f"{URL}/{doc['id']}")
    assert doc["state"] == "draft" and doc["group"]["code"] == "G01"
    assert doc["category"]["code"] == "health" and doc["category"]["name_ko"]
    assert doc["measurement_window"] == {"start": "2027-01-10", "end": "2027-03-30"}  # run + 30 days
    assert doc["seed"] == 42 and doc["holdout_share"] == 0.1 and doc["budget"] == 5000000
    assert [s["kind"] for s in doc["steps"]] == ["message", "seminar_series"]
    assert doc["steps"][0]["channels"] == ["email", "dm"] and doc["steps"][1]["completion_min"] == 2
    assert "submit" in doc["transitions"] and "approve" not in doc["transitions"]
    assert len(doc["revision"]) == 64 and doc["urls"]["self"].endswith(str(doc["id"]))
    with app.app_context():
        from plugins.prm_groups.models import PrmProgramme
        from portal.toolkit import Partner, db

        p = db.session.get(PrmProgramme, doc["id"])
        top = db.session.get(Partner, p.partner_id)
        assert top.sponsor_id is None and top.group_id == p.partner_group_id


def test_random_seed_is_stored_when_not_given(app, hq):
    data = body()
    del data["seed"]
    doc = app.test_client().post(URL, json=data, headers=hq).get_json()
    assert isinstance(doc["seed"], int) and 0 <= doc["seed"] < 2**63


def test_pg21_each_error_with_its_path_and_nothing_written(app, hq):
    client = app.test_client()
    with app.app_context():
        before = _count("prm_programme"), _count("prm_step"), _count("audit_event")
    bad = body(category="hlth", run_window={"start": "2027-02-01", "end": "2027-01-01"},
               sessions=[{"title": "1회", "starts_at": "2020-01-01T19:00", "ends_at": "2020-01-01T21:00",
                          "address": "서울", "capacity": 30}])
    resp = client.post(URL, json=bad, headers=hq)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert errors["category"] == "Unknown category."
    assert errors["run_window.end"] == "must not be before the start"
    assert "sessions[0].starts_at" in errors
    with app.app_context():
        assert (_count("prm_programme"), _count("prm_step"), _count("audit_event")) == before


def test_pg10_holdout_share_over_half(app, hq):
    resp = app.test_client().post(URL, json=body(holdout_share=0.6), headers=hq)
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == {"holdout_share": "must be 0–50 %"}


@pytest.mark.parametrize("change, path", [
    ({"colour": "red"}, "colour"),
    ({"group": "G99"}, "group"),
    ({"objective_metric": "revenue"}, "objective_metric"),
    ({"baseline_window": {"start": "2027-01-01", "end": "2027-01-20"}}, "baseline_window.end"),
    ({"baseline_window": {"start": "2026-13-01", "end": "2026-12-31"}}, "baseline_window.start"),
    ({"measurement_window": {"start": "2027-01-10", "end": "2027-02-01"}}, "measurement_window.end"),
    ({"design": []}, "design"),
    ({"design": ["holdout", "magic"]}, "design"),
    ({"holdout_share": "10%"}, "holdout_share"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**63}, "seed"),
    ({"budget": -5}, "budget"),
    ({"target_mde": 0}, "target_mde"),
    ({"steps": []}, "steps"),
    ({"steps": [{"kind": "letter"}]}, "steps[0].kind"),
    ({"steps": [{"kind": "message", "channels": ["fax"]}]}, "steps[0].channels"),
    ({"steps": [{"kind": "message", "channels": []}]}, "steps[0].channels"),
    ({"steps": [{"kind": "message", "channels": ["email"], "rules": {"all": [{"field": "nope", "op": "eq",
                                                                              "value": 1}]}}]}, "steps[0].rules"),
    ({"steps": [{"kind": "seminar_series", "completion_min": 0}]}, "steps[0].completion_min"),
    ({"steps": [{"kind": "message", "channels": ["email"]}] * 6}, "steps"),
])
def test_refusals_name_the_field(app, hq, change, path):
    resp = app.test_client().post(URL, json=body(**change), headers=hq)
    assert resp.status_code == 422, resp.get_json()
    errors = resp.get_json()["errors"]
    assert any(k == path or k.startswith(path + ".") or k.startswith(path + "[") for k in errors), errors


def test_not_json_is_422_never_500(app, hq):
    client = app.test_client()
    assert client.post(URL, data="nope", headers=hq).status_code == 422
    assert client.post(URL, json=[1, 2], headers=hq).status_code == 422
    assert client.post(URL, json=body(name=None, steps=None, group=7, budget=True), headers=hq).status_code == 422


def test_pg3_scope_leader_sees_own_group_only_branch_staff_403(app, hq, leader):
    client = app.test_client()
    with app.app_context():
        g01, g02 = programme().id, programme(group="G02", name="G02 지원").id
        store = bearer(api_token_for("store1@example.com"))
    assert client.get(f"{URL}/{g02}", headers=leader).status_code == 404
    assert client.get(f"{URL}/{g01}", headers=leader).status_code == 200
    assert client.get(f"{URL}/{g02}", headers=hq).status_code == 200
    assert {p["id"] for p in client.get(URL, headers=leader).get_json()["items"]} == {g01}
    assert {g01, g02} <= {p["id"] for p in client.get(URL, headers=hq).get_json()["items"]}
    # a leader's transition on another group's programme: 404, not 403
    assert client.post(f"{URL}/{g02}/transitions", json={"transition": "approve", "revision": "x"},
                       headers=leader).status_code == 404
    assert client.get(URL, headers=store).status_code == 403
    assert client.get(f"{URL}/{g01}", headers=store).status_code == 403
    assert client.post(URL, json=body(), headers=leader).status_code == 403
    assert client.get(f"{URL}/99999999999999999999", headers=hq).status_code == 404
    assert client.get(f"{URL}/abc", headers=hq).status_code == 404


def test_list_filters_sort_and_pagination(app, hq):
    client = app.test_client()
    with app.app_context():
        ids = [programme(name=f"프로그램 {i}").id for i in range(3)]
        programme(group="G02", name="다른 그룹")
    page = client.get(f"{URL}?group=G01&per_page=2&sort=name", headers=hq).get_json()
    assert page["total"] == 3 and len(page["items"]) == 2 and "next" in page
    assert [p["name"] for p in page["items"]] == ["프로그램 0", "프로그램 1"]
    assert client.get(f"{URL}?q=다른", headers=hq).get_json()["total"] == 1
    assert client.get(f"{URL}?state=draft&group=G01", headers=hq).get_json()["total"] == 3
    assert client.get(f"{URL}?state=running", headers=hq).get_json()["total"] == 0
    assert client.get(f"{URL}?state=bogus", headers=hq).status_code == 422
    assert client.get(f"{URL}?sort=bogus", headers=hq).status_code == 422
    assert set(ids)


def test_pg4_running_to_draft_is_409_and_writes_nothing(app, hq):
    client = app.test_client()
    with app.app_context():
        pid = programme().id
        set_state(pid, "running")
        before = _count("audit_event"), _count("workflow_history")
    for name in ("retract", "revise", "submit"):
        resp = client.post(f"{URL}/{pid}/transitions", json={"transition": name}, headers=hq)
        assert resp.status_code == 409, (name, resp.get_json())
    resp = client.post(f"{URL}/{pid}/transitions", json={"transition": "run_ended"}, headers=hq)
    assert resp.status_code == 422  # the system's, never a person's
    with app.app_context():
        assert (_count("audit_event"), _count("workflow_history")) == before
        assert scalar("SELECT state FROM prm_programme WHERE id = :i", i=pid) == "running"


def test_submit_needs_text_of_every_message_step(app, hq):
    client = app.test_client()
    with app.app_context():
        pid = programme().id
        before = _count("workflow_history")
    resp = client.post(f"{URL}/{pid}/transitions", json={"transition": "submit"}, headers=hq)
    assert resp.status_code == 409 and "steps[0].content" in resp.get_json()["errors"]
    with app.app_context():
        assert _count("workflow_history") == before


def test_transition_body_checked(app, hq, leader):
    client = app.test_client()
    with app.app_context():
        pid = programme(steps=[{"kind": "seminar_series", "completion_min": 1}]).id
    assert client.post(f"{URL}/{pid}/transitions", json={"go": "submit"}, headers=hq).status_code == 422
    assert client.post(f"{URL}/{pid}/transitions", json={}, headers=hq).status_code == 422
    assert client.post(f"{URL}/{pid}/transitions", json={"transition": "fly"}, headers=hq).status_code == 422
    # a leader may not submit (prm.manage is HQ's)
    assert client.post(f"{URL}/{pid}/transitions", json={"transition": "submit"}, headers=leader).status_code == 403
    resp = client.post(f"{URL}/{pid}/transitions", json={"transition": "submit", "comment": "검토 부탁"}, headers=hq)
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["state"] == "leader_review"
    # approve needs the revision; a stale one is 409
    lr = client.get(f"{URL}/{pid}", headers=leader).get_json()
    assert "approve" in lr["transitions"] and "reject" in lr["transitions"]
    assert client.post(f"{URL}/{pid}/transitions", json={"transition": "approve"}, headers=leader).status_code == 422
    assert client.post(f"{URL}/{pid}/transitions", json={"transition": "approve", "revision": "0" * 64},
                       headers=leader).status_code == 409
    # HQ may not approve (the leader's alone)
    assert client.post(f"{URL}/{pid}/transitions", json={"transition": "approve", "revision": lr["revision"]},
                       headers=hq).status_code == 403
    # the leader sends it back with a comment (required)
    assert client.post(f"{URL}/{pid}/transitions", json={"transition": "reject"}, headers=leader).status_code == 422
    resp = client.post(f"{URL}/{pid}/transitions", json={"transition": "reject", "comment": "날짜를 바꿔 주세요"},
                       headers=leader)
    assert resp.status_code == 200 and resp.get_json()["state"] == "rejected"


def test_patch_edits_in_editable_states_and_409_once_running(app, hq):
    client = app.test_client()
    with app.app_context():
        pid = programme().id
    resp = client.patch(f"{URL}/{pid}", json={"name": "새 이름", "holdout_share": 0.2}, headers=hq)
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["name"] == "새 이름" and doc["holdout_share"] == 0.2 and doc["seed"] == 42
    assert len(doc["steps"]) == 2  # steps not sent: kept
    resp = client.patch(f"{URL}/{pid}", json={"run_window": {"start": "2027-01-10", "end": "2027-01-31"}}, headers=hq)
    assert resp.get_json()["measurement_window"]["end"] == "2027-03-02"
    resp = client.patch(f"{URL}/{pid}", json={"steps": [{"kind": "message", "channels": ["email"]}]}, headers=hq)
    assert [s["kind"] for s in resp.get_json()["steps"]] == ["message"]
    assert client.patch(f"{URL}/{pid}", json={"holdout_share": 0.7}, headers=hq).status_code == 422
    assert client.patch(f"{URL}/{pid}", json={"sessions": []}, headers=hq).status_code == 422
    with app.app_context():
        set_state(pid, "running")
    resp = client.patch(f"{URL}/{pid}", json={"name": "x"}, headers=hq)
    assert resp.status_code == 409


def test_plan_edit_after_approval_goes_back_to_the_leader(app, hq, leader):
    client = app.test_client()
    with app.app_context():
        pid = programme(steps=[{"kind": "seminar_series", "completion_min": 1}]).id
    client.post(f"{URL}/{pid}/transitions", json={"transition": "submit"}, headers=hq)
    rev = client.get(f"{URL}/{pid}", headers=leader).get_json()["revision"]
    resp = client.post(f"{URL}/{pid}/transitions", json={"transition": "approve", "revision": rev}, headers=leader)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "approved"
    # a name is not part of what the leader approved: stays approved
    assert client.patch(f"{URL}/{pid}", json={"name": "이름만"}, headers=hq).get_json()["state"] == "approved"
    resp = client.patch(f"{URL}/{pid}", json={"holdout_share": 0.2}, headers=hq)
    assert resp.get_json()["state"] == "leader_review"


def test_run_end_job_moves_running_programmes_to_measuring(app):
    from plugins.prm_groups.programmes.jobs import end_runs

    with app.app_context():
        ended, going = programme(), programme(run_window={"start": "2027-01-10", "end": "2027-03-31"})
        set_state(ended.id, "running")
        set_state(going.id, "running")
        assert end_runs(date(2027, 3, 1))["moved"] == 1
        assert end_runs(date(2027, 3, 1)) == {"moved": 0, "skipped": 0, "failed": 0}
        assert scalar("SELECT state FROM prm_programme WHERE id = :i", i=ended.id) == "measuring"
        assert scalar("SELECT state FROM prm_programme WHERE id = :i", i=going.id) == "running"
        assert scalar("SELECT count(*) FROM workflow_history WHERE object_id = :i AND transition = 'run_ended'",
                      i=ended.id) == 1


CONTENT = {"signer": "김한빛", "email": {"subject": "건강한 한 해를 위해", "body": "안녕하세요, {{ customer.name }}님."},
           "dm": {"body": "건강 세미나에 초대합니다."}}


def test_content_revisions_approval_and_edit_back_to_the_leader(app, hq, leader):
    client = app.test_client()
    steps = [dict(BODY_STEPS[0], content=CONTENT), BODY_STEPS[1]]
    resp = client.post(URL, json=body(steps=steps), headers=hq)
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    pid = doc["id"]
    first = doc["steps"][0]["content"]
    assert first["revision"] == 1 and first["approved"] is False and first["signer"] == "김한빛"
    # the same text again adds no revision
    same = client.patch(f"{URL}/{pid}", json={"steps": steps}, headers=hq).get_json()
    assert same["steps"][0]["content"]["revision"] == 1
    assert client.post(f"{URL}/{pid}/transitions", json={"transition": "submit"}, headers=hq).status_code == 200
    rev = client.get(f"{URL}/{pid}", headers=leader).get_json()["revision"]
    resp = client.post(f"{URL}/{pid}/transitions", json={"transition": "approve", "revision": rev, "comment": "좋습니다"},
                       headers=leader)
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["state"] == "approved" and doc["steps"][0]["content"]["approved"] is True
    assert doc["plan"] and doc["approved_at"]
    edited = dict(CONTENT, dm={"body": "건강 세미나에 꼭 초대합니다."})
    doc = client.patch(f"{URL}/{pid}", json={"steps": [dict(BODY_STEPS[0], content=edited), BODY_STEPS[1]]},
                       headers=hq).get_json()
    assert doc["state"] == "leader_review"
    assert doc["steps"][0]["content"]["revision"] == 2 and doc["steps"][0]["content"]["approved"] is False


def test_content_errors_carry_step_paths(app, hq):
    bad = dict(BODY_STEPS[0], content={"signer": "", "email": {"subject": "제목"}})
    resp = app.test_client().post(URL, json=body(steps=[bad]), headers=hq)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert "steps[0].content.signer" in errors and "steps[0].content.email.body" in errors
    assert "steps[0].content.dm" in errors


def test_a_series_with_sessions_is_not_dropped_by_an_edit(app, hq):
    client = app.test_client()
    session = {"title": "1회차", "starts_at": "2027-01-24T19:00", "ends_at": "2027-01-24T21:00",
               "address": "서울 강남구", "capacity": 30}
    resp = client.post(URL, json=body(sessions=[session]), headers=hq)
    assert resp.status_code == 201, resp.get_json()
    pid = resp.get_json()["id"]
    resp = client.patch(f"{URL}/{pid}", json={"steps": [BODY_STEPS[0]], "name": "바꿈"}, headers=hq)
    assert resp.status_code == 409 and "steps" in resp.get_json()["errors"]
    with app.app_context():
        assert scalar("SELECT count(*) FROM prm_session WHERE programme_id = :p", p=pid) == 1
        assert scalar("SELECT name FROM prm_programme WHERE id = :p", p=pid) == BODY["name"]
