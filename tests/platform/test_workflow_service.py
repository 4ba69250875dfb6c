"""The workflow service (issue 14 item 7): simple_publication on a test type — guards 403, wrong
state 409 (also two publishers at once), missing comment 422, out of scope 404, history, audit, the
event, approvals bound to a revision and withdrawn by an edit, "my tasks" scoped in SQL.

The test type lives in its own metadata (not the core's), so the schema checks never see it; its
table is created on each test's database.
"""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from portal.extensions import db
from portal.models import AuditEvent, OrgUnit, utcnow
from portal.workflow import (
    WorkflowConflict,
    WorkflowForbidden,
    WorkflowInvalid,
    WorkflowNotFound,
    approval_for,
    approve,
    available_transitions,
    content_changed,
    current_revision,
    history,
    purge_type,
    register_type,
    revision_hash,
    state_of,
    transition,
)
from portal.workflow.models import WorkflowApproval, WorkflowState
from portal.workflow.service import unregister_type
from tests.conftest import _app_on_clone, make_app
from tests.dbs import BACKEND

TYPE = "test.doc"


class Base(DeclarativeBase):
    pass


class Doc(Base):
    """A reviewable note owned by a branch (scoped like customers)."""

    __tablename__ = "wf_test_doc"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int]  # an org unit id (no foreign key: the core's tables are in another metadata)
    owner_id: Mapped[int | None]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def register_doc() -> None:
    from portal.security import register_scoped

    register_scoped(Doc, branch_attr="branch_id")
    # Reviewing is mapped to customer.flag (Branch Staff may hold it locally), so scope can be shown.
    register_type(TYPE, Doc, workflow="simple_publication", scope_permission="portal.view",
                  title=lambda d: d.title, url=lambda d: f"/docs/{d.id}",
                  revision=lambda d: {"title": d.title, "body": d.body}, owner_attr="owner_id", since_attr="created_at",
                  label="Doc")


def _create_table() -> None:
    Base.metadata.create_all(db.engine)


@pytest.fixture
def wf_app(template_db):
    for app in _app_on_clone(template_db):
        _create_table()
        register_doc()
        yield app
        unregister_type(TYPE)  # the type is process-wide: other modules' databases have no such table


@pytest.fixture
def scoped_app(template_db):
    """Reviewing docs needs customer.flag on their branch: scope by local roles."""
    for app in _app_on_clone(template_db):
        _create_table()
        register_doc()
        register_type(TYPE, Doc, workflow="simple_publication", scope_permission="portal.view",
                      title=lambda d: d.title, url=lambda d: f"/docs/{d.id}", owner_attr="owner_id",
                      since_attr="created_at", permissions={"content.review": "customer.flag"})
        yield app
        unregister_type(TYPE)


def user(email: str):
    from portal.auth.service import find_user

    return find_user(email)


def branch(code: str) -> int:
    return db.session.execute(select(OrgUnit.id).where(OrgUnit.code == code)).scalar_one()


def new_doc(code: str = "B001", owner: str = "store1@example.com", title: str = "Seminar story") -> Doc:
    doc = Doc(branch_id=branch(code), owner_id=user(owner).id, title=title, body="first text")
    db.session.add(doc)
    db.session.commit()
    return doc


class Spy:
    """A plugin that records ``portal_workflow_transitioned``."""

    def __init__(self):
        self.calls: list[tuple] = []

    from portal.hookspecs import hookimpl

    @hookimpl
    def portal_workflow_transitioned(self, obj, transition, actor, comment):
        self.calls.append((type(obj).__name__, obj.id, transition, getattr(actor, "email", None), comment))


@pytest.fixture
def spy(wf_app):
    from portal.plugins import registry

    found = Spy()
    pm = registry().pm
    pm.register(found, name="test.workflow_spy")
    yield found
    pm.unregister(name="test.workflow_spy")


# -- revision hashes ---------------------------------------------------------------------------------------


def test_revision_hash_is_canonical_and_refuses_what_it_cannot_hash():
    a = revision_hash({"title": "제목", "n": 1, "tags": ["x", "y"], "at": datetime(2026, 12, 7, 9, 0)})
    b = revision_hash({"at": datetime(2026, 12, 7, 9, 0), "tags": ("x", "y"), "n": 1, "title": "제목"})
    assert a == b and len(a) == 64 and int(a, 16) >= 0
    assert revision_hash({"title": "제목!"}) != revision_hash({"title": "제목"})
    assert revision_hash({"n": 1}) != revision_hash({"n": "1"})
    for bad in ({"x": object()}, {1: "int key"}, {"x": float("nan")}):
        with pytest.raises(TypeError):
            revision_hash(bad)


