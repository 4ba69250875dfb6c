"""The results API, page and snapshots: scope (PG-3: the other group's leader gets 404, branch
staff 403), the document's shape with JSON nulls (PG-13), HQ's interim freeze, the final result at
close with the hook, frozen snapshots never rewritten, and the merge rule (PG-22)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import api_token_for, bearer, csrf_token
from tests.plugins.prm_groups import measurement_fixtures as fx


def _lift_programme(group_code: str = "G01", state: str = "running", n: int = 100, t: int = 30, h: int = 10):
    from portal.toolkit import db

    cat = fx.category(f"mt{group_code.lower()}")
    p = fx.programme(cat, group_code=group_code, state=state, name=f"{group_code} programme")
    arms = fx.draw_holdout(p, fx.new_customers(2 * n, group_code), share=0.5)
    fx.buy(arms["treatment"][:t], fx.IN_MEASURE, cat)
    fx.buy(arms["holdout"][:h], fx.IN_MEASURE, cat)
    db.session.commit()
    return p, cat, arms


def _get(client, email, pid):
    return client.get(f"/api/v1/prm/programmes/{pid}/results", headers=bearer(api_token_for(email)))


def test_document_shape_and_scope(app):
    p1, _cat, _arms = _lift_programme("G01")
    p2, _cat2, _arms2 = _lift_programme("G02")
    client = app.test_client()
    resp = _get(client, "hq@example.com", p1.id)
    assert resp.status_code == 200
    doc = json.loads(resp.get_data(as_text=True), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    for key in ("state", "plan", "interim", "final", "holdout", "did", "verdict", "frozen", "computed_at"):
        assert key in doc
    assert doc["state"] == "running" and doc["frozen"] is False and doc["final"] is None
    assert doc["holdout"]["arms"]["treatment"] == {"n": 100, "conversions": 30, "rate": 0.3, "revenue": 900000.0,
                                                   "revenue_per_customer": 9000.0}
    assert doc["verdict"] == "significant_increase" and doc["verdict_text"].startswith("Significant increase")
    # the group's leader sees its results; the other group's programme answers 404, as a missing one
    assert _get(client, "leader1@example.com", p1.id).status_code == 200
    other = _get(client, "leader1@example.com", p2.id)
    assert other.status_code == 404 and other.get_json()["error"] == "not_found"
    assert _get(client, "leader1@example.com", 999999).status_code == 404
    assert _get(client, "hq@example.com", "abc").status_code == 404
    assert _get(client, "hq@example.com", p2.id).status_code == 200
    # branch staff and distributors hold no prm.view: 403; no token: 401
    assert _get(client, "store1@example.com", p1.id).status_code == 403
    assert _get(client, "ibo1@example.com", p1.id).status_code == 403
    assert client.get(f"/api/v1/prm/programmes/{p1.id}/results").status_code == 401
    # aggregates only: nothing in the document names a customer of an arm
    text = json.dumps(doc)
    assert "customer_ids" not in text and "members" not in text


def test_no_conversions_document_has_nulls_not_nan(app):
    p, _cat, _arms = _lift_programme(n=50, t=0, h=0)
    resp = _get(app.test_client(), "hq@example.com", p.id)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "NaN" not in body and "Infinity" not in body
    doc = resp.get_json()
    assert doc["verdict"] == "no_conversions_yet" and doc["holdout"]["ratio"] is None
    assert doc["success"] is False


def test_before_start_there_is_no_result_yet(app):
    from portal.toolkit import db

    cat = fx.category()
    p = fx.programme(cat, state="draft")
    db.session.commit()
    doc = _get(app.test_client(), "hq@example.com", p.id).get_json()
    assert doc["verdict"] == "not_available" and doc["holdout"] == {"available": False, "reason": "not_started"}
    assert doc["did"] == {"available": False, "reason": "not_started"}
    resp = app.test_client().post(f"/api/v1/prm/programmes/{p.id}/results/interim",
                                  headers=bearer(api_token_for("hq@example.com")))
    assert resp.status_code == 409 and "running" in resp.get_json()["message"]


def test_interim_freeze_is_hq_only_and_never_rewritten(app):
    from plugins.prm_groups.models import PrmResult
    from portal.toolkit import db

    p, cat, arms = _lift_programme()
    client = app.test_client()
    url = f"/api/v1/prm/programmes/{p.id}/results/interim"
    assert client.post(url, headers=bearer(api_token_for("leader1@example.com"))).status_code == 403
    assert client.post(url, headers=bearer(api_token_for("store1@example.com"))).status_code == 403
    resp = client.post(url, headers=bearer(api_token_for("hq@example.com")))
    assert resp.status_code == 201
    frozen = resp.get_json()["snapshot"]
    assert frozen["kind"] == "interim" and frozen["frozen"] is True
    assert frozen["holdout"]["arms"]["holdout"]["conversions"] == 10
    # more sales later: the interim snapshot does not move, the live figures do
    fx.buy(arms["holdout"][10:40], fx.IN_MEASURE, cat)
    db.session.commit()
    doc = _get(client, "hq@example.com", p.id).get_json()
    assert doc["interim"]["holdout"]["arms"]["holdout"]["conversions"] == 10
    assert doc["holdout"]["arms"]["holdout"]["conversions"] == 40
    assert [s["kind"] for s in doc["snapshots"]] == ["interim"]
    row = db.session.scalar(select(PrmResult).where(PrmResult.programme_id == p.id))
    assert row.snapshot == frozen


def test_final_at_close_freezes_core_result_and_calls_the_hook(app):
    from plugins.prm_groups.measurement.hooks_impl import programme_result
    from plugins.prm_groups.measurement.results import document, finalize
    from portal.plugins import registry
    from portal.toolkit import User, db, frozen_results, get_experiment, hookimpl

    p, cat, arms = _lift_programme(state="measuring")
    hq = db.session.scalar(select(User).where(User.email == "hq@example.com"))
    seen = []

    class Listener:
        @hookimpl
        def prm_programme_closed(self, programme, result, actor):
            seen.append((programme, result, actor))

    listener = Listener()
    registry().pm.register(listener, name="test_prm_listener")
    try:
        p.state = "closed"
        row = finalize(p, hq)
        db.session.commit()
    finally:
        registry().pm.unregister(listener)
    assert row.kind == "final" and row.computed_by_id == hq.id
    assert len(seen) == 1 and seen[0][0]["id"] == p.id and seen[0][0]["group"] == "G01"
    assert seen[0][1]["verdict"] == "significant_increase" and seen[0][1]["frozen"] is True and seen[0][2] is hq
    exp = get_experiment("prm_groups", f"programme:{p.id}")
    assert [r.window for r in frozen_results(exp)] == [{"start": "2026-06-01", "end": "2026-08-30"}]
    # a second close returns the same final; later sales never change it
    assert finalize(p, hq).id == row.id
    fx.buy(arms["holdout"][10:90], fx.IN_MEASURE, cat)
    db.session.commit()
    doc = document(p)
    assert doc["frozen"] and doc["final"] == row.snapshot and doc["holdout"]["arms"]["holdout"]["conversions"] == 10
    assert programme_result(p.id)["final"] == row.snapshot
    assert programme_result(987654) is None and programme_result("x") is None


def test_pg22_merged_holdout_customer_is_excluded_and_counted(app):
    from portal.quality.service import merge_customers
    from portal.toolkit import Customer, User, db

    p, _cat, arms = _lift_programme()
    hq = db.session.scalar(select(User).where(User.email == "hq@example.com"))
    with app.test_request_context():
        merge_customers(hq, db.session.get(Customer, arms["treatment"][0]), db.session.get(Customer, arms["holdout"][0]))
        db.session.commit()
    doc = _get(app.test_client(), "hq@example.com", p.id).get_json()
    h = doc["holdout"]
    assert h["merged_excluded"] == 1
    assert h["arms"]["treatment"]["n"] == 100 and h["arms"]["holdout"]["n"] == 99
    page = app.test_client()
    from tests.conftest import login

    login(page, "hq@example.com")
    html = page.get(f"/prm/programmes/{p.id}/results").get_data(as_text=True)
    assert "병합된 기록 1건 제외" in html


def test_results_page_verdict_chart_plan_and_freeze_button(app, login_as):
    from plugins.prm_groups.measurement.plan import freeze_plan
    from portal.toolkit import db

    p, _cat, _arms = _lift_programme()
    freeze_plan(p)
    db.session.commit()
    client = login_as("hq@example.com")
    resp = client.get(f"/prm/programmes/{p.id}/results")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'data-verdict="significant_increase"' in html and 'data-testid="chart-holdout"' in html
    assert 'data-testid="chart-did"' in html and 'data-testid="plan-kept"' in html
    assert 'data-testid="freeze-interim"' in html and "NaN" not in html
    token = csrf_token(client, f"/prm/programmes/{p.id}/results")
    resp = client.post(f"/prm/programmes/{p.id}/results/interim", data={"csrf_token": token})
    assert resp.status_code == 302
    html = client.get(f"/prm/programmes/{p.id}/results").get_data(as_text=True)
    assert 'data-kind="interim"' in html


def test_results_page_scope_and_korean(app, login_as):
    p1, _c1, _a1 = _lift_programme("G01", n=50, t=9, h=5)
    p2, _c2, _a2 = _lift_programme("G02")
    client = login_as("leader1@example.com")
    resp = client.get(f"/prm/programmes/{p1.id}/results", headers={"Accept-Language": "ko"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'data-verdict="not_significant"' in html
    assert 'data-testid="results-success"' not in html and 'data-testid="freeze-interim"' not in html
    assert client.get(f"/prm/programmes/{p2.id}/results").status_code == 404
    assert client.post(f"/prm/programmes/{p1.id}/results/interim",
                       data={"csrf_token": csrf_token(client, f"/prm/programmes/{p1.id}/results")}).status_code == 403
    store = app.test_client()
    from tests.conftest import login

    login(store, "store1@example.com")
    assert store.get(f"/prm/programmes/{p1.id}/results").status_code == 403


def test_cancelled_after_start_is_still_measured_but_not_frozen_again(app):
    from portal.toolkit import db, utcnow

    p, _cat, _arms = _lift_programme(state="cancelled")
    p.started_at = utcnow()
    db.session.commit()
    client = app.test_client()
    doc = _get(client, "hq@example.com", p.id).get_json()
    assert doc["holdout"]["available"] and doc["verdict"] == "significant_increase"
    resp = client.post(f"/api/v1/prm/programmes/{p.id}/results/interim", headers=bearer(api_token_for("hq@example.com")))
    assert resp.status_code == 409
