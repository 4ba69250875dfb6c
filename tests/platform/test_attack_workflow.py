"""Attacks on the transition endpoint: where it redirects to (never another site, never a header
injection), other branches' objects, comments with HTML."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.workflow import history, state_of
from tests.conftest import login, post_form
from tests.platform.test_workflow_service import TYPE, new_doc
from tests.platform.test_workflow_service import wf_app as wf_app  # noqa: F401  (the fixture)


@pytest.fixture
def client(wf_app):  # noqa: F811
    return wf_app.test_client()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example",
                                    "/\t/evil.example", "/\r\n/evil.example", "/tasks\r\nSet-Cookie: a=b",
                                    "/tasks\nX-Evil: 1", "javascript:alert(1)", "/tasks\x00", "/" + "a" * 5000])
def test_next_never_leaves_the_site_nor_splits_the_header(wf_app, client, target):  # noqa: F811
    doc = new_doc()
    login(client, "store1@example.com")
    resp = post_form(client, f"/workflow/{TYPE}/{doc.id}/submit", {"comment": "ready", "next": target},
                     form_page="/tasks")
    if target.endswith("\x00"):  # NUL anywhere in a form: the app's clear 400, nothing done
        assert resp.status_code == 400
        db.session.expire_all()
        assert state_of(doc) == "private"
        return
    assert resp.status_code == 303, resp.status_code
    location = resp.headers["Location"]
    assert location == f"/docs/{doc.id}" or (location.startswith("/") and "evil" not in location), location
    assert "\n" not in location and "\r" not in location and not resp.headers.get("X-Evil")
    db.session.expire_all()
    assert state_of(doc) == "pending"


def test_another_branchs_object_is_404_and_nothing_moves(wf_app, client):  # noqa: F811
    doc = new_doc("B001")
    for email in ("store2@example.com", "ibo1@example.com", "leader1@example.com"):
        other = wf_app.test_client()
        login(other, email)
        resp = post_form(other, f"/workflow/{TYPE}/{doc.id}/submit", {"comment": "x", "next": "/tasks"},
                         form_page="/tasks")
        assert resp.status_code == 404, email
    db.session.expire_all()
    assert state_of(doc) == "private" and history(doc) == []


def test_a_comment_with_html_is_shown_escaped(wf_app, client):  # noqa: F811
    doc = new_doc()
    login(client, "store1@example.com")
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    post_form(client, f"/workflow/{TYPE}/{doc.id}/submit", {"comment": evil, "next": "/tasks"}, form_page="/tasks")
    reviewer = wf_app.test_client()
    login(reviewer, "reviewer@example.com")
    html = reviewer.get("/tasks").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    # The refusal page echoes the typed comment inside a textarea, escaped.
    resp = post_form(reviewer, f"/workflow/{TYPE}/{doc.id}/reject", {"comment": "<script>"},
                     form_page="/tasks")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "<script>" not in body and "&lt;script&gt;</textarea>" in body


def test_my_tasks_lists_only_objects_in_scope(wf_app, client):  # noqa: F811
    doc = new_doc("B001", title="Only-for-B001 story")
    login(client, "store1@example.com")
    post_form(client, f"/workflow/{TYPE}/{doc.id}/submit", {"comment": "ready", "next": "/tasks"}, form_page="/tasks")
    reviewer = wf_app.test_client()
    login(reviewer, "reviewer@example.com")
    assert "Only-for-B001 story" in reviewer.get("/tasks").get_data(as_text=True)  # the oracle: it is a task
    for email in ("store2@example.com", "leader1@example.com", "ibo1@example.com"):
        other = wf_app.test_client()
        login(other, email)
        for url in ("/tasks", f"/tasks?type={TYPE}", "/dashboard"):
            assert "Only-for-B001 story" not in other.get(url).get_data(as_text=True), (email, url)
