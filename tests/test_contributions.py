"""One add-on's malformed contribution (menu item, portlet, customer tab) is skipped and logged
once with the add-on's name; every page still works for every user (issue 13, item 15)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Customer
from tests.conftest import TEST_PLUGIN, _app_on_clone, login, make_app

USERS = ("admin@example.com", "hq@example.com", "store1@example.com", "leader1@example.com", "ibo1@example.com")


@pytest.fixture
def faulty(template_db):
    def factory(url):
        return make_app(url, PORTAL_PLUGINS=[TEST_PLUGIN, "tests.faulty_plugin"])

    for app in _app_on_clone(template_db, factory):
        from portal.plugins_lifecycle import install

        install("faulty")
        yield app


def _skipped(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "portal.plugins"]


def test_malformed_contributions_are_skipped_and_pages_work_for_everyone(faulty, caplog):
    cid = db.session.execute(select(Customer.id).order_by(Customer.id).limit(1)).scalar_one()
    with caplog.at_level(logging.ERROR, logger="portal.plugins"):
        for email in USERS:
            client = faulty.test_client()
            login(client, email)
            for url in ("/dashboard", "/customers/", f"/customers/{cid}"):
                resp = client.get(url)
                assert resp.status_code in (200, 404), (email, url, resp.status_code)
            dash = client.get("/dashboard").get_data(as_text=True)
            assert "Faulty good" in dash  # the add-on's valid menu item stays
            assert "Unknown endpoint" not in dash and "No endpoint" not in dash and "Bad order" not in dash
            assert "Faulty portlet" in dash and "Missing template" not in dash and "Bad context" not in dash
            assert "Fails to render" not in dash  # a portlet whose template raises is left out
    hq = faulty.test_client()
    login(hq, "hq@example.com")
    with caplog.at_level(logging.ERROR, logger="portal.plugins"):
        page = hq.get(f"/customers/{cid}").get_data(as_text=True)
        assert 'data-testid="tab-overview"' in page and 'data-testid="tab-faulty-ctx"' in page
        assert "Bad id" not in page and "Second overview" not in page
        resp = hq.get(f"/customers/{cid}?tab=faulty-ctx")  # its context_factory raises
        assert resp.status_code == 200 and 'class="active" data-testid="tab-overview"' in resp.get_data(as_text=True)
        assert hq.get(f"/customers/{cid}?tab=faulty-ctx").status_code == 200
        resp = hq.get(f"/customers/{cid}?tab=faulty-render")  # its template raises while rendering
        assert resp.status_code == 200 and 'class="active" data-testid="tab-overview"' in resp.get_data(as_text=True)
    messages = _skipped(caplog)
    assert all("'faulty'" in m for m in messages), messages  # named with the add-on
    for bad in ("'endpoint' None", "faulty.nowhere", "'order' must be a number", "str is not a dict",
                "'label' is missing", "'match'", "'template' None", "faulty/none.html", "'context' must be a dict",
                "'title' is missing", "'id' 'bad id!'", "id 'overview' is used", "rendering 'faulty/broken.html'",
                "context_factory of tab 'faulty-ctx' raised LookupError", "template of tab 'faulty-render' raised"):
        assert sum(bad in m for m in messages) == 1, (bad, messages)  # logged once, not per page view


def test_a_tab_hook_that_returns_no_list_is_skipped(faulty, caplog):
    from tests.faulty_plugin import hooks

    cid = db.session.execute(select(Customer.id).order_by(Customer.id).limit(1)).scalar_one()
    client = faulty.test_client()
    login(client, "hq@example.com")
    hooks.TABS_NOT_A_LIST["on"] = True
    try:
        with caplog.at_level(logging.ERROR, logger="portal.plugins"):
            assert client.get(f"/customers/{cid}").status_code == 200
    finally:
        hooks.TABS_NOT_A_LIST["on"] = False
    assert any("returned dict, not a list" in m and "'faulty'" in m for m in _skipped(caplog))


def test_an_add_on_whose_hook_raises_is_skipped_with_its_traceback(faulty, caplog):
    from tests.faulty_plugin import hooks

    client = faulty.test_client()
    login(client, "hq@example.com")
    hooks.RAISE_IN_MENU["on"] = True
    try:
        with caplog.at_level(logging.ERROR, logger="portal.plugins"):
            for _ in range(3):
                resp = client.get("/customers/")
                assert resp.status_code == 200
                page = resp.get_data(as_text=True)
                assert 'href="/customers/"' in page and "Faulty good" not in page  # core menu intact
    finally:
        hooks.RAISE_IN_MENU["on"] = False
    raised = [r for r in caplog.records if r.name == "portal.plugins" and "KeyError" in r.getMessage()]
    assert len(raised) == 1 and "'faulty'" in raised[0].getMessage() and raised[0].exc_info


def test_the_core_contributes_only_valid_items(app, client):
    """Nothing of the core's own menu, portlets or tabs is skipped (the checks are not too strict)."""
    from flask import g

    from portal.auth.service import find_user
    from portal.plugins import collect, registry

    cid = db.session.execute(select(Customer.id).order_by(Customer.id).limit(1)).scalar_one()
    customer = db.session.get(Customer, cid)
    with app.test_request_context("/"):
        for email in USERS:
            user = find_user(email)
            g.pop("portal_active_plugins", None)
            collect("portal_menu_items", user=user)
            collect("portal_portlets", manager="dashboard", user=user)
            collect("portal_customer_tabs", customer=customer, user=user)
    assert registry().reported == set()
