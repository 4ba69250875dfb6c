"""Verified results (KS-5): a story linked to a closed, frozen campaign copies its result block and
is marked verified; a running one is interim; unlinked figures are self-reported; the block is
read-only; the daily job moves interim results on with one read per campaign."""

from __future__ import annotations

import pytest
from flask import render_template

from plugins.knowledge_share.errors import StoryError
from plugins.knowledge_share.models import INTERIM, SELF_REPORTED, VERIFIED, KsStory
from plugins.knowledge_share.results.service import (
    link_result,
    refresh_result,
    refuse_read_only,
    result_block,
)
from portal.toolkit import db
from tests.plugins.knowledge_share.results_fixtures import measured_campaign, story, users


def test_ks5_closed_campaign_is_verified_with_the_core_figures(app):
    """KS-5: 181/1,000 vs 100/1,000 closed → "+8.1 pp [5.07, 11.13]", verified. The core's interval is
    Newcombe's (statsmodels ``newcomb``): [5.0699, 11.1341] pp — the spec's figures at two decimals."""
    u = users()
    campaign = measured_campaign()
    s = story(u.store1, state="private")
    link_result(s, campaign_id=campaign.id, actor=u.store1)
    db.session.commit()
    s = db.session.get(KsStory, s.id)
    assert s.result_mark == VERIFIED and s.campaign_id == campaign.id
    block = result_block(s)
    assert block["mark"] == "verified" and block["read_only"] is True
    assert block["lift_label"] == "+8.1 pp [5.07, 11.13]"
    assert block["arms"][:2] == [{"arm": "treatment", "n": 1000, "conversions": 181, "rate": 0.181},
                                 {"arm": "holdout", "n": 1000, "conversions": 100, "rate": 0.1}]
    assert block["lift_pp"] == pytest.approx(8.1)
    assert block["ci_pp"] == pytest.approx([5.0699, 11.1341], abs=1e-4)
    assert block["p_value"] < 0.001 and block["p_label"] == "p < 0.001"
    assert block["verdict"] == "significant" and block["frozen"] is True and block["frozen_at"]
    assert block["source"]["kind"] == "campaign" and block["source"]["name"] == "건강식품 재구매 문자"


def test_ks5_block_template_is_read_only(app):
    """KS-5: the result block shows the figures and the verified badge, and no input at all."""
    u = users()
    s = story(u.store1)
    link_result(s, campaign_id=measured_campaign().id, actor=u.store1)
    db.session.commit()
    with app.test_request_context("/"):
        html = render_template("knowledge_share/results/_block.html", block=result_block(s))
    assert 'data-mark="verified"' in html and "+8.1 pp [5.07, 11.13]" in html
    assert "<input" not in html and "<textarea" not in html and "<form" not in html


def test_ks5_result_fields_are_read_only(app):
    """KS-5: a write naming the result (the API's PATCH) is refused 422 at each field."""
    with pytest.raises(StoryError) as exc:
        refuse_read_only({"title": "x", "result": {"lift_pp": 50}, "result_mark": "verified"})
    assert exc.value.status == 422 and set(exc.value.errors) == {"result", "result_mark"}
    refuse_read_only({"title": "x", "result_text": "매출 20 % 증가"})  # the author's own text is writable


def test_ks5_running_campaign_is_interim_then_verified_when_frozen(app):
    """KS-5: linked to a running campaign → interim; once it closes and freezes, the refresh (and the
    daily job) turn it verified."""
    from plugins.cem_channels.campaigns.results import freeze_results
    from plugins.knowledge_share.results.jobs import refresh_results
    from tests.plugins.knowledge_share.results_fixtures import LAUNCH

    u = users()
    campaign = measured_campaign(closed=False)
    a, b = story(u.store1, state="private"), story(u.store1, title="두 번째 이야기")
    for s in (a, b):
        link_result(s, campaign_id=campaign.id, actor=u.store1)
    db.session.commit()
    assert (a.result_mark, b.result_mark) == (INTERIM, INTERIM)
    assert result_block(a)["lift_label"] == "+8.1 pp [5.07, 11.13]" and result_block(a)["frozen"] is False
    assert refresh_result(a) is False  # nothing changed yet
    campaign.state = "done"
    freeze_results(campaign, now=LAUNCH.replace(day=25))
    db.session.commit()
    assert refresh_result(a) is True and a.result_mark == VERIFIED
    db.session.commit()
    stats = refresh_results()
    assert stats["failed"] == 0 and stats["read"] == 1  # one read for the campaign, not one per story
    db.session.expire_all()
    assert db.session.get(KsStory, b.id).result_mark == VERIFIED
    assert refresh_result(db.session.get(KsStory, a.id)) is False  # verified is final


