"""The architecture the README describes, checked on every import of every module (``import``
and ``from … import``, relative or absolute, at module level or inside functions):

- packages point one way: ``lti_tool`` → ``scorm_packages`` → ``store`` → ``config``;
- inside ``lti_tool``: the services module at the bottom, then the course player, then LTI, then
  the demo LMS, and the composition root (``app``), the CLI and the database set-up on top: the
  player imports neither LTI nor the dispatch runtime (each registers how its launches report back);
- only the web layers (``lti_tool``, ``scorm_packages/runtime``) import Flask;
- pure modules, found by convention (named ``rules.py`` or ``pricing.py``, inside a ``manifest``
  package, or calling themselves pure in their docstring's first line), import neither Flask nor SQLAlchemy nor
  any I/O library, and every project module they import is pure as well;
- no cycles between packages (a package here: a first-level subpackage such as
  ``store.licenses``, or a top-level module such as ``store.base``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "store", "scorm_packages", "lti_tool")  # lowest first
WEB_ONLY = {"flask", "flask_wtf", "werkzeug", "itsdangerous", "jinja2", "markupsafe"}
IMPURE = WEB_ONLY | {"sqlalchemy", "alembic", "psycopg", "requests", "urllib3", "socket", "subprocess", "click"}
# Layers inside lti_tool, lowest first; a module may import its own layer and those below.
LTI_TOOL_LAYERS = (
    ("lti_tool.services", "lti_tool.extensions", "lti_tool.request_text"),
    ("lti_tool.player",),
    ("lti_tool.lti",),
    ("lti_tool.storefront", "lti_tool.signin"),
    ("lti_tool.dashboard", "lti_tool.delivery"),
    ("lti_tool.demo",),
    ("lti_tool.app", "lti_tool.error_pages", "lti_tool.wsgi", "lti_tool.cli", "lti_tool.db", "lti_tool.migrations",
     "lti_tool.jobs", "lti_tool"),
)
_PURE_WORD = re.compile(r"\bpure\b", re.IGNORECASE)


@dataclass(frozen=True)
class Module:
    name: str  # dotted
    path: Path

    @property
    def is_package_init(self) -> bool:
        return self.path.name == "__init__.py"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            module = Module(_module_name(path), path)
            found[module.name] = module
    return found


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].path.read_text(encoding="utf-8"))


@cache
def imports(name: str) -> frozenset[str]:
    """Every module name imported anywhere in the module, relative imports resolved. ``from a
    import b`` counts as ``a.b`` when that is a module of ours, else as ``a``."""
    module = modules()[name]
    package = name if module.is_package_init else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                out.add(candidate if candidate in modules() else base)
    return frozenset(out)


def project_imports(name: str) -> set[str]:
    return {imported for imported in imports(name) if imported.split(".")[0] in PACKAGES}


def third_party_roots(name: str) -> set[str]:
    return {imported.split(".")[0] for imported in imports(name) if imported.split(".")[0] not in PACKAGES}


def unit(name: str) -> str:
    """The package a module belongs to for the cycle check."""
    parts = name.split(".")
    if len(parts) == 1:
        return name
    first_level = ".".join(parts[:2])
    module = modules().get(first_level)
    if module is not None and module.is_package_init:
        return first_level  # inside a first-level subpackage
    return first_level  # a top-level module of the package


def lti_tool_layer(name: str) -> int:
    best = -1
    for level, prefixes in enumerate(LTI_TOOL_LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if prefix == "lti_tool" and name != "lti_tool":
                    continue
                best = max(best, level)
    if best < 0:
        raise AssertionError(f"{name} is in no lti_tool layer: add it to LTI_TOOL_LAYERS")
    return best


def is_pure_by_convention(name: str) -> bool:
    module = modules()[name]
    if module.path.name in ("rules.py", "pricing.py") or "manifest" in name.split(".")[:-1] \
            or name.endswith(".manifest"):
        return True
    docstring = ast.get_docstring(tree(name)) or ""
    return bool(_PURE_WORD.search(docstring.split("\n")[0]))


def all_names() -> list[str]:
    return sorted(modules())


# ---------------------------------------------------------------- the checks


def test_the_import_reader_sees_relative_and_function_level_imports() -> None:
    assert "lti_tool.lti.views" in project_imports("lti_tool.app")  # inside a function
    assert "store.licenses.labels" in imports("store.licenses.rules")
    source = ast.parse("def f():\n    from ..base import utcnow\n    import store.money\n")
    assert any(isinstance(n, ast.ImportFrom) and n.level == 2 for n in ast.walk(source))


@pytest.mark.parametrize("name", all_names())
def test_packages_point_one_way(name: str) -> None:
    own = PACKAGES.index(name.split(".")[0])
    for imported in project_imports(name):
        assert PACKAGES.index(imported.split(".")[0]) <= own, f"{name} imports {imported}"


@pytest.mark.parametrize("name", [n for n in all_names() if n.startswith("lti_tool")])
def test_lti_tool_layers(name: str) -> None:
    own = lti_tool_layer(name)
    for imported in project_imports(name):
        if imported.startswith("lti_tool"):
            assert lti_tool_layer(imported) <= own, f"{name} (layer {own}) imports {imported}"


def test_the_player_imports_neither_launch_path() -> None:
    for name in all_names():
        if name.startswith("lti_tool.player"):
            for imported in project_imports(name):
                assert not imported.startswith(("lti_tool.lti", "lti_tool.demo", "scorm_packages")), (name, imported)


@pytest.mark.parametrize("name", all_names())
def test_only_web_layers_import_flask(name: str) -> None:
    is_web = name.startswith("lti_tool") or name.startswith("scorm_packages.runtime")
    if not is_web:
        assert not third_party_roots(name) & WEB_ONLY, name


def pure_modules() -> list[str]:
    return [name for name in all_names() if is_pure_by_convention(name)]


def test_the_pure_modules_are_found_by_convention() -> None:
    found = set(pure_modules())
    for expected in ("store.pricing", "store.clock", "store.money", "store.licenses.rules", "store.licenses.labels",
                     "store.progress.rules", "store.licenses.holdings_rules", "scorm_packages.manifest",
                     "scorm_packages.manifest.checks"):
        assert expected in found


@pytest.mark.parametrize("name", pure_modules())
def test_pure_modules_and_what_they_import_do_no_io(name: str) -> None:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        assert not third_party_roots(current) & IMPURE, f"{name} reaches {current}, which imports I/O or web libraries"
        todo.extend(imported for imported in project_imports(current) if imported in modules())
        for imported in project_imports(current):
            if imported in modules() and imported not in (name,) and not modules()[imported].is_package_init:
                assert is_pure_by_convention(imported) or imported.startswith("config"), \
                    f"pure {current} imports {imported}, which does not declare itself pure"


def _cycles(edges: dict[str, set[str]]) -> Iterable[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = [0]

    def visit(node: str) -> Iterable[list[str]]:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                yield from visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                yield sorted(component)

    for node in list(edges):
        if node not in index:
            yield from visit(node)


def test_no_cycles_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    for name in all_names():
        for imported in project_imports(name):
            if unit(imported) != unit(name):
                edges.setdefault(unit(name), set()).add(unit(imported))
    assert list(_cycles(edges)) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert list(_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})) == [["a", "b", "c"]]
