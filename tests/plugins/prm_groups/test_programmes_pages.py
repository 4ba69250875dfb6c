"""Programme pages: list with tabs, search and group filter, the form (errors next to the fields,
the radar's group and category prefilled), detail with the workflow's buttons; scope (PG-3) and
the add-on switched off (PG-23)."""

from __future__ import annotations

from tests.conftest import csrf_token, login
from tests.plugins.prm_groups.programmes_fixtures import programme

FORM = {
    "name": "G01 건강식품 프로그램", "group": "G01", "category": "health", "objective_metric": "category_purchase_rate",
    "baseline_start": "2026-01-01", "baseline_end": "2026-12-31", "run_start": "2027-01-10", "run_end": "2027-02-28",
    "design": ["holdout", "did_vs_groups"], "holdout_pct": "10", "target_mde_pp": "3", "seed": "42", "budget": "",
    "steps-0-kind": "message", "steps-0-title": "리더 메시지", "steps-0-channels": ["email"], "steps-0-offset_days": "0",
    "steps-0-signer": "김한빛", "steps-0-email-subject": "건강한 한 해", "steps-0-email-body": "안녕하세요.",
    "steps-2-kind": "seminar_series", "steps-2-title": "세미나", "steps-2-offset_days": "14",
    "steps-2-completion_min": "2",
    "sessions-0-title": "1회차", "sessions-0-starts_at": "2027-01-24T19:00", "sessions-0-ends_at": "2027-01-24T21:00",
    "sessions-0-address": "서울 강남구", "sessions-0-capacity": "30",
}


