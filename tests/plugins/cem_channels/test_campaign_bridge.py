"""What other add-ons reach through cem's hooks (campaigns/bridge.py, segment_fields.py): a
campaign approved elsewhere created approved and scheduled (four-eyes kept, law checks run, the
approver named in the history), a message set from data placed with a group, and the segment
field ``cem.engagement`` over a campaign's tracking events and sent messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugins.cem_channels.campaigns import CampaignError
from portal.toolkit import db, utcnow
from tests.plugins.cem_channels.campaign_fixtures import (
    branch_customer_ids,
    campaign_data,
    grant_marketing,
    make_message_set,
    noon_kst,
    users,
)


def _draft(ms, **extra):
    start = noon_kst(3).isoformat() + "Z"
    return campaign_data(ms, start_at=start, origin="prm_groups:programme:7:step:1", holdout_share=0.0,
                         use_global_control=False, **extra)


def _campaigns() -> int:
    from plugins.cem_channels.campaign_models import CemCampaign

    return db.session.scalar(select(func.count()).select_from(CemCampaign))


def test_approved_elsewhere_created_approved_and_scheduled(app):
    from plugins.cem_channels.campaign_models import CemCampaign
    from portal.plugins import hook
    from portal.workflow.models import WorkflowApproval, WorkflowHistory

    u = users()
    grant_marketing(branch_customer_ids("B001", limit=30), "sms")
    ms = make_message_set()
    answer = hook("cem_create_campaign")(
        draft=_draft(ms, approval={"approved_by": u.leader1.id, "note": "리더 승인 r3"}, schedule=True), actor=u.hq)
    db.session.commit()
    campaign = db.session.get(CemCampaign, answer["id"])
    assert answer["state"] == campaign.state == "scheduled"
    assert campaign.origin == "prm_groups:programme:7:step:1" and campaign.created_by_id == u.hq.id
    history = list(db.session.scalars(select(WorkflowHistory).where(
        WorkflowHistory.object_type == "cem.campaign", WorkflowHistory.object_id == campaign.id)
        .order_by(WorkflowHistory.id)))
    assert [h.transition for h in history] == ["submit", "approve", "schedule"]
    assert all(h.actor_id is None for h in history)  # the system's, naming the approver
    assert u.leader1.name in history[1].comment and "리더 승인 r3" in history[1].comment
    assert "prm_groups:programme:7:step:1" in history[1].comment
    approval = db.session.scalar(select(WorkflowApproval).where(WorkflowApproval.object_type == "cem.campaign",
                                                                WorkflowApproval.object_id == campaign.id))
    assert approval is not None and approval.withdrawn_at is None
    # an edit afterwards still withdraws the approval (CE-27 holds for these campaigns too)
    from plugins.cem_channels.campaigns.service import update_draft

    update_draft(u.hq, campaign, {"name": "바뀐 이름"})
    db.session.commit()
    assert campaign.state == "pending_approval"


def test_approval_without_schedule_stays_approved(app):
    u = users()
    ms = make_message_set()
    from portal.plugins import hook

    answer = hook("cem_create_campaign")(draft=_draft(ms, approval={"approved_by": u.leader1.id}), actor=u.hq)
    assert answer["state"] == "approved"


def test_four_eyes_the_creator_cannot_be_the_approver(app):
    from plugins.cem_channels.campaigns.bridge import create_from_hook

    u = users()
    ms = make_message_set()
    before = _campaigns()
    with pytest.raises(CampaignError) as exc:
        create_from_hook(_draft(ms, approval={"approved_by": u.hq.id}, schedule=True), u.hq)
    assert exc.value.status == 403 and "approval.approved_by" in exc.value.errors
    db.session.rollback()
    assert _campaigns() == before


@pytest.mark.parametrize(("extra", "field"), [
    ({"schedule": True}, "schedule"),
    ({"schedule": "yes", "approval": {"approved_by": 1}}, "schedule"),
    ({"approval": {"approved_by": "leader"}}, "approval.approved_by"),
    ({"approval": {"approved_by": 99999999}}, "approval.approved_by"),
    ({"approval": {"approved_by": 1, "extra": 1}}, "approval"),
    ({"approval": {"approved_by": 1, "note": "x" * 501}}, "approval.note"),
])
def test_bad_approval_input_is_422(app, extra, field):
    from plugins.cem_channels.campaigns.bridge import create_from_hook

    u = users()
    ms = make_message_set()
    if "approval" in extra and extra["approval"].get("approved_by") == 1:
        extra = {**extra, "approval": {**extra["approval"], "approved_by": u.leader1.id}}
    with pytest.raises(CampaignError) as exc:
        create_from_hook(_draft(ms, **extra), u.hq)
    assert exc.value.status == 422 and field in exc.value.errors


def test_only_the_hook_takes_an_approval(app):
    """The public API and the composer (create_draft) refuse the keys: no self-approval by JSON."""
    from plugins.cem_channels.campaigns.service import create_draft

    u = users()
    ms = make_message_set()
    with pytest.raises(CampaignError) as exc:
        create_draft(u.hq, {**campaign_data(ms), "approval": {"approved_by": u.leader1.id}, "schedule": True})
    assert exc.value.status == 422 and {"approval", "schedule"} <= set(exc.value.errors)


def test_schedule_with_nobody_to_contact_is_409(app):
    from plugins.cem_channels.campaigns.bridge import create_from_hook

    u = users()
    ms = make_message_set()
    draft = _draft(ms, approval={"approved_by": u.leader1.id}, schedule=True)
    draft["rules"] = {"all": [{"field": "branch", "op": "in", "value": ["B001"]},
                              {"field": "age", "op": "gt", "value": 149}]}
    with pytest.raises(CampaignError) as exc:
        create_from_hook(draft, u.hq)
    assert exc.value.status == 409 and "audience" in exc.value.errors
    db.session.rollback()


def test_schedule_in_the_past_is_422(app):
    from plugins.cem_channels.campaigns.bridge import create_from_hook

    u = users()
    grant_marketing(branch_customer_ids("B001", limit=5), "sms")
    ms = make_message_set()
    draft = _draft(ms, approval={"approved_by": u.leader1.id}, schedule=True)
    draft["start_at"] = (utcnow() - timedelta(hours=1)).isoformat() + "Z"
    with pytest.raises(CampaignError) as exc:
        create_from_hook(draft, u.hq)
    assert exc.value.status == 422 and "start_at" in exc.value.errors
    db.session.rollback()


# -- message sets from data ------------------------------------------------------------------------------


def test_create_message_set_placed_with_a_group(app):
    from plugins.cem_channels.voice_models import CemMessageSet
    from portal.plugins import hook
    from portal.toolkit import PartnerGroup

    u = users()
    g01 = db.session.scalar(select(PartnerGroup).where(PartnerGroup.code == "G01"))
    data = {"name": "리더의 편지", "category": "건강식품", "master": {},
            "renditions": {"email": {"subject": "{{ customer.name }}님께", "body": "안녕하세요.\n\n김한빛 드림"}},
            "place": f"group:{g01.id}"}
    out = hook("cem_create_message_set")(data=data, actor=u.hq)
    db.session.commit()
    ms = db.session.get(CemMessageSet, out["id"])
    assert out["revision"] == ms.revision and len(ms.revision) == 64
    assert ms.partner_group_id == g01.id and ms.org_unit_id is None
    assert [r.channel for r in ms.renditions] == ["email"]
    hq_set = hook("cem_create_message_set")(data={**data, "place": "hq"}, actor=u.hq)
    assert db.session.get(CemMessageSet, hq_set["id"]).partner_group_id is None


@pytest.mark.parametrize(("data", "field"), [
    ({"name": "x", "renditions": {"email": {"body": "본문"}}}, "renditions.email.subject"),
    ({"name": "x", "renditions": {"fax": {"body": "본문"}}}, "renditions.fax"),
    ({"name": "x", "renditions": {"sms": {"body": "안녕"}}, "place": "group:99999999"}, "place"),
    ({"name": "x", "renditions": {"sms": {"body": "안녕"}}, "place": "group:abc"}, "place"),
    ({"renditions": {"sms": {"body": "안녕"}}}, "name"),
])
def test_create_message_set_refuses_bad_data(app, data, field):
    from plugins.cem_channels.voice.store import SetError
    from portal.plugins import hook

    with pytest.raises(SetError) as exc:
        hook("cem_create_message_set")(data=data, actor=users().hq)
    assert exc.value.status == 422 and field in exc.value.errors


# -- cem.engagement ----------------------------------------------------------------------------------------


def test_engagement_segment_field(app):
    from plugins.cem_channels.campaign_models import CemMessageEvent
    from portal.toolkit import Customer, Message, RuleError, segment_query

    u = users()
    ids = branch_customer_ids("B001", limit=6)
    cid = 4242
    rows = []
    for i, customer in enumerate(ids):
        rows.append(Message(channel="email", purpose="marketing", customer_id=customer, body="b",
                            source="cem_channels", source_object=f"campaign:{cid}", step="1",
                            idempotency_key=f"cem:{cid}:1:{customer}", status="sent" if i < 5 else "queued"))
    db.session.add_all(rows)
    db.session.flush()
    m = {r.customer_id: r.id for r in rows}
    db.session.add_all([
        CemMessageEvent(message_id=m[ids[0]], campaign_id=cid, customer_id=ids[0], kind="open"),
        CemMessageEvent(message_id=m[ids[1]], campaign_id=cid, customer_id=ids[1], kind="open"),
        CemMessageEvent(message_id=m[ids[1]], campaign_id=cid, customer_id=ids[1], kind="click"),
        CemMessageEvent(message_id=m[ids[2]], campaign_id=cid, customer_id=ids[2], kind="click"),
        CemMessageEvent(message_id=m[ids[3]], campaign_id=cid, customer_id=ids[3], kind="undelivered"),
    ])
    db.session.commit()

    def who(op, value):
        rules = {"all": [{"field": "cem.engagement", "op": op, "value": value},
                         {"field": "branch", "op": "in", "value": ["B001"]}]}
        return set(db.session.scalars(segment_query(u.hq, rules).select(Customer.id))) & set(ids)

    assert who("eq", f"{cid}:opened") == {ids[0], ids[1]}
    assert who("eq", f"{cid}:clicked") == {ids[1], ids[2]}
    assert who("eq", f"{cid}:opened_or_clicked") == {ids[0], ids[1], ids[2]}
    assert who("eq", f"{cid}:delivered") == {ids[0], ids[1], ids[2], ids[4]}  # 3 undelivered, 5 not sent yet
    assert who("ne", f"{cid}:opened_or_clicked") == {ids[3], ids[4], ids[5]}
    assert who("in", [f"{cid}:opened", f"{cid}:clicked"]) == {ids[0], ids[1], ids[2]}
    assert who("eq", "nonsense") == set() and who("eq", f"{cid + 1}:opened") == set()
    with pytest.raises(RuleError):
        segment_query(u.hq, {"all": [{"field": "cem.engagement", "op": "gt", "value": f"{cid}:opened"}]})


def test_cancel_by_origin_in_scope_only(app):
    from plugins.cem_channels.campaign_models import CemCampaign
    from portal.plugins import hook

    u = users()
    grant_marketing(branch_customer_ids("B001", limit=10), "sms")
    ms = make_message_set()
    made = hook("cem_create_campaign")(
        draft=_draft(ms, approval={"approved_by": u.leader1.id}, schedule=True), actor=u.hq)
    db.session.commit()
    cancel = hook("cem_cancel_campaign")
    assert cancel(ref="prm_groups:programme:7:step:1", actor=u.store1, comment="") is None  # not theirs to see
    assert cancel(ref="no-such-origin", actor=u.hq, comment="") is None
    assert cancel(ref=True, actor=u.hq, comment="") is None
    assert db.session.get(CemCampaign, made["id"]).state == "scheduled"
    assert cancel(ref="prm_groups:programme:7:step:1", actor=u.hq, comment="취소") == {"id": made["id"],
                                                                                       "state": "cancelled"}
    db.session.commit()
    assert cancel(ref=made["id"], actor=u.hq, comment="") == {"id": made["id"], "state": "cancelled"}
