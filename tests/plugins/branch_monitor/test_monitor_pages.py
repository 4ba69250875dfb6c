"""The monitor pages: who sees which branch (BM-10), the list's order, search, filters and pages,
"N/A" for a change from 0 (BM-6), the funnel plot, Branch Staff's own scorecard with percentile
bands and no other branch named, the logged export, the portlets, Korean and English."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.conftest import scalar
from tests.plugins.branch_monitor.monitor_fixtures import (
    BRANCHES,
    R01,
    R01_LOCAL,
    client_for,
    put_alert,
    put_state,
    r01_hq,
    seed_kpis,
)

M = "month=2026-03"


@pytest.fixture
def seeded(app):
    """KPIs of Feb/Mar 2026 for the twelve branches; B004 in alarm (one open alert), B007 in alert."""
    with app.app_context():
        seed_kpis()
        put_state("B004", "at_risk_contact_rate", "alarm")
        put_state("B007", "consent_capture_rate", "alert")
        put_state("B001", "at_risk_contact_rate", "ok")
        put_alert("B004", "at_risk_contact_rate", "alarm")
        r01_hq()
    return app


def row_codes(html: str) -> list[str]:
    return re.findall(r'data-testid="branch-row" data-branch="(B\d+)"', html)


def others_named(html: str, own: str) -> list[str]:
    """Codes or names of branches other than ``own`` found anywhere in ``html``."""
    return [f"{c} {n}" for c, n in BRANCHES.items() if c != own and (c in html or n in html)]


def test_hq_sees_every_branch_worst_state_first_then_code(seeded):
    html = client_for(seeded, "hq@example.com", "en").get(f"/monitor/?{M}").get_data(as_text=True)
    # not a league table: alarm, alert, then ok / not evaluated by code — never by a value
    assert row_codes(html) == ["B004", "B007", "B001", "B002", "B003", "B005", "B006", "B008", "B009", "B010",
                               "B011", "B012"]
    assert 'data-branch="B004" data-state="alarm"' in html and ">Alarm<" in html and ">Alert<" in html
    assert html.count('data-region="R0') == 3  # the regions' summary


def test_sort_search_state_filter_and_pages(seeded):
    c = client_for(seeded, "hq@example.com", "en")
    assert row_codes(c.get(f"/monitor/?{M}&sort=-code").get_data(as_text=True))[:3] == ["B012", "B011", "B010"]
    assert row_codes(c.get(f"/monitor/?{M}&sort=name").get_data(as_text=True))[0] == "B001"  # 강남점 sorts first
    assert row_codes(c.get(f"/monitor/?{M}&sort=alerts").get_data(as_text=True))[0] == "B004"
    assert row_codes(c.get(f"/monitor/?{M}&q=강남").get_data(as_text=True)) == ["B001"]
    assert row_codes(c.get(f"/monitor/?{M}&q=b01").get_data(as_text=True)) == ["B010", "B011", "B012"]
    assert row_codes(c.get(f"/monitor/?{M}&q=%25").get_data(as_text=True)) == []  # a LIKE wildcard is literal
    assert row_codes(c.get(f"/monitor/?{M}&state=alarm").get_data(as_text=True)) == ["B004"]
    assert row_codes(c.get(f"/monitor/?{M}&state=none").get_data(as_text=True))[0] == "B002"
    first = c.get(f"/monitor/?{M}&per_page=5").get_data(as_text=True)
    last = c.get(f"/monitor/?{M}&per_page=5&page=3").get_data(as_text=True)
    assert row_codes(first) == ["B004", "B007", "B001", "B002", "B003"]
    assert row_codes(last) == ["B011", "B012"] and "Page 3 of 3" in last and 'rel="next"' not in last
    assert 'rel="next"' in first and "page=2" in first
    assert row_codes(c.get(f"/monitor/?{M}&per_page=5&page=99999").get_data(as_text=True)) == ["B011", "B012"]
    long = c.get(f"/monitor/?{M}&q={'x' * 61}&per_page=abc")
    assert long.status_code == 422 and len(row_codes(long.get_data(as_text=True))) == 12
    assert c.get(f"/monitor/?{M}&q=%00x").status_code in (400, 422)  # the core refuses a NUL first
    empty = c.get(f"/monitor/?{M}&q=없는지점").get_data(as_text=True)
    assert "No branch matches" in empty and "Show all branches" in empty
    bad = c.get(f"/monitor/?{M}&sort=sales&state=nope")
    assert bad.status_code == 422 and row_codes(bad.get_data(as_text=True))[0] == "B004"  # defaults kept


def test_bm6_change_from_zero_is_na_on_the_page(seeded):
    html = client_for(seeded, "hq@example.com", "en").get(f"/monitor/?{M}&q=B00").get_data(as_text=True)
    b001 = html.split('data-testid="branch-row" data-branch="B001"')[1].split("</tr>")[0]
    b002 = html.split('data-testid="branch-row" data-branch="B002"')[1].split("</tr>")[0]
    assert "1,200,000" in b001 and "N/A" in b001 and "inf" not in b001.lower()
    assert "1,200,000" in b002 and "+20.0%" in b002
    card = client_for(seeded, "hq@example.com", "en").get(f"/monitor/branches/B001?{M}").get_data(as_text=True)
    sales = card.split('data-testid="kpi" data-metric="sales"')[1].split("</article>")[0]
    assert "1,200,000" in sales and "N/A" in sales
    ko = client_for(seeded, "hq@example.com", "ko").get(f"/monitor/branches/B001?{M}").get_data(as_text=True)
    assert "해당 없음" in ko.split('data-testid="kpi" data-metric="sales"')[1].split("</article>")[0]


def test_bm10_region_hq_sees_its_region_only(seeded):
    c = client_for(seeded, R01_LOCAL, "en")
    html = c.get(f"/monitor/?{M}").get_data(as_text=True)
    assert row_codes(html) == ["B004", "B001", "B002", "B003"]
    assert not [x for x in others_named(html, "B001") if x.split()[0] not in R01]
    assert c.get(f"/monitor/branches/B005?{M}").status_code == 404  # BM-10: an R02 branch
    assert c.get(f"/monitor/branches/B999?{M}").status_code == 404  # the same answer as a missing one
    assert c.get(f"/monitor/branches/B001?{M}").status_code == 200
    assert c.get(f"/monitor/region/R02?{M}").status_code == 404
    assert c.get(f"/monitor/?{M}&region=R02").status_code == 404
    assert row_codes(c.get(f"/monitor/region/R01?{M}").get_data(as_text=True)) == ["B004", "B001", "B002", "B003"]


def test_region_drill_down(seeded):
    c = client_for(seeded, "hq@example.com", "en")
    html = c.get(f"/monitor/region/R02?{M}").get_data(as_text=True)
    assert row_codes(html) == ["B007", "B005", "B006", "B008"] and "중부·호남 지역본부" in html
    assert row_codes(c.get(f"/monitor/?{M}&region=R03").get_data(as_text=True)) == ["B009", "B010", "B011", "B012"]


def test_bm10_branch_staff_own_scorecard_without_other_branch_names(seeded):
    c = client_for(seeded, "store1@example.com", "en")
    resp = c.get(f"/monitor/my?{M}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "B001 강남점" in html
    assert others_named(html, "B001") == []  # BM-10: no other branch's code or name anywhere
    # own values and the anonymous distribution of the care index (50, 51, … 61 over 12 branches)
    care = html.split('data-testid="kpi" data-metric="care_index"')[1].split("</article>")[0]
    assert "50.0" in care and 'data-testid="percentile-bands"' in care
    assert "percentile 4.2 of 12 branches" in care  # (0 below + ½ tie) / 12
    assert "median 55.5" in care and "10th 51.1" in care and "90th 59.9" in care
    assert 'data-testid="funnel-plot"' not in html
    assert c.get(f"/monitor/branches/B001?{M}").status_code == 200
    assert c.get(f"/monitor/branches/B002?{M}").status_code == 404
    assert c.get(f"/monitor/?{M}").status_code == 403
    assert c.get(f"/monitor/export?{M}").status_code == 403
    assert others_named(c.get("/dashboard").get_data(as_text=True), "B001") == []


def test_scorecard_for_hq(seeded):
    html = client_for(seeded, "hq@example.com", "en").get(f"/monitor/branches/B004?{M}").get_data(as_text=True)
    assert 'data-testid="open-alert"' in html and 'data-state="alarm"' in html
    rate = html.split('data-testid="kpi" data-metric="at_risk_contact_rate"')[1].split("</article>")[0]
    assert "24.0 %" in rate and "12 / 50" in rate
    assert 'data-testid="percentile-bands"' not in html  # HQ compares on the funnel, not bands
    assert 'data-testid="baseline-status"' in html and 'data-testid="compliance"' in html
    # metrics without a value this month or the month before: one line, not a card each
    assert 'data-testid="kpi" data-metric="rfm_up"' not in html
    assert "Customers moved up an RFM level" in html.split('data-testid="kpis-without-value"')[1].split("</p>")[0]


def test_care_index_components_and_category_mix(seeded):
    from tests.plugins.branch_monitor.monitor_fixtures import MONTH, put_kpi

    with seeded.app_context():
        put_kpi("B004", MONTH, "care_index", 53.0, detail={"components": {
            "at_risk_contact_rate": {"value": 0.24, "company": 0.4, "weight": 0.25, "score": 20.0},
            "dq_backlog": {"value": 0.01, "company": 0.02, "weight": 0.15, "score": 75.0}}})
        put_kpi("B004", MONTH, "category_mix", 2, detail={"shares": {"health": 0.625, "beauty": 0.375}})
        from portal.toolkit import db

        db.session.commit()
    html = client_for(seeded, "hq@example.com", "en").get(f"/monitor/branches/B004?{M}").get_data(as_text=True)
    comps = html.split('data-testid="care-components"')[1].split("</table>")[0]
    assert comps.index("At-risk customers contacted") < comps.index("Open data-quality issues")  # heaviest first
    assert "25.0 %" in comps and "20.0" in comps and "75.0" in comps
    mix = html.split('data-testid="category-mix"')[1].split("</ul>")[0]
    assert mix.index("62.5 %") < mix.index("37.5 %") and "health" not in mix  # names, not codes


def test_funnel_plot_shows_the_branch_in_alarm(seeded):
    html = client_for(seeded, "hq@example.com", "en").get(f"/monitor/?{M}").get_data(as_text=True)
    assert 'data-testid="funnel-plot" data-metric="at_risk_contact_rate"' in html
    points = {b: s for s, b in re.findall(r'data-testid="funnel-point" data-state="(\w+)" data-branch="(B\d+)"', html)}
    assert len(points) == 12 and points["B004"] in ("alert", "alarm") and points["B001"] == "ok"
    other = client_for(seeded, "hq@example.com", "en").get(f"/monitor/?{M}&metric=nope")
    assert other.status_code == 422


def test_export_is_scope_cut_and_logged(seeded):
    def rows(client, query=""):
        resp = client.get(f"/monitor/export?{M}&format=csv{query}")
        assert resp.status_code == 200
        return list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))

    hq = rows(client_for(seeded, "hq@example.com", "en"))
    assert [r[3] for r in hq[1:]][:2] == ["B004", "B007"] and len(hq) == 13
    assert "Branch" in hq[0] and "N/A" in hq[[r[3] for r in hq].index("B001")]
    local = rows(client_for(seeded, R01_LOCAL, "en"))
    assert sorted(r[3] for r in local[1:]) == list(R01)
    with seeded.app_context():
        assert scalar("SELECT count(*) FROM access_log WHERE action = 'export' AND object_type = 'branch_monitor'") == 2
        assert scalar("SELECT max(count) FROM access_log WHERE object_type = 'branch_monitor'") == 12
    xlsx = client_for(seeded, "hq@example.com").get(f"/monitor/export?{M}&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client_for(seeded, R01_LOCAL).get(f"/monitor/export?{M}&region=R02").status_code == 404


def test_anonymous_is_sent_to_login(seeded):
    c = seeded.test_client()
    for url in ("/monitor/", "/monitor/my", "/monitor/branches/B001", "/monitor/export", "/monitor/region/R01"):
        resp = c.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url


def test_bad_month_is_a_422_with_its_message(seeded):
    resp = client_for(seeded, "hq@example.com", "en").get("/monitor/?month=2026-13")
    assert resp.status_code == 422 and "Give a month as YYYY-MM" in resp.get_data(as_text=True)


def test_korean_and_english_labels(seeded):
    ko = client_for(seeded, "hq@example.com", "ko").get(f"/monitor/?{M}").get_data(as_text=True)
    assert "지점 모니터" in ko and ">경보<" in ko and "퍼널 플롯" in ko and "Alarm" not in ko
    en = client_for(seeded, "hq@example.com", "en").get(f"/monitor/?{M}").get_data(as_text=True)
    assert "Branch monitor" in en and ">Alarm<" in en and "Funnel plot" in en and "경보" not in en
    mine = client_for(seeded, "store1@example.com").get(f"/monitor/my?{M}").get_data(as_text=True)
    assert "백분위" in mine and "of 12 branches" not in mine and "Percentile bands" not in mine


def test_portlets(seeded):
    hq = client_for(seeded, "hq@example.com", "en").get("/dashboard").get_data(as_text=True)
    assert "Branches in alarm or alert" in hq and "B004 인천점" in hq
    local = client_for(seeded, R01_LOCAL, "en").get("/dashboard").get_data(as_text=True)
    assert "B004 인천점" in local and "B007" not in local
    store = client_for(seeded, "store1@example.com", "en").get("/dashboard").get_data(as_text=True)
    assert 'data-testid="bm-portlet-branch"' in store and "B001 강남점" in store


def test_no_evaluation_and_no_kpis_yet(app):
    """A fresh install: the pages explain themselves instead of showing empty tables."""
    html = client_for(app, "hq@example.com", "en").get("/monitor/?month=2025-01").get_data(as_text=True)
    assert "Nothing to plot yet" in html and len(row_codes(html)) == 12
    card = client_for(app, "store1@example.com", "en").get("/monitor/my?month=2025-01").get_data(as_text=True)
    assert "No KPIs for this month yet" in card


def test_acknowledge_an_alert_from_the_scorecard(seeded):
    """HQ acknowledges B004's alarm on its scorecard (area D's form); back on the scorecard the
    alert is no longer open and is shown acknowledged with the note. Branch Staff get no form."""
    from tests.conftest import csrf_token

    c = client_for(seeded, "hq@example.com", "en")
    url = f"/monitor/branches/B004?{M}"
    html = c.get(url).get_data(as_text=True)
    assert 'data-testid="ack-form"' in html
    action = re.search(r'action="(/monitor/alerts/\d+/ack)"', html).group(1)
    resp = c.post(action, data={"note": "지점장과 통화, 다음 주 재연락 캠페인", "next": url, "csrf_token": csrf_token(c, url)})
    assert resp.status_code in (302, 303) and resp.headers["Location"].endswith(url)
    after = c.get(url).get_data(as_text=True)
    assert 'data-testid="open-alert"' not in after and 'data-testid="acked-alert"' in after
    assert "지점장과 통화" in after and "Acknowledged" in after
    with seeded.app_context():
        store = client_for(seeded, "store1@example.com", "en")
        put_alert("B001", "at_risk_contact_rate", "alert")
    mine = store.get(f"/monitor/my?{M}").get_data(as_text=True)
    assert 'data-testid="open-alert"' in mine and 'data-testid="ack-form"' not in mine


def test_korean_pages_show_no_english_or_codes(seeded):
    """The Korean UI's rules (tests/test_korean_ui.py) on the monitor's pages: no raw codes, no
    Python reprs, no English words in what a person reads."""
    from tests.test_korean_ui import LEAK_RE, VisibleText

    pages = {"hq@example.com": [f"/monitor/?{M}", f"/monitor/region/R01?{M}", f"/monitor/branches/B004?{M}",
                                "/monitor/?month=2025-01", "/dashboard"],
             "store1@example.com": [f"/monitor/my?{M}", "/dashboard"]}
    found = []
    for email, urls in pages.items():
        c = client_for(seeded, email, "ko")
        for url in urls:
            parser = VisibleText()
            parser.feed(c.get(url).get_data(as_text=True))
            text = " ".join(parser.texts)
            found += [(url, name, m.group(0)) for name, rx in LEAK_RE.items() for m in rx.finditer(text)]
            found += [(url, "English", w) for w in re.findall(r"\b[A-Za-z]{4,}\b", text)
                      # the language switch, e-mail addresses, and P(alive) written as the analytics name it
                      if w not in {"Excel", "English", "example", "alive"}]
    assert not found, found