# -- the default workflow ----------------------------------------------------------------------------------


def test_submit_publish_with_history_audit_and_event(wf_app, spy):
    doc = new_doc()
    store, reviewer = user("store1@example.com"), user("reviewer@example.com")
    assert state_of(doc) == "private"
    assert [t.id for t in available_transitions(doc, store)] == ["submit"]
    entry = transition(doc, "submit", store, "please look")
    db.session.commit()
    assert (entry.from_state, entry.to_state, entry.transition, entry.actor_id) == ("private", "pending", "submit", store.id)
    assert state_of(doc) == "pending"
    assert [t.id for t in available_transitions(doc, reviewer)] == ["publish", "reject"]
    transition(doc, "publish", reviewer)
    db.session.commit()
    assert state_of(doc) == "published"
    rows = [(h.from_state, h.to_state, h.transition, h.actor_id, h.comment) for h in history(doc)]
    assert rows == [("private", "pending", "submit", store.id, "please look"),
                    ("pending", "published", "publish", reviewer.id, "")]
    assert all(h.revision_hash == current_revision(doc) for h in history(doc))
    audits = db.session.execute(select(AuditEvent.summary).where(AuditEvent.action == "workflow.transition")
                                .order_by(AuditEvent.id)).scalars().all()
    assert audits == ["test.doc: private → pending (submit)", "test.doc: pending → published (publish)"]
    assert spy.calls == [("Doc", doc.id, "submit", "store1@example.com", "please look"),
                         ("Doc", doc.id, "publish", "reviewer@example.com", "")]
    row = db.session.execute(select(WorkflowState).where(WorkflowState.object_id == doc.id)).scalar_one()
    assert (row.object_type, row.workflow, row.state, row.updated_by_id) == (TYPE, "simple_publication", "published",
                                                                             reviewer.id)


def test_permission_and_guard_refuse_with_403_and_write_nothing(wf_app, spy):
    doc = new_doc()
    store, store_hq, reviewer = user("store1@example.com"), user("hq@example.com"), user("reviewer@example.com")
    transition(doc, "submit", store)
    db.session.commit()
    before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    with pytest.raises(WorkflowForbidden) as exc:  # branch staff may not publish
        transition(doc, "publish", store)
    assert exc.value.status == 403 and exc.value.code == "permission"
    with pytest.raises(WorkflowForbidden) as exc:  # retract: the author only (a guard)
        transition(doc, "retract", store_hq)
    assert exc.value.code == "guard" and exc.value.reason
    db.session.rollback()
    assert state_of(doc) == "pending" and len(history(doc)) == 1 and len(spy.calls) == 1
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == before
    transition(doc, "retract", store)  # the author may
    db.session.commit()
    assert state_of(doc) == "private"
    with pytest.raises(WorkflowNotFound):  # another branch's doc: not visible, 404
        transition(new_doc("B001"), "submit", user("store2@example.com"))
    assert reviewer is not None


def test_wrong_state_is_409_and_a_missing_comment_422(wf_app):
    doc = new_doc()
    store, reviewer = user("store1@example.com"), user("reviewer@example.com")
    with pytest.raises(WorkflowConflict) as exc:  # reject from private
        transition(doc, "reject", reviewer, "not ready at all")
    assert exc.value.status == 409 and exc.value.code == "wrong_state"
    with pytest.raises(WorkflowInvalid) as exc:
        transition(doc, "no_such_thing", reviewer)
    assert exc.value.status == 422 and exc.value.code == "unknown_transition"
    with pytest.raises(WorkflowInvalid):  # the on-edit transition is not a button
        transition(doc, "edited", reviewer)
    transition(doc, "submit", store)
    db.session.commit()
    for comment in ("", "   ", "too short"):  # at least 10 characters
        with pytest.raises(WorkflowInvalid) as exc:
            transition(doc, "reject", reviewer, comment)
        assert exc.value.status == 422 and exc.value.code == "comment_required"
    for comment in ("x" * 2001, "nul \x00 inside ok?", "lone \udc80 surrogate"):
        with pytest.raises(WorkflowInvalid) as exc:
            transition(doc, "reject", reviewer, comment)
        assert exc.value.code == "comment_invalid"
    assert state_of(doc) == "pending"
    transition(doc, "reject", reviewer, "  Please add the sales figures.  ")
    db.session.commit()
    assert state_of(doc) == "private" and history(doc)[-1].comment == "Please add the sales figures."


