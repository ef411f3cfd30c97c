"""Imports point one way (lti_tool → scorm_packages → store), only the web layers import Flask,
and the pure rules import neither Flask nor SQLAlchemy."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PURE = [
    "store/pricing.py",
    "store/clock.py",
    "store/licenses/rules.py",
    "store/licenses/holdings_rules.py",
    "store/progress/rules.py",
    "scorm_packages/manifest/__init__.py",
    "scorm_packages/manifest/scorm12.py",
    "scorm_packages/manifest/scorm2004.py",
    "scorm_packages/manifest/skeleton.py",
    "scorm_packages/manifest/checks.py",
]


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("store"), ids=lambda p: str(p.relative_to(ROOT)))
def test_store_imports_no_web_layer(path: Path) -> None:
    assert not imported_roots(path) & {"flask", "lti_tool", "scorm_packages"}


@pytest.mark.parametrize("path", python_files("scorm_packages"), ids=lambda p: str(p.relative_to(ROOT)))
def test_scorm_packages_import_nothing_from_lti_tool(path: Path) -> None:
    assert "lti_tool" not in imported_roots(path)
    if "runtime" not in path.parts:
        assert "flask" not in imported_roots(path)


@pytest.mark.parametrize("relative", PURE)
def test_pure_rules_import_neither_flask_nor_sqlalchemy(relative: str) -> None:
    assert not imported_roots(ROOT / relative) & {"flask", "sqlalchemy"}
