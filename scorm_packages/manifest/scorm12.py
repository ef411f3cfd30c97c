"""SCORM 1.2 ``imsmanifest.xml`` for a dispatch package (IMS CP 1.1.2 + ADL CP 1.2 + IMS MD
1.2.1 inline metadata)."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from scorm_packages.manifest import SCHEMA_VERSIONS, ManifestSpec
from scorm_packages.manifest.skeleton import Flavour, build_single_sco

IMSCP = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
ADLCP = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
IMSMD = "http://www.imsglobal.org/xsd/imsmd_rootv1p2p1"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NSMAP = {None: IMSCP, "adlcp": ADLCP, "imsmd": IMSMD}


def _md(tag: str) -> str:
    return f"{{{IMSMD}}}{tag}"


def mastery_score_percent(scaled: float) -> str:
    """``adlcp:masteryscore`` is a percentage 0-100; whole numbers when possible ("80")."""
    percent = round(scaled * 100, 2)
    return str(int(percent)) if percent == int(percent) else f"{percent:.2f}".rstrip("0")


def _langstrings(parent: etree._Element, tag: str, text: str, lang: str) -> etree._Element:
    holder = etree.SubElement(parent, _md(tag))
    string = etree.SubElement(holder, _md("langstring"))
    string.set(f"{{{XML_NS}}}lang", lang)
    string.text = text
    return holder


def _lom(parent: etree._Element, spec: ManifestSpec) -> None:
    lom = etree.SubElement(parent, _md("lom"))
    general = etree.SubElement(lom, _md("general"))
    etree.SubElement(general, _md("identifier")).text = spec.identifier("PKG")
    _langstrings(general, "title", spec.title, spec.lang)
    entry = etree.SubElement(general, _md("catalogentry"))
    etree.SubElement(entry, _md("catalog")).text = "course-catalog-id"
    _langstrings(entry, "entry", spec.catalog_id, "x-none")
    etree.SubElement(general, _md("language")).text = spec.lang
    if spec.clean_description:
        _langstrings(general, "description", spec.clean_description, spec.lang)
    for keyword in spec.keywords:
        _langstrings(general, "keyword", keyword, "x-none")
    technical = etree.SubElement(lom, _md("technical"))
    etree.SubElement(technical, _md("format")).text = "text/html"


def _decorate_item(spec: ManifestSpec) -> Callable[[etree._Element], None]:
    def decorate(item: etree._Element) -> None:
        if spec.mastery_score is not None:
            etree.SubElement(item, f"{{{ADLCP}}}masteryscore").text = mastery_score_percent(spec.mastery_score)

    return decorate


FLAVOUR = Flavour(imscp=IMSCP, adlcp=ADLCP, nsmap=NSMAP, schemaversion=SCHEMA_VERSIONS["scorm12"],
                  manifest_version="1.0", scorm_type_attribute="scormtype", add_metadata=_lom)


def build_scorm12(spec: ManifestSpec) -> bytes:
    return build_single_sco(spec, FLAVOUR, _decorate_item(spec))
