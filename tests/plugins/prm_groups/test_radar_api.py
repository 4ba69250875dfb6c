"""``GET /api/v1/prm/radar`` and the ``/prm/radar`` page: shape, PG-1 through the API, access
(HQ only: Group Leader and Branch Staff 403, no menu entry), 422 with field names, CSV export."""

from __future__ import annotations

import pytest

from tests.conftest import api_token_for, bearer, login
from tests.plugins.prm_groups.radar_fixtures import build_groups

PG1 = "end=2026-11-30&months=12&group=RB1,RB2,RB3,RB4,RB5"


@pytest.fixture
def radar_data(app):
    build_groups({"RB1": (1000, 100), "RB2": (1000, 200), "RB3": (1000, 200), "RB4": (1000, 200),
                  "RB5": (1000, 200), "RT": (25, 2)})
    return app


@pytest.fixture
def tokens(app):
    return {w: bearer(api_token_for(f"{w}@example.com")) for w in ("hq", "leader1", "store1", "ibo1")}


def test_api_shape_and_pg1(radar_data, client, tokens):
    resp = client.get(f"/api/v1/prm/radar?{PG1}", headers=tokens["hq"])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["window"] == {"start": "2025-12-01", "end": "2026-11-30", "months": 12}
    assert [g["code"] for g in body["groups"]] == ["RB1", "RB2", "RB3", "RB4", "RB5"]
    assert [c["code"] for c in body["categories"]] == ["health", "home"]
    assert body["categories"][0]["name_ko"] == "건강식품"
    cell = next(c for c in body["cells"] if c["group"] == "RB1" and c["category"] == "health")
    assert cell["n"] == 1000 and cell["buyers"] == 100
    assert cell["rate"] == 0.1 and cell["benchmark"] == 0.2
    assert cell["limits"] == {"p95": [0.176, 0.225], "p998": [0.162, 0.24]}
    assert cell["flag"] == "alarm"
    assert body["gaps"][0]["group"] == "RB1" and body["gaps"][0]["flag"] == "alarm"
    # category filter; the default comparison set is every active group (demo G01–G05 too)
    body = client.get("/api/v1/prm/radar?end=2026-11-30&category=health", headers=tokens["hq"]).get_json()
    assert {c["category"] for c in body["cells"]} == {"health"}
    assert "G01" in [g["code"] for g in body["groups"]]


def test_api_insufficient(radar_data, client, tokens):
    body = client.get("/api/v1/prm/radar?end=2026-11-30&group=RT,RB2,RB3", headers=tokens["hq"]).get_json()
    cell = next(c for c in body["cells"] if c["group"] == "RT" and c["category"] == "health")
    assert cell["flag"] == "insufficient" and cell["n"] == 25
    assert all(g["group"] != "RT" for g in body["gaps"])


@pytest.mark.parametrize("who", ["leader1", "store1", "ibo1"])
def test_api_refuses_everyone_but_hq(app, client, tokens, who):
    resp = client.get("/api/v1/prm/radar", headers=tokens[who])
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "forbidden"
    assert "cells" not in resp.get_json()


def test_api_needs_a_token(app, client):
    assert client.get("/api/v1/prm/radar").status_code == 401


@pytest.mark.parametrize(("query", "field"), [("end=2026-13-01", "end"), ("months=0", "months"),
                                              ("months=abc", "months"), ("months=99", "months"),
                                              ("category=nope", "category"), ("group=ZZ9", "group")])
def test_api_bad_parameters_422(app, client, tokens, query, field):
    resp = client.get(f"/api/v1/prm/radar?{query}", headers=tokens["hq"])
    assert resp.status_code == 422
    assert field in resp.get_json()["fields"]


def test_page_hq(radar_data, login_as):
    c = login_as("hq@example.com")
    resp = c.get("/prm/radar/?end=2026-11-30&months=12")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:2000]
    assert 'data-testid="radar-map"' in html and 'data-testid="radar-funnel"' in html
    assert 'data-group="RB1" data-category="health"' in html  # a ranked gap
    assert "/prm/programmes/new?group=RB1&amp;category=health" in html or \
        "/prm/programmes/new?category=health&amp;group=RB1" in html
    # the heat-map paginates and filters groups
    html = c.get("/prm/radar/?end=2026-11-30&q=RB1").get_data(as_text=True)
    assert '<tr data-group="RB1">' in html and '<tr data-group="RB2">' not in html
    html = c.get("/prm/radar/?end=2026-11-30&q=RT").get_data(as_text=True)
    assert 'data-flag="insufficient"' in html
    # a bad window: 422 with the message, the default window shown
    resp = c.get("/prm/radar/?end=yesterday")
    assert resp.status_code == 422 and "YYYY-MM-DD" in resp.get_data(as_text=True)
    # an empty window: a helpful empty state, no 500
    resp = c.get("/prm/radar/?end=2001-01-31&months=1")
    assert resp.status_code == 200 and "radar-map" not in resp.get_data(as_text=True)


@pytest.mark.parametrize(("who", "sees"), [("hq", True), ("leader1", False), ("store1", False), ("ibo1", False)])
def test_page_menu_and_access(app, who, sees):
    c = app.test_client()
    assert login(c, f"{who}@example.com").status_code == 302
    assert ("/prm/radar/" in c.get("/dashboard").get_data(as_text=True)) is sees
    assert c.get("/prm/radar/").status_code == (200 if sees else 403)
    assert c.get("/prm/radar/export.csv").status_code == (200 if sees else 403)


def test_csv_export_logged(radar_data, login_as):
    from sqlalchemy import text

    from portal.extensions import db

    c = login_as("hq@example.com")
    resp = c.get("/prm/radar/export.csv?end=2026-11-30&months=12")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "RB1" in body and "alarm" in body
    n = db.session.execute(text("SELECT count(*) FROM access_log WHERE action = 'export' "
                                "AND object_type = 'prm_radar'")).scalar_one()
    assert n == 1


def test_page_in_korean(radar_data, login_as):
    from tests.test_korean_ui import leaks, visible_text

    c = login_as("hq@example.com")
    html = c.get("/prm/radar/?end=2026-11-30&months=12").get_data(as_text=True)
    assert '<html lang="ko">' in html
    for ko in ("취약 카테고리 레이더", "격차 순위", "건강식품", "프로그램 만들기", "경보 (99.8 % 한계 미만)",
               "깔때기 차트: 건강식품", "데이터 부족 (n &lt; 30)"):
        assert ko in html, ko
    text = " ".join(visible_text(html))
    for en in ("Create programme", "Ranked gaps", "Within limits", "Health food", "insufficient data"):
        assert en not in text, en
    assert not leaks(html)
