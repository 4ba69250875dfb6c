"""``make run`` on a fresh clone (issue 13, items 20 and 21): ``flask portal demo`` leaves current
sales, computed scores that mean something, and Korean data — on SQLite and PostgreSQL.

What a first visitor used to see: an empty Analytics page and Scores tabs until someone ran
``portal analytics refresh``; sales that stopped on 2026-10-31 whatever the day; and, once
refreshed, a degenerate BG/NBD fit calling every customer — including ones gone for two years —
100 % likely still active, because the demo's customers never left.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from portal.extensions import db
from tests.conftest import login, make_app, scalar, sql
from tests.dbs import fresh_empty_db

# Enough customers for a few hundred gone more than two years; small enough for a test (~5 s).
CUSTOMERS = 1500


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """``flask portal demo`` on a brand-new migrated database — what ``make run`` does — loaded
    once for the module (the tests only read it)."""
    from portal.migrations_support import upgrade_core

    tmp = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PORTAL_INSTANCE_PATH", str(tmp / "instance"))
        url, drop = fresh_empty_db(tmp)
        app = make_app(url)
        with app.app_context():
            upgrade_core()
            result = app.test_cli_runner().invoke(args=["portal", "demo", "--customers", str(CUSTOMERS)])
            assert result.exit_code == 0 and "Traceback" not in result.output, result.output
            assert "customer scores: Scored" in result.output
            yield app
            db.session.remove()
            db.engine.dispose()
        drop()


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def test_the_demo_runs_up_to_yesterday_in_seoul_and_is_scored(demo_app):
    from portal.bounds import local_today

    yesterday = local_today() - timedelta(days=1)
    last, first = sql("SELECT MAX(sold_at), MIN(sold_at) FROM sale_line")[0]
    assert _day(last) == yesterday  # every chart is current on the day `make run` is run
    assert (yesterday - _day(first)).days > 2 * 365  # long enough for customers gone two years
    # Sales in every one of the last 12 months: no chart drops to zero.
    months = {(_day(d).year, _day(d).month) for (d,) in sql("SELECT DISTINCT sold_at FROM sale_line")}
    cursor = yesterday.replace(day=1)
    for _ in range(12):
        assert (cursor.year, cursor.month) in months, cursor
        cursor = (cursor - timedelta(days=1)).replace(day=1)
    # Scores computed by the demo itself, as of today, for everyone who bought.
    run_status, as_of = sql("SELECT status, as_of FROM analytics_run ORDER BY id DESC LIMIT 1")[0]
    assert run_status == "done" and _day(as_of) == local_today()
    assert scalar("SELECT COUNT(*) FROM customer_score") == scalar("SELECT COUNT(DISTINCT customer_id) FROM sale_line") > 0


def test_demo_p_alive_spreads_and_long_gone_customers_are_unlikely_alive(demo_app):
    rows = sql("SELECT p_alive, recency_days FROM customer_score")
    alive = [p for p, _ in rows]
    assert all(p is not None for p in alive)  # the fit is not degenerate on the demo
    assert sum(p < 0.5 for p in alive) / len(alive) > 0.3  # a substantial share likely gone
    assert sum(p > 0.8 for p in alive) / len(alive) > 0.15  # and a substantial share likely active
    # Every tenth of the range is used, not just 100 %.
    assert len({min(int(p * 10), 9) for p in alive}) == 10
    gone = [p for p, recency in rows if recency > 730]
    assert len(gone) > 50
    assert sum(p < 0.3 for p in gone) / len(gone) > 0.9


def test_first_visit_shows_the_analytics_page_and_a_scores_tab(demo_app):
    client = demo_app.test_client()
    login(client, "store1@example.com")
    html = client.get("/analytics/").get_data(as_text=True)
    assert 'data-testid="analytics-empty"' not in html and 'data-testid="stat-scored"' in html
    assert 'id="chart-alive"' in html and 'id="chart-check"' in html
    cid = scalar("SELECT s.customer_id FROM customer_score s JOIN customer c ON c.id = s.customer_id "
                 "JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' ORDER BY s.customer_id LIMIT 1")
    tab = client.get(f"/customers/{cid}?tab=scores").get_data(as_text=True)
    assert 'data-testid="score-explanation"' in tab and 'data-testid="score-empty"' not in tab


def test_demo_is_deterministic_for_a_day_and_follows_the_day(tmp_path, monkeypatch):
    """Same day, same data; another day, the same story shifted to end on that day."""
    from portal.demo.loader import load_demo
    from portal.migrations_support import upgrade_core

    def load(end: date) -> list[tuple]:
        url, drop = fresh_empty_db(tmp_path)
        monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / f"i{end}"))
        app = make_app(url)
        try:
            with app.app_context():
                upgrade_core()
                load_demo(customers=150, lines_per_customer=6, echo=lambda _m: None, install_plugins=False, end=end)
                rows = sql("SELECT l.customer_id, l.sold_at, p.sku, l.quantity, l.amount FROM sale_line l "
                           "JOIN product p ON p.id = l.product_id ORDER BY l.id")
                db.session.remove()
                db.engine.dispose()
        finally:
            drop()
        return [(cid, _day(sold), sku, qty, int(amount)) for cid, sold, sku, qty, amount in rows]

    day = date(2026, 3, 15)
    first, again, later = load(day), load(day), load(day + timedelta(days=40))
    assert first == again and len(first) > 500 and day - timedelta(days=14) < max(r[1] for r in first) <= day
    # The same customers buying the same things, 40 days later: the seeded test data (and every
    # test relying on it) is the same whatever day the suite runs, only its dates move.
    assert later == [(cid, sold + timedelta(days=40), *rest) for cid, sold, *rest in first]


LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
UNITS = {"ml", "SPF", "cm"}  # as written on Korean packaging ("수분 크림 50ml", "선크림 SPF50")


def test_demo_data_seen_in_the_korean_ui_is_korean(demo_app):
    texts = [r[0] for r in sql("SELECT name FROM org_unit")]
    texts += [r[0] for r in sql("SELECT name FROM partner_group")]
    texts += [r[0] for r in sql("SELECT name_ko FROM category")]
    texts += [r[0] for r in sql("SELECT name FROM household")]
    texts += [r[0] for r in sql("SELECT DISTINCT reason FROM quality_issue")]
    texts += [r[0].removesuffix(".csv") for r in sql("SELECT DISTINCT file_name FROM sales_report LIMIT 50")]
    texts += [r[0] for r in sql("SELECT name FROM customer LIMIT 200")]
    english = [t for t in texts if LATIN_WORD.search(t or "")]
    assert not english, english[:5]
    products = [r[0] for r in sql("SELECT name FROM product")]
    assert not [p for p in products if set(LATIN_WORD.findall(p)) - UNITS]


@pytest.mark.parametrize(("args", "env", "port"), [([], {}, "5000"), (["PORT=8123"], {}, "8123"), ([], {"PORT": "8124"}, "8124")])
def test_make_run_serves_on_port_or_5000(args, env, port):
    """``make run PORT=8080`` (or PORT in the environment) instead of a fixed 5000."""
    import os
    import shutil
    import subprocess

    from tests.conftest import ROOT

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "run", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env}, check=True).stdout
    serve = [line for line in out.splitlines() if " run --host " in line]
    assert serve and serve[-1].endswith(f"--port {port}")


def test_dashboard_trend_is_current_and_marks_the_partial_month(demo_app):
    """Twelve full months with sales up to last month (the fixed-date demo drew zeros since
    October 2026), and the month in progress named as partial rather than drawn as a fall."""
    import json

    from portal.dashboard.portlets import last_full_months

    client = demo_app.test_client()
    login(client, "hq@example.com")
    html = client.get("/dashboard").get_data(as_text=True)
    trend = json.loads(re.search(r'id="chart-trend">(.*?)</script>', html, re.S).group(1))
    amounts = trend["data"]["datasets"][0]["data"]
    assert len(amounts) == 12 and min(amounts) > 0
    _start, end = last_full_months(12)
    assert f"{end:%Y-%m}" not in trend["data"]["labels"]
    assert trend["options"]["plugins"]["subtitle"]["display"] is True
    assert f"{end:%Y-%m}" in trend["options"]["plugins"]["subtitle"]["text"]
    note = re.search(r'data-testid="trend-partial">(.*?)</p>', html, re.S).group(1)
    so_far = scalar("SELECT COALESCE(SUM(amount), 0) FROM sale_line WHERE sold_at >= :d", d=end)
    assert f"{end:%Y-%m}" in note and f"{int(so_far):,}" in note
