"""Hostile tester on every prm_groups route (pages and API, from the app's URL map): ids out of
range or not numbers answer 404 — never a 500 — for every role; every state-changing form refuses
a POST without its CSRF token; branch staff have no programme menu."""

from __future__ import annotations

import re

import pytest

from tests.conftest import api_token_for, bearer, login
from tests.plugins.prm_groups.programmes_fixtures import programme

BAD = ["99999999999999999999", "2147483648", "9223372036854775808", "0"]
VAR = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _routes(app) -> list[tuple[str, set[str], str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if (rule.rule.startswith("/prm") or rule.rule.startswith("/api/v1/prm")) and rule.arguments:
            out.append((rule.rule, set(rule.methods or ()) - {"HEAD", "OPTIONS"}, rule.endpoint))
    return sorted(out)


def _fill(rule: str, bad: str, token_ok: str = "x" * 43) -> str:
    def one(m: re.Match) -> str:
        conv, name = m.group(1), m.group(2)
        if conv == "any":
            return re.search(r"any\(([^,)]+)", m.group(0)).group(1).strip()
        if name == "token":
            return token_ok
        if name in ("position",):
            return "1"
        return bad
    return VAR.sub(one, rule)


@pytest.mark.parametrize("who", ["hq@example.com", "leader1@example.com", "ibo1@example.com",
                                 "store1@example.com"])
def test_every_route_with_an_id_out_of_range_is_never_a_500(app, who):
    with app.app_context():
        headers = bearer(api_token_for(who))
    client = app.test_client()
    with app.app_context():
        login(client, who)
        routes = _routes(app)
    assert len(routes) > 20
    failures = []
    for rule, methods, endpoint in routes:
        for bad in BAD:
            url = _fill(rule, bad)
            for method in methods:
                resp = client.open(url, method=method, json={} if url.startswith("/api") else None,
                                   data=None if url.startswith("/api") else {}, headers=headers)
                if resp.status_code >= 500 or (resp.status_code == 200 and "<token>" not in rule):
                    # (the check-in scan page answers an unknown ticket with its own message)
                    failures.append((method, url, endpoint, resp.status_code))
    assert not failures, failures


def test_every_form_refuses_a_post_without_its_csrf_token(app):
    from portal.extensions import db

    with app.app_context():
        pid = programme().id
        db.session.remove()
    client = app.test_client()
    with app.app_context():
        login(client, "hq@example.com")
        routes = [(r, m, e) for r, m, e in _routes(app) if not r.startswith("/api") and "POST" in m]
        routes += [(r.rule, set(r.methods), r.endpoint) for r in app.url_map.iter_rules()
                   if r.rule.startswith("/prm") and not r.arguments and "POST" in r.methods]
    assert routes
    before = None
    with app.app_context():
        from tests.conftest import scalar

        before = scalar("SELECT count(*) FROM audit_event"), scalar("SELECT count(*) FROM prm_programme")
    for rule, _methods, endpoint in routes:
        url = _fill(rule, str(pid))
        resp = client.post(url, data={"name": "x", "transition": "submit", "session": "1"})
        assert resp.status_code in (400, 404), (url, endpoint, resp.status_code)
    with app.app_context():
        assert (scalar("SELECT count(*) FROM audit_event"), scalar("SELECT count(*) FROM prm_programme")) == before


def test_branch_staff_have_no_programme_menu_and_403(app):
    with app.app_context():
        pid = programme().id
    client = app.test_client()
    with app.app_context():
        login(client, "store1@example.com")
    html = client.get("/").get_data(as_text=True)
    assert "/prm/programmes" not in html and "/prm/radar" not in html
    for url in ("/prm/programmes/", f"/prm/programmes/{pid}", "/prm/programmes/new", f"/prm/programmes/{pid}/results",
                f"/prm/programmes/{pid}/seminars", "/prm/programmes/approvals"):
        assert client.get(url).status_code in (403, 404), url
    with app.app_context():
        headers = bearer(api_token_for("store1@example.com"))
    assert client.get("/api/v1/prm/programmes", headers=headers).status_code == 403


JUNK = ["abc", "1e400", "nan", "-inf", "Infinity", "-0", "９", "0x10", "1,000,000,000,000,000,000,000", "😀" * 30,
        "가" * 20_000, "\x00", "[" * 50_000, "{\"all\": " * 5_000]
FORM_FIELDS = ["name", "group", "category", "objective_metric", "objective", "baseline_start", "run_end",
               "measure_start", "holdout_pct", "seed", "budget", "target_mde_pp", "steps-0-kind", "steps-0-rules",
               "steps-0-offset_days", "steps-0-channels", "steps-0-signer", "steps-0-email-body",
               "steps-1-completion_min", "steps-1-rules", "sessions-0-starts_at", "sessions-0-capacity",
               "sessions-0-online_url", "sessions-0-venue_branch", "sessions-0-registration_deadline"]


def _good_form(token: str) -> dict[str, str]:
    return {"csrf_token": token, "name": "G01 건강식품", "group": "G01", "category": "health",
            "objective_metric": "category_purchase_rate", "baseline_start": "2026-01-01", "baseline_end": "2026-12-31",
            "run_start": "2027-01-10", "run_end": "2027-02-28", "design": "holdout", "holdout_pct": "10",
            "seed": "42", "target_mde_pp": "3", "steps-0-kind": "message", "steps-0-channels": "email",
            "steps-0-signer": "김한빛", "steps-0-email-subject": "안녕하세요", "steps-0-email-body": "본문",
            "steps-1-kind": "seminar_series", "steps-1-offset_days": "14", "steps-1-completion_min": "1",
            "sessions-0-title": "1회", "sessions-0-starts_at": "2027-01-25T12:00",
            "sessions-0-ends_at": "2027-01-25T14:00", "sessions-0-address": "서울", "sessions-0-capacity": "30"}


@pytest.mark.parametrize("field", FORM_FIELDS)
def test_programme_form_with_junk_in_any_field_answers_with_the_form(app, field):
    """Junk in any field of the new-programme page: the form again with a message (422) or a
    saved programme — never a 500; a refusal writes nothing."""
    from tests.conftest import csrf_token, scalar

    client = app.test_client()
    with app.app_context():
        login(client, "hq@example.com")
        before = scalar("SELECT count(*) FROM prm_programme")
    token = csrf_token(client, "/prm/programmes/new")
    saved = 0
    for junk in JUNK:
        resp = client.post("/prm/programmes/new", data={**_good_form(token), field: junk})
        assert resp.status_code in (303, 400, 422), (field, junk[:20], resp.status_code)  # 400: the core refuses NUL
        saved += resp.status_code == 303
    with app.app_context():
        assert scalar("SELECT count(*) FROM prm_programme") == before + saved


QUERIES = ["page=99999999999999999999", "page=-1&per_page=100000", "per_page=abc", "sort=__class__",
           "q=" + "가" * 3000, "q=%25_%5C%27", "status=x&state=x&group=G02&category=x", "step=abc&from=x&to=x",
           "q=😀&attendance=x&session=99999999999999999999", "end=2027-02-30&months=9999999"]


@pytest.mark.parametrize("who", ["hq@example.com", "leader1@example.com", "ibo1@example.com"])
def test_every_page_with_junk_parameters_is_never_a_500(app, who):
    from tests.plugins.prm_groups.seminars_fixtures import add_session, make_programme

    with app.app_context():
        p = make_programme()
        s = add_session(p)
        pid, sid = p.id, s.id
    client = app.test_client()
    with app.app_context():
        login(client, who)
        routes = [r for r in app.url_map.iter_rules() if r.rule.startswith("/prm") and "GET" in r.methods
                  and "<token>" not in r.rule and "static" not in r.endpoint]
        headers = bearer(api_token_for(who))
        routes += [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/prm") and "GET" in r.methods
                   and "<token>" not in r.rule]
    failures = []
    for rule in routes:
        url = VAR.sub(lambda m: str(sid) if "session" in m.group(2) else "1" if m.group(2) == "position"
                      else str(pid), rule.rule)
        for query in QUERIES:
            resp = client.get(f"{url}?{query}", headers=headers)
            if resp.status_code >= 500:
                failures.append((url, query[:40], resp.status_code))
    assert not failures, failures


JUNK_FORMS = [{}, {"transition": "approve", "revision": "x" * 5000, "comment": "가" * 100_000},
              {"transition": ["submit", "cancel"], "session": "abc", "decision": "approve", "note": "😀" * 1000},
              {"title": "😀", "starts_at": "2027-02-30T25:00", "ends_at": "junk", "capacity": "1e400",
               "venue_branch": "B" * 500, "online_url": "javascript:alert(1)", "registration_deadline": "-1"},
              {"token": "x" * 5000, "attendance": "x", "reason": "가" * 10_000, "registration": "99999999999999999999",
               "customer": "-1", "invitation": "abc", "transition": "__init__", "revision": "", "step": "1e3"}]


@pytest.mark.parametrize("who", ["hq@example.com", "leader1@example.com"])
def test_every_form_with_junk_values_is_never_a_500(app, who):
    from tests.conftest import csrf_token
    from tests.plugins.prm_groups.seminars_fixtures import add_session, make_programme

    with app.app_context():
        p = make_programme(state="draft", draw=False)
        s = add_session(p)
        pid, sid = p.id, s.id
    client = app.test_client()
    with app.app_context():
        login(client, who)
        routes = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/prm") and "POST" in r.methods
                  and "<token>" not in r.rule]
    token = csrf_token(client, "/prm/my/" if "leader" in who else "/prm/programmes/new")
    failures, seen = [], set()
    for rule in routes:
        url = VAR.sub(lambda m: str(sid) if "session" in m.group(2) else "1" if m.group(2) == "position"
                      else str(pid), rule)
        for form in JUNK_FORMS:
            resp = client.post(url, data={**form, "csrf_token": token})
            seen.add(resp.status_code)
            if resp.status_code >= 500:
                failures.append((url, sorted(form)[:3], resp.status_code))
    assert not failures, failures
    assert seen - {400}, seen  # the token was accepted: the forms really ran


JUNK_JSON = ["[]", "\"x\"", "null", "1e400", "{\"a\": NaN}", "{\"session\": \"1\", \"token\": [1], \"attendance\": {}}",
             "{\"transition\": 1, \"revision\": [], \"step\": {}, \"content\": []}", "[" * 5000 + "]" * 5000,
             "{\"invitation\": 1e400, \"customer\": -1, \"registration\": \"x\", \"reason\": 5}", "\"\\ud800\""]


NO_BODY = ("/invitations", "/results/interim")  # actions without a body: what is sent is not read


@pytest.mark.parametrize("who", ["hq@example.com", "leader1@example.com", "store1@example.com"])
def test_every_api_write_with_junk_json_is_a_4xx(app, who):
    from tests.plugins.prm_groups.seminars_fixtures import add_session, make_programme

    with app.app_context():
        p = make_programme()
        s = add_session(p)
        pid, sid = p.id, s.id
        headers = bearer(api_token_for(who))
        routes = [(r.rule, set(r.methods) & {"POST", "PATCH", "PUT"}) for r in app.url_map.iter_rules()
                  if r.rule.startswith("/api/v1/prm") and set(r.methods) & {"POST", "PATCH", "PUT"}]  # DELETE has no body
    client = app.test_client()
    failures = []
    for rule, methods in routes:
        url = VAR.sub(lambda m: (str(sid) if "session" in m.group(2) else "x" * 43 if m.group(2) == "token"
                                 else re.search(r"any\(([^,)]+)", m.group(0)).group(1).strip()
                                 if m.group(1) == "any" else str(pid)), rule)
        for method in methods:
            for raw in JUNK_JSON:
                resp = client.open(url, method=method, data=raw, content_type="application/json", headers=headers)
                if not 400 <= resp.status_code < 500 or not resp.is_json:
                    failures.append((method, url, raw[:20], resp.status_code))
    failures = [f for f in failures if not f[1].endswith(NO_BODY)]
    assert not failures, failures


def test_a_real_programme_with_a_second_id_out_of_range_is_404(app):
    """``/prm/programmes/<real id>/seminars/<99999999999999999999>``: the second id is checked too."""
    from tests.plugins.prm_groups.seminars_fixtures import add_session, make_programme

    with app.app_context():
        p = make_programme()
        add_session(p)
        pid = p.id
        headers = bearer(api_token_for("hq@example.com"))
    client = app.test_client()
    with app.app_context():
        login(client, "hq@example.com")
        routes = [(r.rule, set(r.methods) - {"HEAD", "OPTIONS"}) for r in app.url_map.iter_rules()
                  if (r.rule.startswith("/prm") or r.rule.startswith("/api/v1/prm")) and "programme_id" in r.arguments
                  and len(r.arguments) > 1]
    failures = []
    for rule, methods in routes:
        for bad in BAD:
            url = VAR.sub(lambda m, bad=bad: str(pid) if m.group(2) == "programme_id" else bad, rule)
            for method in methods:
                resp = client.open(url, method=method, json={} if url.startswith("/api") else None, headers=headers)
                if resp.status_code >= 500 or resp.status_code == 200:
                    failures.append((method, url, resp.status_code))
    assert not failures, failures
