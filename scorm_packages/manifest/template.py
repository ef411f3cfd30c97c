"""The dispatch manifest at scale: ``build_manifest``'s output from a template (pure: no
database, no I/O).

Every dispatch manifest of one format has the same shape; only a few texts differ per package.
``fast_manifest`` builds each shape once with the lxml builder (``build_manifest``) from a spec
whose texts are placeholders, checks it with ``check_manifest`` (against the package's file
names too), and then fills the placeholders of each package with its texts, escaped as lxml
escapes element text. The result is byte for byte what ``build_manifest`` gives
(``tests/unit/test_manifest_template.py`` compares them over awkward titles, descriptions and
ids; manifests from templates are validated against the official XSDs there too).

The shape depends on the format, license type, mastery score, language and whether there is a
description (a few hundred shapes at most, cached); the placeholders are the package key, the
catalog id, the labeled title and the description. A package key that is not already an NCName
(ours always are: ``dpk_`` + base32), or a catalog id with characters XML cannot hold, goes
through the builder instead.
"""

from __future__ import annotations

import re
from functools import lru_cache

from scorm_packages.manifest import ManifestError, ManifestSpec, build_manifest, xml_text
from scorm_packages.manifest.checks import check_manifest

# Placeholders: NCName-safe, and text that no other part of a manifest contains.
_KEY = "zqxKEYxqz"
_CATALOG = "zqxCATALOGxqz"
_TITLE = "zqxTITLExqz"
_DESCRIPTION = "zqxDESCRIPTIONxqz"
_SAFE_KEY = re.compile(r"[A-Za-z0-9._-]+")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def escape_text(value: str) -> str:
    """Element text as lxml serializes it: ``& < >`` and carriage returns escaped."""
    return value.translate(_TEXT_ESCAPES)


def _checked(xml: bytes, files: tuple[str, ...]) -> bytes:
    problems = check_manifest(xml, files)
    if problems:
        raise ManifestError("the manifest failed its own check: " + "; ".join(map(str, problems)))
    return xml


@lru_cache(maxsize=512)
def _template(fmt: str, license_type: str, mastery_score: float | None, language: str, files: tuple[str, ...],
              launch_href: str, has_description: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The manifest of this shape split at its placeholders: (the fixed parts, the placeholder
    between each two of them)."""
    spec = ManifestSpec(package_key=_KEY, catalog_id=_CATALOG, course_title=_TITLE, license_type=license_type,
                        mastery_score=mastery_score, description=_DESCRIPTION if has_description else "",
                        language=language, launch_href=launch_href, files=files)
    xml = _checked(build_manifest(spec, fmt), files)
    titled = escape_text(spec.title)
    pieces = re.split(f"({re.escape(titled)}|{_KEY}|{_CATALOG}|{_DESCRIPTION})", xml.decode("utf-8"))
    slots = {titled: _TITLE, _KEY: _KEY, _CATALOG: _CATALOG, _DESCRIPTION: _DESCRIPTION}
    return tuple(pieces[0::2]), tuple(slots[p] for p in pieces[1::2])


def fast_manifest(spec: ManifestSpec, fmt: str) -> bytes:
    """``build_manifest(spec, fmt)``, from the cached template of the spec's shape, checked by
    ``check_manifest`` (each template once, when it is made: the texts filled in are escaped and
    cannot change the structure; a manifest from the builder each time)."""
    if not _SAFE_KEY.fullmatch(spec.package_key) or xml_text(spec.catalog_id) != spec.catalog_id:
        return _checked(build_manifest(spec, fmt), spec.files)
    description = spec.clean_description
    fixed, slots = _template(fmt, spec.license_type, spec.mastery_score, spec.lang, tuple(spec.files),
                             spec.launch_href, bool(description))
    values = {_KEY: spec.package_key, _CATALOG: escape_text(spec.catalog_id),
              _TITLE: escape_text(spec.title), _DESCRIPTION: escape_text(description)}
    out = [fixed[0]]
    for slot, part in zip(slots, fixed[1:], strict=True):
        out += (values[slot], part)
    return "".join(out).encode("utf-8")
