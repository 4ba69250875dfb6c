"""Loyalty's approvals on the core workflow service (issue 14 item 7): the ``status`` column is the
workflow state, decided only through ``transition`` (four-eyes guard, permission on the customer,
history, audit); pending requests show on "my tasks" for approvers in scope, never their own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, LocalRole, OrgUnit
from tests.conftest import login, post_form, scalar
from tests.plugins.loyalty.conftest import assert_ledger_ok, balance, customer, user

TYPE = "loyalty.approval"


def _in_branch(code: str, nth: int = 0) -> int:
    return scalar("""SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = :b
                     ORDER BY c.id LIMIT 1 OFFSET :n""", b=code, n=nth)


def _request(cid: int, points: int, email: str):
    from plugins.loyalty.redemption import request_adjustment

    state, approval = request_adjustment(customer(cid), points, "goodwill", user(email))
    db.session.commit()
    assert state == "pending"
    return approval


def _approver_on(email: str, branch: str) -> None:
    """``email`` gets HQ Staff (loyalty.approve) on one branch only."""
    unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == branch)).scalar_one()
    db.session.add(LocalRole(user_id=user(email).id, org_unit_id=unit.id, role="HQ Staff"))
    db.session.commit()


def test_decisions_go_through_the_workflow_with_history_and_audit(app):
    from plugins.loyalty.redemption import decide
    from portal.workflow import approval_for, history, state_of

    cid = _in_branch("B001")
    approval = _request(cid, 7000, "store1@example.com")
    assert state_of(approval) == "pending" and history(approval) == []
    decide(approval, True, user("hq@example.com"), note="checked the receipt")
    db.session.commit()
    assert approval.status == "approved" and state_of(approval) == "approved" and balance(cid) == 7000
    [entry] = history(approval)
    assert (entry.from_state, entry.to_state, entry.transition, entry.actor_id, entry.comment) == (
        "pending", "approved", "approve", user("hq@example.com").id, "checked the receipt")
    assert approval_for(approval).approved_by_id == user("hq@example.com").id  # bound to points, reason, customer
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.object_id == str(approval.id),
                                                                 AuditEvent.object_type == "loy_approval")).scalars().all()
    assert actions == ["workflow.transition"]
    rejected = _request(cid, -6000, "store1@example.com")
    decide(rejected, False, user("admin@example.com"))
    db.session.commit()
    assert rejected.status == "rejected" and balance(cid) == 7000
    assert [h.transition for h in history(rejected)] == ["reject"]
    assert_ledger_ok()


def test_refusals_keep_their_ledger_codes(app, monkeypatch):
    from plugins.loyalty import redemption
    from plugins.loyalty.ledger import LedgerError
    from portal.workflow import history, service

    cid = _in_branch("B001")
    approval = _request(cid, 7000, "hq@example.com")
    with pytest.raises(LedgerError) as exc:
        redemption.decide(approval, True, user("hq@example.com"))
    assert exc.value.code == "own_request"
    with pytest.raises(LedgerError) as exc:  # branch staff: no loyalty.approve
        redemption.decide(approval, True, user("store1@example.com"))
    assert exc.value.code == "forbidden"
    with pytest.raises(LedgerError) as exc:  # another branch's staff cannot even see it
        redemption.decide(approval, True, user("store2@example.com"))
    assert exc.value.code == "not_found"
    db.session.rollback()
    # Two approvers at once: the second read "pending" before the first committed; it loses and
    # nothing of it is written (the ledger entry is made only after the state moved).
    redemption.decide(approval, True, user("admin@example.com"))
    db.session.commit()
    monkeypatch.setattr(service, "state_of", lambda obj: "pending")
    with pytest.raises(LedgerError) as exc:
        redemption.decide(approval, True, user("admin@example.com"))
    assert exc.value.code == "decided"
    db.session.rollback()
    monkeypatch.undo()
    assert balance(cid) == 7000 and len(history(approval)) == 1
    assert scalar("SELECT COUNT(*) FROM loy_entry WHERE approval_id = :a", a=approval.id) == 1
    assert_ledger_ok()


def test_my_tasks_lists_pending_requests_in_scope_but_not_ones_own(app, client):
    from portal.workflow import tasks

    _approver_on("store2@example.com", "B002")
    b001, b002 = _in_branch("B001"), _in_branch("B002")
    mine = _request(b002, 6000, "store2@example.com")  # store2's own request: never their task
    theirs = _request(b002, 6500, "hq@example.com")
    other_branch = _request(b001, 8000, "hq@example.com")
    store2, hq, admin = user("store2@example.com"), user("hq@example.com"), user("admin@example.com")
    assert tasks.counts(store2) == {TYPE: 1}
    assert [t.obj.id for t in tasks.page(store2, 1, 10).items] == [theirs.id]
    assert {t.obj.id for t in tasks.page(hq, 1, 10).items} >= {mine.id} and theirs.id not in {
        t.obj.id for t in tasks.page(hq, 1, 10).items} and other_branch.id not in {t.obj.id for t in tasks.page(hq, 1, 10).items}
    assert {theirs.id, mine.id, other_branch.id} <= {t.obj.id for t in tasks.page(admin, 1, 50).items}
    assert tasks.counts(user("store1@example.com")) == {}  # no loyalty.approve
    login(client, "store2@example.com")
    html = client.get("/tasks").get_data(as_text=True)
    assert html.count('data-testid="task-row"') == 1 and f'href="/loyalty/approvals#approval-{theirs.id}"' in html
    assert "포인트 조정" in html and "+6,500 P" in html
    # Decided from the loyalty page: gone from the list.
    resp = post_form(client, f"/loyalty/approvals/{theirs.id}", {"decision": "approve", "note": "ok"},
                     form_page="/loyalty/approvals")
    assert resp.status_code == 302
    db.session.expire_all()
    assert tasks.counts(store2) == {} and balance(b002) == 6500
    # The generic transition endpoint is closed to loyalty (approving must apply the points).
    for target in (mine, other_branch):
        resp = post_form(client, f"/workflow/{TYPE}/{target.id}/approve", {}, form_page="/tasks")
        assert resp.status_code == 404
    db.session.expire_all()
    assert mine.status == "pending" and balance(b001) == 0
    assert_ledger_ok()


def test_uninstall_with_purge_removes_the_approvals_workflow_rows(app):
    from plugins.loyalty.redemption import decide
    from portal.plugins_lifecycle import uninstall

    decide(_request(_in_branch("B001"), 7000, "store1@example.com"), True, user("hq@example.com"))
    db.session.commit()
    assert scalar("SELECT COUNT(*) FROM workflow_history WHERE object_type = :t", t=TYPE) == 1
    uninstall("loyalty", purge=True)
    db.session.commit()
    assert scalar("SELECT COUNT(*) FROM workflow_history WHERE object_type = :t", t=TYPE) == 0
    assert scalar("SELECT COUNT(*) FROM workflow_approval WHERE object_type = :t", t=TYPE) == 0
