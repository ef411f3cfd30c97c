"""Reading a publisher package's ``imsmanifest.xml`` (pure: lxml, no network).

The parser never fetches anything and never expands entities (``resolve_entities=False``,
``no_network=True``, no DTD loading), so a manifest cannot read local files or reach a server.

- **Version**: ``metadata/schemaversion`` "1.2" is SCORM 1.2; "2004 …" or "CAM 1.3" is SCORM
  2004; without it the ADL namespaces decide (``adlcp_rootv1p2`` → 1.2; ``adlcp_v1p3``,
  ``imsss``, ``adlseq``, ``adlnav`` → 2004), then the IMS CP namespace of the root.
- **What plays**: the default organization (``organizations/@default``, else the first), its
  first item, in document order, whose ``identifierref`` names a resource with an ``href``
  and ``adlcp:scormtype``/``scormType`` "sco" (else the first such item at all). The player
  runs one SCO: a multi-SCO package plays its first SCO.
- **Launch URL**: the resource's ``href`` under the ``xml:base`` of the manifest, its
  ``resources`` and the resource (each a folder relative to the one before), plus the item's ``parameters`` (ADL's rule: a leading ``?``
  or ``&`` is dropped; joined with ``&`` when the href already has a query; a ``#fragment``
  only when the href has none).
- **Files**: every resource ``href`` and ``file/@href`` (under the same ``xml:base`` chain)
  must stay inside the package and exist in the zip; absolute URLs (http:, https:) are left
  alone, except as the launch URL.
- **Mastery score**: 1.2 ``adlcp:masteryscore`` (0–100) / 100; 2004 the primary objective's
  ``imsss:minNormalizedMeasure`` when ``satisfiedByMeasure="true"`` (1.0 if absent). Also the
  launch data (``adlcp:datafromlms``/``dataFromLMS``) and the 2004 completion threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from lxml import etree

from store.content.errors import ContentRejected

MANIFEST = "imsmanifest.xml"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
IMSSS = "http://www.imsglobal.org/xsd/imsss"
NS_2004 = (ADLCP2004, IMSSS, "http://www.adlnet.org/xsd/adlseq_v1p3", "http://www.adlnet.org/xsd/adlnav_v1p3")
MAX_MANIFEST_BYTES = 8_000_000
MAX_TEXT = {"title": 500, "identifier": 255, "launch_href": 2000, "launch_data": 4096}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class ManifestInfo:
    scorm_version: str  # "scorm12" or "scorm2004"
    identifier: str
    title: str
    item_identifier: str
    resource_identifier: str
    launch_path: str  # the SCO's file inside the package ("/"-separated, unquoted)
    launch_href: str  # launch_path (quoted) with the item's parameters: what the player opens
    mastery_score: float | None  # scaled 0..1
    launch_data: str | None
    completion_threshold: float | None
    referenced_files: tuple[str, ...]  # package paths the manifest names (launch file included)
    sco_count: int


def _reject(reason: str, message: str) -> ContentRejected:
    return ContentRejected(message, reason=reason)


def parse_xml(data: bytes) -> Any:
    if len(data) > MAX_MANIFEST_BYTES:
        raise _reject("manifest_invalid", f"{MANIFEST} is larger than {MAX_MANIFEST_BYTES} bytes")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _reject("manifest_invalid", f"{MANIFEST} is not well-formed XML: {str(exc)[:200]}") from None
    if root is None or etree.QName(root).localname != "manifest":
        raise _reject("manifest_invalid", f"the root element of {MANIFEST} is not <manifest>")
    return root


def _namespaces(root: Any) -> set[str]:
    found: set[str] = set()
    for element in root.iter():
        if isinstance(element.tag, str):
            ns = etree.QName(element).namespace
            if ns:
                found.add(ns)
            for name in element.attrib:
                attr_ns = etree.QName(name).namespace
                if attr_ns:
                    found.add(attr_ns)
    return found


def detect_version(root: Any) -> str:
    cp = etree.QName(root).namespace or ""
    schemaversion = _text(root.find(f"{{{cp}}}metadata/{{{cp}}}schemaversion") if cp else root.find("metadata/schemaversion"))
    if schemaversion:
        value = schemaversion.strip().lower()
        if value in ("1.2", "scorm 1.2"):
            return "scorm12"
        if value.startswith(("2004", "scorm 2004", "cam 1.3")):
            return "scorm2004"
    namespaces = _namespaces(root)
    if ADLCP12 in namespaces:
        return "scorm12"
    if namespaces & set(NS_2004):
        return "scorm2004"
    if cp == CP12:
        return "scorm12"
    raise _reject("unknown_version", f"{MANIFEST} is neither SCORM 1.2 nor SCORM 2004 (schemaversion "
                                     f"{schemaversion!r}, no ADL namespace)")


def _text(element: Any) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def _attr(element: Any, localname: str) -> str | None:
    """An attribute by local name in any namespace, case-insensitively (adlcp:scormtype in 1.2,
    adlcp:scormType in 2004, and what exporters really write)."""
    for name, value in element.attrib.items():
        if etree.QName(name).localname.lower() == localname.lower():
            return str(value)
    return None


def _child(element: Any, localname: str) -> Any:
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname.lower() == localname.lower():
            return child
    return None


def _resolve(base_parts: list[str], href: str, where: str) -> str:
    """A package path from a base folder and a relative path, or ContentRejected."""
    parts = list(base_parts)
    for part in href.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _reject("unsafe_path", f"{where}: {href[:120]!r} points outside the package")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _base_parts(*bases: str | None) -> list[str]:
    """The folder an xml:base chain names ("/"-separated parts); absolute bases are refused."""
    parts: list[str] = []
    for base in bases:
        if not base:
            continue
        split = urlsplit(base.strip())
        if split.scheme or split.netloc or base.strip().startswith("/") or "\\" in base:
            raise _reject("unsafe_path", f"xml:base {base[:120]!r} is not a relative folder of the package")
        # A base names a folder; one written without the trailing "/" ("content") is taken as
        # the folder its author meant, not as a file whose folder would be used.
        resolved = _resolve(parts, unquote(split.path), "xml:base")
        parts = [p for p in resolved.split("/") if p]
    return parts


@dataclass(frozen=True)
class _Href:
    path: str | None  # package path; None for an absolute URL
    query: str
    fragment: str


def _href(base_parts: list[str], href: str, where: str) -> _Href:
    href = href.strip()
    if "\\" in href:
        raise _reject("unsafe_path", f"{where}: {href[:120]!r} uses backslashes")
    split = urlsplit(href)
    if split.scheme or split.netloc:
        if split.scheme.lower() in ("http", "https"):
            return _Href(None, split.query, split.fragment)
        raise _reject("unsafe_path", f"{where}: {href[:120]!r} is not a file of the package")
    if href.startswith("/"):
        raise _reject("unsafe_path", f"{where}: {href[:120]!r} is an absolute path")
    path = _resolve(base_parts, unquote(split.path), where)
    if not path:
        raise _reject("manifest_invalid", f"{where}: the href names no file")
    return _Href(path, split.query, split.fragment)


def with_parameters(href: str, parameters: str | None) -> str:
    """An href with an item's ``parameters`` appended by ADL's rule."""
    if not parameters:
        return href
    parameters = parameters.strip()
    split = urlsplit(href)
    if parameters.startswith("#"):
        if split.fragment:
            return href
        return urlunsplit((split.scheme, split.netloc, split.path, split.query, parameters[1:]))
    params = parameters.lstrip("?&")
    if not params:
        return href
    query = f"{split.query}&{params}" if split.query else params
    return urlunsplit((split.scheme, split.netloc, split.path, query, split.fragment))


def _score_text(text: str | None, where: str, low: float, high: float) -> float | None:
    if text is None:
        return None
    text = text.strip()
    if not _NUMBER.fullmatch(text) or not low <= float(text) <= high:
        raise _reject("manifest_invalid", f"{where} must be a number from {low:g} to {high:g}, found {text[:40]!r}")
    return float(text)


def _items(element: Any, cp: str) -> list[Any]:
    """Items of an organization in document order (depth first)."""
    return list(element.iter(f"{{{cp}}}item" if cp else "item"))


def read_manifest(data: bytes, zip_paths: frozenset[str]) -> ManifestInfo:
    """What the player needs from the manifest, after checking it against the zip's files."""
    root = parse_xml(data)
    version = detect_version(root)
    cp = etree.QName(root).namespace or ""
    q = (lambda name: f"{{{cp}}}{name}") if cp else (lambda name: name)
    identifier = root.get("identifier") or "MANIFEST"

    resources_el = root.find(q("resources"))
    if resources_el is None:
        raise _reject("manifest_invalid", f"{MANIFEST} has no <resources>")
    manifest_base = root.get(XML_BASE)
    resources_base = resources_el.get(XML_BASE)
    resources: dict[str, Any] = {}
    referenced: list[str] = []
    sco_count = 0
    for resource in resources_el.findall(q("resource")):
        rid = resource.get("identifier")
        if not rid:
            raise _reject("manifest_invalid", "a <resource> has no identifier")
        if rid in resources:
            raise _reject("manifest_invalid", f"two resources have the identifier {rid[:80]!r}")
        resources[rid] = resource
        base = _base_parts(manifest_base, resources_base, resource.get(XML_BASE))
        if (_attr(resource, "scormtype") or "").lower() == "sco":
            sco_count += 1
        href = resource.get("href")
        if href:
            target = _href(base, href, f"resource {rid[:80]!r}")
            if target.path is not None:
                referenced.append(target.path)
        for file_el in resource.findall(q("file")):
            file_href = file_el.get("href")
            if not file_href:
                raise _reject("manifest_invalid", f"resource {rid[:80]!r} has a <file> without href")
            target = _href(base, file_href, f"resource {rid[:80]!r} file")
            if target.path is not None:
                referenced.append(target.path)
        for dependency in resource.findall(q("dependency")):
            ref = dependency.get("identifierref")
            if not ref:
                raise _reject("manifest_invalid", f"resource {rid[:80]!r} has a <dependency> without identifierref")
    for resource in resources.values():
        for dependency in resource.findall(q("dependency")):
            if dependency.get("identifierref") not in resources:
                raise _reject("manifest_invalid", f"a dependency points at resource "
                                                  f"{dependency.get('identifierref')[:80]!r}, which does not exist")

    organizations_el = root.find(q("organizations"))
    organizations = organizations_el.findall(q("organization")) if organizations_el is not None else []
    if not organizations:
        raise _reject("manifest_invalid", f"{MANIFEST} has no <organization>: nothing to launch")
    default_id = organizations_el.get("default") if organizations_el is not None else None
    organization = organizations[0]
    if default_id:
        chosen = [o for o in organizations if o.get("identifier") == default_id]
        if not chosen:
            raise _reject("manifest_invalid", f"organizations/@default is {default_id[:80]!r}, which names no organization")
        organization = chosen[0]
    for item in root.iter(q("item")):
        ref = item.get("identifierref")
        if ref is not None and ref not in resources:
            raise _reject("manifest_invalid", f"item {str(item.get('identifier'))[:80]!r} points at resource "
                                              f"{ref[:80]!r}, which does not exist")

    launchable = [(item, resources[item.get("identifierref")]) for item in _items(organization, cp)
                  if item.get("identifierref") in resources and resources[item.get("identifierref")].get("href")]
    if not launchable:
        raise _reject("launch_missing", "the default organization has no item that launches a resource with an href")
    scos = [(i, r) for i, r in launchable if (_attr(r, "scormtype") or "").lower() == "sco"]
    item, resource = (scos or launchable)[0]
    base = _base_parts(manifest_base, resources_base, resource.get(XML_BASE))
    rid = resource.get("identifier")
    launch = _href(base, resource.get("href"), f"resource {rid[:80]!r}")
    if launch.path is None:
        raise _reject("launch_missing", f"resource {rid[:80]!r} launches an external URL, not a file of the package")
    quoted = quote(launch.path, safe="/!$&'()*+,;=:@-._~")
    launch_href = urlunsplit(("", "", quoted, launch.query, launch.fragment))
    launch_href = with_parameters(launch_href, item.get("parameters"))
    if len(launch_href) > MAX_TEXT["launch_href"]:
        raise _reject("manifest_invalid", "the launch URL is longer than 2000 characters")

    missing = sorted({path for path in referenced if path not in zip_paths})
    if launch.path not in zip_paths:
        raise _reject("launch_missing", f"the launch file {launch.path[:200]!r} is not in the zip")
    if missing:
        shown = ", ".join(repr(p[:100]) for p in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise _reject("file_missing", f"{MANIFEST} names files that are not in the zip: {shown}")

    title = (_text(organization.find(q("title"))) or _text(item.find(q("title")))
             or _text(root.find(f"{q('metadata')}//{{*}}title")) or identifier)
    mastery, threshold = _mastery(version, item)
    launch_data = _text(_child(item, "dataFromLMS"))
    if launch_data is not None and len(launch_data) > MAX_TEXT["launch_data"]:
        raise _reject("manifest_invalid", f"the item's launch data is longer than {MAX_TEXT['launch_data']} characters")
    return ManifestInfo(
        scorm_version=version, identifier=identifier[:MAX_TEXT["identifier"]],
        title=" ".join(title.split())[:MAX_TEXT["title"]],
        item_identifier=(item.get("identifier") or "")[:MAX_TEXT["identifier"]],
        resource_identifier=rid[:MAX_TEXT["identifier"]], launch_path=launch.path, launch_href=launch_href,
        mastery_score=mastery, launch_data=launch_data, completion_threshold=threshold,
        referenced_files=tuple(dict.fromkeys(referenced)), sco_count=sco_count,
    )


def _mastery(version: str, item: Any) -> tuple[float | None, float | None]:
    where = f"item {str(item.get('identifier'))[:80]!r}"
    if version == "scorm12":
        score = _score_text(_text(_child(item, "masteryscore")), f"{where}: adlcp:masteryscore", 0, 100)
        return (None if score is None else score / 100.0), None
    mastery = None
    sequencing = _child(item, "sequencing")
    objectives = _child(sequencing, "objectives") if sequencing is not None else None
    primary = _child(objectives, "primaryObjective") if objectives is not None else None
    if primary is not None and (primary.get("satisfiedByMeasure") or "").strip().lower() == "true":
        measure = _text(_child(primary, "minNormalizedMeasure"))
        mastery = 1.0 if measure is None else _score_text(measure, f"{where}: imsss:minNormalizedMeasure", -1, 1)
        mastery = max(0.0, mastery) if mastery is not None else None
    threshold = None
    threshold_el = _child(item, "completionThreshold")
    if threshold_el is not None:
        raw = threshold_el.get("minProgressMeasure") or _text(threshold_el)
        threshold = _score_text(raw, f"{where}: adlcp:completionThreshold", 0, 1) if raw else None
    return mastery, threshold
