""""Write a story from my measured campaign" on the new-story form: the select lists the writer's
launched campaigns (cem_channels' ``cem_campaigns_for``), newest first with the lift the story will
show; choosing one fills the form and links the verified (closed, frozen) or interim (running)
result (KS-5); another branch sees none of them; without cem_channels there is no select and the
form still works."""

from __future__ import annotations

import html as htmllib
import re

from flask_login import login_user

from plugins.knowledge_share.stories.from_campaign import measured_campaigns
from portal.plugins_lifecycle import set_enabled
from portal.toolkit import db
from tests.conftest import scalar
from tests.plugins.knowledge_share.flow_fixtures import (
    CLOSED_NAME,
    RUNNING_NAME,
    b001_campaigns,
    expected_lift_label,
)
from tests.plugins.knowledge_share.pages_fixtures import FORM, client_for, post, story_id_from
from tests.plugins.knowledge_share.results_fixtures import users


def _options(page: str) -> list[tuple[str, str, str]]:
    """(value, data-mark, text) of the measured-campaign select's options."""
    select = re.search(r'<select id="ks-measured-campaign".*?</select>', page, re.S)
    assert select, "no measured-campaign select"
    return [(v, m, htmllib.unescape(t).strip()) for v, m, t in re.findall(
        r'<option value="(\d+)" data-mark="(\w+)"[^>]*>(.*?)</option>', select.group(0), re.S)]


def test_the_select_lists_my_measured_campaigns_newest_first_with_their_lift(app):
    closed, running = b001_campaigns()
    label = expected_lift_label(closed.id)
    assert label == "+8.1 pp [5.07, 11.13]"  # KS-5's figures: 181 / 1,000 treated against 100 / 1,000 held out
    store1 = client_for(app, "store1@example.com")
    page = store1.get("/stories/new").get_data(as_text=True)
    assert 'data-testid="campaign-picker"' in page and "data-autosubmit" in page
    options = _options(page)
    assert [(v, m) for v, m, _t in options] == [(str(running.id), "interim"), (str(closed.id), "verified")]
    assert RUNNING_NAME in options[0][2] and "2026-11-03" in options[0][2]  # launched a day later, KST day
    assert CLOSED_NAME in options[1][2] and label in options[1][2] and "2026-11-02" in options[1][2]
    assert 'data-testid="campaign-result-preview"' not in page  # nothing chosen yet


def test_choosing_a_closed_campaign_fills_the_form_and_links_the_verified_result(app):
    """KS-5 through the form: the chosen closed campaign's result is linked verified on save."""
    closed, _running = b001_campaigns()
    store1 = client_for(app, "store1@example.com")
    page = store1.get(f"/stories/new?campaign={closed.id}").get_data(as_text=True)
    assert re.search(rf'<option value="{closed.id}" data-mark="verified" selected>', page)
    preview = re.search(r'data-testid="campaign-result-preview" data-mark="(\w+)">(.*?)</p>', page, re.S)
    assert preview and preview.group(1) == "verified" and expected_lift_label(closed.id) in preview.group(2)
    assert f'name="campaign" type="hidden" value="{closed.id}"' in page and f'value="{CLOSED_NAME}"' in page
    resp = post(store1, "/stories/new", {**FORM, "campaign": str(closed.id)}, f"/stories/new?campaign={closed.id}")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    sid = story_id_from(resp.headers["Location"])
    assert scalar("SELECT campaign_id FROM ks_story WHERE id = :i", i=sid) == closed.id
    assert scalar("SELECT result_mark FROM ks_story WHERE id = :i", i=sid) == "verified"
    shown = store1.get(f"/stories/{sid}").get_data(as_text=True)
    assert 'data-mark="verified"' in shown and expected_lift_label(closed.id) in shown


def test_choosing_a_running_campaign_links_an_interim_result(app):
    _closed, running = b001_campaigns()
    store1 = client_for(app, "store1@example.com")
    page = store1.get(f"/stories/new?campaign={running.id}").get_data(as_text=True)
    assert re.search(r'data-testid="campaign-result-preview" data-mark="interim"', page)
    resp = post(store1, "/stories/new", {**FORM, "campaign": str(running.id)}, f"/stories/new?campaign={running.id}")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    sid = story_id_from(resp.headers["Location"])
    assert scalar("SELECT result_mark FROM ks_story WHERE id = :i", i=sid) == "interim"


def test_a_refused_form_keeps_the_chosen_campaign(app):
    closed, _running = b001_campaigns(running=False)
    store1 = client_for(app, "store1@example.com")
    resp = post(store1, "/stories/new", {**FORM, "title": "", "campaign": str(closed.id)},
                f"/stories/new?campaign={closed.id}")
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert re.search(rf'<option value="{closed.id}" data-mark="verified" selected>', page)
    assert f'name="campaign" type="hidden" value="{closed.id}"' in page
    assert scalar("SELECT count(*) FROM ks_story") == 0


def test_another_branch_sees_none_of_them(app):
    b001_campaigns()
    store2 = client_for(app, "store2@example.com")
    page = store2.get("/stories/new").get_data(as_text=True)
    assert 'data-testid="no-measured-campaign"' in page and 'id="ks-measured-campaign"' not in page
    assert CLOSED_NAME not in page and RUNNING_NAME not in page


def test_hq_sees_every_branch_s_measured_campaigns(app):
    closed, running = b001_campaigns()
    u = users()
    with app.test_request_context("/"):
        login_user(u.hq)
        ids = [c.id for c in measured_campaigns(u.hq)]
    assert ids[:2] == [running.id, closed.id]


def test_without_cem_channels_there_is_no_select_and_the_form_works(app):
    b001_campaigns(running=False)
    set_enabled("prm_groups", False)  # it needs cem_channels
    set_enabled("cem_channels", False)
    db.session.commit()
    store1 = client_for(app, "store1@example.com")
    page = store1.get("/stories/new").get_data(as_text=True)
    assert 'data-testid="story-form"' in page and 'data-testid="campaign-picker"' not in page
    resp = post(store1, "/stories/new", FORM, "/stories/new")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    sid = story_id_from(resp.headers["Location"])
    assert scalar("SELECT result_mark FROM ks_story WHERE id = :i", i=sid) == "self_reported"
    u = users()
    with app.test_request_context("/"):
        login_user(u.store1)
        assert measured_campaigns(u.store1) is None


def test_malformed_hook_items_are_skipped():
    from plugins.knowledge_share.stories.from_campaign import choice

    assert choice({"id": "3"}) is None and choice({"id": True}) is None and choice("x") is None  # type: ignore[arg-type]
    c = choice({"id": 3, "name": None, "frozen": True, "started_at": "junk"})
    assert c is not None and c.name == "#3" and c.mark == "verified" and c.lift_label is None and c.launched == ""
