"""HQ's experiment pages and the result panel macro: Korean by default, interim vs frozen marker,
verdict in words, no NaN anywhere, aggregates only, HQ only."""

from __future__ import annotations

from datetime import date

from flask import render_template_string

from tests.conftest import login, post_form, sql

PANEL = '{% from "macros/experiment_result.html" import experiment_result %}{{ experiment_result(r) }}'


def _experiment(holdout_share=0.3):
    from portal.experiments import create_experiment, draw
    from portal.extensions import db

    exp = create_experiment("cem_channels", "campaign:7", seed=1, holdout_share=holdout_share, strata=["branch"])
    draw(exp, [r[0] for r in sql("SELECT id FROM customer ORDER BY id")])
    db.session.commit()
    return exp


def test_hq_sees_the_list_and_the_result_panel_in_korean(app, login_as):
    exp = _experiment()
    client = login_as("hq@example.com")
    html = client.get("/experiments/").get_data(as_text=True)
    assert "실험" in html and f'/experiments/{exp.id}"' in html
    resp = client.get(f"/experiments/{exp.id}?start=2026-01-01&end=2026-10-31")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'data-testid="result-interim"' in html and "중간 결과" in html
    assert "처치군" in html and "홀드아웃" in html and "지점" in html  # stratum shown by its label
    assert "NaN" not in html and "inf" not in html.lower().replace("info", "")
    assert '<svg class="interval-bar"' in html
    assert "%p" in html  # percentage points in Korean


def test_frozen_result_shows_the_frozen_marker_and_merged_count(app, login_as):
    from portal.experiments import freeze
    from portal.extensions import db

    exp = _experiment()
    freeze(exp, start=date(2026, 1, 1), end=date(2026, 10, 31))
    db.session.commit()
    html = login_as("hq@example.com").get(f"/experiments/{exp.id}").get_data(as_text=True)
    assert 'data-testid="result-frozen"' in html and "확정된 결과는 바뀌지 않습니다" in html


def test_bad_dates_and_windows_give_a_message_not_an_error(app, login_as):
    exp = _experiment()
    client = login_as("hq@example.com")
    resp = client.get(f"/experiments/{exp.id}?start=yesterday&end=2026-10-31")
    assert resp.status_code == 200 and "날짜(YYYY-MM-DD)가 아닙니다" in resp.get_data(as_text=True)
    resp = client.get(f"/experiments/{exp.id}?start=2026-10-31&end=2026-01-01")
    assert resp.status_code == 200 and 'data-testid="window-error"' in resp.get_data(as_text=True)


def test_only_hq_and_admins_see_experiments(app, login_as):
    exp = _experiment()
    store = login_as("store1@example.com")
    assert store.get("/experiments/").status_code == 403
    assert store.get(f"/experiments/{exp.id}").status_code == 403
    assert "/experiments/" not in store.get("/dashboard").get_data(as_text=True)
    hq = app.test_client()
    assert login(hq, "hq@example.com").status_code == 302
    assert hq.get("/experiments/99999").status_code == 404
    assert hq.get("/experiments/abc").status_code == 404
    assert hq.get("/experiments/").status_code == 200


def test_panel_in_english_with_every_verdict_and_no_nan(app, login_as):
    from portal.experiments.stats import ArmStats, compare

    client = login_as("hq@example.com")
    post_form(client, "/language", {"lang": "en", "next": "/dashboard"})
    cases = {"significant": ((1000, 181), (1000, 100)), "not_significant": ((50, 9), (50, 5)),
             "no_conversions_yet": ((200, 0), (200, 0)), "too_small": ((5, 1), (0, 0))}
    for verdict, (t, c) in cases.items():
        cmp = compare(ArmStats(t[0], t[1], t[1] * 1000.0, t[1] * 1e6), ArmStats(c[0], c[1], c[1] * 1000.0, c[1] * 1e6))
        assert cmp.verdict == verdict
        snap = {"experiment_id": 1, "metric": "purchase", "window": {"start": "2026-01-01", "end": "2026-01-31"},
                "category": None, "against": "holdout", "merged_excluded": 1, "verdict": verdict,
                "computed_at": "2026-02-01T00:00:00Z", "frozen": False, "comparison": cmp.as_dict(),
                "arms": {"treatment": ArmStats(t[0], t[1], 0.0).as_dict(), "holdout": ArmStats(c[0], c[1], 0.0).as_dict(),
                         "control": ArmStats(0, 0, 0.0).as_dict()}}
        with app.test_request_context("/", headers={"Accept-Language": "en"}):
            from flask_babel import force_locale

            with force_locale("en"):
                html = render_template_string(PANEL, r=snap)
        assert f'data-verdict="{verdict}"' in html
        assert "nan" not in html.lower() and "None" not in html
        assert "1 merged record excluded." in html
        words = {"significant": "Significant", "not_significant": "Not significant",
                 "no_conversions_yet": "No conversions yet", "too_small": "Too small to tell"}
        assert words[verdict] in html
