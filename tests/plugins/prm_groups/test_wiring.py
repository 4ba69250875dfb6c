"""The add-on installs on top of cem_channels, its tables exist and its workflow is registered."""

from __future__ import annotations

from sqlalchemy import inspect


def test_installed_with_tables_and_workflow(app):
    from portal.extensions import db
    from portal.workflow import workflows

    names = set(inspect(db.engine).get_table_names())
    for table in ("prm_programme", "prm_step", "prm_content_revision", "prm_result", "prm_session",
                  "prm_invitation", "prm_registration"):
        assert table in names
    assert "prm_programme" in workflows()


def test_requires_cem_channels():
    from plugins.prm_groups import PLUGIN

    assert PLUGIN.requires == ("cem_channels",)
