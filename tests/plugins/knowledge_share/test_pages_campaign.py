"""The story form from a measured campaign (``/stories/new?campaign=<id>``): prefilled only for a
writer who may see the campaign, and saved with the campaign's verified result linked (KS-5)."""

from __future__ import annotations

from tests.conftest import scalar
from tests.plugins.knowledge_share.pages_fixtures import FORM, client_for, post, story_id_from
from tests.plugins.knowledge_share.results_fixtures import measured_campaign


def test_new_story_from_a_campaign_is_prefilled_and_linked(app):
    campaign = measured_campaign(per_arm=40, treatment_buyers=12, holdout_buyers=4, name="건강식품 재구매 문자")
    store1 = client_for(app, "store1@example.com")
    url = f"/stories/new?campaign={campaign.id}"
    html = store1.get(url).get_data(as_text=True)
    assert 'data-testid="from-campaign"' in html and 'value="건강식품 재구매 문자"' in html
    assert f'name="campaign" type="hidden" value="{campaign.id}"' in html
    assert 'checked id="channels-1" name="channels" type="checkbox" value="sms"' in html  # the campaign's channel
    resp = post(store1, "/stories/new", {**FORM, "campaign": str(campaign.id)}, url)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    sid = story_id_from(resp.headers["Location"])
    assert scalar("SELECT campaign_id FROM ks_story WHERE id = :i", i=sid) == campaign.id
    assert scalar("SELECT result_mark FROM ks_story WHERE id = :i", i=sid) == "verified"
    html = store1.get(f"/stories/{sid}").get_data(as_text=True)
    assert 'data-mark="verified"' in html


def test_a_campaign_out_of_sight_is_neither_shown_nor_linked(app):
    campaign = measured_campaign(per_arm=20, treatment_buyers=5, holdout_buyers=2, name="B001 비밀 캠페인")
    store2 = client_for(app, "store2@example.com")  # B002: not B001's campaign
    url = f"/stories/new?campaign={campaign.id}"
    html = store2.get(url).get_data(as_text=True)
    assert "B001 비밀 캠페인" not in html and 'data-testid="from-campaign"' not in html
    resp = post(store2, "/stories/new", {**FORM, "campaign": str(campaign.id)}, "/stories/new")
    assert resp.status_code == 422
    assert scalar("SELECT count(*) FROM ks_story") == 0
    for junk in ("abc", "0", "-1", "99999999999999999999", "１２"):
        assert store2.get(f"/stories/new?campaign={junk}").status_code == 200, junk
