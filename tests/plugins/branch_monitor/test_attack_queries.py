"""Query strings that reach code rather than data: parameter names that ``url_for`` treats as its
own (``endpoint``, ``_method``, ``_external``, ``_scheme``, ``_anchor``) on the API's paginated
lists, whose ``next`` link is built from the request — never a 500, and ``next`` stays a relative
link to the next page of the same list; a Branch Staff member choosing another branch on their
own scorecard page gets a 404."""

from __future__ import annotations

import pytest

from tests.plugins.branch_monitor.attack_fixtures import client_of, headers
from tests.plugins.branch_monitor.monitor_fixtures import put_alert, seed_kpis

LISTS = ["/api/v1/monitor/branches?month=2026-03", "/api/v1/monitor/alerts/?state=all",
         "/api/v1/monitor/compliance?from=2026-03-01&to=2026-03-31"]
HOSTILE = ["endpoint=x", "_method=POST", "_external=1&_scheme=javascript", "_anchor=x", "_external=1",
           "values=1", "page=1&page=2", "per_page=1&per_page=1000"]


def _world() -> None:
    seed_kpis()
    for code in ("B001", "B002", "B003"):
        put_alert(code, "at_risk_contact_rate", "alarm")


def test_url_for_words_in_the_branches_query_are_data(app):
    _world()
    failures = _probe(app, LISTS[0])
    assert not failures, failures


@pytest.mark.parametrize("url", LISTS[1:])
def test_url_for_words_in_the_other_lists_are_data(app, url):
    _world()
    failures = _probe(app, url)
    assert not failures, failures


def _probe(app, url: str) -> list[tuple[str, object]]:
    hdrs = headers(app, "hq")
    client = app.test_client()
    failures: list[tuple[str, object]] = []
    for extra in HOSTILE:
        try:
            resp = client.get(f"{url}&per_page=1&{extra}", headers=hdrs)
        except Exception as exc:  # noqa: BLE001 - the test client re-raises what would be a 500
            failures.append((extra, repr(exc)[:120]))
            continue
        if resp.status_code >= 500 or not resp.is_json:
            failures.append((extra, resp.status_code))
            continue
        nxt = (resp.get_json() or {}).get("next")
        if nxt is not None and (not nxt.startswith("/api/v1/monitor/") or "#" in nxt or "://" in nxt):
            failures.append((extra, nxt))
    return failures


def test_branch_staff_cannot_choose_another_branch_on_their_own_page(app):
    _world()
    store = client_of(app, "store1")
    assert store.get("/monitor/my?branch=B001&month=2026-03").status_code == 200
    for code in ("B002", "B005", "R01", "HQ", "b001", "B001 ", "%00", "B" * 50):
        resp = store.get(f"/monitor/my?branch={code}&month=2026-03")
        assert resp.status_code in (400, 404), (code, resp.status_code)  # (a NUL: the core's 400)
        assert "분당" not in resp.get_data(as_text=True)
