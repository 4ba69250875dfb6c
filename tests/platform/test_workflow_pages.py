"""The workflow over HTTP: the transition endpoint answers 403 / 404 / 409 / 422 (a page with the
reason, or JSON), never a 500 and never a partial write; "my tasks" in Korean and English with its
empty state, the menu item and the dashboard portlet."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.workflow import history, state_of, transition
from tests.conftest import login, post_form
from tests.platform.test_workflow_service import TYPE, new_doc, user
from tests.platform.test_workflow_service import wf_app as wf_app  # noqa: F401  (the fixture)


def _post(client, doc, name: str, **data):
    return post_form(client, f"/workflow/{TYPE}/{doc.id}/{name}", {"next": "/tasks", **data}, form_page="/tasks")


@pytest.fixture
def client(wf_app):  # noqa: F811
    return wf_app.test_client()


def test_transition_endpoint_statuses(wf_app, client):  # noqa: F811
    doc = new_doc()
    login(client, "store1@example.com")
    resp = _post(client, doc, "submit", comment="ready")
    assert resp.status_code == 303 and resp.headers["Location"] == "/tasks"
    db.session.expire_all()
    assert state_of(doc) == "pending"
    resp = _post(client, doc, "publish")  # branch staff may not publish
    assert resp.status_code == 403 and 'data-code="permission"' in resp.get_data(as_text=True)
    resp = _post(client, doc, "submit")  # already pending
    assert resp.status_code == 409 and 'data-code="wrong_state"' in resp.get_data(as_text=True)
    resp = _post(client, doc, "nope")
    assert resp.status_code == 422
    assert _post(client, doc, "submit", next="https://evil.example/").status_code == 409
    other = wf_app.test_client()
    login(other, "store2@example.com")
    assert _post(other, doc, "retract").status_code == 404  # another branch's doc
    assert post_form(other, f"/workflow/no.such.type/{doc.id}/submit", {}, form_page="/tasks").status_code == 404
    assert post_form(other, f"/workflow/{TYPE}/99999999999999999999/submit", {}, form_page="/tasks").status_code == 404
    reviewer = wf_app.test_client()
    login(reviewer, "reviewer@example.com")
    resp = _post(reviewer, doc, "reject", comment="short")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'data-code="comment_required"' in html
    assert 'name="comment"' in html and ">short</textarea>" in html  # the form again, with what was typed
    resp = reviewer.post(f"/workflow/{TYPE}/{doc.id}/reject", headers={"Accept": "application/json"},
                         data={"comment": "", "csrf_token": _token(reviewer)})
    assert resp.status_code == 422 and resp.get_json()["error"] == "comment_required"
    db.session.expire_all()
    assert state_of(doc) == "pending" and [h.transition for h in history(doc)] == ["submit"]
    resp = _post(reviewer, doc, "reject", comment="Please add the figures.", next="//evil.example/x")
    assert resp.status_code == 303 and resp.headers["Location"] == f"/docs/{doc.id}"  # not an open redirect
    db.session.expire_all()
    assert state_of(doc) == "private"
    assert client.post(f"/workflow/{TYPE}/{doc.id}/submit", data={}).status_code == 400  # no CSRF token


def _token(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client, "/tasks")


def test_my_tasks_page_menu_and_portlet_in_korean_and_english(wf_app, client):  # noqa: F811
    login(client, "reviewer@example.com")
    html = client.get("/tasks").get_data(as_text=True)
    assert "내 할 일" in html and "기다리는 항목이 없습니다" in html  # the empty state, in Korean
    docs = [new_doc(title=f"세미나 후기 {i}") for i in range(3)]
    for doc in docs:
        transition(doc, "submit", user("store1@example.com"))
    db.session.commit()
    html = client.get("/tasks").get_data(as_text=True)
    assert html.count('data-testid="task-row"') == 3 and "검토 대기" in html
    assert html.index("세미나 후기 2") < html.index("세미나 후기 0")  # newest first
    assert 'href="/tasks"' in html  # the menu item
    dash = client.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="stat-tasks">3<' in dash
    page2 = client.get("/tasks?per_page=2&page=2").get_data(as_text=True)
    assert page2.count('data-testid="task-row"') == 1
    assert client.get(f"/tasks?type={TYPE}&page=abc").status_code == 200
    post_form(client, "/language", {"lang": "en", "next": "/tasks"}, form_page="/tasks")
    html = client.get("/tasks").get_data(as_text=True)
    assert "My tasks" in html and "Pending review" in html
    store = wf_app.test_client()
    login(store, "ibo1@example.com")
    html = store.get("/tasks").get_data(as_text=True)
    assert 'data-testid="task-row"' not in html and 'href="/tasks"' not in html  # no review rights: no menu item


class TaskSource:
    """An add-on with its own "my tasks" items (``portal_my_tasks``)."""

    from portal.hookspecs import hookimpl

    @hookimpl
    def portal_my_tasks(self, user):
        from datetime import datetime

        if user.email != "reviewer@example.com":
            return []
        return [{"title": "세미나 출석 체크", "url": "/seminars/7", "kind": "세미나", "since": datetime(2026, 12, 1, 9)},
                {"title": "새 지점 보고서 확인", "url": "/reports/3", "since": datetime(2026, 12, 6, 9)},
                {"title": "", "url": "/broken"}]  # no title: left out


def test_add_on_tasks_panel_macro_and_audit_log_in_korean(wf_app, client):  # noqa: F811
    from flask import render_template_string
    from flask_login import login_user

    from portal.plugins import registry

    pm = registry().pm
    pm.register(TaskSource(), name="test.task_source")
    try:
        login(client, "reviewer@example.com")
        html = client.get("/tasks").get_data(as_text=True)
        assert html.count('data-testid="task-other"') == 2 and "그 밖의 할 일" in html
        assert html.index("새 지점 보고서 확인") < html.index("세미나 출석 체크")  # newest first
        assert 'data-testid="stat-tasks">2<' in client.get("/dashboard").get_data(as_text=True)
    finally:
        pm.unregister(name="test.task_source")

    doc = new_doc()
    transition(doc, "submit", user("store1@example.com"))
    db.session.commit()
    with wf_app.test_request_context("/docs/1"):
        login_user(user("reviewer@example.com"))
        html = render_template_string('{% from "workflow/macros.html" import workflow_panel %}{{ workflow_panel(doc) }}',
                                      doc=doc)
    assert 'data-state="pending"' in html and 'data-transition="publish"' in html and 'data-transition="reject"' in html
    assert 'minlength="10"' in html and 'name="revision"' in html and 'data-testid="workflow-history"' in html
    with wf_app.test_request_context("/docs/1"):
        login_user(user("store2@example.com"))  # another branch's staff: no buttons
        html = render_template_string('{% from "workflow/macros.html" import workflow_panel %}{{ workflow_panel(doc) }}',
                                      doc=doc)
    assert "data-transition" not in html

    admin = wf_app.test_client()
    login(admin, "admin@example.com")
    text = admin.get("/manage/audit").get_data(as_text=True)
    assert "검토 단계 변경" in text and "비공개 → 검토 대기 (검토 요청)" in text
