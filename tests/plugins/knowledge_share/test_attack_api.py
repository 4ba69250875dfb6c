"""Hostile bodies against the knowledge_share JSON API: not an object, invalid JSON, NaN,
Infinity, 1e400, deep nesting, 1 MB strings, lone surrogates, arrays where objects belong, wrong
types in every field — always a 400/422 JSON refusal naming the field, never a 500, and nothing
written (every ks_ table, the workflow history, the audit log and the inbox are counted)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import scalar
from tests.plugins.knowledge_share.attack_fixtures import headers
from tests.plugins.knowledge_share.sessions_fixtures import noon_kst, seoul_iso, session_row
from tests.plugins.knowledge_share.stories_fixtures import body, published, story

TABLES = ("ks_story", "ks_comment", "ks_vote", "ks_follow", "ks_attachment", "ks_session", "ks_agenda_item",
          "ks_invitee", "ks_action_item", "ks_reuse", "ks_search_doc", "workflow_history", "audit_event",
          "notification")
RAW = ["[]", "[{}]", '"x"', "1", "null", "true", "{", "{\"a\": }", "\xff\xfe", "", "{\"title\": NaN}",
       "{\"title\": Infinity}", "{\"title\": 1e400}", "{\"a\": " * 5000 + "1" + "}" * 5000, "[" * 100_000,
       '{"title": "\\ud800"}', '{"title": "x\\u0000y"}', '{"\\ud800": 1}']
WRONG: list[Any] = [None, True, 0, -1, 1.5, 10**30, float("nan"), float("inf"), "", [], {}, [1, {}], {"a": [1]},
                    "\ud800", "가" * 1_000_000, "\x00", [[[[[[[[]]]]]]]]]


def _counts() -> tuple[int, ...]:
    return tuple(scalar(f"SELECT count(*) FROM {t}") for t in TABLES)


def _refused(resp, where: Any) -> dict[str, Any]:
    assert resp.status_code in (400, 409, 413, 422), (where, resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.is_json, (where, resp.get_data(as_text=True)[:200])
    return resp.get_json()


class _Crash:
    """What a request that raised (TESTING lets the exception through) is counted as: a 500."""

    status_code, is_json = 500, False

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def get_data(self, as_text: bool = False) -> str:
        return repr(self.exc)

    def get_json(self) -> dict[str, Any]:
        return {}


def _send(client, method: str, url: str, hdrs: dict, data: Any):
    from portal.toolkit import db

    text = json.dumps(data, allow_nan=True) if not isinstance(data, str) else data
    try:
        return client.open(url, method=method, data=text.encode("utf-8", "surrogatepass"),
                           content_type="application/json", headers=hdrs)
    except Exception as exc:  # noqa: BLE001 - reported as the 500 it would be
        db.session.rollback()
        return _Crash(exc)


@pytest.fixture
def targets(app) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, url, who, a valid body) of every API write, on objects that exist."""
    from plugins.knowledge_share.sessions.service import invite
    from portal.toolkit import db
    from tests.plugins.knowledge_share.stories_fixtures import user

    pub = published()
    draft = story(title="초안 사례")
    sess = session_row()
    invite(sess, {"branches": ["B001"]}, user("hq@example.com"))
    db.session.commit()
    due = noon_kst(14).date().isoformat()
    return [
        ("POST", "/api/v1/stories", "store1", body()),
        ("PATCH", f"/api/v1/stories/{draft.id}", "store1", {"title": "새 제목"}),
        ("POST", f"/api/v1/stories/{draft.id}/transitions", "store1", {"transition": "submit"}),
        ("POST", f"/api/v1/stories/{pub.id}/checkout", "store1", {}),
        ("POST", f"/api/v1/stories/{pub.id}/reuse", "store2", {}),
        ("POST", f"/api/v1/ks/stories/{pub.id}/comments", "store2", {"body": "좋은 사례"}),
        ("POST", f"/api/v1/ks/stories/{pub.id}/vote", "store2", {}),
        ("POST", "/api/v1/ks/follows", "store2", {"kind": "keyword", "value": "세미나"}),
        ("DELETE", "/api/v1/ks/follows", "store2", {"kind": "keyword", "value": "세미나"}),
        ("POST", "/api/v1/ks/sessions", "hq", {"title": "공유회", "starts_at": seoul_iso(7, 14),
                                                "ends_at": seoul_iso(7, 16), "place": "본사"}),
        ("PATCH", f"/api/v1/ks/sessions/{sess.id}", "hq", {"title": "바뀐 공유회"}),
        ("POST", f"/api/v1/ks/sessions/{sess.id}/agenda", "hq", {"agenda": [{"story": pub.id}]}),
        ("POST", f"/api/v1/ks/sessions/{sess.id}/invitees", "hq", {"branches": ["B002"]}),
        ("POST", f"/api/v1/ks/sessions/{sess.id}/actions", "hq", {"title": "할 일", "owner_branch": "B001",
                                                                   "due_date": due}),
        ("POST", f"/api/v1/ks/sessions/{sess.id}/attendance", "hq", {"attendance": []}),
    ]


def test_bodies_that_are_not_objects_are_refused_and_write_nothing(app, targets):
    client = app.test_client()
    before = _counts()
    for method, url, who, good in targets:
        if not good:  # (checkout, vote, reuse take no body: whatever is sent is not read)
            continue
        hdrs = headers(who)
        for raw in RAW:
            if raw == "" and url.endswith("/invitees"):  # (no body: the stored rule is resolved again)
                continue
            _refused(_send(client, method, url, hdrs, raw), (method, url, raw[:30]))
        for wrong in ([], [1], "x", 1, None):
            _refused(_send(client, method, url, hdrs, wrong), (method, url, wrong))
    assert _counts() == before


def test_every_field_of_every_wrong_type_is_refused_with_its_path(app, targets):
    client = app.test_client()
    failures = []
    for method, url, who, good in targets:
        hdrs = headers(who)
        for field in list(good) + ["state", "id", "author_id", "zz_unknown"]:
            for value in WRONG:
                before = _counts()
                resp = _send(client, method, url, hdrs, {**good, field: value})
                if resp.status_code < 300:  # a value that is valid for this field (a string title)
                    continue
                if resp.status_code >= 500 or not resp.is_json:
                    failures.append((method, url, field, repr(value)[:30], resp.status_code,
                                     resp.get_data(as_text=True)[:100]))
                    continue
                errors = resp.get_json().get("errors") or {}
                # (an invitation rule with nothing in it is refused as a whole, at ``regions``)
                paths = (field, "regions", "branches", "roles") if url.endswith("/invitees") else (field,)
                if resp.status_code == 422 and not any(k == p or k.startswith((f"{p}.", f"{p}[")) for k in errors
                                                       for p in paths):
                    failures.append((method, url, field, repr(value)[:30], "no path", errors))
                if _counts() != before:
                    failures.append((method, url, field, repr(value)[:30], "wrote"))
    assert not failures, "\n".join(map(repr, failures))
