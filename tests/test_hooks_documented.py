"""Every hookspec is documented in docs/hooks.md, and nothing documented there is stale.

Modelled on Datasette's ``test_plugin_hooks_are_documented``: each ``portal_*`` hookspec in
``portal/hookspecs.py`` needs a section headed ``## portal_name(arg1, arg2)`` whose arguments
are exactly the spec's, in the spec's order; each such heading must name a real hookspec.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest

from portal import hookspecs

HOOKS_MD = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"
HEADING_RE = re.compile(r"^##\s+(portal_\w+)\s*\((.*)\)\s*$")


def spec_signatures(module=hookspecs) -> dict[str, list[str]]:
    """``{hook name: [argument names]}`` for every ``portal_*`` function in ``module``."""
    return {
        name: list(inspect.signature(fn).parameters)
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if name.startswith("portal_")
    }


def documented(text: str) -> dict[str, list[str]]:
    """``{hook name: [argument names]}`` for every ``## portal_*(...)`` heading in ``text``."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = HEADING_RE.match(line.strip())
        if match:
            name, args = match.groups()
            assert name not in found, f"docs/hooks.md documents {name} twice"
            found[name] = [a.strip() for a in args.split(",") if a.strip()]
    return found


def problems(specs: dict[str, list[str]], docs: dict[str, list[str]]) -> list[str]:
    """Human-readable mismatches between hookspecs and their documentation."""
    out = []
    for name, args in sorted(specs.items()):
        if name not in docs:
            out.append(f"{name} is not documented: add '## {name}({', '.join(args)})' to docs/hooks.md")
        elif docs[name] != args:
            out.append(f"{name}: documented as ({', '.join(docs[name])}), the spec takes ({', '.join(args)})")
    for name in sorted(set(docs) - set(specs)):
        out.append(f"docs/hooks.md documents {name}, which is not a hookspec (stale section?)")
    return out


@pytest.fixture(scope="module")
def docs() -> dict[str, list[str]]:
    assert HOOKS_MD.exists(), "docs/hooks.md is missing"
    return documented(HOOKS_MD.read_text(encoding="utf-8"))


SPECS = spec_signatures()


def test_specs_are_found():
    # Guards the discovery itself: a silently empty list would make every other test pass.
    assert len(SPECS) >= 15
    assert SPECS["portal_menu_items"] == ["user"]
    assert SPECS["portal_uninstall"] == ["app", "purge"]


def test_every_portal_function_is_a_hookspec():
    """The names the test reads are exactly the hooks pluggy registers from the module."""
    pm = pluggy.PluginManager("portal")
    pm.add_hookspecs(hookspecs)
    registered = {name for name in dir(pm.hook) if name.startswith("portal_")}
    assert registered == set(SPECS)
    for name, args in SPECS.items():
        assert list(getattr(pm.hook, name).spec.argnames) == args, name


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_hook_is_documented(hook, docs):
    assert hook in docs, f"{hook} is not documented: add '## {hook}({', '.join(SPECS[hook])})' to docs/hooks.md"
    assert docs[hook] == SPECS[hook], (
        f"docs/hooks.md documents {hook}({', '.join(docs[hook])}), the spec is {hook}({', '.join(SPECS[hook])})"
    )


def test_no_stale_hook_documentation(docs):
    stale = sorted(set(docs) - set(SPECS))
    assert not stale, f"docs/hooks.md documents hooks that do not exist: {stale}"


def test_all_hook_headings_are_parsed():
    """A malformed heading (``## portal_x`` without parentheses) must not slip past the check."""
    for line in HOOKS_MD.read_text(encoding="utf-8").splitlines():
        if re.match(r"^##\s+portal_", line):
            assert HEADING_RE.match(line.strip()), f"malformed hook heading in docs/hooks.md: {line!r}"


def test_checker_catches_undocumented_renamed_and_stale_hooks():
    """The check itself fails when it should (so the tests above cannot pass vacuously)."""
    specs = {"portal_a": ["user"], "portal_b": ["app", "purge"], "portal_c": []}
    text = "# Hooks\n\n## portal_a(user)\n\ntext\n\n## portal_b(app)\n\n## portal_gone(x)\n"
    found = problems(specs, documented(text))
    assert any(p.startswith("portal_c is not documented") for p in found)
    assert any(p.startswith("portal_b: documented as (app)") for p in found)
    assert any("portal_gone" in p and "stale" in p for p in found)
    assert not any(p.startswith("portal_a") for p in found)
    assert problems(specs, documented("## portal_a(user)\n## portal_b(app, purge)\n## portal_c()\n")) == []
