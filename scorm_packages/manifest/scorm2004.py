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

from lxml import etree

from scorm_packages.manifest import SCHEMA, SCHEMA_VERSIONS, ManifestSpec

IMSCP = "http://www.imsglobal.org/xsd/imscp_v1p1"
ADLCP = "http://www.adlnet.org/xsd/adlcp_v1p3"
IMSSS = "http://www.imsglobal.org/xsd/imsss"
LOM = "http://ltsc.ieee.org/xsd/LOM"
NSMAP = {None: IMSCP, "adlcp": ADLCP, "imsss": IMSSS, "lom": LOM}
PRIMARY_OBJECTIVE = "PRIMARYOBJ"


def _cp(tag: str) -> str:
    return f"{{{IMSCP}}}{tag}"


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
    for catalog, entry in (("dispatch-package-key", spec.package_key), ("course-catalog-id", spec.course_id)):
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


def build_scorm2004(spec: ManifestSpec) -> bytes:
    org_id, item_id, res_id = spec.identifier("ORG"), spec.identifier("ITEM"), spec.identifier("RES")
    manifest = etree.Element(_cp("manifest"), nsmap=NSMAP)
    manifest.set("identifier", spec.identifier("MANIFEST"))
    manifest.set("version", "1")

    metadata = etree.SubElement(manifest, _cp("metadata"))
    etree.SubElement(metadata, _cp("schema")).text = SCHEMA
    etree.SubElement(metadata, _cp("schemaversion")).text = SCHEMA_VERSIONS["scorm2004"]
    _lom(metadata, spec)

    organizations = etree.SubElement(manifest, _cp("organizations"))
    organizations.set("default", org_id)
    organization = etree.SubElement(organizations, _cp("organization"))
    organization.set("identifier", org_id)
    etree.SubElement(organization, _cp("title")).text = spec.title
    item = etree.SubElement(organization, _cp("item"))
    item.set("identifier", item_id)
    item.set("identifierref", res_id)
    item.set("isvisible", "true")
    etree.SubElement(item, _cp("title")).text = spec.title
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

    resources = etree.SubElement(manifest, _cp("resources"))
    resource = etree.SubElement(resources, _cp("resource"))
    resource.set("identifier", res_id)
    resource.set("type", "webcontent")
    resource.set(f"{{{ADLCP}}}scormType", "sco")
    resource.set("href", spec.launch_href)
    for name in spec.files:
        etree.SubElement(resource, _cp("file")).set("href", name)

    return etree.tostring(manifest, xml_declaration=True, encoding="UTF-8", pretty_print=True)
