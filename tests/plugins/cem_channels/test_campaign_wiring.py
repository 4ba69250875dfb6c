"""The add-on's wiring: the campaign workflow loads, its own hookspecs are declared, and the pages
it contributes answer only while it is enabled."""

from __future__ import annotations


def test_campaign_workflow_is_registered(app):
    from portal.workflow import workflows

    with app.app_context():
        wf = workflows()["cem_campaign"]
        assert wf.initial == "draft"
        assert {t for t in wf.transitions} >= {"submit", "approve", "schedule", "start", "pause", "resume", "finish",
                                                "expire", "cancel", "reschedule", "edited"}


def test_own_hookspecs_are_declared(app):
    from portal.plugins import hook

    with app.app_context():
        assert hook("cem_create_campaign") is not None
        assert hook("cem_campaign_result") is not None
