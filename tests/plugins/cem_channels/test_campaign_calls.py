"""The phone step's call list (issue 15): scope (branch staff see their branch only), the access
log, outcomes settling the core message (contact history, wrong number → quality issue), 404 out
of scope, 409 twice, 422 bad input."""

from __future__ import annotations

import pytest

from tests.plugins.cem_channels import results_fixtures as rf


def _user(email: str):
    from portal.auth.service import find_user

    return find_user(email)


def _phone_campaign(state: str = "sending"):
    """An HQ campaign with a phone step: two B001 customers, one B002 customer."""
    from portal.extensions import db

    b001 = rf.customers(2, branch_code="B001", phone=True)
    b002 = rf.customers(1, branch_code="B002", phone=True)
    campaign = rf.make_campaign(name="안부 전화", channel="phone", state=state)
    rf.add_recipients(campaign, b001 + b002)
    mids = rf.queue(campaign, b001 + b002, channel="phone", body="안녕하세요, 파트너포털입니다. 신제품 안내드립니다.")
    db.session.commit()
    return campaign, dict(zip(b001 + b002, mids, strict=True)), b001, b002


def _access_rows() -> int:
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import AccessLog

    return db.session.execute(select(func.count()).select_from(AccessLog).where(
        AccessLog.detail == "cem call list")).scalar_one()


def test_branch_staff_see_their_branch_only(app):
    from plugins.cem_channels.campaigns.calls import call_list

    campaign, by_customer, b001, b002 = _phone_campaign()
    before = _access_rows()
    page = call_list(_user("store1@example.com"), page=1, per_page=50)
    assert sorted(i["customer_id"] for i in page.items) == sorted(b001) and page.total == 2
    item = page.items[0]
    assert item["campaign_id"] == campaign.id and item["campaign_name"] == "안부 전화"
    assert "신제품 안내드립니다" in item["script"] and item["phone"].startswith("0105")
    assert item["phone_masked"] == f"{item['phone'][:3]}-****-{item['phone'][-4:]}"
    assert _access_rows() == before + 1
    assert [i["customer_id"] for i in call_list(_user("store2@example.com")).items] == b002
    assert len(call_list(_user("hq@example.com"), campaign=campaign).items) == 3
    assert call_list(_user("ibo1@example.com")).items == []


def test_paused_campaigns_have_no_due_calls(app):
    from plugins.cem_channels.campaigns.calls import call_list

    campaign, *_rest = _phone_campaign(state="paused")
    assert call_list(_user("hq@example.com")).items == []
    assert call_list(_user("hq@example.com"), campaign=campaign).items == []


def test_reached_call_settles_the_message_with_contact_history(app):
    from sqlalchemy import select

    from plugins.cem_channels.campaign_models import CemCallOutcome
    from plugins.cem_channels.campaigns import CampaignError
    from plugins.cem_channels.campaigns.calls import call_list, record_call
    from portal.extensions import db
    from portal.toolkit import Contact, Message

    campaign, by_customer, b001, _b002 = _phone_campaign()
    store1 = _user("store1@example.com")
    mid = by_customer[b001[0]]
    out = record_call(store1, mid, "reached", "  다음 주 매장 방문 예정  ")
    assert (out.outcome, out.note, out.campaign_id, out.recorded_by_id) == ("reached", "다음 주 매장 방문 예정",
                                                                            campaign.id, store1.id)
    m = db.session.get(Message, mid)
    assert (m.status, m.status_reason) == ("sent", "call:reached") and m.sent_at is not None
    contacts = db.session.execute(select(Contact.channel, Contact.outcome, Contact.ref, Contact.actor_id).where(
        Contact.customer_id == b001[0])).all()
    assert [tuple(c) for c in contacts] == [("phone", "answered", f"message:{mid}", store1.id)]
    assert [i["message_id"] for i in call_list(store1).items] == [by_customer[b001[1]]]  # settled: off the list
    with pytest.raises(CampaignError) as err:
        record_call(store1, mid, "declined")
    assert err.value.status == 409
    assert db.session.execute(select(CemCallOutcome.outcome).where(CemCallOutcome.message_id == mid)).scalars().all() \
        == ["reached"]


def test_wrong_number_fails_the_message_and_flags_the_phone(app):
    from sqlalchemy import select

    from plugins.cem_channels.campaigns.calls import record_call
    from portal.extensions import db
    from portal.models import QualityIssue
    from portal.toolkit import Message

    _campaign, by_customer, b001, _b002 = _phone_campaign()
    mid = by_customer[b001[1]]
    record_call(_user("store1@example.com"), mid, "wrong_number")
    m = db.session.get(Message, mid)
    assert (m.status, m.status_reason) == ("failed_permanent", "call:wrong_number")
    assert db.session.execute(select(QualityIssue.field).where(QualityIssue.customer_id == b001[1])).scalars().all() \
        == ["phone"]


@pytest.mark.parametrize("outcome, status, reason", [("no_answer", "failed_permanent", "call:no_answer"),
                                                      ("declined", "sent", "call:declined"),
                                                      ("callback", "sent", "call:callback")])
def test_other_outcomes(app, outcome, status, reason):
    from plugins.cem_channels.campaigns.calls import record_call
    from portal.extensions import db
    from portal.toolkit import Message

    _campaign, by_customer, b001, _b002 = _phone_campaign()
    record_call(_user("hq@example.com"), by_customer[b001[0]], outcome)
    m = db.session.get(Message, by_customer[b001[0]])
    assert (m.status, m.status_reason) == (status, reason)


def test_out_of_scope_bad_input_and_cancelled_calls(app):
    from sqlalchemy import func, select

    from plugins.cem_channels.campaign_models import CemCallOutcome
    from plugins.cem_channels.campaigns import CampaignError
    from plugins.cem_channels.campaigns.calls import record_call
    from portal.extensions import db
    from portal.toolkit import cancel_queued

    _campaign, by_customer, b001, b002 = _phone_campaign()
    store1 = _user("store1@example.com")
    cases = [((by_customer[b002[0]], "reached"), 404), ((2**40, "reached"), 404), ((True, "reached"), 404),
             ((by_customer[b001[0]], "hung_up"), 422), ((by_customer[b001[0]], "reached", "x" * 501), 422)]
    for args, status in cases:
        with pytest.raises(CampaignError) as err:
            record_call(store1, *args)
        assert err.value.status == status, args
    cancel_queued(b001[0], channel="phone", reason="opted_out")
    db.session.commit()
    with pytest.raises(CampaignError) as err:
        record_call(store1, by_customer[b001[0]], "reached")
    assert err.value.status == 409
    assert db.session.execute(select(func.count()).select_from(CemCallOutcome)).scalar_one() == 0


def test_calls_count_in_the_results(app):
    from plugins.cem_channels.campaigns.calls import record_call
    from plugins.cem_channels.campaigns.results import campaign_results

    campaign, by_customer, b001, b002 = _phone_campaign()
    record_call(_user("store1@example.com"), by_customer[b001[0]], "reached")
    record_call(_user("store2@example.com"), by_customer[b002[0]], "wrong_number")
    [step] = campaign_results(campaign)["steps"]
    assert (step["channel"], step["queued"], step["sent"], step["delivered"], step["pending"]) == ("phone", 3, 1, 1, 1)
    assert step["failed"] == {"permanent": 1, "temporary": 0}