def test_a_stale_reader_loses_the_compare_and_set_with_409(wf_app, monkeypatch):
    """Two reviewers read "pending"; the first publishes; the second's write finds the state moved."""
    from portal.workflow import service

    doc = new_doc()
    transition(doc, "submit", user("store1@example.com"))
    transition(doc, "publish", user("reviewer@example.com"))
    db.session.commit()
    monkeypatch.setattr(service, "state_of", lambda obj: "pending")  # what the second reviewer read
    with pytest.raises(WorkflowConflict) as exc:
        transition(doc, "publish", user("admin@example.com"))
    assert exc.value.code == "concurrent"
    db.session.rollback()
    monkeypatch.undo()
    assert [h.transition for h in history(doc)] == ["submit", "publish"]
    # An object still in its initial state (no state row yet): the unique key decides.
    other = new_doc()
    db.session.add(WorkflowState(object_type=TYPE, object_id=other.id, workflow="simple_publication", state="pending"))
    db.session.flush()
    monkeypatch.setattr(service, "_state_row", lambda binding, obj: None)
    with pytest.raises(WorkflowConflict):
        transition(other, "submit", user("store1@example.com"))
    db.session.rollback()


@pytest.mark.skipif(BACKEND != "postgres", reason="real concurrent transactions: PostgreSQL (SQLite serialises writers)")
def test_two_reviewers_publishing_at_once_one_wins(template_db):
    url, drop = template_db.clone()
    try:
        app = make_app(url)
        with app.app_context():
            _create_table()
            register_doc()
            doc_id = new_doc().id
            transition(db.session.get(Doc, doc_id), "submit", user("store1@example.com"))
            db.session.commit()
            db.session.remove()
        barrier = threading.Barrier(2, timeout=10)
        from portal.workflow import service

        original = service._compare_and_set

        def synchronised(*args, **kwargs):  # both have checked "pending" before either writes
            barrier.wait()
            return original(*args, **kwargs)

        service._compare_and_set = synchronised
        results: list[str] = []

        def publish(email: str) -> None:
            with app.app_context():
                try:
                    transition(db.session.get(Doc, doc_id), "publish", user(email))
                    db.session.commit()
                    results.append("ok")
                except WorkflowConflict as exc:
                    db.session.rollback()
                    results.append(exc.code)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=publish, args=(e,)) for e in ("reviewer@example.com", "admin@example.com")]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            service._compare_and_set = original
        assert sorted(results) == ["concurrent", "ok"]
        with app.app_context():
            assert [h.transition for h in history(db.session.get(Doc, doc_id))] == ["submit", "publish"]
            db.session.remove()
            db.engine.dispose()
    finally:
        unregister_type(TYPE)
        drop()


# -- approvals bound to a revision -------------------------------------------------------------------------


def test_approval_binds_the_revision_and_an_edit_withdraws_it(wf_app, spy):
    doc = new_doc()
    store, reviewer = user("store1@example.com"), user("reviewer@example.com")
    transition(doc, "submit", store)
    seen = current_revision(doc)
    doc.body = "changed after the reviewer opened it"
    db.session.commit()
    with pytest.raises(WorkflowConflict) as exc:  # the reviewer approves exactly what they saw
        approve(doc, reviewer, seen)
    assert exc.value.code == "revision_changed"
    db.session.rollback()
    assert state_of(doc) == "pending" and approval_for(doc) is None
    approve(doc, reviewer, current_revision(doc), "fine")
    db.session.commit()
    approval = approval_for(doc)
    assert state_of(doc) == "published" and approval.approved_by_id == reviewer.id
    assert approval.revision_hash == current_revision(doc)
    # An edit: the approval no longer stands at once (read time), and content_changed records it.
    doc.title = "Seminar story (edited)"
    db.session.flush()
    assert approval_for(doc) is None
    assert content_changed(doc, store) is True
    db.session.commit()
    assert state_of(doc) == "pending"
    tail = [(h.transition, h.from_state, h.to_state, h.comment, h.actor_id) for h in history(doc)][-2:]
    assert tail == [("approval_withdrawn", "published", "published", "edited", store.id),
                    ("edited", "published", "pending", "", store.id)]
    row = db.session.get(WorkflowApproval, approval.id)
    assert row.withdrawn_at is not None and row.withdrawn_reason == "edited"
    assert spy.calls[-1][2] == "edited"
    assert content_changed(doc, store) is False  # nothing approved, nothing to move: no noise
    # Approved again: a new approval of the new revision; retracting withdraws it.
    approve(doc, reviewer, current_revision(doc))
    db.session.commit()
    assert approval_for(doc).id != approval.id
    transition(doc, "retract", store)
    db.session.commit()
    assert approval_for(doc) is None and db.session.execute(select(func.count()).select_from(WorkflowApproval).where(
        WorkflowApproval.withdrawn_at.is_(None))).scalar_one() == 0


