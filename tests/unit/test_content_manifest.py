"""Reading publishers' manifests (pure): version detection, what launches (xml:base chains,
item parameters), mastery scores, launch data, missing files, and a defused parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from store.content.archive import ContentRejected, safe_member_path
from store.content.manifest import read_manifest, with_parameters
from store.content.scorm_fixture import build_manifest
from tests.schemas import schema

FILES = frozenset({"content/index.html", "content/course.js", "content/course.css", "imsmanifest.xml"})


def reason(data: bytes, files: frozenset[str] = FILES) -> str:
    with pytest.raises(ContentRejected) as info:
        read_manifest(data, files)
    return info.value.reason


@pytest.mark.parametrize("version", ["scorm12", "scorm2004"])
def test_generated_manifests_read_back(version: str) -> None:
    data = build_manifest(version, title="Fire & <Safety> 防火", mastery_percent=75, launch_data="mode=full",
                          parameters="?lang=en")
    info = read_manifest(data, FILES)
    assert info.scorm_version == version
    assert info.title == "Fire & <Safety> 防火"
    assert info.launch_path == "content/index.html"  # xml:base on <resources> (1.2) / <resource> (2004)
    assert info.launch_href == "content/index.html?lang=en"
    assert info.mastery_score == pytest.approx(0.75)
    assert info.launch_data == "mode=full"
    assert info.item_identifier == "ITEM-1" and info.resource_identifier == "RES-1" and info.sco_count == 1
    assert set(info.referenced_files) == {"content/index.html", "content/course.js", "content/course.css"}


@pytest.mark.parametrize("version", ["scorm12", "scorm2004"])
def test_generated_manifests_validate_against_the_official_schemas(version: str) -> None:
    xsd = schema(version)
    document = etree.fromstring(build_manifest(version, title="T", mastery_percent=80, launch_data="x",
                                               parameters="?a=1"))
    assert xsd.validate(document), xsd.error_log


def manifest_12(resources: str, item_extra: str = "", org_default: str = "ORG", items: str | None = None,
                root_extra: str = "", schemaversion: str | None = "1.2") -> bytes:
    meta = f"<metadata><schema>ADL SCORM</schema><schemaversion>{schemaversion}</schemaversion></metadata>" \
        if schemaversion is not None else ""
    items = items if items is not None else f'<item identifier="I1" identifierref="R1" {item_extra}><title>One</title></item>'
    return f"""<?xml version="1.0"?>
<manifest identifier="M" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
          xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2" {root_extra}>
  {meta}
  <organizations default="{org_default}"><organization identifier="ORG"><title>Course</title>{items}</organization></organizations>
  <resources>{resources}</resources>
</manifest>""".encode()


def test_xml_base_chain_of_manifest_resources_and_resource() -> None:
    data = f"""<?xml version="1.0"?>
<manifest identifier="M" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
          xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" xml:base="pkg/">
  <organizations default="O"><organization identifier="O"><title>C</title>
    <item identifier="I" identifierref="R" parameters="&amp;b=2#start"><title>C</title></item></organization></organizations>
  <resources xml:base="modules"><resource identifier="R" type="webcontent" adlcp:scormType="sco"
      xml:base="one/" href="start%20here.html?a=1"><file href="start here.html"/><file href="../shared/app.js"/></resource>
  </resources>
