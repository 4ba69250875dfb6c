"""``flask portal prm_groups radar`` and ``tick``: the radar as a text table on the demo data, the
periodic jobs run once."""

from __future__ import annotations

import json

from plugins.prm_groups.cli import HEADINGS, cell_row, format_table


def test_cell_row_percentages_limits_and_flags():
    cell = {"group": "G01", "category": "health", "n": 1000, "buyers": 100, "rate": 0.1, "benchmark": 0.2,
            "limits": {"p95": [0.176, 0.225], "p998": [0.162, 0.24]}, "flag": "alarm"}
    assert cell_row(cell) == ["G01", "health", "1,000", "100", "10.0%", "20.0%", "17.6%–22.5%", "16.2%–24.0%", "alarm"]
    small = {"group": "G09", "category": "health", "n": 25, "buyers": 3, "rate": 0.12, "benchmark": None,
             "limits": {"p95": None, "p998": None}, "flag": "insufficient"}
    assert cell_row(small)[-3:] == ["—", "—", "insufficient data (n < 30)"]
    lines = format_table([cell, small])
    assert lines[0].split()[:3] == ["group", "category", "n"] and len(lines) == 3


def _run(app, *args: str):
    return app.test_cli_runner().invoke(args=["portal", "prm_groups", *args])


def test_radar_prints_the_table(app):
    out = _run(app, "radar", "--group", "G01", "--group", "G02", "--category", "health")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("Radar ") and "(12 months)" in lines[0]
    assert lines[1].split()[:len(HEADINGS[:6])] == list(HEADINGS[:6])
    groups = {line.split()[0] for line in lines[2:]}
    assert groups == {"G01", "G02"}
    doc = json.loads(_run(app, "radar", "--json", "--category", "health").output)
    assert {c["category"] for c in doc["cells"]} == {"health"}
    assert len(doc["cells"]) == len(doc["groups"])


def test_radar_bad_input_is_a_message_not_a_traceback(app):
    out = _run(app, "radar", "--months", "0")
    assert out.exit_code != 0 and "months" in out.output and "Traceback" not in out.output
    out = _run(app, "radar", "--end", "2026-13-40")
    assert out.exit_code != 0 and "YYYY-MM-DD" in out.output
    out = _run(app, "radar", "--category", "hlth")
    assert out.exit_code != 0 and "hlth" in out.output


def test_tick_runs_every_job_once(app):
    from plugins.prm_groups.programmes.jobs import JOBS as PROGRAMMES
    from plugins.prm_groups.seminars.jobs import JOBS as SEMINARS

    jobs = [*PROGRAMMES, *SEMINARS]
    out = _run(app, "tick")
    assert out.exit_code == 0, out.output
    for job in jobs:
        assert f"{job['name']}: " in out.output
    if not jobs:
        assert "No periodic jobs" in out.output
    assert _run(app, "tick").exit_code == 0  # idempotent: a second run is fine
