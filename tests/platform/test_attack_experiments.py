"""Attacks on the experiment pages: roles without ``experiments.view`` get 403 on the list and on
every experiment (ids probed or not), and junk windows give a message, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import login
from tests.platform.test_experiments_pages import _experiment


def test_field_roles_get_403_everywhere_and_hq_gets_clean_answers_to_junk(app, client):
    exp = _experiment()
    for email in ("reviewer@example.com", "store1@example.com", "leader1@example.com", "ibo1@example.com"):
        other = app.test_client()
        login(other, email)
        for url in ("/experiments/", f"/experiments/{exp.id}", "/experiments/999999", "/experiments/abc"):
            assert other.get(url).status_code == 403, (email, url)
    login(client, "hq@example.com")
    for query in ("start=0001-01-01&end=9999-12-31", "start=9999-12-31&end=9999-12-31", "start=2026-02-30",
                  "category=99999999999999999999", "category=%00", "start=" + "9" * 500, "end=-2026-01-01"):
        resp = client.get(f"/experiments/{exp.id}?{query}")
        assert resp.status_code in (200, 400), (query, resp.status_code)
    for ident in ("0", "-1", "99999999999999999999", "1.5", "%00", "a" * 3000):
        assert client.get(f"/experiments/{ident}").status_code == 404, ident


@pytest.mark.parametrize("email", ["hq@example.com", "admin@example.com"])
def test_the_pages_show_aggregates_only(app, client, email):
    exp = _experiment()
    login(client, email)
    html = client.get(f"/experiments/{exp.id}?start=2026-01-01&end=2026-10-31").get_data(as_text=True)
    from sqlalchemy import text

    from portal.extensions import db

    names = [r[0] for r in db.session.execute(text("SELECT name FROM customer WHERE name IS NOT NULL LIMIT 50"))]
    assert not [n for n in names if n and len(n) > 1 and n in html]


def test_opening_an_experiment_writes_nothing(app, client):
    from sqlalchemy import text

    from portal.extensions import db

    exp = _experiment()
    tables = ("experiment", "experiment_assignment", "experiment_result", "audit_event")
    present = [t for t in tables if db.session.execute(text(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = :t"), {"t": t}).scalar_one()] \
        if db.engine.dialect.name == "postgresql" else [t for t in tables if db.session.execute(text(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": t}).scalar_one()]
    count = lambda: {t: db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in present}  # noqa: E731
    login(client, "hq@example.com")  # (the login itself is audited)
    before = count()
    assert client.get(f"/experiments/{exp.id}?start=2026-01-01&end=2026-10-31").status_code == 200
    assert client.get("/experiments/").status_code == 200
    assert count() == before and "experiment" in present
