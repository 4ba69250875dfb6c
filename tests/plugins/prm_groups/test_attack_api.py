"""Hostile input against the prm_groups JSON API: ids that are not ids, JSON of every wrong type
in every field, NaN/Infinity/huge numbers, very long strings, Korean and emoji — always a 4xx with
field paths, never a 500, never a partial write; scope (404 for another group's programme, 403
for branch staff) on every endpoint."""

from __future__ import annotations

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.prm_groups.programmes_fixtures import BODY, body, programme

URL = "/api/v1/prm/programmes"
BAD_IDS = ["abc", "-1", "0", "1.5", "99999999999999999999999", "2147483648", "1e3", "%20", "１"]
WRONG = [None, True, 0, -1, 1.5, "x", "", [], {}, [1, 2], {"a": 1}, 10**30, "😀" * 5, "가" * 5000]


@pytest.fixture
def tokens(app):
    with app.app_context():
        return {who: bearer(api_token_for(f"{who}@example.com"))
                for who in ("hq", "leader1", "ibo1", "store1")}


def _counts() -> tuple[int, ...]:
    return tuple(scalar(f"SELECT count(*) FROM {t}") for t in
                 ("prm_programme", "prm_step", "prm_content_revision", "prm_session", "audit_event"))


def _ok_4xx(resp) -> None:
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.is_json, resp.get_data(as_text=True)[:200]


GET_PATHS = ["/programmes/{id}", "/programmes/{id}/content", "/programmes/{id}/content/diff",
             "/programmes/{id}/preview", "/programmes/{id}/results", "/programmes/{id}/sessions",
             "/programmes/{id}/registrations", "/sessions/{id}"]
