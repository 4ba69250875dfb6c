"""PostgreSQL plans a list's page statement once per connection, not on every request.

psycopg prepares a statement run five times on a connection; PostgreSQL then reuses its generic
plan only if that plan looks as cheap as the custom ones. A bound ``LIMIT $1`` makes the generic
plan look expensive, so every page was planned again (about a third of the server's CPU for a
page of the customer list). ``portal.pagination`` writes LIMIT and OFFSET into the SQL text, and
``scope_filter`` a local-role user's branch and partner ids; this proves the server now plans a
first page once per connection, with every value known.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import api_token_for, bearer, sql
from tests.dbs import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="plan caching is PostgreSQL's")


def _page_statements() -> list[tuple[str, int, int]]:
    """(text, generic plans, custom plans) of the prepared customer page statements on this connection."""
    rows = sql("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
               "WHERE statement LIKE 'SELECT customer.id, customer.code%'")
    return [(r[0], r[1], r[2]) for r in rows]


def _first_pages(client, who: str) -> list[tuple[str, int, int]]:
    headers = bearer(api_token_for(f"{who}@example.com"))
    for _ in range(12):
        resp = client.get("/api/v1/customers", headers=headers)
        assert resp.status_code == 200 and resp.get_json()["items"]
    statements = _page_statements()
    assert statements, "the page statement was never prepared"
    return statements


@pytest.mark.parametrize("who", ["hq", "store1"])
def test_limits_are_in_the_statement_text(app, client, who):
    for text, _generic, _custom in _first_pages(client, who):
        assert "LIMIT 10001" in text and "LIMIT 50 OFFSET 0" in text, text


@pytest.mark.parametrize("who", ["hq", "store1"])
def test_first_page_is_planned_once(app, client, who):
    # hq's scope adds no condition and store1's names its branch id in the text, so the statement
    # has no parameter left: PostgreSQL plans it once, knowing every value, and reuses that plan.
    # With bound limits it planned each run anew (on the 1,000,000-customer bench database it
    # never switched to the generic plan at all); with bound ids its generic plan would not know
    # the branch.
    [(text, generic, custom)] = _first_pages(client, who)
    assert custom == 0 and generic >= 6, text
    if who == "store1":
        assert re.search(r"customer\.branch_id IN \(\d+\)", text), text
