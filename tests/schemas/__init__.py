"""The official SCORM XSDs vendored for the tests (see README.md here for their source).

``schema(version)`` compiles the wrapper of one SCORM version. A missing file fails the test
that asked for it: the schemas are part of the repository, never optional."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent
WRAPPERS = {
    "scorm12": HERE / "scorm12" / "scorm12_wrapper.xsd",
    "scorm2004": HERE / "scorm2004-4th" / "scorm2004_4th_wrapper.xsd",
}


class SchemaMissing(AssertionError):
    """A vendored schema file is not where the repository keeps it."""


def schema_file(*parts: str) -> Path:
    path = HERE.joinpath(*parts)
    if not path.is_file():
        raise SchemaMissing(f"vendored SCORM schema missing: {path} (it belongs to the repository)")
    return path


@cache
def schema(version: str) -> etree.XMLSchema:
    """The compiled wrapper schema of ``scorm12`` or ``scorm2004``."""
    path = WRAPPERS[version]
    return etree.XMLSchema(etree.parse(str(schema_file(path.parent.name, path.name))))
