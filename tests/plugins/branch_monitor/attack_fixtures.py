"""Helpers of the hostile tests (test_attack_*.py): the add-on's routes from the app's URL map,
URLs filled with a junk value or a branch code, logged-in clients and bearer headers for every
demo role plus an HQ Staff member local on R01 and a Branch Staff member of R02's B005."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from tests.conftest import api_token_for, bearer, login

ROLES = ["admin", "hq", "hq_r01", "reviewer", "leader1", "ibo1", "store1", "store5", "anonymous"]
EXTRA = {"hq_r01": ("hq.r01@example.com", "HQ_STAFF", "R01", "수도권 본부 담당"),
         "store5": ("store5@example.com", "BRANCH_STAFF", "B005", "대전점 직원")}
JUNK_IDS = ["0", "-1", str(2**63), "abc", "1e3", "%00", "99999999999999999999999", "%EF%BC%91", "B001%00",
            "b001", "HQ", "B" + "1" * 40]
JUNK_QUERIES = ["page=-1&per_page=1e3", "page=abc&per_page=-5", "page=99999999999999999999", "q=%00&sort=../etc",
                "q=" + "가" * 2000, "month=2026-13", "month=abc&region=%00", "month=0000-00&metric=<script>",
                "from=2026-02-30&to=abc", "from=2026-03-01&to=2025-01-01", "from=1900-01-01&to=2999-12-31",
                "region=R99&state=%F0%9F%98%80&metric=x", "per_page=NaN&page=Infinity", "month[]=1&page[]=1",
                "branch=B999&metric=care_index&sort=-value"]
VAR = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def bm_routes(app) -> list[tuple[str, set[str], str]]:
    """(rule, methods, endpoint) of every route of the add-on (endpoints ``bm_*``), static files aside."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("bm_") and not rule.endpoint.endswith(".static"):
            out.append((rule.rule, set(rule.methods or ()) - {"HEAD", "OPTIONS"}, rule.endpoint))
    return sorted(out)


def fill(rule: str, value: str) -> str:
    """The rule with every variable replaced by ``value``."""
    return VAR.sub(lambda _m: value, rule)


def extra_user(who: str):
    """The R01-local HQ user or the R02 branch user, made on demand with the demo password."""
    from portal.models import LocalRole
    from portal.toolkit import BRANCH_STAFF, HQ_STAFF, OrgUnit, User, db

    email, role, unit_code, name = EXTRA[who]
    found = db.session.scalar(select(User).where(User.email == email))
    if found is not None:
        return found
    unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code))
    demo = db.session.scalar(select(User).where(User.email == "store1@example.com"))
    u = User(email=email, name=name, password_hash=demo.password_hash, locale="ko", active=True)
    db.session.add(u)
    db.session.flush()
    db.session.add(LocalRole(user_id=u.id, role={"HQ_STAFF": HQ_STAFF, "BRANCH_STAFF": BRANCH_STAFF}[role],
                             org_unit_id=unit.id))
    db.session.commit()
    return u


def email_of(who: str) -> str:
    return EXTRA[who][0] if who in EXTRA else f"{who}@example.com"


def client_of(app, who: str):
    client = app.test_client()
    if who == "anonymous":
        return client
    if who in EXTRA:
        with app.app_context():
            extra_user(who)
    resp = login(client, email_of(who))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client


def headers(app, who: str) -> dict[str, str]:
    if who == "anonymous":
        return {}
    if who in EXTRA:
        with app.app_context():
            extra_user(who)
    return bearer(api_token_for(email_of(who)))


def text_of(resp: Any) -> str:
    """A response's text as a reader sees it: JSON decoded (Flask escapes Korean as \\uXXXX)."""
    import json

    if resp.is_json:
        return json.dumps(resp.get_json(), ensure_ascii=False)
    return resp.get_data(as_text=True)
