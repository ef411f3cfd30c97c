"""Checks for what the official SCORM XSDs cannot catch (their wildcards are lax, and libxml2
does not resolve IDREFs or look inside the zip):

- ``schema_version``: ``metadata/schemaversion`` is exactly "1.2" (SCORM 1.2) or
  "2004 4th Edition" (SCORM 2004 4th Edition), and ``metadata/schema`` is "ADL SCORM";
- ``scormtype_missing`` / ``scormtype_misspelt`` / ``scormtype_value``: every resource has
  ``adlcp:scormtype`` (1.2) or ``adlcp:scormType`` (2004), in the right namespace and spelling,
  with the value ``sco`` or ``asset``; ``no_sco``: some item launches a SCO;
- ``masteryscore``: 1.2 ``adlcp:masteryscore`` is a number from 0 to 100;
- ``identifierref``: every ``item/@identifierref`` (and ``dependency/@identifierref``) names a
  resource of the manifest; ``default_organization``: ``organizations/@default`` names one of
  its organizations;
- ``file_missing``: every ``resource/@href``, ``file/@href`` and ``xsi:schemaLocation`` file is
  in the zip (when the zip's names are given).

``check_manifest`` returns a list of ``Problem`` (empty when all is well); each names its code
and where it was found, so a packager sees what to fix.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from lxml import etree

from scorm_packages.manifest import MANIFEST_FILE, SCHEMA, SCHEMA_VERSIONS

CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCORM_TYPES = ("sco", "asset")
_DECIMAL = re.compile(r"^\d{1,3}(\.\d+)?$")


@dataclass(frozen=True)
class Problem:
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class _Version:
    fmt: str
    cp: str
    adlcp: str
    attribute: str  # the scorm type attribute's exact local name


_VERSIONS = {
    CP12: _Version("scorm12", CP12, ADLCP12, "scormtype"),
    CP2004: _Version("scorm2004", CP2004, ADLCP2004, "scormType"),
}


def _parse(xml: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(xml, parser)


def check_manifest(xml: bytes, zip_names: Collection[str] | None = None) -> list[Problem]:
    """Problems of an ``imsmanifest.xml``; with ``zip_names``, also files missing from the zip."""
    try:
        root = _parse(xml)
    except etree.XMLSyntaxError as exc:
        return [Problem("not_xml", f"imsmanifest.xml is not well-formed XML: {exc}")]
    version = _VERSIONS.get(etree.QName(root).namespace or "")
    if version is None or etree.QName(root).localname != "manifest":
        return [Problem("unknown_format", f"the root element {root.tag!r} is not an IMS CP 1.1.2 (SCORM 1.2) "
                                          "or IMS CP 1.1.4 (SCORM 2004) manifest")]
    problems: list[Problem] = []
    problems += _check_schema_version(root, version)
    problems += _check_scorm_types(root, version)
    problems += _check_references(root, version)
    if not any(p.code.startswith("scormtype") or p.code == "identifierref" for p in problems):
        problems += _check_launches_a_sco(root, version)  # (a fault above already explains it)
    if version.fmt == "scorm12":
        problems += _check_mastery_scores(root)
    if zip_names is not None:
        problems += _check_files(root, version, zip_names)
    return problems


def check_package(path_or_file: str | object) -> list[Problem]:
    """Problems of a package zip (a path or a binary file object): its manifest and files."""
    try:
        with zipfile.ZipFile(path_or_file) as archive:  # type: ignore[arg-type]
            names = archive.namelist()
            if MANIFEST_FILE not in names:
                return [Problem("manifest_missing", f"the zip has no {MANIFEST_FILE} at its root")]
            xml = archive.read(MANIFEST_FILE)
    except zipfile.BadZipFile as exc:
        return [Problem("not_zip", f"not a zip file: {exc}")]
    return check_manifest(xml, names)


# ---------------------------------------------------------------- the checks


def _check_schema_version(root: etree._Element, version: _Version) -> list[Problem]:
    ns = {"cp": version.cp}
    expected = SCHEMA_VERSIONS[version.fmt]
    schema = root.findtext("cp:metadata/cp:schema", namespaces=ns)
    found = root.findtext("cp:metadata/cp:schemaversion", namespaces=ns)
    problems = []
    if schema is None or schema.strip() != SCHEMA:
        problems.append(Problem("schema", f"metadata/schema must be {SCHEMA!r}, found {schema!r}"))
    if found is None or found.strip() != expected:
        problems.append(Problem("schema_version",
                                f"metadata/schemaversion must be {expected!r} for this manifest's namespace, "
                                f"found {found!r}"))
    return problems


def _check_scorm_types(root: etree._Element, version: _Version) -> list[Problem]:
    problems = []
    resources = root.findall(f"{{{version.cp}}}resources/{{{version.cp}}}resource")
    for resource in resources:
        rid = resource.get("identifier")
        exact = resource.get(f"{{{version.adlcp}}}{version.attribute}")
        wrong = [name for name in resource.attrib
                 if etree.QName(name).localname.lower() == "scormtype"
                 and name != f"{{{version.adlcp}}}{version.attribute}"]
        if exact is None:
            if wrong:
                problems.append(Problem(
                    "scormtype_misspelt",
                    f"resource {rid!r}: found {', '.join(_show(w) for w in wrong)} but SCORM "
                    f"{'1.2' if version.fmt == 'scorm12' else '2004'} needs adlcp:{version.attribute} "
                    f"in namespace {version.adlcp}"))
            else:
                problems.append(Problem("scormtype_missing",
                                        f"resource {rid!r} has no adlcp:{version.attribute} (sco or asset)"))
        elif exact not in SCORM_TYPES:
            problems.append(Problem("scormtype_value",
                                    f"resource {rid!r}: adlcp:{version.attribute} must be 'sco' or 'asset', "
                                    f"found {exact!r}"))
    return problems


def _check_launches_a_sco(root: etree._Element, version: _Version) -> list[Problem]:
    resources = root.findall(f"{{{version.cp}}}resources/{{{version.cp}}}resource")
    launched = {item.get("identifierref") for item in root.iter(f"{{{version.cp}}}item")}
    scos = {r.get("identifier") for r in resources if r.get(f"{{{version.adlcp}}}{version.attribute}") == "sco"}
    if resources and not launched & scos:
        return [Problem("no_sco", "no item launches a resource of type sco: the LMS would track nothing")]
    return []


def _show(qualified: str) -> str:
    name = etree.QName(qualified)
    return f"{{{name.namespace}}}{name.localname}" if name.namespace else name.localname


def _check_references(root: etree._Element, version: _Version) -> list[Problem]:
    cp = version.cp
    problems = []
    resource_ids = {r.get("identifier") for r in root.iter(f"{{{cp}}}resource")}
    for item in root.iter(f"{{{cp}}}item"):
        ref = item.get("identifierref")
        if ref is not None and ref not in resource_ids:
            problems.append(Problem("identifierref",
                                    f"item {item.get('identifier')!r} points at resource {ref!r}, which does not "
                                    "exist"))
    for dependency in root.iter(f"{{{cp}}}dependency"):
        ref = dependency.get("identifierref")
        if ref not in resource_ids:
            problems.append(Problem("identifierref", f"a dependency points at resource {ref!r}, which does not exist"))
    organizations = root.find(f"{{{cp}}}organizations")
    if organizations is not None:
        default = organizations.get("default")
        org_ids = {o.get("identifier") for o in organizations.findall(f"{{{cp}}}organization")}
        if default is not None and default not in org_ids:
            problems.append(Problem("default_organization",
                                    f"organizations/@default is {default!r}, which names no organization"))
        elif default is None and org_ids:
            problems.append(Problem("default_organization",
                                    "organizations has no default attribute naming the organization to play"))
    return problems


def _check_mastery_scores(root: etree._Element) -> list[Problem]:
    problems = []
    for element in root.iter(f"{{{ADLCP12}}}masteryscore"):
        text = (element.text or "").strip()
        if not _DECIMAL.fullmatch(text) or not 0 <= float(text) <= 100:
            item = element.getparent()
            where = item.get("identifier") if item is not None else "?"
            problems.append(Problem("masteryscore",
                                    f"item {where!r}: adlcp:masteryscore must be a number from 0 to 100, "
                                    f"found {element.text!r}"))
    return problems


def _local_path(href: str) -> str | None:
    """The zip path an href points at; None for absolute URLs (nothing to find in the zip)."""
    parts = urlsplit(href.strip())
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)
    if not path:
        return None
    return str(PurePosixPath(path.lstrip("/")))


def _check_files(root: etree._Element, version: _Version, zip_names: Collection[str]) -> list[Problem]:
    names = set(zip_names)
    cp = version.cp
    wanted: list[tuple[str, str]] = []
    for resource in root.iter(f"{{{cp}}}resource"):
        rid = resource.get("identifier")
        base = resource.get("{http://www.w3.org/XML/1998/namespace}base") or ""
        if resource.get("href"):
            wanted.append((base + resource.get("href", ""), f"resource {rid!r} href"))
        for file in resource.findall(f"{{{cp}}}file"):
            wanted.append((base + file.get("href", ""), f"resource {rid!r} file"))
    locations = (root.get(f"{{{XSI}}}schemaLocation") or "").split()
    for schema_file in locations[1::2]:
        wanted.append((schema_file, "xsi:schemaLocation"))
    problems = []
    for href, where in wanted:
        path = _local_path(href)
        if path is not None and path not in names:
            problems.append(Problem("file_missing", f"{where} {href!r} is not in the zip"))
    return problems
