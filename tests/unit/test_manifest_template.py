"""``fast_manifest`` (a manifest from a cached template) gives exactly the bytes of the lxml
builder ``build_manifest``, whose output validates against the official XSDs — checked here
again for manifests made from templates."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from scorm_packages.manifest import FORMATS, LICENSE_LABELS, ManifestSpec, build_manifest, xml_text
from scorm_packages.manifest.checks import check_manifest
from scorm_packages.manifest.template import escape_text, fast_manifest
from tests.schemas import schema

FILES = ("index.html", "dispatch.js", "config.js")
AWKWARD = [
    "Workplace Safety",
    'Fire & "Safety" <Evacuation> ]]> &amp;',
    "carriage\r\nreturn\ttab \x07 bell \x00 nul",
    "職場の安全衛生 😀 Ünïcödé",
    "a" * 400,
    "zqxTITLExqz zqxKEYxqz zqxCATALOGxqz zqxDESCRIPTIONxqz",
    "  ",
]


def spec(**kw: object) -> ManifestSpec:
    values: dict[str, object] = {"package_key": "dpk_abcdefghijklmnopqrstuvwx", "catalog_id": "SAFE-101",
                                 "course_title": "Workplace Safety", "license_type": "plus", "mastery_score": 0.8,
                                 "description": "Stay safe & sound <at work>.", "files": FILES}
    values.update(kw)
    return ManifestSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", AWKWARD)
def test_the_template_gives_the_builders_bytes(fmt: str, text: str) -> None:
    for s in (spec(course_title=text), spec(description=text), spec(catalog_id=xml_text(text).strip() or "C",
                                                                     mastery_score=None),
              spec(course_title=text, description="", language="pt-BR", mastery_score=0.755, license_type="ppu")):
        assert fast_manifest(s, fmt) == build_manifest(s, fmt)


@settings(max_examples=150, deadline=None)
@given(fmt=st.sampled_from(FORMATS), license_type=st.sampled_from(list(LICENSE_LABELS)),
       title=st.text(max_size=250), description=st.text(max_size=60), catalog_id=st.text(min_size=1, max_size=20),
       key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567_-.", min_size=1, max_size=30),
       mastery=st.none() | st.sampled_from([0.0, 0.5, 0.8, 0.755, 1.0]), language=st.sampled_from(["en", "de-CH", "x"]))
def test_the_template_matches_the_builder_for_any_text(fmt: str, license_type: str, title: str, description: str,
                                                       catalog_id: str, key: str, mastery: float | None,
                                                       language: str) -> None:
    s = spec(course_title=title, description=description, catalog_id=catalog_id, package_key=key,
             mastery_score=mastery, language=language, license_type=license_type)
    try:
        expected = build_manifest(s, fmt)
    except ValueError:  # text lxml refuses (a NUL in the catalog id): the template path refuses it too
        with pytest.raises(ValueError):
            fast_manifest(s, fmt)
        return
    assert fast_manifest(s, fmt) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_manifest_from_a_template_validates_and_passes_the_checks(fmt: str) -> None:
    xsd = schema(fmt)
    for title in AWKWARD:
        xml = fast_manifest(spec(course_title=title, description=title), fmt)
        assert xsd.validate(etree.fromstring(xml)), xsd.error_log
        assert check_manifest(xml, FILES) == []


def test_text_is_escaped_as_lxml_escapes_it() -> None:
    assert escape_text('a & b < c > d " \' \r\n\t') == 'a &amp; b &lt; c &gt; d " \' &#13;\n\t'
