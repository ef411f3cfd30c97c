"""Pure lxml builders for a dispatch package's ``imsmanifest.xml`` (SCORM 1.2 and SCORM 2004
4th Edition) and the checks the official XSDs cannot make. No Flask, no SQLAlchemy.

A dispatch manifest describes one SCO: the package's launch page (``index.html``) plus its
script and configuration. Titles carry the license type ("Workplace Safety — Volume") because
an LMS otherwise shows identical packages. Identifiers are derived from the package key and are
always NCNames. No XSD files are shipped and no ``xsi:schemaLocation`` is written (see
``scorm_packages.packaging`` for why), so nothing in the manifest points at a missing file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from store.licenses import labels
from store.licenses.labels import LICENSE_LABELS, is_license_type

FORMATS = ("scorm12", "scorm2004")
SCHEMA = "ADL SCORM"
SCHEMA_VERSIONS = {"scorm12": "1.2", "scorm2004": "2004 4th Edition"}
MANIFEST_FILE = "imsmanifest.xml"
LAUNCH_PAGE = "index.html"
TITLE_MAX_CHARS = 200  # LMSs cut long titles anyway; the label must survive the cut
DESCRIPTION_MAX_CHARS = 2000

# Characters XML 1.0 cannot carry at all (lxml refuses them): C0 controls except tab/LF/CR,
# lone surrogates and the two non-characters U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_NCNAME_CHAR = re.compile(r"[^A-Za-z0-9._-]")


class ManifestError(ValueError):
    """The spec cannot give a valid manifest (unknown format or license type, bad score...)."""


def license_label(license_type: str) -> str:
    """The license type's label (``store.licenses.labels``); an unknown type is a ManifestError."""
    if not is_license_type(license_type):
        raise ManifestError(f"license type must be one of {', '.join(LICENSE_LABELS)}, got {license_type!r}")
    return labels.license_label(license_type)


def xml_text(value: str) -> str:
    """Text XML 1.0 can hold: drop the characters it cannot (lxml escapes ``& < > "`` itself)."""
    return _NOT_XML.sub("", value)


def ncname(prefix: str, value: str) -> str:
    """An NCName (what ``identifier`` attributes must be): ``PREFIX-value`` with every character
    outside ``[A-Za-z0-9._-]`` replaced by ``_``. The prefix must start with a letter."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", prefix):
        raise ManifestError(f"identifier prefix must be an NCName starting with a letter, got {prefix!r}")
    return f"{prefix}-{_NOT_NCNAME_CHAR.sub('_', value)}" if value else prefix


def labeled_title(title: str, license_type: str) -> str:
    """``"<course title> — <license label>"``; the course title is cut (with an ellipsis) so the
    label always fits in ``TITLE_MAX_CHARS``."""
    license_label(license_type)
    return labels.labeled_title(xml_text(title), license_type, TITLE_MAX_CHARS)


@dataclass(frozen=True)
class ManifestSpec:
    """What a dispatch manifest says. ``mastery_score`` is scaled 0..1 (0.8 = 80%); None when the
    course decides passed/failed itself (then the manifest states no mastery score)."""

    package_key: str
    catalog_id: str  # the catalog id
    course_title: str
    license_type: str
    mastery_score: float | None
    description: str = ""
    language: str = "en"
    launch_href: str = LAUNCH_PAGE
    files: tuple[str, ...] = field(default=(LAUNCH_PAGE,))

    def __post_init__(self) -> None:
        license_label(self.license_type)
        if not self.package_key:
            raise ManifestError("the package key must not be empty")
        if not self.catalog_id:
            raise ManifestError("the course id must not be empty")
        if self.mastery_score is not None and (isinstance(self.mastery_score, bool)
                                               or not 0 <= self.mastery_score <= 1):
            raise ManifestError(f"mastery score must be between 0 and 1 (scaled), got {self.mastery_score!r}")
        if self.launch_href not in self.files:
            raise ManifestError(f"the launch page {self.launch_href!r} must be one of the files")

    @property
    def title(self) -> str:
        return labeled_title(self.course_title, self.license_type)

    @property
    def label(self) -> str:
        return license_label(self.license_type)

    @property
    def clean_description(self) -> str:
        text = xml_text(self.description).strip()
        return text[:DESCRIPTION_MAX_CHARS]

    @property
    def lang(self) -> str:
        """A language tag for LOM strings (falls back to ``en``)."""
        tag = self.language.strip()
        return tag if re.fullmatch(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", tag) else "en"

    @property
    def keywords(self) -> tuple[str, ...]:
        """Keywords that let an LMS admin tell packages apart: the license and the course id."""
        return (f"license:{self.license_type}", self.label, f"course:{xml_text(self.catalog_id)}")

    def identifier(self, prefix: str) -> str:
        return ncname(prefix, self.package_key)


def build_manifest(spec: ManifestSpec, fmt: str) -> bytes:
    """The ``imsmanifest.xml`` bytes for a format (``scorm12`` or ``scorm2004``)."""
    if fmt == "scorm12":
        from scorm_packages.manifest.scorm12 import build_scorm12

        return build_scorm12(spec)
    if fmt == "scorm2004":
        from scorm_packages.manifest.scorm2004 import build_scorm2004

        return build_scorm2004(spec)
    raise ManifestError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


__all__ = [
    "FORMATS",
    "LAUNCH_PAGE",
    "LICENSE_LABELS",
    "MANIFEST_FILE",
    "SCHEMA",
    "SCHEMA_VERSIONS",
    "ManifestError",
    "ManifestSpec",
    "build_manifest",
    "labeled_title",
    "license_label",
    "ncname",
    "xml_text",
]
