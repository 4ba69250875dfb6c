"""Every ``<int:…>`` route — the core's and the loyalty add-on's — answers an id past what its id
column holds with 404, like a missing id, never a 500 (SQLite's ``OverflowError`` past 2^63 − 1,
PostgreSQL's "integer out of range" past 2^31 − 1)."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token, login

HUGE_IDS = [2**31, 2**63 - 1, 2**63, 10**23]  # 2**31: past an INTEGER column on PostgreSQL


def _int_rules(app):
    return [r for r in app.url_map.iter_rules()
            if any(type(c).__name__ == "IdConverter" or c.regex == r"\d+" for c in r._converters.values())]


def test_the_int_converter_is_bounded_on_every_rule(app):
    rules = _int_rules(app)
    assert {r.endpoint for r in rules} >= {"org.unit", "manage.user", "loyalty.family", "loyalty.decide",
                                            "loyalty.reverse_entry", "loyalty.family_remove"}
    for rule in rules:
        for conv in rule._converters.values():
            if conv.regex == r"\d+":
                wide = rule.endpoint == "loyalty.reverse_entry"  # loy_entry has 64-bit ids
                assert conv.max == (2**63 - 1 if wide else 2**31 - 1) and conv.min == 1, rule.rule


@pytest.mark.parametrize("email", ["admin@example.com", "store1@example.com"])
def test_huge_ids_in_urls_answer_404_not_500(app, client, email):
    login(client, email)
    token = csrf_token(client, "/dashboard")
    for rule in _int_rules(app):
        for huge in HUGE_IDS:
            url = rule.rule
            for name in rule.arguments:
                url = url.replace(f"<int:{name}>", str(huge)).replace(f"<{name}>", "1")
            for method in sorted(rule.methods & {"GET", "POST"}):
                if method == "GET":
                    resp = client.get(url)
                else:
                    resp = client.post(url, data={"csrf_token": token, "decision": "approve", "reason": "x",
                                                  "points": "1", "customer_id": "1"})
                assert resp.status_code in (403, 404), (method, url, resp.status_code)
