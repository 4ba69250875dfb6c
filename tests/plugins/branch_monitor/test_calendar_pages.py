"""The report-filing page and the opening-calendar pages: scope (Branch Staff see their own branch,
404 outside the scope), forms with their 422s, Korean labels, no inline styles."""

from __future__ import annotations

from datetime import date

from tests.conftest import login, post_form

from .compliance_fixtures import clear_reports, file_report, kst, unit


def _page(client, url: str, status: int = 200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    html = resp.get_data(as_text=True)
    assert "style=" not in html.split("<main", 1)[-1]
    return html


def test_compliance_grid_hq(client, app):
    clear_reports("B001", date(2026, 2, 1), date(2026, 2, 28))
    file_report("B001", date(2026, 2, 2), kst(2026, 2, 3, 11))
    login(client, "hq@example.com")
    html = _page(client, "/monitor/compliance/?month=2026-02")
    assert html.count('data-testid="branch-row"') == 12
    assert 'data-branch="B001"' in html and 'data-branch="B012"' in html
    assert 'data-day="2026-02-02" data-status="late"' in html
    assert 'data-day="2026-02-17" data-status="closed"' in html  # Seollal
    assert 'data-day="2026-02-03" data-status="missing"' in html
    html = _page(client, "/monitor/compliance/?month=2026-02&region=R02")
    assert html.count('data-testid="branch-row"') == 4 and 'data-branch="B005"' in html
    html = _page(client, "/monitor/compliance/?month=2026-02&q=B003")
    assert html.count('data-testid="branch-row"') == 1


def test_compliance_grid_branch_staff_korean(client, app):
    login(client, "store1@example.com")
    html = _page(client, "/monitor/compliance/?month=2026-02")
    assert html.count('data-testid="branch-row"') == 1 and 'data-branch="B001"' in html
    assert "B002" not in html
    resp = client.get("/monitor/compliance/?month=2026-02", headers={"Accept-Language": "ko"})
    text = resp.get_data(as_text=True)
    for word in ("판매일보 제출", "기한 내", "지연", "미제출", "정정", "휴무일", "기한 내 제출률"):
        assert word in text, word


def test_compliance_bad_parameters_fall_back_with_422(client, app):
    login(client, "hq@example.com")
    html = _page(client, "/monitor/compliance/?month=2026-13&region=R99", 422)
    assert 'data-testid="errors"' in html
    assert html.count('data-testid="branch-row"') == 12


def test_calendar_pages_for_hq(client, app):
    login(client, "hq@example.com")
    html = _page(client, "/monitor/calendar/")
    assert 'data-branch="B012"' in html
    html = _page(client, "/monitor/calendar/B002?year=2026")
    assert 'data-date="2026-06-03"' in html and 'data-testid="no-overrides"' in html
    ko = client.get("/monitor/calendar/B002?year=2026", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    for word in ("영업 달력", "지방선거일", "설날·추석", "공휴일 휴무", "날짜별 예외", "휴무"):
        assert word in ko, word
    resp = post_form(client, "/monitor/calendar/B002/pattern",
                     {"day_mon": "1", "day_tue": "1", "day_wed": "1", "day_thu": "1", "day_fri": "1", "day_sat": "1",
                      "day_sun": "1", "holiday_policy": "major_closed", "year": "2026"},
                     form_page="/monitor/calendar/B002?year=2026")
    assert resp.status_code == 302
    from plugins.branch_monitor.calendar.service import is_open

    assert is_open(unit("B002").id, date(2026, 6, 3))
    resp = post_form(client, "/monitor/calendar/B002/overrides", {"date": "2026-06-03", "state": "closed",
                                                                   "note": "선거 휴무", "year": "2026"},
                     form_page="/monitor/calendar/B002?year=2026")
    assert resp.status_code == 302
    assert not is_open(unit("B002").id, date(2026, 6, 3))
    html = _page(client, "/monitor/calendar/B002?year=2026")
    assert "선거 휴무" in html
    resp = post_form(client, "/monitor/calendar/B002/overrides", {"date": "2026-06-03", "state": "remove", "year": "2026"},
                     form_page="/monitor/calendar/B002?year=2026")
    assert resp.status_code == 302 and is_open(unit("B002").id, date(2026, 6, 3))


def test_calendar_form_refuses_a_date_that_does_not_exist(client, app):
    """BM-11 on the page: "2026-02-30" is refused at its field with a 422, nothing written."""
    login(client, "hq@example.com")
    resp = post_form(client, "/monitor/calendar/B001/overrides", {"date": "2026-02-30", "state": "open", "year": "2026"},
                     form_page="/monitor/calendar/B001")
    assert resp.status_code == 422
    assert 'data-field="date"' in resp.get_data(as_text=True)
    resp = post_form(client, "/monitor/calendar/B001/pattern", {"holiday_policy": "sometimes"},
                     form_page="/monitor/calendar/B001")
    assert resp.status_code == 422 and 'data-field="holiday_policy"' in resp.get_data(as_text=True)


def test_calendar_pages_refused_to_branch_staff(client, app):
    login(client, "store1@example.com")
    assert client.get("/monitor/calendar/B001").status_code == 403
    assert client.get("/monitor/calendar/").status_code == 403


def test_calendar_unknown_branch_is_404(client, app):
    login(client, "hq@example.com")
    assert client.get("/monitor/calendar/NOPE").status_code == 404
