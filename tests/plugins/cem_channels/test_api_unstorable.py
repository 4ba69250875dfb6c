"""Text no database stores (a lone surrogate, a NUL) anywhere in a campaign body: a 422 at the
field's path, never a 500, nothing written."""

from __future__ import annotations

import json

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.cem_channels.campaign_fixtures import campaign_data, make_message_set

API = "/api/v1/campaigns"


@pytest.mark.parametrize("junk", ["\ud800", "a\x00b"])
@pytest.mark.parametrize("field", ["name", "purpose"])
def test_unstorable_text_in_a_campaign_is_422(app, junk, field):
    ms = make_message_set()
    data = campaign_data(ms)
    data[field] = junk
    before = scalar("SELECT count(*) FROM cem_campaign")
    resp = app.test_client().post(API, data=json.dumps(data), content_type="application/json",
                                  headers=bearer(api_token_for("store1@example.com")))
    assert resp.status_code == 422, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert field in resp.get_json()["fields"]  # cem_channels names them "fields"
    assert scalar("SELECT count(*) FROM cem_campaign") == before
