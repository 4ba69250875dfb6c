"""UI extension points (issue 14 item 11): add-on tabs on the org-unit, partner-group and partner
pages and action buttons on those pages and the customer page — checked like the customer tabs,
a broken contribution skipped and logged, an action's permission checked on the object."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Customer, OrgUnit, Partner, PartnerGroup
from tests.conftest import login
from tests.platform.test_events_fire import A, B, _events_app


@pytest.fixture(scope="module")
def ui_app(template_db):
    from tests.event_plugin_a import hooks as a_hooks

    a_hooks.TABS["broken"] = False
    yield from _events_app(template_db, (A, B))


def client_for(app, email: str):
    client = app.test_client()
    login(client, email)
    return client


def ids():
    unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == "B001")).scalar_one()
    group = db.session.execute(select(PartnerGroup).order_by(PartnerGroup.id).limit(1)).scalar_one()
    partner = db.session.execute(select(Partner).where(Partner.group_id == group.id).order_by(Partner.path)
                                 .limit(1)).scalar_one()
    customer = db.session.execute(select(Customer).where(Customer.branch_id == unit.id).order_by(Customer.id)
                                  .limit(1)).scalar_one()
    return unit, group, partner, customer


def test_org_pages_show_add_on_tabs_and_actions(ui_app, caplog):
    unit, group, partner, _customer = ids()
    admin = client_for(ui_app, "admin@example.com")
    with caplog.at_level(logging.ERROR, logger="portal.plugins"):
        for url, tab_id, what, kind, obj_id in (
                (f"/org/units/{unit.id}", "eva-unit", f"unit {unit.code}", "org_unit", unit.id),
                (f"/org/groups/{group.id}", "eva-group", f"group {group.code}", "partner_group", group.id),
                (f"/org/partners/{partner.id}", "eva-partner", f"partner {partner.code}", "partner", partner.id)):
            page = admin.get(url)
            assert page.status_code == 200, url
            html = page.get_data(as_text=True)
            assert 'data-testid="tab-overview"' in html and f'data-testid="tab-{tab_id}"' in html
            assert "Add-on A tab" not in html  # the overview shows the page's own content
            assert f'href="/eva/{kind}/{obj_id}"' in html  # a GET action is a link
            assert f'action="/eva/{kind}/{obj_id}/manage"' in html and 'name="csrf_token"' in html  # POST: a form
            assert "/eva/nolabel" not in html  # malformed: skipped
            tab = admin.get(f"{url}?tab={tab_id}").get_data(as_text=True)
            assert f"Add-on A tab: {what}" in tab and f'class="active" data-testid="tab-{tab_id}"' in tab
            assert admin.get(f"{url}?tab=nonsense").status_code == 200
    skipped = [r.getMessage() for r in caplog.records if r.name == "portal.plugins"]
    assert any("'eva'" in m and "portal_object_actions" in m and "'label' is missing" in m for m in skipped)


def test_an_actions_permission_is_checked_on_the_object(ui_app):
    unit, group, partner, customer = ids()
    store = client_for(ui_app, "store1@example.com")
    html = store.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert f'href="/eva/customer/{customer.id}"' in html  # no permission asked: shown
    assert f"/eva/customer/{customer.id}/manage" not in html  # org.manage: a branch's staff lacks it
    admin = client_for(ui_app, "admin@example.com")
    assert f"/eva/customer/{customer.id}/manage" in admin.get(f"/customers/{customer.id}").get_data(as_text=True)


def test_broken_tab_contributions_are_skipped_and_logged(ui_app, caplog):
    from tests.event_plugin_a import hooks as a_hooks

    unit, *_ = ids()
    admin = client_for(ui_app, "admin@example.com")
    a_hooks.TABS["broken"] = True
    try:
        with caplog.at_level(logging.ERROR, logger="portal.plugins"):
            resp = admin.get(f"/org/units/{unit.id}?tab=eva-missing")
            assert resp.status_code == 200
            html = resp.get_data(as_text=True)
            assert 'data-testid="tab-eva-missing"' not in html and "Broken" not in html
            # With only the overview left, no tab bar is drawn at all.
            assert 'data-testid="tab-overview"' not in html and unit.code in html
    finally:
        a_hooks.TABS["broken"] = False
    skipped = [r.getMessage() for r in caplog.records if r.name == "portal.plugins"]
    assert any("'eva'" in m and "'id' 'bad id!'" in m for m in skipped)
    assert any("'eva'" in m and "eva/none.html" in m for m in skipped)


def test_a_tab_whose_context_or_template_fails_falls_back_to_the_overview(ui_app, caplog, monkeypatch):
    from portal.events import ui

    unit, group, *_ = ids()
    admin = client_for(ui_app, "admin@example.com")
    original = ui.collect

    def failing(name, **kwargs):
        items = original(name, **kwargs)
        if name == "portal_partner_group_tabs":
            return [{**t, "context_factory": lambda: 1 / 0} for t in items]
        return items

    monkeypatch.setattr(ui, "collect", failing)
    with caplog.at_level(logging.ERROR, logger="portal.plugins"):
        resp = admin.get(f"/org/groups/{group.id}?tab=eva-group")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'class="active" data-testid="tab-overview"' in html and "Add-on A tab" not in html
    assert any("context_factory of tab 'eva-group' raised ZeroDivisionError" in r.getMessage()
               for r in caplog.records if r.name == "portal.plugins")


def test_org_pages_in_korean_without_add_ons(app):
    """Without add-ons the org pages look as before: no tab bar, no buttons; labels in Korean."""
    unit, group, partner, _customer = ids()
    client = client_for(app, "admin@example.com")
    for url in (f"/org/units/{unit.id}", f"/org/groups/{group.id}", f"/org/partners/{partner.id}"):
        html = client.get(url, headers={"Accept-Language": "ko"}).get_data(as_text=True)
        assert 'class="tabs"' not in html and "/eva/" not in html


def test_object_actions_refuses_an_unknown_kind(ui_app):
    from portal.events.ui import object_actions

    with pytest.raises(ValueError):
        object_actions("spaceship", object(), None)
