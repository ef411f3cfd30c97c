"""Dispatch manifests of both SCORM versions validate against the official schemas (through
the wrappers vendored in tests/schemas), carry the license label, escape titles correctly and
pass the extra checks."""

from __future__ import annotations

import re
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from scorm_packages.manifest import (
    FORMATS,
    ManifestError,
    ManifestSpec,
    build_manifest,
    labeled_title,
    ncname,
)
from scorm_packages.manifest.checks import check_manifest
from scorm_packages.manifest.scorm12 import mastery_score_percent
from scorm_packages.manifest.scorm2004 import measure
from tests.schemas import schema, schema_file

FILES = ("index.html", "dispatch.js", "config.js")
TITLES = [
    "Workplace Safety",
    'Fire & "Safety" <Evacuation>',
    "Don't <b>panic</b> & carry on — it's 'fine'",
    "職場の安全衛生",
    "Ünïcödé Çøürsé ñ",
    "a" * 400,
    "tab\there \x07 bell",
]
NS12 = {"cp": "http://www.imsproject.org/xsd/imscp_rootv1p1p2", "adlcp": "http://www.adlnet.org/xsd/adlcp_rootv1p2",
        "md": "http://www.imsglobal.org/xsd/imsmd_rootv1p2p1"}
NS2004 = {"cp": "http://www.imsglobal.org/xsd/imscp_v1p1", "adlcp": "http://www.adlnet.org/xsd/adlcp_v1p3",
          "ss": "http://www.imsglobal.org/xsd/imsss", "lom": "http://ltsc.ieee.org/xsd/LOM"}


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    return {
        "scorm12": schema("scorm12"),
        "scorm2004": schema("scorm2004"),
    }


@pytest.fixture(scope="module")
def lom12_schema(tmp_path_factory: pytest.TempPathFactory) -> etree.XMLSchema:
    """The official IMS MD 1.2.1 schema, minus its ``grp.any`` extension wildcards (which make
    libxml2 refuse to compile it, see the schemas' README): a strict check of our inline 1.2
    metadata, which the wrapper's stand-in lets through unchecked. Made in a temp dir per run."""
    folder = tmp_path_factory.mktemp("imsmd")
    official = schema_file("scorm12", "imsmd_rootv1p2p1.xsd").read_text(encoding="utf-8")
    stripped = re.sub(r'\s*<xsd:group ref="grp\.any"\s*/>', "", official)
    assert stripped != official
    (folder / "imsmd.xsd").write_text(stripped, encoding="utf-8")
    shutil.copy(schema_file("scorm12", "ims_xml.xsd"), folder / "ims_xml.xsd")
    return etree.XMLSchema(etree.parse(str(folder / "imsmd.xsd")))


def spec(title: str = "Workplace Safety", license_type: str = "volume", **kw: object) -> ManifestSpec:
    values: dict[str, object] = {"package_key": "dpk_abcdefghijklmnopqrstuvwx", "catalog_id": "SAFE-101",
                                 "course_title": title, "license_type": license_type, "mastery_score": 0.8,
                                 "description": "Stay safe & sound <at work>.", "files": FILES}
    values.update(kw)
    return ManifestSpec(**values)  # type: ignore[arg-type]


def assert_valid(schema: etree.XMLSchema, xml: bytes) -> None:
    doc = etree.fromstring(xml)
    if not schema.validate(doc):
        pytest.fail("\n".join(f"{e.line}: {e.message}" for e in schema.error_log))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize("license_type", ["plus", "volume", "ppu"])
def test_every_manifest_validates_and_passes_the_checks(schemas, fmt: str, title: str, license_type: str) -> None:  # type: ignore[no-untyped-def]
    xml = build_manifest(spec(title, license_type), fmt)
    assert_valid(schemas[fmt], xml)
    assert check_manifest(xml, FILES) == []


def test_scorm12_inline_metadata_follows_the_official_imsmd_schema(lom12_schema: etree.XMLSchema) -> None:
    root = etree.fromstring(build_manifest(spec('Fire & "Safety"'), "scorm12"))
    lom = root.find("cp:metadata/md:lom", NS12)
    assert lom is not None
    assert lom12_schema.validate(etree.ElementTree(lom)), [e.message for e in lom12_schema.error_log]
    # and that strict schema does catch a slip in the metadata
    etree.SubElement(lom.find("md:general", NS12), f"{{{NS12['md']}}}titel").text = "x"
    assert not lom12_schema.validate(etree.ElementTree(lom))


def test_the_wrappers_catch_a_broken_manifest(schemas) -> None:  # type: ignore[no-untyped-def]
    """The validation above can fail: a misspelt element and a lowercase 2004 attribute value."""
    root = etree.fromstring(build_manifest(spec(), "scorm12"))
    root.find("cp:resources/cp:resource", NS12).set(f"{{{NS12['adlcp']}}}scormtype", "SCO")
    assert not schemas["scorm12"].validate(root)
    root = etree.fromstring(build_manifest(spec(), "scorm2004"))
    root.find(".//ss:primaryObjective", NS2004).set("satisfiedByMeasure", "yes")
    assert not schemas["scorm2004"].validate(root)