POST_PATHS = ["/programmes/{id}/transitions", "/programmes/{id}/content", "/programmes/{id}/results/interim",
              "/programmes/{id}/sessions", "/programmes/{id}/invitations", "/sessions/{id}/registrations"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_ids_out_of_range_or_not_numbers_are_404(app, tokens, bad):
    client = app.test_client()
    for path in GET_PATHS:
        resp = client.get("/api/v1/prm" + path.format(id=bad), headers=tokens["hq"])
        assert resp.status_code == 404, (path, bad, resp.status_code, resp.get_data(as_text=True)[:200])
    for path in POST_PATHS:
        resp = client.post("/api/v1/prm" + path.format(id=bad), json={}, headers=tokens["hq"])
        assert resp.status_code == 404, (path, bad, resp.status_code, resp.get_data(as_text=True)[:200])
    for method in (client.patch, client.delete):
        resp = method(f"/api/v1/prm/sessions/{bad}", json={}, headers=tokens["hq"])
        assert resp.status_code == 404, (bad, resp.status_code)
    resp = client.patch(f"{URL}/{bad}", json={}, headers=tokens["hq"])
    assert resp.status_code == 404, (bad, resp.status_code)


@pytest.mark.parametrize("payload", ["[]", "\"x\"", "1", "null", "{", "{\"name\": NaN}", "\xff\xfe", ""])
def test_body_not_an_object_is_4xx_and_writes_nothing(app, tokens, payload):
    client = app.test_client()
    with app.app_context():
        before = _counts()
    resp = client.post(URL, data=payload, content_type="application/json", headers=tokens["hq"])
    _ok_4xx(resp)
    with app.app_context():
        assert _counts() == before


FIELDS = [k for k in BODY if k != "steps"] + ["measurement_window", "sessions", "steps"]


@pytest.mark.parametrize("field", FIELDS)
def test_every_field_of_every_wrong_type_is_422_with_its_path(app, tokens, field):
    client = app.test_client()
    with app.app_context():
        before = _counts()
    for value in WRONG:
        data = body()
        data[field] = value
        resp = client.post(URL, json=data, headers=tokens["hq"])
        if resp.status_code == 201:  # a value that is valid for this field (e.g. budget 0, seed 0)
            continue
        assert resp.status_code == 422, (field, repr(value)[:40], resp.status_code, resp.get_data(as_text=True)[:300])
        errors = resp.get_json()["errors"]
        assert errors and any(k == field or k.startswith(field + ".") or k.startswith(field + "[") for k in errors), \
            (field, repr(value)[:40], errors)
    with app.app_context():
        created = scalar("SELECT count(*) FROM prm_programme") - before[0]
        assert _counts()[3] == before[3] or created  # sessions only with a created programme


@pytest.mark.parametrize("step_field", ["kind", "title", "channels", "rules", "offset_days", "content",
                                        "completion_min"])
def test_every_step_field_of_every_wrong_type(app, tokens, step_field):
    client = app.test_client()
    for i in (0, 1):
        for value in WRONG:
            data = body()
            data["steps"][i][step_field] = value
            resp = client.post(URL, json=data, headers=tokens["hq"])
            if resp.status_code == 201:
                continue
            assert resp.status_code == 422, (i, step_field, repr(value)[:40], resp.status_code,
                                             resp.get_data(as_text=True)[:300])
            assert any(k.startswith(f"steps[{i}]") for k in resp.get_json()["errors"]), resp.get_json()


@pytest.mark.parametrize("field", ["title", "starts_at", "ends_at", "venue_branch", "address", "online_url",
                                   "capacity", "registration_deadline"])
def test_every_session_field_of_every_wrong_type(app, tokens, field):
    client = app.test_client()
    good = {"title": "1회", "starts_at": "2027-01-25T12:00", "ends_at": "2027-01-25T14:00", "venue_branch": None,
            "address": "서울", "online_url": None, "capacity": 30, "registration_deadline": None}
    for value in WRONG + [float("nan"), float("inf"), "2027-02-30T12:00", "javascript:alert(1)"]:
        sess = dict(good, **{field: value})
        resp = client.post(URL, json=body(sessions=[sess]), headers=tokens["hq"])
        if resp.status_code == 201:
            continue
        assert resp.status_code == 422, (field, repr(value)[:40], resp.status_code, resp.get_data(as_text=True)[:300])
        assert any(k.startswith("sessions[0]") for k in resp.get_json()["errors"]), resp.get_json()


@pytest.mark.parametrize("raw", ['{"holdout_share": NaN}', '{"holdout_share": Infinity}', '{"budget": -Infinity}',
                                 '{"seed": 1e400}', '{"budget": 1e400}', '{"target_mde": NaN}',
                                 '{"seed": 123456789012345678901234567890}', '{"budget": 99999999999999999999}'])
def test_nan_infinity_and_huge_numbers(app, tokens, raw):
    import json

    data = body()
    data.update(json.loads(raw))
    text = json.dumps(data, allow_nan=True)
    resp = app.test_client().post(URL, data=text, content_type="application/json", headers=tokens["hq"])
    assert resp.status_code == 422, (raw, resp.status_code, resp.get_data(as_text=True)[:300])
    field = next(iter(json.loads(raw)))
    assert field in resp.get_json()["errors"]


def test_korean_emoji_and_long_strings_round_trip(app, tokens):
    client = app.test_client()
    name = "건강 🌿 세미나 — \u200b<script>alert(1)</script>"
    resp = client.post(URL, json=body(name=name, objective="목표 🎯" * 50), headers=tokens["hq"])
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    assert doc["name"] == name.strip()
    resp = client.post(URL, json=body(name="가" * 100_000), headers=tokens["hq"])
    assert resp.status_code == 422 and "name" in resp.get_json()["errors"]
    page = client.get(f"{URL}?q={'😀' * 50}", headers=tokens["hq"])
    assert page.status_code == 200
    page = client.get(f"{URL}?q=%25%27%22%5C", headers=tokens["hq"])
    assert page.status_code == 200


@pytest.mark.parametrize("args", ["page=abc", "page=-1", "per_page=100000", "per_page=0", "page=99999999999999999999",
                                  "sort=drop", "state=nope", "group=" + "G" * 500, "page=1e3"])
def test_list_parameters(app, tokens, args):
    resp = app.test_client().get(f"{URL}?{args}", headers=tokens["hq"])
    assert resp.status_code in (200, 400, 422), (args, resp.status_code)


def test_branch_staff_and_distributor_get_403_everywhere(app, tokens):
    with app.app_context():
        p = programme()
        pid = p.id
    client = app.test_client()
    for who in ("store1", "ibo1"):
        for path in GET_PATHS[:6]:
            resp = client.get("/api/v1/prm" + path.format(id=pid), headers=tokens[who])
            assert resp.status_code in (403, 404), (who, path, resp.status_code)
        resp = client.get(URL, headers=tokens[who])
        assert resp.status_code == 403, (who, resp.status_code)
        resp = client.post(URL, json=body(), headers=tokens[who])
        assert resp.status_code == 403, (who, resp.status_code)
    resp = client.get(f"{URL}/{pid}", headers=tokens["store1"])
    assert resp.status_code == 403


def test_no_token_or_a_bad_token_is_401(app):
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eA=="},
                    {"Authorization": "Bearer " + "x" * 10000}):
        resp = client.get(URL, headers=headers)
        assert resp.status_code == 401, (headers.get("Authorization", "")[:20], resp.status_code)


