"""The campaign pages: list, calendar, composer (validation messages, audience preview), detail with
the workflow buttons, progress JSON and results, approvals queue, call list — in Korean and English,
for HQ and branch staff (scope: another branch's campaign answers 404), never a 500 on bad input."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.extensions import db
from tests.conftest import login, post_form, scalar
from tests.plugins.cem_channels.campaign_fixtures import (
    branch_customer_ids,
    grant_marketing,
    make_campaign,
    make_message_set,
    users,
)

KST = ZoneInfo("Asia/Seoul")


def _lang(client, lang: str) -> None:
    post_form(client, "/language", {"lang": lang, "next": "/campaigns/"}, form_page="/campaigns/")


def _as(client, email: str, lang: str = "ko"):
    resp = login(client, email)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    if lang != "ko":
        _lang(client, lang)
    return client


def _fresh(app):
    return app.test_client()


def _next_noon_kst_text(days: int = 2) -> str:
    day = datetime.now(KST).date() + timedelta(days=days)
    return f"{day.isoformat()}T12:00"


def _composer_form(ms_id: int, **overrides) -> dict:
    form = {"name": "12월 비타민", "purpose": "marketing", "audience": "rules",
            "rules": '{"all": [{"field": "branch", "op": "in", "value": ["B001"]}]}',
            "steps-0-channel": "sms", "steps-0-message_set_id": str(ms_id), "steps-0-delay_hours": "0",
            "steps-0-condition": "always", "max_lateness_minutes": "120", "holdout_share": "10",
            "use_global_control": "y", "attribution_days": "14", "ab_test_share": "20",
            "ab_winner_metric": "conversion", "ab_wait_hours": "48", "ab_fallback": "default",
            "dedupe_by_address": "y", "action": "save"}
    form.update(overrides)
    return form


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_page_renders_for_hq_and_branch_staff(app, lang):
    u = users()
    ms = make_message_set()
    mine = make_campaign(u.hq, ms, name="HQ 캠페인")
    theirs = make_campaign(u.store1, ms, name="강남점 캠페인")
    for email in ("hq@example.com", "store1@example.com"):
        client = _as(_fresh(app), email, lang)
        pages = ["/campaigns/", "/campaigns/calendar", "/campaigns/new", f"/campaigns/{theirs.id}",
                 f"/campaigns/{theirs.id}/edit", f"/campaigns/{theirs.id}/progress.json", "/campaigns/calls"]
        if email == "hq@example.com":
            pages += ["/campaigns/approvals", f"/campaigns/{mine.id}"]
        for url in pages:
            resp = client.get(url)
            assert resp.status_code == 200, (email, url, resp.status_code)
            if url.endswith(".json"):
                continue
            html = resp.get_data(as_text=True)
            assert f'<html lang="{lang}">' in html, url
            assert ">None<" not in html and "{'" not in html, url
        listing = client.get("/campaigns/").get_data(as_text=True)
        assert "강남점 캠페인" in listing
        assert ("HQ 캠페인" in listing) == (email == "hq@example.com")
        if lang == "ko":
            assert "새 캠페인" in listing or "캠페인" in listing
        else:
            assert "New campaign" in listing


def test_branch_scope_store2_gets_404_on_store1s_campaign(app):
    u = users()
    c = make_campaign(u.store1)
    client = _as(_fresh(app), "store2@example.com")
    for url in (f"/campaigns/{c.id}", f"/campaigns/{c.id}/edit", f"/campaigns/{c.id}/progress.json",
                f"/campaigns/{c.id}/export.csv"):
        assert client.get(url).status_code == 404, url
    assert post_form(client, f"/campaigns/{c.id}/submit", {}, form_page="/campaigns/").status_code == 404
    assert "data-campaign" not in client.get("/campaigns/").get_data(as_text=True)
    assert client.get("/campaigns/999999").status_code == 404
    # store staff may not approve
    assert client.get("/campaigns/approvals").status_code == 403


def test_list_state_tabs_search_sort_and_pagination(app):
    u = users()
    ms = make_message_set()
    for i in range(27):
        make_campaign(u.hq, ms, name=f"캠페인 {i:02d}")
    pending = make_campaign(u.hq, ms, name="승인 대기 캠페인")
    from plugins.cem_channels.campaigns.service import submit

    submit(u.hq, pending)
    db.session.commit()
    client = _as(_fresh(app), "hq@example.com", "en")
    html = client.get("/campaigns/").get_data(as_text=True)
    assert html.count('data-testid="campaign-row"') == 25 and 'rel="next"' in html
    assert 'data-testid="state-tab-pending_approval"' in html
    page2 = client.get("/campaigns/?page=2").get_data(as_text=True)
    assert page2.count('data-testid="campaign-row"') == 3
    only = client.get("/campaigns/?state=pending_approval").get_data(as_text=True)
    assert only.count('data-testid="campaign-row"') == 1 and "승인 대기 캠페인" in only
    found = client.get("/campaigns/?q=%EC%BA%A0%ED%8E%98%EC%9D%B8%2005").get_data(as_text=True)  # "캠페인 05"
    assert found.count('data-testid="campaign-row"') == 1
    by_name = client.get("/campaigns/?sort=name").get_data(as_text=True)
    assert by_name.index("캠페인 00") < by_name.index("캠페인 01")
    none = client.get("/campaigns/?q=nothing-like-this").get_data(as_text=True)
    assert "No campaign matches" in none
    for junk in ("?state=bogus", "?sort=drop", "?page=-4", "?page=abc", "?q=" + "x" * 500):
        assert client.get("/campaigns/" + junk).status_code == 200, junk


def test_empty_states(app):
    client = _as(_fresh(app), "hq@example.com", "en")
    assert "No campaigns yet" in client.get("/campaigns/").get_data(as_text=True)
    assert "Nothing waits for your approval" in client.get("/campaigns/approvals").get_data(as_text=True)
    assert 'data-testid="calendar-empty"' in client.get("/campaigns/calendar").get_data(as_text=True)
    assert "No calls to make" in client.get("/campaigns/calls").get_data(as_text=True)
    ko = _as(_fresh(app), "store1@example.com")
    assert "캠페인" in ko.get("/campaigns/").get_data(as_text=True)


def test_composer_creates_a_draft_and_shows_field_errors(app):
    ms = make_message_set()
    client = _as(_fresh(app), "hq@example.com", "en")
    resp = post_form(client, "/campaigns/new", _composer_form(ms.id), form_page="/campaigns/new")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    cid = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert scalar("SELECT state FROM cem_campaign WHERE id = :i", i=cid) == "draft"
    assert scalar("SELECT holdout_share FROM cem_campaign WHERE id = :i", i=cid) == pytest.approx(0.1)
    # garbage: unknown channel, bad date, negative caps, a share out of range, a non-number
    before = scalar("SELECT COUNT(*) FROM cem_campaign")
    bad = _composer_form(ms.id, **{"steps-0-channel": "fax", "start_at": "next tuesday", "cap_per_day": "-1",
                                   "holdout_share": "70", "max_lateness_minutes": "soon", "name": ""})
    resp = post_form(client, "/campaigns/new", bad, form_page="/campaigns/new")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    for field in ("steps-0-channel", "start_at", "cap_per_day", "holdout_share", "max_lateness_minutes", "name"):
        assert f'data-testid="error-{field}"' in html, field
    assert "A percentage from 0 to 50." in html
    assert 'value="next tuesday"' in html  # what was typed comes back
    assert scalar("SELECT COUNT(*) FROM cem_campaign") == before  # nothing written
    # bad rules JSON, an unknown segment, a second step that is not delay 0/always on step 1
    for extra in ({"rules": "{not json"}, {"audience": "segment", "segment_id": "99999"},
                  {"steps-2-channel": "email", "steps-2-message_set_id": str(ms.id), "steps-2-condition": "sideways"},
                  {"variants-A-message_set_id": str(ms.id)}, {"steps-0-message_set_id": "abc"}):
        resp = post_form(client, "/campaigns/new", _composer_form(ms.id, **extra), form_page="/campaigns/new")
        assert resp.status_code == 422, (extra, resp.status_code)
        assert 'data-testid="composer-errors"' in resp.get_data(as_text=True)
    # the third form row's error is shown on the third row (blank rows are skipped when posting)
    resp = post_form(client, "/campaigns/new", _composer_form(
        ms.id, **{"steps-2-channel": "email", "steps-2-message_set_id": str(ms.id), "steps-2-condition": "sideways"}),
        form_page="/campaigns/new")
    assert 'data-testid="error-steps-2-condition"' in resp.get_data(as_text=True)
    # no CSRF token: refused
    assert client.post("/campaigns/new", data=_composer_form(ms.id)).status_code == 400


def test_composer_audience_preview_and_step1_message_set(app):
    ms = make_message_set()
    grant_marketing(branch_customer_ids("B001", limit=20), "sms")
    client = _as(_fresh(app), "store1@example.com", "en")
    page = client.get("/campaigns/new").get_data(as_text=True)  # the core's rule builder on the rules field
    assert 'id="segment-builder-config"' in page and "js/segment_builder.js" in page and 'id="rules-field"' in page
    assert '"preview_url": "/analytics/segments/preview"' in page
    form = _composer_form(ms.id, action="preview")
    before = scalar("SELECT COUNT(*) FROM cem_campaign")
    resp = post_form(client, "/campaigns/new", form, form_page="/campaigns/new")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'data-testid="audience-preview"' in html and 'data-testid="preview-matched"' in html
    assert 'data-testid="preview-eligible"' in html and 'data-testid="preview-treatment"' in html
    assert 'data-testid="preview-suppressed"' in html
    assert 'data-testid="step1-preview"' in html and ms.name in html
    assert 'data-testid="step1-rendition-sms"' in html and "(광고)" in html  # rendered with the legal wrapper
    assert f'href="/message-sets/{ms.id}"' in html
    assert scalar("SELECT COUNT(*) FROM cem_campaign") == before
    bad = post_form(client, "/campaigns/new", _composer_form(ms.id, action="preview", **{"steps-0-channel": "fax"}),
                    form_page="/campaigns/new")
    assert bad.status_code == 422


def test_submit_approve_by_another_account_then_schedule_through_the_pages(app):
    u = users()
    ms = make_message_set()
    grant_marketing(branch_customer_ids("B001", limit=30), "sms")
    c = make_campaign(u.hq, ms)
    author = _as(_fresh(app), "hq@example.com", "en")
    detail = f"/campaigns/{c.id}"
    html = author.get(detail).get_data(as_text=True)
    assert 'data-testid="action-submit"' in html
    assert post_form(author, f"{detail}/submit", {}, form_page=detail).status_code == 303
    html = author.get(detail).get_data(as_text=True)
    assert 'data-state="pending_approval"' in html and 'data-testid="action-approve"' not in html
    assert 'data-testid="four-eyes-note"' in html
    # the author cannot approve, even by posting the form (four-eyes, CE-27)
    from portal.toolkit import current_revision

    revision = current_revision(db.session.get(type(c), c.id))
    resp = post_form(author, f"{detail}/approve", {"revision": revision}, form_page=detail)
    assert resp.status_code == 403
    assert scalar("SELECT state FROM cem_campaign WHERE id = :i", i=c.id) == "pending_approval"
    # the author's approval queue does not list their own campaign
    assert f'data-campaign="{c.id}"' not in author.get("/campaigns/approvals").get_data(as_text=True)
    # a second account approves from the queue
    reviewer = _as(_fresh(app), "reviewer@example.com", "en")
    queue = reviewer.get("/campaigns/approvals").get_data(as_text=True)
    assert f'data-campaign="{c.id}"' in queue
    shown = re.search(r'name="revision" value="([0-9a-f]+)"', queue).group(1)
    assert shown == revision
    page = reviewer.get(detail).get_data(as_text=True)
    assert 'data-testid="approve-revision"' in page and revision[:12] in page
    resp = post_form(reviewer, f"{detail}/approve", {"revision": shown, "next": "approvals"},
                     form_page="/campaigns/approvals")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/campaigns/approvals")
    assert scalar("SELECT state FROM cem_campaign WHERE id = :i", i=c.id) == "approved"
    # schedule: a start in the past is refused with its message, then a future start (noon KST) works
    past = post_form(author, f"{detail}/schedule", {"start_at": "2020-01-01T12:00"}, form_page=detail)
    assert past.status_code == 422 and 'data-testid="action-errors"' in past.get_data(as_text=True)
    assert post_form(author, f"{detail}/schedule", {"start_at": "garbage"}, form_page=detail).status_code == 422
    resp = post_form(author, f"{detail}/schedule", {"start_at": _next_noon_kst_text()}, form_page=detail)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    assert scalar("SELECT state FROM cem_campaign WHERE id = :i", i=c.id) == "scheduled"
    html = author.get(detail).get_data(as_text=True)
    assert 'data-testid="action-unschedule"' in html and 'data-testid="action-cancel"' in html
    assert 'data-testid="progress-panel"' in html and 'data-live="true"' in html  # polls for the start
    assert 'data-testid="results"' not in html
    assert "12:00" in html  # shown in KST
    # on the calendar of its month
    month = _next_noon_kst_text()[:7]
    cal = author.get(f"/campaigns/calendar?month={month}").get_data(as_text=True)
    assert 'data-testid="calendar-item"' in cal and c.name in cal
    # the tick starts it at its start time: the page shows the queued messages; pause, resume, cancel
    from plugins.cem_channels.campaigns.jobs import tick

    db.session.expire_all()
    tick(now=db.session.get(type(c), c.id).start_at + timedelta(minutes=1))
    db.session.commit()
    assert scalar("SELECT state FROM cem_campaign WHERE id = :i", i=c.id) == "sending"
    live = author.get(f"{detail}/progress.json").get_json()
    assert live["state"] == "sending" and live["total"] > 0
    html = author.get(detail).get_data(as_text=True)
    assert 'data-testid="results-table"' in html and 'data-testid="action-pause"' in html
    for action, state in (("pause", "paused"), ("resume", "sending"), ("cancel", "cancelled")):
        resp = post_form(author, f"{detail}/{action}", {}, form_page=detail)
        assert resp.status_code == 303, (action, resp.get_data(as_text=True)[:1000])
        assert scalar("SELECT state FROM cem_campaign WHERE id = :i", i=c.id) == state
    assert author.get(f"{detail}/progress.json").get_json()["done"] is True  # every message cancelled
    # an unknown action, a GET on an action: 404 / 405
    assert post_form(author, f"{detail}/explode", {}, form_page=detail).status_code == 404
    assert author.get(f"{detail}/submit").status_code == 405


def test_reject_needs_a_comment_and_edit_after_approval_returns_to_approval(app):
    u = users()
    ms = make_message_set()
    c = make_campaign(u.hq, ms)
    from plugins.cem_channels.campaigns.service import approve, submit
    from portal.toolkit import current_revision

    submit(u.hq, c)
    db.session.commit()
    reviewer = _as(_fresh(app), "reviewer@example.com", "en")
    detail = f"/campaigns/{c.id}"
    resp = post_form(reviewer, f"{detail}/reject", {"comment": ""}, form_page=detail)
    assert resp.status_code == 422
    approve(u.reviewer, c, current_revision(c))
    db.session.commit()
    author = _as(_fresh(app), "hq@example.com", "en")
    edit = author.get(f"{detail}/edit").get_data(as_text=True)
    assert 'data-testid="edit-reapproval"' in edit
    resp = post_form(author, f"{detail}/edit", _composer_form(ms.id, name="고친 이름"), form_page=f"{detail}/edit")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    assert scalar("SELECT state FROM cem_campaign WHERE id = :i", i=c.id) == "pending_approval"
    assert scalar("SELECT name FROM cem_campaign WHERE id = :i", i=c.id) == "고친 이름"


def test_progress_json_and_results_with_and_without_messages(app):
    u = users()
    ms = make_message_set()
    c = make_campaign(u.hq, ms)
    client = _as(_fresh(app), "hq@example.com", "en")
    data = client.get(f"/campaigns/{c.id}/progress.json").get_json()
    assert data["state"] == "draft" and data["total"] == 0 and data["percent"] == 0.0
    html = client.get(f"/campaigns/{c.id}").get_data(as_text=True)
    assert 'data-testid="progress-panel"' not in html and 'data-testid="results"' not in html
    # as if launched: sending, with messages queued for the campaign (the core outbox)
    from plugins.cem_channels.campaign_models import SENDING
    from portal.toolkit import queue_message

    ids = branch_customer_ids("B001", limit=3)
    for cid in ids:
        queue_message(channel="email", to=f"c{cid}@example.com", subject="s", body="b", purpose="service",
                      source="cem_channels", source_object=c.source_object, customer_id=cid, step="1",
                      idempotency_key=f"cem:{c.id}:1:{cid}")
    c.state, c.started_at = SENDING, datetime.utcnow()
    db.session.commit()
    data = client.get(f"/campaigns/{c.id}/progress.json").get_json()
    assert data["state"] == "sending" and data["total"] == 3 and data["terminal"] == 0
    html = client.get(f"/campaigns/{c.id}").get_data(as_text=True)
    assert 'data-testid="progress-panel"' in html and 'data-live="true"' in html and "progress.js" in html
    assert 'data-testid="results"' in html and 'data-testid="results-table"' in html
    assert 'data-testid="funnel-chart"' in html and 'data-testid="results-verdict"' in html
    assert 'data-testid="action-pause"' in html and 'data-testid="action-cancel"' in html
    csv = client.get(f"/campaigns/{c.id}/export.csv")
    assert csv.status_code == 200 and "text/csv" in csv.headers["Content-Type"]
    assert "Queued" in csv.get_data(as_text=True).splitlines()[0]
    xlsx = client.get(f"/campaigns/{c.id}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get(f"/campaigns/{c.id}/export.pdf").status_code == 404
    _lang(client, "ko")  # the language is the user's preference
    page = client.get(f"/campaigns/{c.id}").get_data(as_text=True)
    _lang(client, "en")
    assert "발송 중" in page and ">queued<" not in page and ">suppressed_at_send<" not in page
    # pause through the page holds the campaign's messages
    resp = post_form(client, f"/campaigns/{c.id}/pause", {}, form_page=f"/campaigns/{c.id}")
    assert resp.status_code == 303
    data = client.get(f"/campaigns/{c.id}/progress.json").get_json()
    assert data["state"] == "paused" and data["paused"] is True
    assert scalar("SELECT COUNT(*) FROM access_log WHERE action = 'export' AND object_type = 'cem_campaign'") == 2


def test_calendar_month_navigation_and_junk(app):
    u = users()
    from plugins.cem_channels.campaign_models import SCHEDULED

    c = make_campaign(u.store1, make_message_set(), name="3월 캠페인")
    c.state = SCHEDULED
    c.start_at = datetime(2026, 3, 14, 3, 0)  # 12:00 KST on 14 March
    db.session.commit()
    client = _as(_fresh(app), "store1@example.com", "en")
    html = client.get("/campaigns/calendar?month=2026-03").get_data(as_text=True)
    assert 'data-testid="month-title">2026-03' in html and "3월 캠페인" in html and "12:00" in html
    assert 'href="/campaigns/calendar?month=2026-02"' in html and 'href="/campaigns/calendar?month=2026-04"' in html
    assert "3월 캠페인" not in client.get("/campaigns/calendar?month=2026-04").get_data(as_text=True)
    dec = client.get("/campaigns/calendar?month=2026-12").get_data(as_text=True)
    assert "month=2027-01" in dec and "month=2026-11" in dec
    for junk in ("1999-13", "abc", "2026-00", "-1--1", ""):
        assert client.get(f"/campaigns/calendar?month={junk}").status_code == 200
    other = _as(_fresh(app), "store2@example.com", "en")
    assert "3월 캠페인" not in other.get("/campaigns/calendar?month=2026-03").get_data(as_text=True)


def test_results_page_with_a_measured_lift_frozen_and_exported(app):
    """A launched campaign (the real draw, 50 % holdout): 30 treated vs 10 held-out buyers."""
    from plugins.cem_channels.campaign_models import DONE
    from plugins.cem_channels.campaigns.results import freeze_results
    from tests.plugins.cem_channels import results_fixtures as rf

    ids = rf.customers(200)
    campaign = rf.make_campaign(name="겨울 건강식품", holdout_share=0.5, attribution_days=14,
                                created_by_id=users().hq.id)
    treatment, holdout = rf.launch(campaign, ids, holdout_share=0.5)
    sent = rf.queue(campaign, treatment, channel="email", step=1)
    rf.settle(sent[:90], "sent")
    rf.settle(sent[90:93], "suppressed_at_send", reason="opted_out")
    for cid in treatment[:30]:
        rf.sale(cid, rf.LAUNCH_DAY + timedelta(days=1))
    for cid in holdout[:10]:
        rf.sale(cid, rf.LAUNCH_DAY + timedelta(days=2))
    db.session.commit()
    client = _as(_fresh(app), "hq@example.com", "en")
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-testid="results"' in html and 'data-frozen="false"' in html
    assert 'data-verdict="significant"' in html
    assert "+20.00 pp" in html and 'data-testid="results-interval"' in html and 'data-testid="interval-bar"' in html
    assert 'data-arm="treatment"' in html and 'data-arm="holdout"' in html
    assert 'data-bar="sent">90<' in html and 'data-bar="converted">30<' in html
    assert "Opted out" in html  # the suppression reason's label, not its code
    # frozen at close: the page says so and keeps the figures
    campaign.state = DONE
    freeze_results(campaign)
    db.session.commit()
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-testid="results-frozen"' in html and "+20.00 pp" in html
    assert 'data-testid="workflow-actions"' not in html  # nothing to press on a finished campaign
    assert client.get(f"/campaigns/{campaign.id}/edit").status_code == 303  # no longer editable
    resp = post_form(client, f"/campaigns/{campaign.id}/edit", {"name": "x"}, form_page=f"/campaigns/{campaign.id}")
    assert resp.status_code == 303 and scalar("SELECT name FROM cem_campaign WHERE id = :i", i=campaign.id) == "겨울 건강식품"
    rows = client.get(f"/campaigns/{campaign.id}/export.csv").get_data(as_text=True).splitlines()
    assert len(rows) == 2 and rows[1].startswith("1,email,")
    # in Korean
    _lang(client, "ko")
    ko = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "유의함" in ko and "홀드아웃" in ko and "opted_out" not in ko


def test_ab_test_waiting_for_a_person_shows_the_choose_winner_form(app):
    from tests.plugins.cem_channels import results_fixtures as rf

    u = users()
    campaign = rf.make_campaign(name="A/B 문자", variants=("A", "B"), default="A", ab_test_share=0.2,
                                ab_winner_metric="conversion", ab_wait_hours=48, ab_fallback="manual",
                                created_by_id=u.store1.id, branch_id=u.store1.local_roles[0].org_unit_id)
    db.session.commit()
    author = _as(_fresh(app), "store1@example.com", "en")
    html = author.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-testid="choose-winner"' in html and 'data-testid="results-variants"' in html
    assert "Testing: the decision comes 48 hours after the start." in html
    campaign.ab_decision = {"pending": "manual", "reason": "too_small"}  # as decide_winner leaves it
    db.session.commit()
    html = author.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "a person decides" in html and "fewer than 100 customers" in html
    other = _as(_fresh(app), "store2@example.com", "en")
    assert post_form(other, f"/campaigns/{campaign.id}/winner", {"code": "B"}, form_page="/campaigns/").status_code == 404
    bad = post_form(author, f"/campaigns/{campaign.id}/winner", {"code": "Z"}, form_page=f"/campaigns/{campaign.id}")
    assert bad.status_code == 422 and 'data-testid="action-errors"' in bad.get_data(as_text=True)
    resp = post_form(author, f"/campaigns/{campaign.id}/winner", {"code": "b"}, form_page=f"/campaigns/{campaign.id}")
    assert resp.status_code == 303
    assert scalar("SELECT ab_winner FROM cem_campaign WHERE id = :i", i=campaign.id) == "B"
    html = author.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-testid="ab-winner"' in html and 'data-testid="choose-winner"' not in html
    assert "chosen by a person" in html
    again = post_form(author, f"/campaigns/{campaign.id}/winner", {"code": "A"}, form_page=f"/campaigns/{campaign.id}")
    assert again.status_code == 409


def test_call_list_page_scope_and_outcome_form(app):
    from tests.plugins.cem_channels import results_fixtures as rf

    b001 = rf.customers(2, branch_code="B001", phone=True)
    b002 = rf.customers(1, branch_code="B002", phone=True)
    campaign = rf.make_campaign(name="안부 전화", channel="phone")
    rf.add_recipients(campaign, b001 + b002)
    mids = dict(zip(b001 + b002, rf.queue(campaign, b001 + b002, channel="phone", body="신제품 안내드립니다."),
                    strict=True))
    db.session.commit()
    store1 = _as(_fresh(app), "store1@example.com", "en")
    html = store1.get("/campaigns/calls").get_data(as_text=True)
    assert html.count('data-testid="call-row"') == 2 and "신제품 안내드립니다." in html and "안부 전화" in html
    assert f'data-message="{mids[b002[0]]}"' not in html
    # another branch's call: 404, nothing recorded
    assert post_form(store1, f"/campaigns/calls/{mids[b002[0]]}", {"outcome": "reached"},
                     form_page="/campaigns/calls").status_code == 404
    # a bad outcome: a message, nothing recorded
    resp = post_form(store1, f"/campaigns/calls/{mids[b001[0]]}", {"outcome": "teleported"}, form_page="/campaigns/calls")
    assert resp.status_code == 303 and scalar("SELECT COUNT(*) FROM cem_call_outcome") == 0
    resp = post_form(store1, f"/campaigns/calls/{mids[b001[0]]}", {"outcome": "reached", "note": "관심 있음"},
                     form_page="/campaigns/calls")
    assert resp.status_code == 303
    assert scalar("SELECT outcome FROM cem_call_outcome WHERE message_id = :m", m=mids[b001[0]]) == "reached"
    html = store1.get("/campaigns/calls").get_data(as_text=True)
    assert html.count('data-testid="call-row"') == 1
    twice = post_form(store1, f"/campaigns/calls/{mids[b001[0]]}", {"outcome": "reached"}, form_page="/campaigns/calls")
    assert twice.status_code == 303 and "already been recorded" in store1.get("/campaigns/calls").get_data(as_text=True)
    assert store1.get(f"/campaigns/calls?campaign={campaign.id}").status_code == 404  # an HQ campaign
    hq = _as(_fresh(app), "hq@example.com", "en")
    filtered = hq.get(f"/campaigns/calls?campaign={campaign.id}").get_data(as_text=True)
    assert filtered.count('data-testid="call-row"') == 2 and "안부 전화" in filtered
    assert store1.get("/campaigns/calls?campaign=abc").status_code == 404
    # reviewers hold no cem.call: 403
    assert _as(_fresh(app), "reviewer@example.com").get("/campaigns/calls").status_code == 403
    ko = _as(_fresh(app), "store2@example.com")
    assert ko.get("/campaigns/calls").status_code == 200


def test_composer_ab_variants_two_steps_and_the_edit_form_round_trip(app):
    ms, other = make_message_set(), make_message_set("6월 비타민 B안")
    client = _as(_fresh(app), "hq@example.com", "en")
    form = _composer_form(ms.id, **{
        "steps-0-channel": "email", "steps-2-channel": "sms", "steps-2-message_set_id": str(ms.id),
        "steps-2-delay_hours": "48", "steps-2-condition": "not_opened",
        "variants-A-message_set_id": str(ms.id), "variants-B-message_set_id": str(other.id), "variant_default": "B",
        "ab_test_share": "25", "ab_fallback": "manual", "cap_per_day": "1", "cap_per_7_days": "2",
        "start_at": _next_noon_kst_text(3)})
    resp = post_form(client, "/campaigns/new", form, form_page="/campaigns/new")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    cid = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert scalar("SELECT COUNT(*) FROM cem_campaign_step WHERE campaign_id = :i", i=cid) == 2
    assert scalar("SELECT condition FROM cem_campaign_step WHERE campaign_id = :i AND position = 2", i=cid) == "not_opened"
    assert scalar("SELECT code FROM cem_campaign_variant WHERE campaign_id = :i AND is_default", i=cid) == "B"
    assert scalar("SELECT ab_test_share FROM cem_campaign WHERE id = :i", i=cid) == pytest.approx(0.25)
    assert scalar("SELECT cap_per_7_days FROM cem_campaign WHERE id = :i", i=cid) == 2
    edit = client.get(f"/campaigns/{cid}/edit").get_data(as_text=True)
    assert 'name="variant_default" value="B" checked' in edit
    assert '<option value="not_opened" selected>' in edit and 'value="25"' in edit
    assert f'value="{_next_noon_kst_text(3)}"' in edit  # the start in KST, as typed
    detail = client.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert 'data-testid="variants-table"' in detail and "12:00" in detail
    # saving the edit form unchanged keeps everything (no field lost on the way back)
    values = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', edit))
    assert values["name"] == "12월 비타민"


def test_submit_refused_for_a_banned_term_shows_the_term_and_writes_nothing(app):
    from plugins.cem_channels.voice_models import CemBannedTerm

    db.session.add(CemBannedTerm(category="건강식품", term="치료"))
    db.session.commit()
    ms = make_message_set(renditions={"sms": {"body": "{{ offer }} 면역 치료 효과"}})
    c = make_campaign(users().hq, ms)
    client = _as(_fresh(app), "hq@example.com", "en")
    resp = post_form(client, f"/campaigns/{c.id}/submit", {}, form_page=f"/campaigns/{c.id}")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'data-testid="action-errors"' in html and "치료" in html
    assert scalar("SELECT state FROM cem_campaign WHERE id = :i", i=c.id) == "draft"


@pytest.mark.browser
def test_in_chromium_rule_builder_live_progress_and_the_calendar_on_a_phone(app):
    """Real Chromium against a live server: the composer mounts the core's rule builder on its rules
    field, the detail page's progress.js updates the counts as messages settle (no reload), and the
    calendar is a list on a phone — without a script error or a CSP violation."""
    from pathlib import Path

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    from plugins.cem_channels.campaign_models import SENDING
    from portal.toolkit import queue_message
    from tests.conftest import PASSWORD
    from tests.live_server import serve

    u = users()
    c = make_campaign(u.store1, make_message_set(), name="라이브 캠페인")
    ids = branch_customer_ids("B001", limit=3)
    for cid in ids:
        queue_message(channel="email", to=f"c{cid}@example.com", subject="s", body="b", purpose="service",
                      source="cem_channels", source_object=c.source_object, customer_id=cid, step="1",
                      idempotency_key=f"cem:{c.id}:1:{cid}")
    c.state, c.started_at, c.start_at = SENDING, datetime.utcnow(), datetime.utcnow()
    db.session.commit()
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        errors: list[str] = []
        try:
            context = browser.new_context(base_url=base, locale="ko-KR")
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text)
                    if msg.type == "error" and "Content Security Policy" in msg.text else None)
            page.goto("/login")
            page.fill("input[name=email]", "store1@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.get_by_test_id("login-submit").click()
            page.goto("/campaigns/new")
            expect(page.locator("#segment-builder")).to_be_visible()
            expect(page.get_by_test_id("rules-json")).to_be_hidden()  # folded under the builder
            page.goto(f"/campaigns/{c.id}")
            expect(page.locator("[data-field=total]")).to_have_text("3")
            expect(page.locator("[data-field=terminal]")).to_have_text("0")
            sql_settle = "UPDATE message SET status = 'sent', sent_at = CURRENT_TIMESTAMP WHERE source_object = :o"
            from sqlalchemy import text

            db.session.execute(text(sql_settle), {"o": c.source_object})
            db.session.commit()
            expect(page.locator("[data-field=terminal]")).to_have_text("3", timeout=15_000)  # polled, no reload
            phone = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844},
                                        storage_state=context.storage_state()).new_page()
            phone.on("pageerror", lambda exc: errors.append(str(exc)))
            phone.goto("/campaigns/calendar")
            expect(phone.get_by_test_id("calendar-list")).to_be_visible()
            expect(phone.get_by_test_id("calendar")).to_be_hidden()
            expect(phone.get_by_test_id("calendar-list")).to_contain_text("라이브 캠페인")
            width = phone.evaluate("() => ({scroll: document.documentElement.scrollWidth, width: innerWidth})")
            assert width["scroll"] <= width["width"], width
            assert errors == [], errors
        finally:
            browser.close()
