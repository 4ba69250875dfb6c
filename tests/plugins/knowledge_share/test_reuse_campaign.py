"""Reuse this campaign (KS-10): store2 (B002) reuses a B001 story's campaign — a draft in B002's
scope with the rules rewritten to B002, the texts copied as new unapproved message sets, no
schedule, a ``ks_reuse`` row; with cem_channels disabled there is no button and the endpoint 404s.
Also the API, the refusals (nothing written), a group leader's reuse and the measured result of a
reuse once its campaign closed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import render_template
from flask_login import login_user
from sqlalchemy import func, select

from plugins.cem_channels.campaign_models import CemCampaign
from plugins.cem_channels.voice_models import CemMessageSet
from plugins.knowledge_share.models import KsReuse, KsStory
from plugins.knowledge_share.results.service import link_result
from plugins.knowledge_share.reuse.service import Place, rewrite_rules
from portal.toolkit import PartnerGroup, db
from tests.conftest import _app_on_clone, api_token_for, bearer, login, make_app, post_form
from tests.plugins.knowledge_share.conftest import SETTINGS
from tests.plugins.knowledge_share.results_fixtures import (
    AUDIENCE,
    measured_campaign,
    story,
    unit_id,
    users,
)

AGE = AUDIENCE["all"][1]


def _linked_story(**kw):
    u = users()
    campaign = measured_campaign()
    s = story(u.store1, **kw)
    link_result(s, campaign_id=campaign.id, actor=u.store1)
    db.session.commit()
    return s, campaign


def _panel(app, user, s) -> str:
    with app.test_request_context("/"):
        login_user(user)
        return render_template("knowledge_share/reuse/_panel.html", story=db.session.get(KsStory, s.id))


def _counts() -> tuple[int, int, int]:
    return (db.session.scalar(select(func.count()).select_from(CemCampaign)),
            db.session.scalar(select(func.count()).select_from(CemMessageSet)),
            db.session.scalar(select(func.count()).select_from(KsReuse)))


def test_ks10_store2_reuses_a_b001_story_for_b002(app):
    """KS-10: the button → a draft in B002 scope, rules rewritten to B002, texts copied as new
    unapproved sets, schedule blank, a ks_reuse row, the story counts the reuse."""
    u = users()
    s, original = _linked_story()
    assert 'data-testid="ks-reuse-button"' in _panel(app, u.store2, s)
    client = app.test_client()
    login(client, "store2@example.com")
    resp = post_form(client, f"/stories/reuse/{s.id}", {})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    db.session.expire_all()
    reuse = db.session.execute(select(KsReuse).where(KsReuse.story_id == s.id)).scalar_one()
    draft = db.session.get(CemCampaign, reuse.campaign_id)
    assert resp.headers["Location"].endswith(f"/campaigns/{draft.id}")
    assert draft.id != original.id and draft.state == "draft" and draft.start_at is None
    assert draft.branch_id == unit_id("B002") and draft.created_by_id == u.store2.id
    assert draft.origin == f"knowledge_share:story:{s.id}"
    assert draft.rules == {"all": [{"field": "branch", "op": "in", "value": ["B002"]}, AGE]}
    assert [(st.channel, st.position) for st in draft.steps] == [("sms", 1)]
    old_set = db.session.get(CemMessageSet, original.steps[0].message_set_id)
    new_set = db.session.get(CemMessageSet, draft.steps[0].message_set_id)
    assert new_set.id != old_set.id and new_set.org_unit_id == unit_id("B002")
    assert new_set.master == old_set.master and new_set.revision == old_set.revision  # same text, own copy
    assert draft.holdout_share == 0.5 and draft.use_global_control is False and draft.attribution_days == 14
    assert (reuse.org_unit_id, reuse.actor_id, reuse.result) == (unit_id("B002"), u.store2.id, None)
    assert db.session.get(KsStory, s.id).reuse_count == 1
    # the draft needs its own approval: nothing approved it
    from portal.toolkit import approval_for

    assert approval_for(draft) is None
    html = _panel(app, u.store1, s)
    assert re.search(r'data-testid="ks-reuse-count">[^<\d]*1\D', html)  # "Reused by 1 unit"
    assert 'data-testid="ks-reuse-row"' in html and "B002" in html


def test_ks10_api_reuse_answers_201(app):
    u = users()
    s, _ = _linked_story()
    client = app.test_client()
    resp = client.post(f"/api/v1/stories/{s.id}/reuse", headers=bearer(api_token_for("store2@example.com")))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    draft = db.session.get(CemCampaign, body["campaign"]["id"])
    assert body["campaign"]["state"] == "draft" and body["reuse_id"]
    assert draft.branch_id == unit_id("B002") and draft.created_by_id == u.store2.id


@pytest.mark.parametrize("case", ["private", "branch_of_b001", "no_campaign", "no_permission", "junk_id",
                                  "missing_id"])
def test_refusals_write_nothing(app, case):
    """404 for a story out of sight or not published, 409 without a campaign, 403 without ks.reuse."""
    u = users()
    if case == "no_campaign":
        s = story(u.store1)
    else:
        s, _ = _linked_story(state="private" if case == "private" else "published",
                             visibility="branch" if case == "branch_of_b001" else "all")
    who = "ibo1@example.com" if case == "no_permission" else "store2@example.com"
    ref = {"junk_id": "12abc", "missing_id": "99999999"}.get(case, str(s.id))
    before = _counts()
    resp = app.test_client().post(f"/api/v1/stories/{ref}/reuse", headers=bearer(api_token_for(who)))
    want = {"no_campaign": 409, "no_permission": 403}.get(case, 404)
    assert resp.status_code == want, resp.get_json()
    assert resp.get_json()["errors"]
    db.session.expire_all()
    assert _counts() == before and db.session.get(KsStory, s.id).reuse_count == 0


def test_the_page_endpoint_refuses_like_the_api(app):
    u = users()
    s, _ = _linked_story(visibility="branch")
    client = app.test_client()
    login(client, "store2@example.com")
    before = _counts()
    assert post_form(client, f"/stories/reuse/{s.id}", {}).status_code == 404
    no_campaign = story(u.store1)
    resp = post_form(client, f"/stories/reuse/{no_campaign.id}", {})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/stories/{no_campaign.id}")
    assert _counts() == before
    assert client.post(f"/stories/reuse/{s.id}").status_code == 400  # no CSRF token


def test_ks10_disabled_cem_no_button_and_404(app):
    """KS-10: with cem_channels disabled the panel is absent and both endpoints are 404."""
    from portal.plugins_lifecycle import set_enabled

    u = users()
    s, _ = _linked_story()
    set_enabled("prm_groups", False)  # it needs cem_channels
    set_enabled("cem_channels", False)
    db.session.commit()
    assert "ks-reuse" not in _panel(app, u.store2, s)
    client = app.test_client()
    assert client.post(f"/api/v1/stories/{s.id}/reuse",
                       headers=bearer(api_token_for("store2@example.com"))).status_code == 404
    login(client, "store2@example.com")
    assert post_form(client, f"/stories/reuse/{s.id}", {}).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(KsReuse)) == 0


@pytest.fixture
def ks_only_app(ks_template) -> Iterator:
    """The same database with only knowledge_share loaded (PORTAL_PLUGINS without cem_channels)."""
    yield from _app_on_clone(ks_template, factory=lambda url, **kw: make_app(
        url, PORTAL_PLUGINS=["knowledge_share"], **kw), **SETTINGS)


def test_ks10_cem_not_loaded_no_button_and_404(ks_only_app):
    """KS-10: an app built without cem_channels: no button, the endpoints 404."""
    app = ks_only_app
    u = users()
    s = story(u.store1, campaign_id=42)
    assert "ks-reuse" not in _panel(app, u.store2, s)
    client = app.test_client()
    assert client.post(f"/api/v1/stories/{s.id}/reuse",
                       headers=bearer(api_token_for("store2@example.com"))).status_code == 404
    login(client, "store2@example.com")
    assert post_form(client, f"/stories/reuse/{s.id}", {}).status_code == 404


def test_a_group_leader_reuses_for_the_group(app):
    u = users()
    s, _ = _linked_story()
    resp = app.test_client().post(f"/api/v1/stories/{s.id}/reuse",
                                  headers=bearer(api_token_for("leader1@example.com")))
    assert resp.status_code == 201, resp.get_json()
    draft = db.session.get(CemCampaign, resp.get_json()["campaign"]["id"])
    g01 = db.session.scalar(select(PartnerGroup).where(PartnerGroup.code == "G01"))
    assert draft.rules == {"all": [{"field": "partner_group", "op": "in", "value": ["G01"]}, AGE]}
    reuse = db.session.get(KsReuse, resp.get_json()["reuse_id"])
    assert reuse.partner_group_id == g01.id and reuse.org_unit_id is None and reuse.actor_id == u.leader1.id


def test_rewrite_rules_names_only_the_reusers_unit():
    b002 = Place(None, None, ["B002"])
    rules = {"any": [{"field": "branch", "op": "eq", "value": "B001"},
                     {"all": [{"field": "partner_group", "op": "in", "value": ["G03"]}, AGE]}],
             }
    assert rewrite_rules(rules, b002) == {"all": [
        {"field": "branch", "op": "in", "value": ["B002"]},
        {"any": [{"field": "branch", "op": "in", "value": ["B002"]},
                 {"all": [{"field": "branch", "op": "in", "value": ["B002"]}, AGE]}]}]}
    # exclusions of a unit, a unit under "not", one distributor: someone else's customers — dropped
    rules = {"all": [{"field": "branch", "op": "not_in", "value": ["B003"]},
                     {"not": {"field": "branch", "op": "eq", "value": "B004"}},
                     {"field": "owner", "op": "eq", "value": "P0001"}, AGE]}
    assert rewrite_rules(rules, b002) == {"all": [{"field": "branch", "op": "in", "value": ["B002"]}, AGE]}
    assert rewrite_rules(None, b002) == {"all": [{"field": "branch", "op": "in", "value": ["B002"]}]}
    # HQ keeps the rules as they are
    assert rewrite_rules(AUDIENCE, Place(None, None, [])) == AUDIENCE


def test_a_reuse_shows_its_measured_result_once_closed(app):
    """The daily job copies a reused campaign's result when it freezes; the panel shows it."""
    from plugins.cem_channels.campaigns.results import freeze_results
    from plugins.knowledge_share.results.jobs import refresh_results
    from plugins.knowledge_share.reuse.service import reuses_of
    from tests.plugins.cem_channels.results_fixtures import LAUNCH, LAUNCH_DAY, customers, launch, sale

    u = users()
    s, _ = _linked_story()
    resp = app.test_client().post(f"/api/v1/stories/{s.id}/reuse",
                                  headers=bearer(api_token_for("store2@example.com")))
    draft = db.session.get(CemCampaign, resp.get_json()["campaign"]["id"])
    refresh_results()
    assert reuses_of(s)[0]["result"] is None  # not closed yet
    draft.state, draft.started_at = "sending", LAUNCH
    treatment, holdout = launch(draft, customers(400, branch_code="B002", email=False), holdout_share=0.5)
    for cid in treatment[:60] + holdout[:20]:
        sale(cid, LAUNCH_DAY)
    db.session.commit()
    refresh_results()
    assert reuses_of(s)[0]["result"] is None  # running: only a closed result is shown
    draft.state = "done"
    freeze_results(draft, now=LAUNCH.replace(day=25))
    db.session.commit()
    assert refresh_results()["failed"] == 0
    db.session.expire_all()
    [row] = reuses_of(db.session.get(KsStory, s.id))
    assert row["unit"]["code"] == "B002" and row["result"]["frozen"] is True
    assert row["result"]["lift_pp"] == pytest.approx(20.0)
    assert "+20.0 pp" in _panel(app, u.store1, s)


def test_ks10_story_page_shows_the_button(app):
    """KS-10: the story page carries the button for store2; a distributor (no ks.reuse) sees none."""
    s, _ = _linked_story()
    client = app.test_client()
    login(client, "store2@example.com")
    html = client.get(f"/stories/{s.id}").get_data(as_text=True)
    assert 'data-testid="ks-reuse-button"' in html and f'action="/stories/reuse/{s.id}"' in html
    other = app.test_client()
    login(other, "ibo1@example.com")
    page = other.get(f"/stories/{s.id}")
    assert page.status_code == 200 and 'data-testid="ks-reuse-button"' not in page.get_data(as_text=True)
