"""Workflow definitions are checked before use: a broken one is refused with a clear reason (and,
from an add-on, skipped and logged instead of breaking every page)."""

from __future__ import annotations

import copy

import pytest

from portal.workflow.definitions import SIMPLE_PUBLICATION, DefinitionError, parse


def _spec(**changes):
    spec = copy.deepcopy({k: v for k, v in SIMPLE_PUBLICATION.items()})
    spec.update(changes)
    return spec


def test_the_default_workflow_parses_as_documented():
    wf = parse(SIMPLE_PUBLICATION)
    assert wf.initial == "private" and wf.review_states == ["pending"]
    assert [t.id for t in wf.from_state("pending")] == ["publish", "reject", "retract"]
    assert [t.id for t in wf.tasks_from("pending")] == ["publish", "reject"]  # retract is the author's own
    assert wf.transitions["reject"].comment_minimum == 10 and wf.transitions["publish"].approves
    assert wf.on_edit_from("published").id == "edited" and wf.on_edit_from("pending") is None
    assert wf.approvable_in("pending") and wf.approvable_in("private") and not wf.approvable_in("published")


@pytest.mark.parametrize("changes, message", [
    ({"name": "Bad Name"}, "workflow name"),
    ({"initial": "draft"}, "initial state"),
    ({"states": []}, "no states"),
    ({"states": [{"id": "a"}, {"id": "a"}], "initial": "a", "transitions": []}, "defined twice"),
    ({"transitions": [{"id": "go", "from": ["private"], "to": "nowhere", "permission": "p"}]}, "unknown"),
    ({"transitions": [{"id": "go", "from": ["private"], "to": "pending"}]}, "permission"),
    ({"transitions": [{"id": "go", "from": ["private"], "to": "pending", "permission": "p", "guard": "x"}]}, "guard"),
    ({"transitions": [{"id": "go", "from": ["private"], "to": "pending", "permission": "p",
                       "min_comment_length": -1}]}, "min_comment_length"),
    ({"transitions": [{"id": "approval_withdrawn", "from": ["private"], "to": "pending", "permission": "p"}]},
     "reserved"),
])
def test_broken_definitions_are_refused_with_a_reason(changes, message):
    with pytest.raises(DefinitionError, match=message):
        parse(_spec(**changes))


def test_a_broken_add_on_definition_is_skipped_and_the_rest_still_work(app, caplog):
    from portal.plugins import registry
    from portal.workflow import workflows

    class Broken:
        from portal.hookspecs import hookimpl

        @hookimpl
        def portal_workflows(self):
            return [{"name": "broken", "initial": "x", "states": [{"id": "y"}]},
                    {**SIMPLE_PUBLICATION}]  # a duplicate name: skipped as well

    pm = registry().pm
    pm.register(Broken(), name="test.broken_workflows")
    registry()._derived.clear()
    try:
        found = workflows()
        assert "simple_publication" in found and "broken" not in found
        assert "initial state 'x'" in caplog.text and "defined twice" in caplog.text
    finally:
        pm.unregister(name="test.broken_workflows")
        registry()._derived.clear()
