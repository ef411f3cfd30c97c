"""Each extra manifest check catches its fault: build a good manifest, break it one way, and
the check names the problem (and only that one)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest
from lxml import etree

from scorm_packages.manifest import ManifestSpec, build_manifest
from scorm_packages.manifest.checks import check_manifest, check_package

FILES = ("index.html", "dispatch.js", "config.js")
CP = {"scorm12": "http://www.imsproject.org/xsd/imscp_rootv1p1p2", "scorm2004": "http://www.imsglobal.org/xsd/imscp_v1p1"}
ADLCP = {"scorm12": "http://www.adlnet.org/xsd/adlcp_rootv1p2", "scorm2004": "http://www.adlnet.org/xsd/adlcp_v1p3"}
TYPE_ATTR = {"scorm12": "scormtype", "scorm2004": "scormType"}

Breaker = Callable[[etree._Element, str], None]


def good(fmt: str) -> etree._Element:
    spec = ManifestSpec("dpk_key", "C-1", "Safety", "plus", 0.8, files=FILES)
    return etree.fromstring(build_manifest(spec, fmt))


def find(root: etree._Element, fmt: str, path: str) -> etree._Element:
    found = root.find(path.replace("cp:", f"{{{CP[fmt]}}}"))
    assert found is not None, path
    return found


def resource(root: etree._Element, fmt: str) -> etree._Element:
    return find(root, fmt, "cp:resources/cp:resource")


def codes(root: etree._Element, names: tuple[str, ...] | None = FILES) -> list[str]:
    return [p.code for p in check_manifest(etree.tostring(root), names)]


def set_schemaversion(value: str) -> Breaker:
    def breaker(root: etree._Element, fmt: str) -> None:
        find(root, fmt, "cp:metadata/cp:schemaversion").text = value
    return breaker


def drop_scorm_type(root: etree._Element, fmt: str) -> None:
    del resource(root, fmt).attrib[f"{{{ADLCP[fmt]}}}{TYPE_ATTR[fmt]}"]


def misspell_scorm_type(root: etree._Element, fmt: str) -> None:
    """2004 spelling in 1.2 and the other way round, each in its own right namespace."""
    res = resource(root, fmt)
    del res.attrib[f"{{{ADLCP[fmt]}}}{TYPE_ATTR[fmt]}"]
    res.set(f"{{{ADLCP[fmt]}}}{'scormType' if fmt == 'scorm12' else 'scormtype'}", "sco")


def wrong_namespace_scorm_type(root: etree._Element, fmt: str) -> None:
    res = resource(root, fmt)
    del res.attrib[f"{{{ADLCP[fmt]}}}{TYPE_ATTR[fmt]}"]
    other = ADLCP["scorm2004" if fmt == "scorm12" else "scorm12"]
    res.set(f"{{{other}}}{TYPE_ATTR[fmt]}", "sco")


def scorm_type_value(root: etree._Element, fmt: str) -> None:
    resource(root, fmt).set(f"{{{ADLCP[fmt]}}}{TYPE_ATTR[fmt]}", "content")


def asset_only(root: etree._Element, fmt: str) -> None:
    resource(root, fmt).set(f"{{{ADLCP[fmt]}}}{TYPE_ATTR[fmt]}", "asset")


def dangling_identifierref(root: etree._Element, fmt: str) -> None:
    find(root, fmt, "cp:organizations/cp:organization/cp:item").set("identifierref", "RES-nowhere")


def dangling_default(root: etree._Element, fmt: str) -> None:
    find(root, fmt, "cp:organizations").set("default", "ORG-nowhere")


def no_default(root: etree._Element, fmt: str) -> None:
    del find(root, fmt, "cp:organizations").attrib["default"]


def unlisted_file(root: etree._Element, fmt: str) -> None:
    etree.SubElement(resource(root, fmt), f"{{{CP[fmt]}}}file").set("href", "media/intro%20video.mp4")


def launch_page_elsewhere(root: etree._Element, fmt: str) -> None:
    resource(root, fmt).set("href", "start.html?lang=en")


def schema_location(root: etree._Element, fmt: str) -> None:
    root.set("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", f"{CP[fmt]} imscp.xsd")


def wrong_schema(root: etree._Element, fmt: str) -> None:
    find(root, fmt, "cp:metadata/cp:schema").text = "SCORM"


CASES: list[tuple[str, Breaker, str, str]] = [
    ("both", set_schemaversion("2004 3rd Edition"), "schema_version", "2004 3rd Edition"),
    ("both", set_schemaversion("CAM 1.3"), "schema_version", "CAM 1.3"),
    ("both", set_schemaversion(" 1.3 "), "schema_version", "1.3"),
    ("both", wrong_schema, "schema", "ADL SCORM"),
    ("both", drop_scorm_type, "scormtype_missing", "has no adlcp:"),
    ("both", misspell_scorm_type, "scormtype_misspelt", "needs adlcp:"),
    ("both", wrong_namespace_scorm_type, "scormtype_misspelt", "namespace"),
    ("both", scorm_type_value, "scormtype_value", "'content'"),
    ("both", asset_only, "no_sco", "no item launches"),
    ("both", dangling_identifierref, "identifierref", "RES-nowhere"),
    ("both", dangling_default, "default_organization", "ORG-nowhere"),
    ("both", no_default, "default_organization", "no default"),
    ("both", unlisted_file, "file_missing", "media/intro%20video.mp4"),
    ("both", launch_page_elsewhere, "file_missing", "start.html"),
    ("both", schema_location, "file_missing", "imscp.xsd"),
]


@pytest.mark.parametrize("fmt", ["scorm12", "scorm2004"])
def test_a_good_manifest_has_no_problem(fmt: str) -> None:
    assert codes(good(fmt)) == []


@pytest.mark.parametrize("fmt", ["scorm12", "scorm2004"])
@pytest.mark.parametrize("_versions, breaker, code, words", CASES, ids=[c[2] + "-" + c[1].__name__ for c in CASES])
def test_each_check_catches_its_fault(fmt: str, _versions: str, breaker: Breaker, code: str, words: str) -> None:
    root = good(fmt)
    breaker(root, fmt)
    problems = check_manifest(etree.tostring(root), FILES)
    assert [p.code for p in problems] == [code], problems
    assert words in problems[0].message


@pytest.mark.parametrize("value", ["eighty", "80%", "101", "-5", "0.8.1", "", "1e2"])
def test_scorm12_masteryscore_format(value: str) -> None:
    root = good("scorm12")
    find(root, "scorm12", "cp:organizations/cp:organization/cp:item")[-1].text = value
    problems = check_manifest(etree.tostring(root), FILES)
    assert [p.code for p in problems] == ["masteryscore"]
    assert "0 to 100" in problems[0].message


@pytest.mark.parametrize("value", ["0", "80", "100", "75.5"])
def test_scorm12_masteryscore_accepts_percentages(value: str) -> None:
    root = good("scorm12")
    find(root, "scorm12", "cp:organizations/cp:organization/cp:item")[-1].text = value
    assert codes(root) == []


def test_a_scorm12_version_on_a_2004_namespace_is_caught() -> None:
    root = good("scorm2004")
    find(root, "scorm2004", "cp:metadata/cp:schemaversion").text = "1.2"
    assert codes(root) == ["schema_version"]


def test_files_are_only_checked_when_the_zip_names_are_given() -> None:
    root = good("scorm12")
    unlisted_file(root, "scorm12")
    assert codes(root, None) == []


def test_not_xml_and_unknown_roots() -> None:
    assert [p.code for p in check_manifest(b"<manifest")] == ["not_xml"]
    assert [p.code for p in check_manifest(b"<manifest xmlns='urn:other'/>")] == ["unknown_format"]


def test_entities_are_not_expanded() -> None:
    evil = (b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"><metadata><schema>&x;</schema>'
            b'</metadata></manifest>')
    problems = check_manifest(evil)
    assert "root:" not in " ".join(p.message for p in problems)


def _zip(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_check_package_reads_the_zip() -> None:
    manifest = etree.tostring(good("scorm2004"))
    assert check_package(_zip({"imsmanifest.xml": manifest, **{n: b"x" for n in FILES}})) == []
    missing = check_package(_zip({"imsmanifest.xml": manifest, "index.html": b"x"}))
    assert sorted(p.message for p in missing) == [
        "resource 'RES-dpk_key' file 'config.js' is not in the zip",
        "resource 'RES-dpk_key' file 'dispatch.js' is not in the zip",
    ]
    assert [p.code for p in check_package(_zip({"index.html": b"x"}))] == ["manifest_missing"]
    assert [p.code for p in check_package(io.BytesIO(b"not a zip"))] == ["not_zip"]