@pytest.mark.parametrize("fmt, ns", [("scorm12", NS12), ("scorm2004", NS2004)])
@pytest.mark.parametrize("title", TITLES[:5])
def test_titles_round_trip_exactly_with_the_license_label(fmt: str, ns: dict[str, str], title: str) -> None:
    root = etree.fromstring(build_manifest(spec(title, "ppu"), fmt))
    expected = f"{title} \u2014 Pay Per Use"
    assert root.findtext("cp:organizations/cp:organization/cp:title", namespaces=ns) == expected
    assert root.findtext("cp:organizations/cp:organization/cp:item/cp:title", namespaces=ns) == expected


def test_scorm12_manifest_details() -> None:
    root = etree.fromstring(build_manifest(spec(), "scorm12"))
    assert root.findtext("cp:metadata/cp:schema", namespaces=NS12) == "ADL SCORM"
    assert root.findtext("cp:metadata/cp:schemaversion", namespaces=NS12) == "1.2"
    item = root.find("cp:organizations/cp:organization/cp:item", NS12)
    assert item.findtext("adlcp:masteryscore", namespaces=NS12) == "80"
    resource = root.find("cp:resources/cp:resource", NS12)
    assert resource.get(f"{{{NS12['adlcp']}}}scormtype") == "sco"
    assert resource.get("href") == "index.html"
    assert [f.get("href") for f in resource.findall("cp:file", NS12)] == list(FILES)
    assert item.get("identifierref") == resource.get("identifier") == "RES-dpk_abcdefghijklmnopqrstuvwx"
    assert root.find("cp:organizations", NS12).get("default") == "ORG-dpk_abcdefghijklmnopqrstuvwx"
    keywords = [k.text for k in root.iterfind(".//md:keyword/md:langstring", NS12)]
    assert keywords == ["license:volume", "Volume", "course:SAFE-101"]
    assert root.findtext(".//md:catalogentry/md:entry/md:langstring", namespaces=NS12) == "SAFE-101"
    assert "schemaLocation" not in etree.tostring(root).decode()


def test_scorm2004_manifest_details() -> None:
    root = etree.fromstring(build_manifest(spec(mastery_score=0.75), "scorm2004"))
    assert root.findtext("cp:metadata/cp:schemaversion", namespaces=NS2004) == "2004 4th Edition"
    resource = root.find("cp:resources/cp:resource", NS2004)
    assert resource.get(f"{{{NS2004['adlcp']}}}scormType") == "sco"
    primary = root.find(".//ss:sequencing/ss:objectives/ss:primaryObjective", NS2004)
    assert primary.get("satisfiedByMeasure") == "true"
    assert primary.findtext("ss:minNormalizedMeasure", namespaces=NS2004) == "0.75"
    controls = root.find(".//ss:deliveryControls", NS2004)
    assert controls.get("completionSetByContent") == controls.get("objectiveSetByContent") == "true"
    identifiers = {i.findtext("lom:catalog", namespaces=NS2004): i.findtext("lom:entry", namespaces=NS2004)
                   for i in root.iterfind(".//lom:general/lom:identifier", NS2004)}
    assert identifiers == {"dispatch-package-key": "dpk_abcdefghijklmnopqrstuvwx", "course-catalog-id": "SAFE-101"}
    keywords = [k.text for k in root.iterfind(".//lom:keyword/lom:string", NS2004)]
    assert "license:volume" in keywords and "course:SAFE-101" in keywords


def test_long_titles_keep_their_label_and_control_characters_are_dropped() -> None:
    title = labeled_title("x" * 500, "volume")
    assert len(title) == 200 and title.endswith("\u2026 \u2014 Volume")
    assert labeled_title("a\x00b\x1fc\ufffe", "plus") == "abc \u2014 Plus"
    assert labeled_title("   ", "plus") == "Course \u2014 Plus"


@given(st.text(max_size=60))
def test_identifiers_are_always_ncnames(value: str) -> None:
    identifier = ncname("ITEM", value)
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9._-]*", identifier)


def test_mastery_score_formats() -> None:
    assert mastery_score_percent(0.8) == "80"
    assert mastery_score_percent(0.755) == "75.5"
    assert mastery_score_percent(1) == "100"
    assert mastery_score_percent(0) == "0"
    assert measure(0.8) == "0.8" and measure(1) == "1" and measure(0) == "0" and measure(0.3333) == "0.3333"


@pytest.mark.parametrize("bad", [
    {"license_type": "gold"},
    {"mastery_score": 80},
    {"mastery_score": -0.1},
    {"package_key": ""},
    {"catalog_id": ""},
    {"files": ("dispatch.js",)},
])
def test_specs_that_cannot_make_a_valid_manifest_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ManifestError):
        spec(**bad)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ManifestError, match="format must be one of"):
        build_manifest(spec(), "aicc")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_course_without_a_mastery_score_states_none(schemas, fmt: str) -> None:  # type: ignore[no-untyped-def]
    xml = build_manifest(spec(mastery_score=None), fmt)
    assert_valid(schemas[fmt], xml)
    assert check_manifest(xml, FILES) == []
    text = xml.decode()
    assert "masteryscore" not in text and "minNormalizedMeasure" not in text and "primaryObjective" not in text
    if fmt == "scorm2004":
        assert 'completionSetByContent="true"' in text