def test_ks5_unlinked_figures_are_self_reported(app):
    u = users()
    s = story(u.store1, result_text="재구매율 12 % → 19 %")
    block = result_block(s)
    assert block["mark"] == SELF_REPORTED and block["text"] == "재구매율 12 % → 19 %" and "lift_label" not in block
    with app.test_request_context("/"):
        html = render_template("knowledge_share/results/_block.html", block=block)
    assert 'data-mark="self_reported"' in html


def test_ks5_unlink_makes_figures_self_reported_again(app):
    u = users()
    s = story(u.store1, state="private")
    link_result(s, campaign_id=measured_campaign().id, actor=u.store1)
    link_result(s, actor=u.store1)
    db.session.commit()
    assert s.campaign_id is None and s.result_mark == SELF_REPORTED and result_block(s)["mark"] == SELF_REPORTED


@pytest.mark.parametrize("ref", [999_999, 0, -1, "abc", True, 2**40, None])
def test_unknown_campaign_is_refused(app, ref):
    u = users()
    s = story(u.store1, state="private")
    with pytest.raises(StoryError) as exc:
        link_result(s, campaign_id=ref if ref is not None else "", actor=u.store1)
    assert exc.value.status == 422 and "campaign_id" in exc.value.errors
    assert s.campaign_id is None and s.result is None


def test_a_campaign_out_of_the_actors_scope_is_refused(app):
    """store2 (B002) cannot cite B001's campaign: the same answer as an unknown one; HQ can."""
    u = users()
    campaign = measured_campaign()
    s = story(u.store2, state="private", unit="B002")
    with pytest.raises(StoryError) as exc:
        link_result(s, campaign_id=campaign.id, actor=u.store2)
    assert exc.value.status == 422 and s.result is None
    link_result(s, campaign_id=campaign.id, actor=u.hq)
    assert s.result_mark == VERIFIED


def test_a_programme_is_linked_by_those_who_see_it(app):
    """prm_groups' scope through ``prm_programme_summary``: HQ any programme, a group's leader their
    own group's; a branch never; an unknown id and both links at once refused."""
    from tests.plugins.prm_groups.programmes_fixtures import programme

    u = users()
    g01 = programme()  # HQ's programme for G01 (a draft: its figures are interim)
    s = story(u.store1, state="private")
    with pytest.raises(StoryError) as exc:
        link_result(s, programme_id=g01.id, actor=u.store1)
    assert "programme_id" in exc.value.errors and s.programme_id is None
    leader = story(u.leader1, state="private")
    link_result(leader, programme_id=g01.id, actor=u.leader1)
    assert leader.programme_id == g01.id and leader.result_mark == INTERIM
    assert leader.result["source"]["name"] == g01.name
    with pytest.raises(StoryError):
        link_result(s, programme_id=999_999, actor=u.hq)
    with pytest.raises(StoryError):
        link_result(s, campaign_id=1, programme_id=1, actor=u.hq)


def test_with_cem_disabled_a_campaign_cannot_be_linked_but_the_copy_stays(app):
    from portal.plugins_lifecycle import set_enabled

    u = users()
    campaign = measured_campaign()
    s = story(u.store1, state="private")
    link_result(s, campaign_id=campaign.id, actor=u.store1)
    db.session.commit()
    set_enabled("prm_groups", False)  # it needs cem_channels
    set_enabled("cem_channels", False)
    db.session.commit()
    other = story(u.store1, state="private", title="다른 이야기")
    with pytest.raises(StoryError):
        link_result(other, campaign_id=campaign.id, actor=u.store1)
    assert result_block(db.session.get(KsStory, s.id))["lift_label"] == "+8.1 pp [5.07, 11.13]"


def test_ks5_through_the_stories_api(app):
    """KS-5 end to end: POST a story naming the closed campaign → GET shows the verified block;
    PATCH of ``result`` → 422 read-only, nothing changed."""
    from tests.conftest import api_token_for, bearer

    campaign = measured_campaign()
    client, auth = app.test_client(), bearer(api_token_for("store1@example.com"))
    resp = client.post("/api/v1/stories", json={"title": "건강식품 재구매 문자", "campaign": campaign.id},
                       headers=auth)
    assert resp.status_code == 201, resp.get_json()
    sid = resp.get_json()["id"]
    doc = client.get(f"/api/v1/stories/{sid}", headers=auth).get_json()
    assert doc["result"]["mark"] == "verified" and doc["result_mark"] == "verified"
    assert doc["result"]["lift_label"] == "+8.1 pp [5.07, 11.13]"
    patch = client.patch(f"/api/v1/stories/{sid}", json={"result": {"lift_pp": 50.0}}, headers=auth)
    assert patch.status_code == 422 and "result" in patch.get_json()["errors"]
    db.session.expire_all()
    assert db.session.get(KsStory, sid).result["lift_pp"] == pytest.approx(8.1)