</manifest>""".encode()
    files = frozenset({"pkg/modules/one/start here.html", "pkg/modules/shared/app.js"})
    info = read_manifest(data, files)
    assert info.scorm_version == "scorm2004"  # no schemaversion: the adlcp_v1p3 namespace decides
    assert info.launch_path == "pkg/modules/one/start here.html"
    assert info.launch_href == "pkg/modules/one/start%20here.html?a=1&b=2#start"
    assert "pkg/modules/shared/app.js" in info.referenced_files


@pytest.mark.parametrize("href,parameters,expected", [
    ("a.html", "?x=1", "a.html?x=1"),
    ("a.html", "x=1", "a.html?x=1"),
    ("a.html?y=2", "?x=1", "a.html?y=2&x=1"),
    ("a.html?y=2", "&x=1", "a.html?y=2&x=1"),
    ("a.html", "#part2", "a.html#part2"),
    ("a.html#one", "#part2", "a.html#one"),
    ("a.html#one", "?x=1", "a.html?x=1#one"),
    ("a.html", "", "a.html"),
    ("a.html", None, "a.html"),
])
def test_item_parameters_follow_adl_rules(href: str, parameters: str | None, expected: str) -> None:
    assert with_parameters(href, parameters) == expected


def test_first_sco_of_the_default_organization_launches() -> None:
    resources = ('<resource identifier="A" type="webcontent" adlcp:scormtype="asset" href="asset.html"/>'
                 '<resource identifier="S1" type="webcontent" adlcp:scormtype="sco" href="one.html"/>'
                 '<resource identifier="S2" type="webcontent" adlcp:scormtype="sco" href="two.html"/>')
    items = ('<item identifier="I0"><title>Folder</title>'
             '<item identifier="I1" identifierref="A"><title>Intro</title></item>'
             '<item identifier="I2" identifierref="S2"><title>Two</title>'
             '<adlcp:masteryscore>65.5</adlcp:masteryscore></item></item>'
             '<item identifier="I3" identifierref="S1"><title>One</title></item>')
    info = read_manifest(manifest_12(resources, items=items), frozenset({"asset.html", "one.html", "two.html"}))
    assert (info.item_identifier, info.launch_path, info.sco_count) == ("I2", "two.html", 2)
    assert info.mastery_score == pytest.approx(0.655)
    # Without any SCO, the first launchable asset plays.
    only_asset = manifest_12('<resource identifier="A" type="webcontent" adlcp:scormtype="asset" href="a.html"/>',
                             items='<item identifier="I" identifierref="A"><title>A</title></item>')
    assert read_manifest(only_asset, frozenset({"a.html"})).launch_path == "a.html"


def test_version_detection() -> None:
    sco = '<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="a.html"/>'
    assert read_manifest(manifest_12(sco), frozenset({"a.html"})).scorm_version == "scorm12"
    assert read_manifest(manifest_12(sco, schemaversion=None), frozenset({"a.html"})).scorm_version == "scorm12"
    assert read_manifest(manifest_12(sco, schemaversion="CAM 1.3"), frozenset({"a.html"})).scorm_version == "scorm2004"
    assert read_manifest(manifest_12(sco, schemaversion="2004 3rd Edition"),
                         frozenset({"a.html"})).scorm_version == "scorm2004"
    unknown = b'<manifest identifier="M" xmlns="urn:other"><organizations/><resources/></manifest>'
    assert reason(unknown) == "unknown_version"


@pytest.mark.parametrize("resources,files,expected", [
    ('<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="missing.html"/>', {"a.html"},
     "launch_missing"),
    ('<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="a.html"><file href="gone.js"/></resource>',
     {"a.html"}, "file_missing"),
    ('<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="../a.html"/>', {"a.html"}, "unsafe_path"),
    ('<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="/etc/passwd"/>', {"a.html"}, "unsafe_path"),
    ('<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="a.html"><file href="x/../../b"/></resource>',
     {"a.html"}, "unsafe_path"),
    ('<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="file:///etc/passwd"/>', {"a.html"},
     "unsafe_path"),
    ('<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="https://cdn.example/a.html"/>',
     {"a.html"}, "launch_missing"),
    ('<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" xml:base="../" href="a.html"/>', {"a.html"},
     "unsafe_path"),
    ('<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="a.html"><dependency identifierref="NOPE"/></resource>',
     {"a.html"}, "manifest_invalid"),
])
def test_bad_resources_are_refused(resources: str, files: set[str], expected: str) -> None:
    assert reason(manifest_12(resources), frozenset(files)) == expected


def test_bad_structure_is_refused() -> None:
    sco = '<resource identifier="R1" type="webcontent" adlcp:scormtype="sco" href="a.html"/>'
    files = frozenset({"a.html"})
    assert reason(b"not xml at all <", files) == "manifest_invalid"
    assert reason(b"<other/>", files) == "manifest_invalid"
    assert reason(manifest_12(sco, org_default="NOPE"), files) == "manifest_invalid"
    assert reason(manifest_12(sco, items='<item identifier="I" identifierref="GONE"><title>x</title></item>'),
                  files) == "manifest_invalid"
    assert reason(manifest_12(sco, items=""), files) == "launch_missing"
    assert reason(manifest_12(sco, item_extra="", items='<item identifier="I" identifierref="R1"><title>x</title>'
                                                        '<adlcp:masteryscore>120</adlcp:masteryscore></item>'),
                  files) == "manifest_invalid"


def test_the_parser_neither_expands_entities_nor_reads_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    data = f"""<?xml version="1.0"?>
<!DOCTYPE manifest [<!ENTITY leak SYSTEM "file://{secret}"><!ENTITY big "{'x' * 50}">]>
<manifest identifier="M" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
          xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="O"><organization identifier="O"><title>&leak;&big;</title>
    <item identifier="I" identifierref="R"><title>T</title></item></organization></organizations>
  <resources><resource identifier="R" type="webcontent" adlcp:scormtype="sco" href="a.html"/></resources>
</manifest>""".encode()
    info = read_manifest(data, frozenset({"a.html"}))
    assert "TOP-SECRET" not in info.title and "xxxxx" not in info.title


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/abs/x", "..\\x", "a\\b", "C:/x", "c:x", "a/\x00b", ""])
def test_unsafe_zip_member_names(name: str) -> None:
    with pytest.raises(ContentRejected) as info:
        safe_member_path(name)
    assert info.value.reason == "unsafe_path"


def test_safe_zip_member_names_are_normalized() -> None:
    assert safe_member_path("a/./b//c.html") == "a/b/c.html"
    assert safe_member_path("dir/") == "dir"
    assert safe_member_path("名前/ファイル.html") == "名前/ファイル.html"
