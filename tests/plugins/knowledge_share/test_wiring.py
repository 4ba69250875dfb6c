"""The add-on's wiring: installed tables, blueprints, workflow, permissions and hookspecs."""

from __future__ import annotations

from sqlalchemy import inspect

from portal.extensions import db


def test_tables_installed(app):
    names = set(inspect(db.engine).get_table_names())
    assert {"ks_story", "ks_attachment", "ks_search_doc", "ks_comment", "ks_vote", "ks_follow", "ks_session",
            "ks_agenda_item", "ks_invitee", "ks_action_item", "ks_reuse"} <= names


def test_workflow_and_permissions_registered(app):
    from portal.workflow.service import workflows

    wf = workflows()["ks_story"]
    assert set(wf.states) == {"private", "pending", "published", "archived", "merged"}
    assert wf.transitions["reject"].comment_minimum == 10
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert {"ks_stories", "ks_stories_api", "ks_sessions", "ks_reuse", "ks_social"} <= set(app.blueprints)
    assert rules


def test_overdue_hook_declared(app):
    from datetime import date

    from portal.toolkit import plugin_hook

    assert plugin_hook("ks_overdue_action_items")(on=date(2026, 12, 7), unit_ids=None) == []
