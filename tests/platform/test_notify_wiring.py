"""Notifications wired into the platform (issue 14): who is told when something waits for them.

Workflow: entering a review state tells the users who may decide — in the object's scope (global
holders, a local role on the branch or its region), never the actor, never someone out of scope —
once per object, state and revision; a decision tells the owner (the comment in-app only). Jobs: a
queued run that failed for good tells the Site Administrators once per job and day. Events: a
reaction given up tells them once per add-on, hook and day. The kinds are declared, in Korean too;
e-mails by preference carry no title, text or customer data.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.extensions import db
from portal.models import OrgUnit, User
from portal.notify.models import Notification, NotificationPreference
from portal.workflow import content_changed, notify_waiting, transition
from portal.workflow.notifications import KIND_DECIDED, KIND_WAITING
from portal.workflow.service import register_type, unregister_type
from tests.conftest import _app_on_clone
from tests.platform.test_workflow_service import (  # noqa: F401  (fixtures)
    TYPE,
    Doc,
    _create_table,
    new_doc,
    register_doc,
    scoped_app,
    user,
    wf_app,
)

ADMIN, HQ, REVIEWER, STORE1, STORE2 = ("admin@example.com", "hq@example.com", "reviewer@example.com",
                                       "store1@example.com", "store2@example.com")


class Outbox:
    """Stands in for ``portal.messaging.queue_message``: records the e-mails notify queues."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, **kw):
        self.calls.append(kw)
        return kw


@pytest.fixture
def outbox(monkeypatch):
    from portal import messaging

    box = Outbox()
    monkeypatch.setattr(messaging, "queue_message", box, raising=False)
    return box


def make_user(email: str, roles=(), local=None) -> User:
    from portal.users.service import create_user, grant_local

    u = create_user(email, email.split("@")[0], "", roles=list(roles), password_hash="x")
    if local:
        unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == local[0])).scalar_one()
        grant_local(u, local[1], unit)
    db.session.commit()
    return u


def told(kind: str, object_id: int | None = None) -> list[str]:
    """E-mail addresses of the users notified of ``kind`` (about ``object_id``), sorted."""
    stmt = select(User.email).join(Notification, Notification.user_id == User.id).where(Notification.kind == kind)
    if object_id is not None:
        stmt = stmt.where(Notification.object_id == object_id)
    return sorted(db.session.execute(stmt).scalars())


def texts(kind: str, email: str) -> list[str]:
    return list(db.session.execute(select(Notification.text).join(User, User.id == Notification.user_id)
                                   .where(Notification.kind == kind, User.email == email)
                                   .order_by(Notification.id)).scalars())


# -- workflow ----------------------------------------------------------------------------------------


@pytest.fixture
def rev_app(template_db):
    """Like ``scoped_app`` (reviewing needs customer.flag on the doc's branch: Site Admin, HQ Staff,
    Branch Staff), with revisions: the de-duplication per revision can be shown."""
    for app in _app_on_clone(template_db):
        _create_table()
        register_doc()
        register_type(TYPE, Doc, workflow="simple_publication", scope_permission="portal.view",
                      title=lambda d: d.title, url=lambda d: f"/docs/{d.id}", owner_attr="owner_id",
                      revision=lambda d: {"title": d.title, "body": d.body}, since_attr="created_at",
                      label="Doc", permissions={"content.review": "customer.flag"})
        yield app
        unregister_type(TYPE)


def test_waiting_tells_the_deciders_in_scope_not_the_actor_and_only_once(rev_app):
    make_user("region1@example.com", local=("R01", "HQ Staff"))  # a local role on B001's region covers it
    make_user("region2@example.com", local=("R02", "HQ Staff"))  # another region: out of scope
    make_user("gone@example.com", roles=["HQ Staff"]).active = False
    db.session.commit()
    doc = new_doc("B001", STORE1, "Seminar story")
    transition(doc, "submit", user(STORE1))
    db.session.commit()
    assert told(KIND_WAITING, doc.id) == [ADMIN, HQ, "region1@example.com"]  # not store1: the actor
    assert STORE2 not in told(KIND_WAITING) and REVIEWER not in told(KIND_WAITING)
    note = db.session.execute(select(Notification).where(Notification.kind == KIND_WAITING)).scalars().first()
    assert (note.object_type, note.url, note.title) == ("wf_test_doc", f"/docs/{doc.id}", "Seminar story")
    assert "Seminar story" in note.text
    # once per object, state and revision: announcing again, or back and forth unchanged, adds nothing
    assert notify_waiting(doc, user(STORE1)) == 0
    transition(doc, "retract", user(STORE1))
    transition(doc, "submit", user(STORE1))
    db.session.commit()
    assert len(told(KIND_WAITING, doc.id)) == 3
    # a changed revision waits anew
    transition(doc, "retract", user(STORE1))
    doc.body = "second text"
    transition(doc, "submit", user(STORE1))
    db.session.commit()
    assert len(told(KIND_WAITING, doc.id)) == 6