def _client(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def test_index_empty_state_then_rows_tabs_and_filters(app):
    client = _client(app, "hq@example.com")
    html = client.get("/prm/programmes/").get_data(as_text=True)
    assert "empty" in html and "new-programme" in html
    with app.app_context():
        programme(name="첫 프로그램")
        programme(group="G02", name="두번째 프로그램")
    html = client.get("/prm/programmes/").get_data(as_text=True)
    assert html.count('data-testid="programme-row"') == 2 and "state-tab-draft" in html
    html = client.get("/prm/programmes/?group=G02").get_data(as_text=True)
    assert html.count('data-testid="programme-row"') == 1 and "두번째" in html
    html = client.get("/prm/programmes/?q=첫&sort=-name&state=draft").get_data(as_text=True)
    assert html.count('data-testid="programme-row"') == 1 and "첫 프로그램" in html
    assert client.get("/prm/programmes/?state=nonsense&sort=bad&page=x").status_code == 200


def test_new_form_prefilled_from_the_radar_and_errors_next_to_fields(app):
    client = _client(app, "hq@example.com")
    html = client.get("/prm/programmes/new?group=G03&category=beauty").get_data(as_text=True)
    assert '<option value="G03" selected>' in html and '<option value="beauty" selected>' in html
    token = csrf_token(client, "/prm/programmes/new")
    bad = {**FORM, "csrf_token": token, "category": "hlth", "run_end": "2027-01-01", "holdout_pct": "60",
           "sessions-0-starts_at": "2020-01-01T19:00", "sessions-0-ends_at": "2020-01-01T21:00"}
    resp = client.post("/prm/programmes/new", data=bad)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    for path in ("category", "run_window.end", "holdout_share", "sessions[0].starts_at"):
        assert f'data-testid="error-{path}"' in html, path
    assert "건강한 한 해" in html  # what was typed stays
    with app.app_context():
        from tests.conftest import scalar

        assert scalar("SELECT count(*) FROM prm_programme") == 0


def test_create_from_the_form_then_detail_and_edit(app):
    client = _client(app, "hq@example.com")
    token = csrf_token(client, "/prm/programmes/new")
    resp = client.post("/prm/programmes/new", data={**FORM, "csrf_token": token})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    detail = resp.headers["Location"]
    html = client.get(detail).get_data(as_text=True)
    assert 'data-state="draft"' in html and "action-submit" in html and "김한빛" in html
    with app.app_context():
        from tests.conftest import scalar

        pid = scalar("SELECT id FROM prm_programme")
        assert scalar("SELECT count(*) FROM prm_step WHERE programme_id = :p", p=pid) == 2
        assert scalar("SELECT position FROM prm_step WHERE kind = 'seminar_series'") == 2
        assert scalar("SELECT count(*) FROM prm_session WHERE programme_id = :p", p=pid) == 1
        assert scalar("SELECT holdout_share FROM prm_programme") == 0.1
    edit = client.get(f"/prm/programmes/{pid}/edit").get_data(as_text=True)
    assert 'value="G01 건강식품 프로그램"' in edit and "건강한 한 해" in edit
    form = {**FORM, "csrf_token": csrf_token(client, f"/prm/programmes/{pid}/edit"), "name": "바뀐 이름",
            "steps-1-kind": "seminar_series", "steps-2-kind": ""}
    form = {k: v for k, v in form.items() if not k.startswith("sessions-")}
    form.update({"steps-1-title": "세미나", "steps-1-completion_min": "2"})
    resp = client.post(f"/prm/programmes/{pid}/edit", data=form)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    assert "바뀐 이름" in client.get(detail).get_data(as_text=True)
    # send to the leader: the message step has its text, so it goes
    resp = client.post(f"/prm/programmes/{pid}/transition", data={"transition": "submit",
                                                                   "csrf_token": csrf_token(client, detail)})
    assert resp.status_code == 303
    html = client.get(detail).get_data(as_text=True)
    assert 'data-state="leader_review"' in html and "waiting-leader" in html
    # a running programme's edit page sends back to the detail
    with app.app_context():
        from tests.plugins.prm_groups.programmes_fixtures import set_state

        set_state(pid, "running")
    assert client.get(f"/prm/programmes/{pid}/edit").status_code == 303


def test_refused_transition_shows_the_reason(app):
    client = _client(app, "hq@example.com")
    with app.app_context():
        pid = programme().id
    detail = f"/prm/programmes/{pid}"
    resp = client.post(f"{detail}/transition", data={"transition": "submit", "csrf_token": csrf_token(client, detail)})
    assert resp.status_code == 409
    assert "action-errors" in resp.get_data(as_text=True)
    resp = client.post(f"{detail}/transition", data={"transition": "approve", "csrf_token": csrf_token(client, detail)})
    assert resp.status_code in (403, 422)


def test_pg3_leader_sees_own_group_branch_staff_no_menu_and_403(app):
    with app.app_context():
        g01, g02 = programme().id, programme(group="G02", name="G02 지원").id
    leader = _client(app, "leader1@example.com")
    assert leader.get(f"/prm/programmes/{g01}").status_code == 200
    assert leader.get(f"/prm/programmes/{g02}").status_code == 404
    assert leader.get(f"/prm/programmes/{g02}/edit").status_code in (403, 404)
    html = leader.get("/prm/programmes/").get_data(as_text=True)
    assert html.count('data-testid="programme-row"') == 1 and "new-programme" not in html
    hq = _client(app, "hq@example.com")
    assert hq.get(f"/prm/programmes/{g02}").status_code == 200
    store = _client(app, "store1@example.com")
    assert "/prm/programmes/" not in store.get("/dashboard").get_data(as_text=True)
    assert store.get("/prm/programmes/").status_code == 403
    assert store.get(f"/prm/programmes/{g01}").status_code == 403


def test_pg23_disabled_add_on_answers_404_and_comes_back(app):
    from portal.plugins_lifecycle import set_enabled
    from portal.toolkit import db

    with app.app_context():
        pid = programme().id
        from tests.conftest import api_token_for, bearer

        headers = bearer(api_token_for("hq@example.com"))
    client = _client(app, "hq@example.com")
    pages = ["/prm/programmes/", "/prm/programmes/new", f"/prm/programmes/{pid}", f"/prm/programmes/{pid}/edit"]
    assert all(client.get(path).status_code == 200 for path in pages)
    assert "/prm/programmes/" in client.get("/dashboard").get_data(as_text=True)
    with app.app_context():
        set_enabled("prm_groups", False)
        db.session.commit()
    assert {path: client.get(path).status_code for path in pages} == dict.fromkeys(pages, 404)
    assert client.get("/api/v1/prm/programmes", headers=headers).status_code == 404
    assert client.get(f"/api/v1/prm/programmes/{pid}", headers=headers).status_code == 404
    assert "/prm/programmes/" not in client.get("/dashboard").get_data(as_text=True)
    with app.app_context():
        from tests.conftest import scalar

        assert scalar("SELECT count(*) FROM prm_programme WHERE id = :p", p=pid) == 1  # data intact
        set_enabled("prm_groups", True)
        db.session.commit()
    assert client.get(f"/prm/programmes/{pid}").status_code == 200
    assert client.get(f"/api/v1/prm/programmes/{pid}", headers=headers).status_code == 200


def test_leader_approves_on_the_detail_page_the_revision_shown(app):
    import re

    with app.app_context():
        from plugins.prm_groups.programmes.service import fire
        from portal.toolkit import db
        from tests.plugins.prm_groups.programmes_fixtures import user

        p = programme(steps=[{"kind": "seminar_series", "completion_min": 1}])
        fire(p, "submit", user("hq@example.com"))
        db.session.commit()
        pid = p.id
    leader = _client(app, "leader1@example.com")
    detail = f"/prm/programmes/{pid}"
    html = leader.get(detail).get_data(as_text=True)
    assert "action-approve" in html and "action-reject" in html and "edit-programme" not in html
    revision = re.search(r'name="revision" value="([0-9a-f]{64})"', html).group(1)
    token = csrf_token(leader, detail)
    stale = leader.post(f"{detail}/transition", data={"transition": "approve", "revision": "0" * 64, "csrf_token": token})
    assert stale.status_code == 409
    resp = leader.post(f"{detail}/transition", data={"transition": "approve", "revision": revision, "csrf_token": token})
    assert resp.status_code == 303
    html = leader.get(detail).get_data(as_text=True)
    assert 'data-state="approved"' in html and "approval-in-force" in html
