"""The vendored SCORM schemas are complete and unchanged, and both wrappers compile."""

from __future__ import annotations

import hashlib

import pytest

from tests.schemas import HERE, WRAPPERS, SchemaMissing, schema, schema_file


def _listed() -> list[tuple[str, str]]:
    lines = (HERE / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return [(line.split()[1], line.split()[0]) for line in lines if line.strip()]


def test_every_listed_schema_file_is_present_and_unchanged() -> None:
    listed = _listed()
    assert len(listed) >= 40
    for relative, digest in listed:
        assert hashlib.sha256(schema_file(*relative.split("/")).read_bytes()).hexdigest() == digest, relative


def test_no_schema_file_is_left_out_of_the_list() -> None:
    on_disk = {p.relative_to(HERE).as_posix() for folder in ("scorm12", "scorm2004-4th")
               for p in (HERE / folder).rglob("*") if p.is_file()}
    assert on_disk == {relative for relative, _ in _listed()}


@pytest.mark.parametrize("version", sorted(WRAPPERS))
def test_the_wrappers_compile(version: str) -> None:
    assert schema(version) is not None


def test_a_missing_schema_fails_instead_of_skipping() -> None:
    with pytest.raises(SchemaMissing):
        schema_file("scorm12", "no_such.xsd")
