"""SCORM 2004 4th Edition ``imsmanifest.xml`` for a dispatch package (IMS CP 1.1.4 + ADL CP
1.3 + IMS SS 1.0 + LOM inline metadata).

The mastery score is the primary objective's ``minNormalizedMeasure`` with
``satisfiedByMeasure="true"``: the LMS gives the SCO ``cmi.scaled_passing_score`` from it and
decides passed/failed from ``cmi.score.scaled``, as the player does on the server.
A course without a mastery score (it decides passed/failed itself) gets no objective.
``completionSetByContent``/``objectiveSetByContent`` tell the LMS the content reports its own
completion and success, so the LMS does not mark the activity complete just for being opened.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from scorm_packages.manifest import SCHEMA_VERSIONS, ManifestSpec
from scorm_packages.manifest.skeleton import Flavour, build_single_sco

IMSCP = "http://www.imsglobal.org/xsd/imscp_v1p1"
ADLCP = "http://www.adlnet.org/xsd/adlcp_v1p3"
IMSSS = "http://www.imsglobal.org/xsd/imsss"
LOM = "http://ltsc.ieee.org/xsd/LOM"
NSMAP = {None: IMSCP, "adlcp": ADLCP, "imsss": IMSSS, "lom": LOM}
PRIMARY_OBJECTIVE = "PRIMARYOBJ"


def _lom_tag(tag: str) -> str:
    return f"{{{LOM}}}{tag}"


def _ss(tag: str) -> str:
    return f"{{{IMSSS}}}{tag}"


def measure(scaled: float) -> str:
    """``minNormalizedMeasure``: a decimal in [-1, 1] ("0.8", "1", "0")."""
    text = f"{scaled:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _lom_strings(parent: etree._Element, tag: str, text: str, lang: str) -> etree._Element:
    holder = etree.SubElement(parent, _lom_tag(tag))
    string = etree.SubElement(holder, _lom_tag("string"))
    string.set("language", lang)
    string.text = text
    return holder


def _lom(parent: etree._Element, spec: ManifestSpec) -> None:
    lom = etree.SubElement(parent, _lom_tag("lom"))
    general = etree.SubElement(lom, _lom_tag("general"))
    for catalog, entry in (("dispatch-package-key", spec.package_key), ("course-catalog-id", spec.catalog_id)):
        identifier = etree.SubElement(general, _lom_tag("identifier"))
        etree.SubElement(identifier, _lom_tag("catalog")).text = catalog
        etree.SubElement(identifier, _lom_tag("entry")).text = entry
    _lom_strings(general, "title", spec.title, spec.lang)
    etree.SubElement(general, _lom_tag("language")).text = spec.lang
    if spec.clean_description:
        _lom_strings(general, "description", spec.clean_description, spec.lang)
    for keyword in spec.keywords:
        _lom_strings(general, "keyword", keyword, "x-none")
    technical = etree.SubElement(lom, _lom_tag("technical"))
    etree.SubElement(technical, _lom_tag("format")).text = "text/html"


def _decorate_item(spec: ManifestSpec) -> Callable[[etree._Element], None]:
    def decorate(item: etree._Element) -> None:
        sequencing = etree.SubElement(item, _ss("sequencing"))
        if spec.mastery_score is not None:
            objectives = etree.SubElement(sequencing, _ss("objectives"))
            primary = etree.SubElement(objectives, _ss("primaryObjective"))
            primary.set("objectiveID", PRIMARY_OBJECTIVE)
            primary.set("satisfiedByMeasure", "true")
            etree.SubElement(primary, _ss("minNormalizedMeasure")).text = measure(spec.mastery_score)
        controls = etree.SubElement(sequencing, _ss("deliveryControls"))
        controls.set("completionSetByContent", "true")
        controls.set("objectiveSetByContent", "true")

    return decorate


FLAVOUR = Flavour(imscp=IMSCP, adlcp=ADLCP, nsmap=NSMAP, schemaversion=SCHEMA_VERSIONS["scorm2004"],
                  manifest_version="1", scorm_type_attribute="scormType", add_metadata=_lom)


def build_scorm2004(spec: ManifestSpec) -> bytes:
    return build_single_sco(spec, FLAVOUR, _decorate_item(spec))
