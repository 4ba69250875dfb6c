"""Approval requests notify through the core workflow's wiring (issue 14): a request above the
limit tells the approvers in the customer's scope — never the requester, never an approver of
another branch — once; the decision tells the requester; e-mails carry no customer data."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import LocalRole, OrgUnit, User
from portal.notify.models import Notification, NotificationPreference
from portal.workflow.notifications import KIND_DECIDED, KIND_WAITING
from tests.conftest import scalar
from tests.plugins.loyalty.conftest import customer, user


class Outbox:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, **kw):
        self.calls.append(kw)
        return kw


def _in_branch(code: str) -> int:
    return scalar("""SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = :b
                     ORDER BY c.id LIMIT 1""", b=code)


def _local_hq(email: str, branch: str) -> User:
    """A new user with HQ Staff (loyalty.approve) on one branch only."""
    from portal.users.service import create_user

    u = create_user(email, email.split("@")[0], "", roles=[], password_hash="x")
    unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == branch)).scalar_one()
    db.session.add(LocalRole(user_id=u.id, org_unit_id=unit.id, role="HQ Staff"))
    db.session.commit()
    return u


def _told(kind: str, approval_id: int) -> list[str]:
    return sorted(db.session.execute(select(User.email).join(Notification, Notification.user_id == User.id).where(
        Notification.kind == kind, Notification.object_type == "loy_approval",
        Notification.object_id == approval_id)).scalars())


def test_a_request_tells_the_approvers_in_scope_and_the_decision_tells_the_requester(app, monkeypatch):
    from plugins.loyalty.redemption import decide, request_adjustment
    from portal import messaging

    outbox = Outbox()
    monkeypatch.setattr(messaging, "queue_message", outbox, raising=False)
    _local_hq("hq-b001@example.com", "B001")
    _local_hq("hq-b002@example.com", "B002")
    requester = user("store1@example.com")
    for email in ("hq@example.com", "store1@example.com"):  # both want these at once, by e-mail
        uid = user(email).id
        db.session.add_all([NotificationPreference(user_id=uid, kind=KIND_WAITING, channel="email"),
                            NotificationPreference(user_id=uid, kind=KIND_DECIDED, channel="email")])
    db.session.commit()
    cid = _in_branch("B001")
    state, approval = request_adjustment(customer(cid), 7000, "goodwill for the broken order", requester)
    db.session.commit()
    assert state == "pending"
    # Site Administrator, HQ Staff (global) and HQ Staff on B001; not the requester, not B002's
    assert _told(KIND_WAITING, approval.id) == ["admin@example.com", "hq-b001@example.com", "hq@example.com"]
    note = db.session.execute(select(Notification).where(Notification.kind == KIND_WAITING)).scalars().first()
    assert note.url == f"/loyalty/approvals#approval-{approval.id}"
    c = customer(cid)
    assert c.code in note.text and c.name not in note.text and c.name not in note.title
    decide(approval, False, user("hq@example.com"), note="Receipt is missing")
    db.session.commit()
    assert _told(KIND_DECIDED, approval.id) == ["store1@example.com"]
    assert _told(KIND_WAITING, approval.id) == ["admin@example.com", "hq-b001@example.com", "hq@example.com"]
    [decided] = db.session.execute(select(Notification.text).where(Notification.kind == KIND_DECIDED)).scalars()
    assert "Receipt is missing" in decided
    assert sorted(m["to"] for m in outbox.calls) == ["hq@example.com", "store1@example.com"]
    for mail in outbox.calls:  # links only: no customer code, name or phone, no reason, no comment
        for secret in filter(None, (c.code, c.name, c.phone, c.email, "goodwill", "Receipt", "7,000", "7000")):
            assert secret not in mail["subject"] and secret not in mail["body"], (secret, mail["to"])
