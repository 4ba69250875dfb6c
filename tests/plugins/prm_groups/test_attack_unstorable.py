"""Text no database stores — a lone surrogate (JSON ``"\\ud800"``) or a NUL — in any string of a
programme body: a 4xx with the field's path, never a 500, nothing written."""

from __future__ import annotations

import json

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.prm_groups.programmes_fixtures import body

URL = "/api/v1/prm/programmes"


@pytest.mark.parametrize("where", ["name", "objective", "group", "category", "steps.0.title",
                                   "steps.1.kind", "design.0"])
@pytest.mark.parametrize("junk", ["\ud800", "a\x00b"])
def test_unstorable_text_is_refused(app, where, junk):
    with app.app_context():
        token = bearer(api_token_for("hq@example.com"))
    data = body()
    target, *path = where.split(".")
    node = data
    keys = [target, *path]
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    node[keys[-1] if not keys[-1].isdigit() else int(keys[-1])] = junk
    before = scalar("SELECT count(*) FROM prm_programme")
    raw = json.dumps(data)  # ensure_ascii: the surrogate travels as \ud800, as a client would send it
    resp = app.test_client().post(URL, data=raw, content_type="application/json", headers=token)
    assert resp.status_code == 422, (resp.status_code, resp.get_data(as_text=True)[:300])
    path = where.split(".")[0] + "".join(f"[{k}]" if k.isdigit() else f".{k}" for k in where.split(".")[1:])
    assert path in resp.get_json()["errors"]
    assert scalar("SELECT count(*) FROM prm_programme") == before
