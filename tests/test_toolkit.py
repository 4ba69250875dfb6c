"""Add-ons import only ``portal.toolkit`` (CKAN's toolkit rule): every other ``portal.*`` module
may change without notice, so a reach into one is a failure here, not a surprise at upgrade."""

from __future__ import annotations

import ast

from tests.conftest import ROOT


def _portal_imports(path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "portal":
                found += [(node.lineno, f"portal.{a.name}") for a in node.names]
            elif node.module.startswith("portal."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name == "portal" or a.name.startswith("portal.")]
    return found


def test_add_ons_import_only_the_toolkit():
    files = sorted((ROOT / "plugins").rglob("*.py"))
    assert any(f.parts[-2] == "loyalty" for f in files)
    offenders = [f"{f.relative_to(ROOT)}:{line} imports {module}" for f in files
                 for line, module in _portal_imports(f) if module != "portal.toolkit"]
    assert offenders == []


def test_the_checker_sees_every_form_of_import(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import portal.models\nfrom portal import audit\nfrom portal.security import scope_filter\n"
                      "from portal.toolkit import db\nfrom .local import thing\n")
    assert [m for _, m in _portal_imports(sample)] == ["portal.models", "portal.audit", "portal.security",
                                                       "portal.toolkit"]


def test_every_toolkit_name_resolves():
    from portal import toolkit

    assert len(toolkit.__all__) == len(set(toolkit.__all__))
    assert [name for name in toolkit.__all__ if not hasattr(toolkit, name)] == []