@pytest.mark.usefixtures("scoped_app")
def test_a_local_decider_is_told_and_the_submitting_reviewer_is_not():
    doc = new_doc("B002", HQ, "B002 doc")
    transition(doc, "submit", user(HQ))
    db.session.commit()
    assert told(KIND_WAITING, doc.id) == [ADMIN, STORE2]  # store2 holds Branch Staff on B002; store1 not


@pytest.mark.usefixtures("wf_app")
def test_global_reviewers_for_simple_publication_and_an_edit_after_publishing():
    doc = new_doc("B001", STORE1, "Global")
    transition(doc, "submit", user(STORE1))
    db.session.commit()
    assert told(KIND_WAITING, doc.id) == [ADMIN, REVIEWER]
    transition(doc, "publish", user(REVIEWER))
    db.session.commit()
    doc.title = "Global, edited"
    content_changed(doc, user(STORE1))  # published → pending: the reviewers are told of the new revision
    db.session.commit()
    assert told(KIND_WAITING, doc.id) == [ADMIN, ADMIN, REVIEWER, REVIEWER]


def test_a_decision_tells_the_owner_with_the_comment_in_app_only(rev_app, outbox):
    owner = user(STORE1)
    db.session.add(NotificationPreference(user_id=owner.id, kind=KIND_DECIDED, channel="email"))
    db.session.commit()
    doc = new_doc("B001", STORE1, "Private life of 010-1234-5678")
    transition(doc, "submit", owner)
    transition(doc, "reject", user(HQ), "Please add the seminar date.")
    db.session.commit()
    assert told(KIND_DECIDED, doc.id) == [STORE1]
    [text] = texts(KIND_DECIDED, STORE1)
    assert "Please add the seminar date." in text and "반려" in text  # in the owner's language (Korean)
    [mail] = outbox.calls
    assert mail["to"] == STORE1 and mail["user_id"] == owner.id
    for secret in ("seminar date", "010-1234-5678", "Private life", "반려"):
        assert secret not in mail["subject"] and secret not in mail["body"]
    assert "/inbox/" in mail["body"]
    # the owner acting on their own object is not told; an unowned decision by another is
    transition(doc, "submit", owner)
    transition(doc, "retract", owner)
    db.session.commit()
    assert len(told(KIND_DECIDED, doc.id)) == 1
    transition(doc, "publish", user(ADMIN))
    db.session.commit()
    assert len(told(KIND_DECIDED, doc.id)) == 2 and len(outbox.calls) == 2


@pytest.mark.usefixtures("scoped_app")
def test_a_broken_notifier_never_undoes_the_transition_or_the_request(monkeypatch):
    from portal.workflow import notifications

    def broken(*args, **kwargs):
        raise RuntimeError("inbox down")

    monkeypatch.setattr(notifications, "_waiting", broken)
    doc = new_doc("B001", HQ, "Still submitted")
    transition(doc, "submit", user(HQ))
    db.session.commit()
    from portal.workflow import state_of

    assert state_of(doc) == "pending" and told(KIND_WAITING) == []
    assert notify_waiting(doc, user(HQ)) == 0  # the direct call (objects created waiting) is as safe
    db.session.commit()


def test_the_kinds_are_declared_with_korean_labels(app):
    from portal.notify import kinds

    declared = {k["kind"]: k for k in kinds()}
    expected = {KIND_WAITING: "digest", KIND_DECIDED: "inbox", "jobs.failed": "email", "events.given_up": "email"}
    for kind, default in expected.items():
        assert declared[kind]["default"] == default
        with force_locale("ko"):
            korean = str(declared[kind]["label"])
        with force_locale("en"):
            english = str(declared[kind]["label"])
        assert korean != english and any("\uac00" <= ch <= "\ud7a3" for ch in korean), kind


