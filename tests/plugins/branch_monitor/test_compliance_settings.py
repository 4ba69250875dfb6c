"""The add-on's settings and the core's ``float`` setting type (``min_exclusive``): the baseline
thresholds in sigma must be > 0 (BM-11 "sigma 0" on the control panel too), nothing saved on a refusal."""

from __future__ import annotations

import pytest

from tests.conftest import login, post_form

BASE = {"deadline_days": 1, "deadline_hour": 10, "deadline_minute": 0, "baseline_z_alert": 2.0, "baseline_z_alarm": 3.0}


@pytest.mark.parametrize(("value", "ok"), [
    ("2.5", 2.5), ("2,5", 2.5), (1, 1.0), (0.01, 0.01), (20, 20.0),
    (0, None), ("0", None), ("-1", None), ("nan", None), ("inf", None), ("abc", None), (True, None), (20.5, None),
])
def test_float_setting_with_min_exclusive(app, value, ok):
    from portal.toolkit import get_settings, save_settings

    errors = save_settings("branch_monitor", {**BASE, "baseline_z_alert": value})
    if ok is None:
        assert set(errors) == {"baseline_z_alert"}
        assert get_settings("branch_monitor")["baseline_z_alert"] == 2.0
    else:
        assert errors == {}
        assert get_settings("branch_monitor")["baseline_z_alert"] == ok


def test_defaults(app):
    from portal.toolkit import get_settings

    assert get_settings("branch_monitor") == BASE


def test_control_panel_refuses_sigma_0(client, app):
    """BM-11 on the add-ons control panel: sigma 0 and hour 24 are refused at their fields."""
    from portal.toolkit import get_settings

    login(client, "admin@example.com")
    page = client.get("/manage/addons/branch_monitor/settings")
    assert page.status_code == 200
    assert 'name="baseline_z_alert"' in page.get_data(as_text=True)
    assert 'inputmode="decimal"' in page.get_data(as_text=True)
    resp = post_form(client, "/manage/addons/branch_monitor/settings",
                     {**{k: str(v) for k, v in BASE.items()}, "baseline_z_alarm": "0", "deadline_hour": "24"},
                     form_page="/manage/addons/branch_monitor/settings")
    assert resp.status_code == 400  # the control panel's answer to a refused form
    html = resp.get_data(as_text=True)
    assert "0보다 커야 합니다." in html or "More than 0." in html
    assert get_settings("branch_monitor") == BASE
