"""Stored customer scores (issue 4, parts 1–3 and 7): refresh on the demo warehouse, --if-stale,
the fit-clv and refresh commands, the overview page and the customer page's Scores tab — on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from portal.demo.loader import demo_end
from tests.conftest import login, post_form, scalar, sql

DATA = Path(__file__).parent / "data"
AS_OF = demo_end() + timedelta(days=1)  # the demo's sales end yesterday (Asia/Seoul)
CDNOW = ["--transactions", str(DATA / "CDNOW_sample.txt"), "--sep", "whitespace", "--no-header",
         "--customer-col", "col1", "--date-col", "col2", "--amount-col", "col4", "--date-format", "%Y%m%d",
         "--calibration-end", "1997-09-30"]


def execute(query: str, **params) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(text(query), params)
    db.session.commit()


def refresh(**kw):
    from portal.analytics.scoring import refresh_scores

    return refresh_scores(**{"as_of": AS_OF, **kw})


def cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["portal", "analytics", *args])


def english(client) -> None:
    post_form(client, "/language", {"lang": "en", "next": "/dashboard"})


def warehouse(as_of: date = AS_OF) -> dict[int, tuple[int, int, int]]:
    """Independent SQL: customer → (recency days, purchase days, total KRW) up to ``as_of``."""
    rows = sql("SELECT customer_id, MAX(sold_at), COUNT(DISTINCT sold_at), SUM(amount) FROM sale_line "
               "WHERE sold_at <= :d GROUP BY customer_id", d=as_of)
    return {cid: ((as_of - _day(last)).days, days, int(total)) for cid, last, days, total in rows}


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def stored() -> dict[int, tuple[int, int, int]]:
    return {cid: (r, f, m) for cid, r, f, m in sql("SELECT customer_id, recency_days, frequency, monetary FROM customer_score")}


def branch_customer(code: str, bought: bool = True) -> int:
    """The first customer of branch ``code`` with (or without) any sale line."""
    return scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id "
                  f"WHERE o.code = :b AND c.id {'' if bought else 'NOT '}IN (SELECT customer_id FROM sale_line) "
                  "ORDER BY c.id LIMIT 1", b=code)


# -- refresh -------------------------------------------------------------------------------------------


def test_refresh_scores_everyone_with_purchases_consistently_with_sql(app):
    run = refresh()
    expected = warehouse()
    assert run.status == "done" and run.customers == len(expected) > 300
    assert stored() == expected  # recency, distinct purchase days and spend, customer by customer
    assert scalar("SELECT COUNT(*) FROM customer_score WHERE as_of <> :d", d=AS_OF) == 0
    # Every score is 1–5, every segment a known one; the models fitted on the demo data.
    from portal.analytics.rfm import SEGMENTS

    bad = scalar("SELECT COUNT(*) FROM customer_score WHERE r_score NOT BETWEEN 1 AND 5 OR f_score NOT BETWEEN 1 AND 5 "
                 "OR m_score NOT BETWEEN 1 AND 5 OR p_alive IS NULL OR expected_value IS NULL")
    assert bad == 0
    assert {s for (s,) in sql("SELECT DISTINCT rfm_segment FROM customer_score")} <= set(SEGMENTS)
    model = run.params["purchase_model"]
    assert model["status"] == "ok" and model["chosen_by"] == "holdout"
    assert model["model"] in ("pareto_nbd", "mbgnbd", "bgnbd") and model["model"] in model["check"]["models"]
    assert set(run.params[model["model"]]) >= {"loglik", "issues", "se"} and not run.params[model["model"]]["issues"]
    assert set(run.params["gamma_gamma"]) >= {"p", "q", "v"}
    assert run.params[model["model"]]["loglik"] < 0 and run.finished_at >= run.started_at
    # expected value = expected purchases × the Gamma-Gamma spend: positive where purchases are.
    assert scalar("SELECT COUNT(*) FROM customer_score WHERE expected_value < 0 OR p_alive > 1 OR p_alive < 0") == 0
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'analytics.refresh' AND object_id = :i",
                  i=str(run.id)) == 1


def test_second_run_replaces_and_as_of_cuts_later_sales(app):
    refresh()
    first = stored()
    earlier = AS_OF - timedelta(days=150)
    run = refresh(as_of=earlier, horizon_weeks=13)
    assert run.horizon_weeks == 13
    assert stored() == warehouse(earlier) != first  # replaced, not added to
    assert scalar("SELECT COUNT(*) FROM customer_score") == len(warehouse(earlier)) < len(first)
    assert scalar("SELECT COUNT(*) FROM analytics_run WHERE status = 'done'") == 2


def test_empty_warehouse_and_too_few_customers_for_the_models(app):
    refresh()
    execute("DELETE FROM sale_line WHERE customer_id NOT IN (SELECT customer_id FROM sale_line ORDER BY customer_id LIMIT 12)")
    few = refresh()
    assert few.status == "done" and few.customers == len(warehouse()) > 0
    assert "Lifetime value not computed" in few.message and "bgnbd" not in few.params
    assert scalar("SELECT COUNT(*) FROM customer_score WHERE p_alive IS NOT NULL OR expected_value IS NOT NULL") == 0
    assert scalar("SELECT COUNT(*) FROM customer_score WHERE rfm_segment IS NULL") == 0  # RFM stored anyway

    execute("DELETE FROM sale_line")
    empty = refresh()
    assert (empty.status, empty.customers) == ("done", 0) and "nothing to score" in empty.message
    assert scalar("SELECT COUNT(*) FROM customer_score") == 0


def test_a_failing_refresh_is_recorded_and_keeps_the_old_scores(app, monkeypatch):
    from portal.analytics import scoring

    refresh()
    before = stored()

    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(scoring, "compute_scores", boom)
    result = cli(app, "refresh")
    assert result.exit_code == 1 and "disk on fire" in result.output and "Traceback" not in result.output
    assert sql("SELECT status, message FROM analytics_run ORDER BY id DESC LIMIT 1")[0] == (
        "failed", "RuntimeError: disk on fire")
    assert stored() == before


def test_if_stale_skips_until_a_report_is_committed(app):
    first = cli(app, "refresh", "--if-stale", "--json")  # never refreshed: runs
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["status"] == "done"
    skipped = cli(app, "refresh", "--if-stale")
    assert skipped.exit_code == 0 and "up to date" in skipped.stdout
    assert json.loads(cli(app, "refresh", "--if-stale", "--json").stdout)["status"] == "skipped"
    runs = scalar("SELECT COUNT(*) FROM analytics_run")

    from portal.sales.importer import import_report

    header = "report_date,branch_code,receipt_no,customer_code,customer_name,phone,product_sku,quantity,unit_price,amount"
    line = "2026-11-20,B001,R1,,김새손,010-7123-4567,HEA-001,1,32000,32000"
    result = import_report(f"{header}\n{line}\n".encode(), "day.csv", None, source="cli")
    assert result.status == "committed", result.message

    again = cli(app, "refresh", "--if-stale", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["status"] == "done"
    assert scalar("SELECT COUNT(*) FROM analytics_run") == runs + 1
    assert json.loads(cli(app, "refresh", "--if-stale", "--json").stdout)["status"] == "skipped"

    # An import that began before the refresh but committed after it read the warehouse: its
    # created_at is older than the run, yet the set of committed reports changed.
    execute("UPDATE sales_report SET status = 'replaced' WHERE id = :i", i=result.report_id)
    from portal.analytics.scoring import staleness

    assert "changed" in staleness()

    # Cron firing again while a long refresh is still at work: skip; an hours-old "running" row
    # is an interrupted run and no longer blocks.
    from portal.models import utcnow

    execute("INSERT INTO analytics_run (as_of, horizon_weeks, status, customers, started_at) "
            "VALUES (:d, 26, 'running', 0, :t)", d=AS_OF, t=utcnow())
    busy = cli(app, "refresh", "--if-stale")
    assert busy.exit_code == 0 and "still running" in busy.stdout
    execute("UPDATE analytics_run SET started_at = :t WHERE status = 'running'", t=utcnow() - timedelta(hours=3))
    assert json.loads(cli(app, "refresh", "--if-stale", "--json").stdout)["status"] == "done"


def test_refresh_cli_text_and_json(app):
    text_run = cli(app, "refresh", "--as-of", AS_OF.isoformat())
    assert text_run.exit_code == 0, text_run.output
    assert re.search(rf"run #\d+: Scored [\d,]+ customers as of {AS_OF.isoformat()}", text_run.stdout)
    assert re.search(r"(Pareto/NBD|MBG/NBD|BG/NBD): +r = .*\(used\)", text_run.stdout)
    assert "Gamma-Gamma:" in text_run.stdout and "holdout check: " in text_run.stdout
    assert "% Reading sales" in text_run.stderr  # not a terminal: one line per stage
    data = json.loads(cli(app, "refresh", "--as-of", AS_OF.isoformat(), "--horizon-weeks", "52", "--json").stdout)
    assert data["status"] == "done" and data["horizon_weeks"] == 52 and data["customers"] == len(warehouse())
    assert {"purchase_model", data["params"]["purchase_model"]["model"], "gamma_gamma"} <= set(data["params"])
    bad = cli(app, "refresh", "--as-of", "yesterday")
    assert bad.exit_code == 2 and "Traceback" not in bad.output


# -- fit-clv ---------------------------------------------------------------------------------------------


def test_fit_clv_reproduces_the_published_cdnow_fits(app, tmp_path):
    out = tmp_path / "pred.csv"
    result = cli(app, "fit-clv", *CDNOW, "--predict-weeks", "39", "--output", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # exactly one JSON object
    assert set(data) == {"customers", "bgnbd", "gamma_gamma"} and data["customers"] == 2357
    assert set(data["bgnbd"]) == {"r", "alpha", "a", "b", "loglik"} and set(data["gamma_gamma"]) == {"p", "q", "v"}
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "loglik": -9582.4}
    for key, value in published.items():
        assert data["bgnbd"][key] == pytest.approx(value, rel=0.01), key
    for key, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert data["gamma_gamma"][key] == pytest.approx(value, rel=0.01), key

    pred = pd.read_csv(out, dtype={"customer_id": str})
    assert list(pred.columns) == ["customer_id", "frequency", "recency", "T", "p_alive", "expected_purchases",
                                  "expected_value"]
    assert len(pred) == 2357 and pred["customer_id"].is_unique and pred["customer_id"].iloc[0] == "0001"
    assert pred["p_alive"].between(0, 1).all() and (pred["expected_value"] >= 0).all()
    # FHL 2005's worked example: customer 1 (x = 2, t_x = 30.43, T = 38.86) buys 1.226 times in 39 weeks;
    # in all, the holdout had 1,882 repeat purchases, which the model tracks slightly under.
    assert pred.loc[0, "expected_purchases"] == pytest.approx(1.226, rel=0.01)
    assert 0.8 * 1882 < pred["expected_purchases"].sum() < 1.05 * 1882


def test_fit_clv_with_a_header_and_positions(app, tmp_path):
    frame = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None, dtype=str,
                        names=["master", "id", "day", "cds", "value"])
    path = tmp_path / "tx.csv"
    frame.assign(day=pd.to_datetime(frame["day"], format="%Y%m%d").dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    result = cli(app, "fit-clv", "--transactions", str(path), "--customer-col", "1", "--date-col", "day",
                 "--amount-col", "value", "--calibration-end", "1997-09-30")
    assert result.exit_code == 0, result.output
    assert "2,357 customers (946 repeat buyers)" in result.stdout and "r = 0.2426" in result.stdout


@pytest.mark.parametrize(("content", "extra", "message"), [
    ("customer,day,amount\n1,2020-01-01,5\n", ["--customer-col", "cust"], "no column 'cust'"),
    ("customer,day,amount\n1,2020-01-01,5\n2,someday,7\n", [], "1 value(s) that are not dates"),
    ("customer,day,amount\n1,2020-01-01,5\n2,2020-01-02,five\n", [], "not numbers (first at data row 2: 'five')"),
    ("", [], "is empty"),
    ("customer,day,amount\n", [], "no data rows"),
    ("customer,day,amount\n1,2020-01-01,5\n", ["--output", "x.csv"], "--output needs --predict-weeks"),
    ("customer,day,amount\n1,2020-01-01,5\n", ["--calibration-end", "2019-01-01"], "no transactions on or before"),
    ("customer,day,amount\n1,2020-01-01,-5\n", [], "negative amounts"),
])
def test_fit_clv_bad_input_gets_a_message_not_a_traceback(app, tmp_path, content, extra, message):
    path = tmp_path / "tx.csv"
    path.write_text(content)
    args = ["fit-clv", "--transactions", str(path), "--customer-col", "customer", "--date-col", "day",
            "--amount-col", "amount", "--calibration-end", "2020-12-31"]
    for i in range(0, len(extra), 2):  # a repeated option: the later value wins
        args += extra[i:i + 2]
    result = cli(app, *args)
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


# -- overview page -----------------------------------------------------------------------------------------


def grid_total(html: str) -> int:
    grid = re.search(r'data-testid="rfm-grid">(.*?)</table>', html, re.S)
    assert grid, "no RFM grid"
    return sum(int(n) for n in re.findall(r'data-count="(\d+)"', grid.group(1)))


def chart(html: str, chart_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html, re.S)
    assert match, f"no chart {chart_id}"
    return json.loads(match.group(1))


def test_overview_before_any_refresh_shows_the_command(app, client):
    login(client, "hq@example.com")
    html = client.get("/analytics/").get_data(as_text=True)
    assert 'data-testid="analytics-empty"' in html and "portal analytics refresh" in html


@pytest.mark.parametrize("email", ["store1@example.com", "leader1@example.com", "hq@example.com"])
def test_overview_is_scoped_to_the_viewers_customers(app, client, email):
    refresh()
    independent = {
        "store1@example.com": "SELECT COUNT(*) FROM customer_score s JOIN customer c ON c.id = s.customer_id "
                              "JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001'",
        "leader1@example.com": "SELECT COUNT(*) FROM customer_score s JOIN customer c ON c.id = s.customer_id "
                               "JOIN partner p ON p.id = c.partner_id JOIN partner_group g ON g.id = p.group_id "
                               "WHERE g.code = 'G01'",
        "hq@example.com": "SELECT COUNT(*) FROM customer_score",
    }
    expected = scalar(independent[email])
    login(client, email)
    resp = client.get("/analytics/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 0 < grid_total(html) == expected
    assert f'data-testid="stat-scored">{expected:,}<' in html
    assert sum(chart(html, "chart-segments")["data"]["datasets"][0]["data"]) == expected
    assert sum(chart(html, "chart-alive")["data"]["datasets"][0]["data"]) == expected
    assert sum(chart(html, "chart-value")["data"]["datasets"][0]["data"]) == expected
    if email == "hq@example.com":
        assert expected == scalar("SELECT COUNT(DISTINCT customer_id) FROM sale_line WHERE sold_at <= :d", d=AS_OF)


def test_overview_differs_between_stores_and_refuses_others(app, client):
    refresh()
    totals = {}
    for email in ("store1@example.com", "store2@example.com"):
        c = app.test_client()
        login(c, email)
        totals[email] = grid_total(c.get("/analytics/").get_data(as_text=True))
    b002 = scalar("SELECT COUNT(*) FROM customer_score s JOIN customer c ON c.id = s.customer_id "
                  "JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B002'")
    assert totals["store2@example.com"] == b002 and totals["store1@example.com"] != b002

    anonymous = client.get("/analytics/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login(client, "reviewer@example.com")
    assert client.get("/analytics/").status_code == 403
    assert 'href="/analytics/"' not in client.get("/dashboard").get_data(as_text=True)  # no menu entry


def test_overview_segment_table_matches_sql_and_names_the_run(app, client):
    run = refresh()
    login(client, "hq@example.com")
    english(client)
    html = client.get("/analytics/").get_data(as_text=True)
    assert 'href="/analytics/"' in html  # the menu entry
    for segment, count in sql("SELECT rfm_segment, COUNT(*) FROM customer_score GROUP BY rfm_segment"):
        assert re.search(rf'data-segment="{segment}">.*?data-count="{count}"', html, re.S), segment
    facts = re.search(r'data-testid="run-facts">(.*?)</section>', html, re.S).group(1)
    assert AS_OF.isoformat() in facts and f"{run.customers:,}" in facts
    label = {"pareto_nbd": "Pareto/NBD", "mbgnbd": "MBG/NBD", "bgnbd": "BG/NBD"}[run.params["purchase_model"]["model"]]
    assert label in re.search(r'data-testid="purchase-model">(.*?)</dd>', facts, re.S).group(1)
    # No per-view access log for an aggregate page.
    assert scalar("SELECT COUNT(*) FROM access_log WHERE detail LIKE '%analytics%'") == 0


def test_failed_latest_run_is_flagged_on_the_overview(app, client):
    refresh()
    execute("INSERT INTO analytics_run (as_of, horizon_weeks, status, customers, message, started_at) "
        "VALUES (:d, 26, 'failed', 0, 'RuntimeError: disk on fire', :t)", d=AS_OF, t=date.today() + timedelta(days=1))
    login(client, "hq@example.com")
    english(client)
    html = client.get("/analytics/").get_data(as_text=True)
    assert 'data-testid="run-notice"' in html and "disk on fire" in html
    assert grid_total(html) > 0  # the previous scores still show


# -- customer page ------------------------------------------------------------------------------------------


def test_scores_tab_explains_the_customer_in_plain_words(app, client):
    refresh()
    cid = scalar("SELECT s.customer_id FROM customer_score s JOIN customer c ON c.id = s.customer_id "
                 "JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' AND s.frequency > 1 "
                 "AND s.recency_days > 1 ORDER BY s.customer_id LIMIT 1")
    recency, frequency, p_alive, value, segment = sql(
        "SELECT recency_days, frequency, p_alive, expected_value, rfm_segment FROM customer_score WHERE customer_id = :c",
        c=cid)[0]
    login(client, "store1@example.com")
    english(client)
    resp = client.get(f"/customers/{cid}?tab=scores")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    sentence = re.search(r'data-testid="score-explanation">(.*?)</p>', html, re.S).group(1)
    sentence = " ".join(sentence.split())
    assert sentence.startswith(f"Bought {frequency} times, last {recency} days ago; {round(p_alive * 100)}% likely still active;")
    about = re.search(r"expected to spend about ₩([\d,]+) in the next 26 weeks\.$", sentence)
    assert about, sentence
    assert abs(int(about.group(1).replace(",", "")) - value) <= 0.05 * value  # rounded to 2 significant digits
    assert f'data-segment="{segment}"' in html
    # The tab is part of the (already access-logged) customer view.
    assert scalar("SELECT COUNT(*) FROM access_log WHERE object_id = :c AND detail = 'tab=scores'", c=str(cid)) == 1


def test_scores_tab_empty_states_and_scope(app, client):
    unscored = branch_customer("B001", bought=False)
    other = branch_customer("B002")
    login(client, "store1@example.com")
    english(client)
    html = client.get(f"/customers/{unscored}?tab=scores").get_data(as_text=True)
    assert 'data-testid="score-empty"' in html and "Not scored yet" in html
    refresh()
    html = client.get(f"/customers/{unscored}?tab=scores").get_data(as_text=True)
    assert f"no purchases up to {AS_OF.isoformat()}" in html
    assert client.get(f"/customers/{other}?tab=scores").status_code == 404  # another branch's customer


# -- the purchase model: its check, its failures, who sees its parameters (issue 13, item 21) -------------


def test_overview_shows_the_model_check_and_keeps_parameters_from_staff(app):
    run = refresh()
    model = run.params["purchase_model"]
    check = model["check"]
    hq, store = app.test_client(), app.test_client()
    login(hq, "hq@example.com")
    login(store, "store1@example.com")
    english(store)
    html = store.get("/analytics/").get_data(as_text=True)
    # The chart: actual mean holdout purchases by calibration repeat count, one line per model.
    data = chart(html, "chart-check")["data"]
    assert data["labels"][0] == "0" and data["labels"][-1].endswith("+")
    assert data["datasets"][0]["data"] == [row["actual"] for row in check["by_frequency"]]
    assert len(data["datasets"]) == 1 + sum("rmse" in m for m in check["models"].values())
    table = re.search(r'data-testid="model-check-table">(.*?)</table>', html, re.S).group(1)
    chosen_row = re.search(rf'data-model="{model["model"]}">(.*?)</tr>', table, re.S).group(1)
    assert "used" in chosen_row and f'{round(check["actual_total"]):,}' in chosen_row
    # Staff see which model and why, never its raw parameters.
    assert 'data-testid="model-params"' not in html and "alpha =" not in html and "log-likelihood" not in html.lower()
    hq_html = hq.get("/analytics/").get_data(as_text=True)
    details = re.search(r'data-testid="model-params">(.*?)</details>', hq_html, re.S).group(1)
    assert "alpha = " in details and "Gamma-Gamma" in details


def test_a_degenerate_fit_is_reported_instead_of_certainty(app, client):
    """Customers who buy like clockwork and never leave (the old demo): every model's dropout
    parameters run off to their limits. Before: P(alive) = 100 % for all; now: none, and a warning."""
    import random

    execute("DELETE FROM sale_line")
    product_id, category_id, price = sql("SELECT id, category_id, unit_price FROM product ORDER BY id LIMIT 1")[0]
    rng, rows = random.Random(5), []
    for (cid,) in sql("SELECT id FROM customer ORDER BY id"):
        day, step = AS_OF - timedelta(days=rng.randint(200, 730)), rng.randint(10, 60)
        while day < AS_OF:
            rows.append({"c": cid, "p": product_id, "k": category_id, "d": day, "u": price})
            day += timedelta(days=max(1, int(rng.gauss(step, step / 4))))
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(text("INSERT INTO sale_line (customer_id, product_id, category_id, sold_at, quantity, unit_price, "
                            "amount) VALUES (:c, :p, :k, :d, 1, :u, :u)"), rows)
    db.session.commit()
    run = refresh()
    assert run.status == "done" and run.params["purchase_model"]["status"] == "degenerate"
    assert "degenerate" in run.message
    assert scalar("SELECT COUNT(*) FROM customer_score WHERE p_alive IS NOT NULL OR expected_value IS NOT NULL") == 0
    assert scalar("SELECT COUNT(*) FROM customer_score") == len(warehouse())  # RFM stored anyway
    login(client, "hq@example.com")
    english(client)
    html = client.get("/analytics/").get_data(as_text=True)
    warning = re.search(r'data-testid="model-degenerate">(.*?)</div>', html, re.S).group(1)
    assert "could not be fitted reliably" in warning and "BG/NBD" in warning
    assert 'data-testid="alive-hist"' not in html  # no P(alive) chart of false certainty


def test_a_degenerate_final_fit_falls_back_to_the_next_model(app, monkeypatch):
    """The check's winner refitted up to as_of may still turn out degenerate: the next model of the
    ranking is used, never the degenerate one."""
    import dataclasses

    from portal.analytics import clv_models

    real, spoiled = clv_models.fit_model, []

    def fit_model(name, *args, **kwargs):
        fit = real(name, *args, **kwargs)
        if kwargs.get("information", True) and not spoiled:  # the first final fit (not the check's)
            spoiled.append(name)
            return dataclasses.replace(fit, issues=("flat",))
        return fit

    monkeypatch.setattr(clv_models, "fit_model", fit_model)
    run = refresh()
    model = run.params["purchase_model"]
    assert spoiled and model["status"] == "ok" and model["model"] != spoiled[0]
    assert model["issues"][spoiled[0]] == ["flat"] and run.params[spoiled[0]]["issues"] == ["flat"]
    assert scalar("SELECT COUNT(*) FROM customer_score WHERE p_alive IS NULL") == 0


def test_scores_tab_names_the_model_the_refresh_used(app, client):
    run = refresh()
    label = {"pareto_nbd": "Pareto/NBD", "mbgnbd": "MBG/NBD", "bgnbd": "BG/NBD"}[run.params["purchase_model"]["model"]]
    cid = scalar("SELECT s.customer_id FROM customer_score s JOIN customer c ON c.id = s.customer_id "
                 "JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' ORDER BY s.customer_id LIMIT 1")
    login(client, "store1@example.com")
    english(client)
    html = client.get(f"/customers/{cid}?tab=scores").get_data(as_text=True)
    assert f"Estimated by the {label} and Gamma-Gamma models" in html


@pytest.mark.parametrize(("model", "published"), [
    ("pareto_nbd", {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}),  # Fader & Hardie's note
    ("mbgnbd", {"r": 0.5248, "alpha": 6.183, "a": 0.8914, "b": 1.614}),  # lifetimes' ModifiedBetaGeoFitter
])
def test_fit_clv_with_another_purchase_model(app, tmp_path, model, published):
    out = tmp_path / "pred.csv"
    result = cli(app, "fit-clv", *CDNOW, "--model", model, "--predict-weeks", "39", "--output", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"customers", "bgnbd", "gamma_gamma", model} == set(data) and data[model]["issues"] == []
    for name, value in published.items():
        assert abs(data[model][name] - value) <= 0.01 * value, (name, data[model][name])
    pred = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    # Customer 0003 bought once, 39 weeks before the end: BG/NBD would call them certainly alive.
    assert pred.loc["0003", "frequency"] == 0 and pred.loc["0003", "p_alive"] < 0.5