# -- jobs and events -----------------------------------------------------------------------------------


@pytest.fixture
def japp(template_db):
    from tests.conftest import TEST_PLUGIN, _app_on_clone, make_app
    from tests.platform.jobs_support import PLUGIN_MODULE

    yield from _app_on_clone(template_db, lambda url: make_app(url, PORTAL_PLUGINS=[TEST_PLUGIN, PLUGIN_MODULE]))


def _fail_for_good(name: str = "tests.flaky", retries_left: int = 0) -> None:
    from portal.jobs.queue import execute, job_specs

    spec = job_specs()[name]
    task = SimpleNamespace(id=str(uuid.uuid4()), retries=retries_left, retry_delay=0)  # 0: Huey's last try
    with pytest.raises(RuntimeError):
        execute(_current_app(), spec,
                {"token": str(uuid.uuid4()), "fail_times": 99}, {"trigger": "enqueue"}, task)


def _current_app():
    from flask import current_app

    return current_app._get_current_object()


def test_a_job_that_failed_for_good_tells_the_site_administrators_once_a_day(japp, outbox):
    db.session.commit()
    _fail_for_good()
    _fail_for_good()
    db.session.expire_all()
    assert told("jobs.failed") == [ADMIN]  # Site Administrators only, once per job name and day
    [note] = db.session.execute(select(Notification).where(Notification.kind == "jobs.failed")).scalars()
    assert "tests.flaky" in note.text and "attempt" not in (note.title or "") and note.url.startswith("/manage/jobs")
    assert "RuntimeError" not in note.text  # the error may quote data: the jobs page shows it
    assert len(outbox.calls) == 1 and "tests.flaky" not in outbox.calls[0]["body"]  # e-mail at once, neutral
    db.session.rollback()


def test_a_run_whose_consumer_died_tells_the_site_administrators(japp):
    from datetime import timedelta

    from portal.jobs.models import JobRun
    from portal.jobs.service import prune_runs
    from portal.models import utcnow

    for i in range(2):  # tests.slow has a 1 s limit: 10 minutes "running" means its consumer died
        db.session.add(JobRun(name="tests.slow", task_id=f"lost-{i}", status="running",
                              started_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    assert prune_runs()["lost"] == 2
    db.session.commit()
    assert told("jobs.failed") == [ADMIN]
    assert "tests.slow" in texts("jobs.failed", ADMIN)[0]


def test_a_run_by_hand_or_a_retrying_run_tells_nobody(japp):
    from portal.jobs import run_now

    db.session.commit()
    with pytest.raises(RuntimeError):
        run_now("tests.flaky", token=str(uuid.uuid4()), fail_times=99)  # the person sees the error
    _fail_for_good(retries_left=2)  # Huey will try again
    db.session.expire_all()
    assert told("jobs.failed") == []
    db.session.rollback()


def test_a_reaction_given_up_tells_the_site_administrators_once_per_add_on_hook_and_day(app, outbox):
    from portal.events import MAX_ATTEMPTS
    from portal.events.models import EventFailure
    from portal.events.retry import retry_one

    def failure(plugin: str, hook: str, attempts: int) -> int:
        row = EventFailure(hook=hook, plugin=plugin, args={}, error="x", attempts=attempts)
        db.session.add(row)
        db.session.commit()
        return row.id

    # an add-on that is not active any more: the retry fails for good at once
    assert retry_one(failure("gone_addon", "portal_customer_changed", 1), force=True) == "gave_up"
    assert retry_one(failure("gone_addon", "portal_customer_changed", MAX_ATTEMPTS - 1), force=True) == "gave_up"
    assert told("events.given_up") == [ADMIN]
    assert retry_one(failure("gone_addon", "portal_org_changed", 3), force=True) == "gave_up"
    assert told("events.given_up") == [ADMIN, ADMIN]
    texts_ = texts("events.given_up", ADMIN)
    assert "gone_addon" in texts_[0] and "portal_customer_changed" in texts_[0]
    assert db.session.execute(select(EventFailure).where(EventFailure.next_try_at.is_not(None))).first() is None