def test_another_groups_programme_is_404_on_every_endpoint(app, tokens):
    with app.app_context():
        pid = programme(group="G02").id
    client = app.test_client()
    for path in GET_PATHS[:7]:
        resp = client.get("/api/v1/prm" + path.format(id=pid), headers=tokens["leader1"])
        assert resp.status_code == 404, (path, resp.status_code)
    for path in POST_PATHS[:5]:  # the same answer as for an id that does not exist (a 403 is the permission's)
        resp = client.post("/api/v1/prm" + path.format(id=pid), json={"transition": "approve"},
                           headers=tokens["leader1"])
        missing = client.post("/api/v1/prm" + path.format(id=99999999), json={"transition": "approve"},
                              headers=tokens["leader1"])
        assert resp.status_code in (403, 404) and resp.status_code == missing.status_code, (path, resp.status_code)
    resp = client.patch(f"{URL}/{pid}", json={"name": "x"}, headers=tokens["leader1"])
    assert resp.status_code == 404
    listing = client.get(f"{URL}?group=G02", headers=tokens["leader1"]).get_json()
    assert listing["total"] == 0


def test_leader_cannot_create_for_another_group(app, tokens):
    with app.app_context():
        before = _counts()
    resp = app.test_client().post(URL, json=body(group="G02"), headers=tokens["leader1"])
    assert resp.status_code in (403, 422)
    with app.app_context():
        assert _counts() == before


@pytest.mark.parametrize("data", [{"transition": ["approve"]}, {"transition": "approve", "revision": 5},
                                  {"transition": "approve", "revision": {"a": 1}}, {"transition": "submit",
                                                                                     "comment": ["x"]},
                                  {"transition": "submit", "comment": "가" * 100_000},
                                  {"transition": "__init__"}, {"transition": "submit", "x": 1}, {"transition": None}])
def test_transition_bodies_of_the_wrong_type(app, tokens, data):
    with app.app_context():
        pid = programme().id
        before = _counts()
    resp = app.test_client().post(f"{URL}/{pid}/transitions", json=data, headers=tokens["hq"])
    assert resp.status_code in (409, 422), (data, resp.status_code, resp.get_data(as_text=True)[:300])
    with app.app_context():
        assert _counts() == before
        assert scalar("SELECT state FROM prm_programme WHERE id = :i", i=pid) == "draft"


@pytest.mark.parametrize("data", [[], {"steps": "x"}, {"steps": [None]}, {"name": None}, {"group": "G99"},
                                  {"holdout_share": float("inf")}, {"unknown": 1}, {"sessions": [{}]}])
def test_patch_bodies_of_the_wrong_type(app, tokens, data):
    import json

    with app.app_context():
        pid = programme().id
        before = _counts()
    resp = app.test_client().patch(f"{URL}/{pid}", data=json.dumps(data), content_type="application/json",
                                   headers=tokens["hq"])
    assert resp.status_code in (409, 422), (data, resp.status_code, resp.get_data(as_text=True)[:300])
    with app.app_context():
        assert _counts() == before
