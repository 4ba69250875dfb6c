"""Helpers of the hostile tests (test_attack_*.py): the add-on's routes from the app's URL map,
URLs filled with a junk or a real id, logged-in clients and bearer headers for every demo role
plus an R02 branch user."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import api_token_for, bearer
from tests.plugins.knowledge_share.pages_fixtures import client_for, r02_login

ROLES = ["admin", "hq", "reviewer", "leader1", "ibo1", "store1", "store2", "store5", "anonymous"]
R02 = "store5@example.com"
JUNK_IDS = ["0", "-1", str(2**63), "abc", "1e3", "%00", "99999999999999999999999", "%EF%BC%91"]
JUNK_QUERIES = ["page=-1&per_page=1e3", "page=abc&per_page=-5", "page=99999999999999999999", "q=%00&sort=../etc",
                "q=" + "가" * 2000, "state=%F0%9F%98%80&category=<script>", "per_page=NaN&page=Infinity",
                "q=%25%27%22%5C&sort=helpful&mark=x&season=x&channel=x", "from=2026-02-30&to=abc",
                "q[]=1&q[]=2&page[]=1"]
VAR = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def ks_routes(app) -> list[tuple[str, set[str], str]]:
    """(rule, methods, endpoint) of every route of the add-on (endpoints ``ks_*``), static files aside."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("ks_") and not rule.endpoint.endswith(".static"):
            out.append((rule.rule, set(rule.methods or ()) - {"HEAD", "OPTIONS"}, rule.endpoint))
    return sorted(out)


def fill(rule: str, value: str) -> str:
    """The rule with every variable replaced by ``value``."""
    return VAR.sub(lambda _m: value, rule)


def clients(app) -> dict[str, Any]:
    """A logged-in test client per role (``anonymous`` is not logged in)."""
    out: dict[str, Any] = {}
    for who in ROLES:
        if who == "anonymous":
            out[who] = app.test_client()
        elif who == "store5":
            out[who] = r02_login(app, R02)
        else:
            out[who] = client_for(app, f"{who}@example.com")
    return out


def headers(who: str) -> dict[str, str]:
    """Bearer headers of a role (none for ``anonymous``; the R02 user is made on demand)."""
    if who == "anonymous":
        return {}
    if who == "store5":
        from tests.plugins.knowledge_share.stories_fixtures import r02_user

        r02_user(R02)
        return bearer(api_token_for(R02))
    return bearer(api_token_for(f"{who}@example.com"))


def text_of(resp: Any) -> str:
    """A response's text as a reader sees it: JSON decoded (Flask escapes Korean as \\uXXXX)."""
    import json

    if resp.is_json:
        return json.dumps(resp.get_json(), ensure_ascii=False)
    return resp.get_data(as_text=True)
