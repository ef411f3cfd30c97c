"""The parts of a single-SCO manifest that SCORM 1.2 and 2004 share, in each version's own
namespaces: metadata with the schema version and inline metadata, one organization with one item,
one SCO resource listing its files. Each version adds what only it has (1.2 ``masteryscore``;
2004 sequencing) through ``decorate_item``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from scorm_packages.manifest import SCHEMA, ManifestSpec


@dataclass(frozen=True)
class Flavour:
    imscp: str  # the content-packaging namespace of the version
    adlcp: str
    nsmap: dict[str | None, str]
    schemaversion: str
    manifest_version: str
    scorm_type_attribute: str  # "scormtype" (1.2) or "scormType" (2004)
    add_metadata: Callable[[etree._Element, ManifestSpec], None]

    def cp(self, tag: str) -> str:
        return f"{{{self.imscp}}}{tag}"


def build_single_sco(spec: ManifestSpec, flavour: Flavour,
                     decorate_item: Callable[[etree._Element], None]) -> bytes:
    cp = flavour.cp
    org_id, item_id, res_id = spec.identifier("ORG"), spec.identifier("ITEM"), spec.identifier("RES")
    manifest = etree.Element(cp("manifest"), nsmap=flavour.nsmap)
    manifest.set("identifier", spec.identifier("MANIFEST"))
    manifest.set("version", flavour.manifest_version)

    metadata = etree.SubElement(manifest, cp("metadata"))
    etree.SubElement(metadata, cp("schema")).text = SCHEMA
    etree.SubElement(metadata, cp("schemaversion")).text = flavour.schemaversion
    flavour.add_metadata(metadata, spec)

    organizations = etree.SubElement(manifest, cp("organizations"))
    organizations.set("default", org_id)
    organization = etree.SubElement(organizations, cp("organization"))
    organization.set("identifier", org_id)
    etree.SubElement(organization, cp("title")).text = spec.title
    item = etree.SubElement(organization, cp("item"))
    item.set("identifier", item_id)
    item.set("identifierref", res_id)
    item.set("isvisible", "true")
    etree.SubElement(item, cp("title")).text = spec.title
    decorate_item(item)

    resources = etree.SubElement(manifest, cp("resources"))
    resource = etree.SubElement(resources, cp("resource"))
    resource.set("identifier", res_id)
    resource.set("type", "webcontent")
    resource.set(f"{{{flavour.adlcp}}}{flavour.scorm_type_attribute}", "sco")
    resource.set("href", spec.launch_href)
    for name in spec.files:
        etree.SubElement(resource, cp("file")).set("href", name)

    return etree.tostring(manifest, xml_declaration=True, encoding="UTF-8", pretty_print=True)