def test_approve_needs_an_approving_transition_and_a_revision(wf_app):
    doc = new_doc()
    reviewer = user("reviewer@example.com")
    with pytest.raises(WorkflowInvalid):
        approve(doc, reviewer, "")
    transition(doc, "publish", reviewer)  # private → published directly, for reviewers
    db.session.commit()
    with pytest.raises(WorkflowConflict):  # nothing to approve when published
        approve(doc, reviewer, current_revision(doc))
    with pytest.raises(WorkflowForbidden):
        approve(new_doc(), user("store1@example.com"), current_revision(doc))


def test_purge_type_removes_the_rows_of_one_type(wf_app):
    doc = new_doc()
    transition(doc, "publish", user("reviewer@example.com"))
    db.session.commit()
    assert purge_type(TYPE) == 3  # state, history, approval
    db.session.commit()
    assert state_of(doc) == "private" and history(doc) == []


# -- my tasks ----------------------------------------------------------------------------------------------


def test_my_tasks_lists_only_waiting_items_in_scope(scoped_app):
    from portal.workflow import tasks

    store1, store2 = user("store1@example.com"), user("store2@example.com")
    mine = [new_doc("B001", "hq@example.com", f"B001 doc {i}") for i in range(3)]
    theirs = new_doc("B002", "hq@example.com", "B002 doc")
    private = new_doc("B001", "hq@example.com", "still private")
    for doc in (*mine, theirs):
        transition(doc, "submit", user("hq@example.com"))
    db.session.commit()
    assert tasks.counts(store1) == {TYPE: 3} and tasks.counts(store2) == {TYPE: 1}
    page = tasks.page(store1, 1, 2)
    assert page.total == 3 and [t.obj.id for t in page.items] == [mine[2].id, mine[1].id]  # newest first
    assert [t.obj.id for t in tasks.page(store1, 2, 2).items] == [mine[0].id]
    assert [t.title for t in tasks.page(store2, 1, 10).items] == ["B002 doc"]
    assert private.id not in [t.obj.id for t in tasks.page(user("admin@example.com"), 1, 50).items]
    assert tasks.count(user("ibo1@example.com")) == 0 and not tasks.may_review_anything(user("ibo1@example.com"))
    transition(mine[0], "publish", store1)
    db.session.commit()
    assert tasks.counts(store1) == {TYPE: 2}


class Inbox(Base):
    """A type whose initial state already waits for review (no state row until it moves)."""

    __tablename__ = "wf_test_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboxWorkflow:
    from portal.hookspecs import hookimpl

    @hookimpl
    def portal_workflows(self):
        return [{"name": "test_inbox", "initial": "waiting",
                 "states": [{"id": "waiting", "title": "Waiting", "review": True}, {"id": "done", "title": "Done"}],
                 "transitions": [{"id": "accept", "from": ["waiting"], "to": "done", "permission": "content.review"}]}]


def test_my_tasks_lists_objects_still_in_a_reviewed_initial_state(wf_app):
    from portal.plugins import registry
    from portal.security import register_scoped
    from portal.workflow import tasks

    pm = registry().pm
    pm.register(InboxWorkflow(), name="test.inbox_workflow")
    registry()._derived.clear()
    register_scoped(Inbox, branch_attr="branch_id")
    register_type("test.inbox", Inbox, workflow="test_inbox", scope_permission="portal.view",
                  title=lambda i: i.title, url=lambda i: f"/inbox/{i.id}", since_attr="created_at")
    try:
        items = [Inbox(branch_id=branch("B001"), title=f"inbox {i}") for i in range(3)]
        db.session.add_all(items)
        db.session.commit()
        reviewer = user("reviewer@example.com")
        assert tasks.counts(reviewer).get("test.inbox") == 3
        transition(items[1], "accept", reviewer)
        db.session.commit()
        assert [t.title for t in tasks.page(reviewer, 1, 10, "test.inbox").items] == ["inbox 2", "inbox 0"]
        assert tasks.count(user("store1@example.com")) == 0
    finally:
        unregister_type("test.inbox")
        pm.unregister(name="test.inbox_workflow")
        registry()._derived.clear()
