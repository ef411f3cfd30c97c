"""Build a dispatch package zip (pure: no database, no Flask).

One zip per (account, course, license type, format). It holds:

- ``imsmanifest.xml`` (``scorm_packages.manifest``): one SCO whose launch page is ``index.html``;
- ``index.html``: the launch page shown in the LMS (a status line and an error area; the script
  adds the player iframe);
- ``dispatch.js``: the launch page's script (``scorm_packages/runtime/static/dispatch.js``): finds
  the LMS API, reads the learner, signs a launch token, loads the product's player in an iframe
  and relays status back to the LMS;
- ``config.js``: this package's data: package key and generation, signing secret, the
  product's public base URL, course id, title and license type, SCORM version.

Nothing of the real course is inside: the product serves it after checking the license.

No XSD files are shipped and the manifest has no ``xsi:schemaLocation``: LMSs identify the
version from the namespaces and ``schemaversion`` and validate (when they do) with their own
copies; a ``schemaLocation`` pointing at files that are not in the zip would itself be a defect,
and the 2004 LOM schema files carry licenses (CC BY-SA, and the ADL sample RTE's CC BY-NC-SA
question) we should not redistribute to every customer. The manifests validate against the
official schemas in our tests.

The zip is deterministic: the same inputs give the same bytes (fixed timestamps and order).

Several packages at once (``stream_zip_of_zips``): one zip holding each package's zip (stored,
not compressed again), written to a non-seekable sink and handed out chunk by chunk as each
package is added, so a download of hundreds of courses never holds more than one package and
the zip's directory in memory.
"""

from __future__ import annotations

import html
import io
import json
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from scorm_packages.manifest import (
    FORMATS,
    LAUNCH_PAGE,
    MANIFEST_FILE,
    ManifestError,
    ManifestSpec,
    license_label,
)
from scorm_packages.manifest.template import fast_manifest
from scorm_packages.tokens import TOKEN_TTL_SECONDS

SCRIPT_FILE = "dispatch.js"
CONFIG_FILE = "config.js"
PACKAGE_FILES = (LAUNCH_PAGE, SCRIPT_FILE, CONFIG_FILE)
ASSETS_DIR = Path(__file__).resolve().parent / "runtime" / "static"
SCORM_VERSIONS = {"scorm12": "1.2", "scorm2004": "2004"}
LAUNCH_PATH = "/dispatch/launch"
TIME_PATH = "/dispatch/time"
SLUG_MAX = 60
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class PackagingError(ManifestError):
    """The inputs cannot make a valid package (bad base URL, a failed self-check...)."""


@dataclass(frozen=True)
class PackageSpec:
    manifest: ManifestSpec
    fmt: str
    base_url: str
    generation: int
    secret: str

    @property
    def package_key(self) -> str:
        return self.manifest.package_key


@dataclass(frozen=True)
class BuiltPackage:
    filename: str
    data: bytes


def slug(text: str) -> str:
    """Lowercase ASCII words joined by ``-`` (accents folded); "" when nothing Latin is left."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    words = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    return words[:SLUG_MAX].rstrip("-")


def package_filename(title: str, catalog_id: str, license_type: str, fmt: str) -> str:
    """``workplace-safety__volume__scorm12.zip``; a title with no Latin letters or digits (e.g.
    Japanese) falls back to the catalog id."""
    license_label(license_type)
    if fmt not in FORMATS:
        raise PackagingError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    name = slug(title) or slug(catalog_id) or "course"
    return f"{name}__{license_type}__{fmt}.zip"


def normalize_base_url(base_url: str) -> str:
    """``https://host[:port][/path]`` without a trailing slash; refuses anything else."""
    value = (base_url or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or parts.username or parts.password:
        raise PackagingError(f"the base URL must look like https://courses.example.com, got {base_url!r}")
    return value


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


_CONFIG_KEY, _CONFIG_GENERATION, _CONFIG_SECRET = '"zqxKEYxqz"', '"zqxGENERATIONxqz"', '"zqxSECRETxqz"'
_CONFIG_ID, _CONFIG_TITLE = '"zqxIDxqz"', '"zqxTITLExqz"'
_CONFIG_SLOTS = re.compile("|".join(re.escape(slot) for slot in (_CONFIG_KEY, _CONFIG_GENERATION, _CONFIG_SECRET,
                                                                  _CONFIG_ID, _CONFIG_TITLE)))


@lru_cache(maxsize=256)
def _config_template(fmt: str, base: str, license_type: str, label: str, mastery_score: float | None) -> str:
    """The configuration of every package of this format, base URL, license type and mastery
    score, with placeholders (JSON strings) for its key, generation, secret, course id and title."""
    data = {
        "version": 1,
        "format": fmt,
        "scormVersion": SCORM_VERSIONS[fmt],
        "packageKey": json.loads(_CONFIG_KEY),
        "generation": json.loads(_CONFIG_GENERATION),
        "secret": json.loads(_CONFIG_SECRET),
        "baseUrl": base,
        "productOrigin": origin_of(base),
        "launchUrl": base + LAUNCH_PATH,
        "timeUrl": base + TIME_PATH,
        "tokenTtlSeconds": TOKEN_TTL_SECONDS,
        "course": {"id": json.loads(_CONFIG_ID), "title": json.loads(_CONFIG_TITLE), "licenseType": license_type,
                   "licenseLabel": label,
                   "masteryPercent": None if mastery_score is None else round(mastery_score * 100, 2)},
    }
    # ensure_ascii keeps the file 7-bit: no encoding trouble whatever the LMS serves it as.
    body = json.dumps(data, ensure_ascii=True, indent=2, sort_keys=True)
    return ("/* This course package's settings (generated; do not edit: the signature check depends on them). */\n"
            f"window.DISPATCH_CONFIG = {body};\n")


def config_js(spec: PackageSpec) -> str:
    """``config.js``: the package's settings as indented JSON with sorted keys (from a cached
    template: the values that differ per package are filled in JSON-encoded)."""
    m = spec.manifest
    template = _config_template(spec.fmt, normalize_base_url(spec.base_url), m.license_type, m.label,
                                m.mastery_score)
    values = {_CONFIG_KEY: json.dumps(m.package_key), _CONFIG_GENERATION: str(int(spec.generation)),
              _CONFIG_SECRET: json.dumps(spec.secret), _CONFIG_ID: json.dumps(m.catalog_id),
              _CONFIG_TITLE: json.dumps(m.course_title)}
    return _CONFIG_SLOTS.sub(lambda match: values[match.group(0)], template)


def launch_page(spec: PackageSpec) -> str:
    title = html.escape(spec.manifest.title, quote=True)
    lang = html.escape(spec.manifest.lang, quote=True)
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  html, body {{ height: 100%; margin: 0; }}
  body {{ display: flex; flex-direction: column; font-family: system-ui, -apple-system, "Segoe UI", Roboto,
         "Noto Sans", sans-serif; color: #1d2430; background: #fff; line-height: 1.45; }}
  #dispatch-status {{ padding: 12px 16px; color: #5b6576; }}
  #dispatch-errors {{ margin: 8px 12px; padding: 10px 14px; border: 1px solid #d9dee7;
                      border-left: 5px solid #b3261e; border-radius: 6px; background: #f5f7fa; }}
  #dispatch-errors p {{ margin: 0.2em 0; }}
  #dispatch-player {{ flex: 1 1 auto; width: 100%; min-height: 480px; border: 0; }}
  [hidden] {{ display: none !important; }}
</style>
</head>
<body>
<p id="dispatch-status" role="status">Opening the course&hellip;</p>
<div id="dispatch-errors" role="alert" hidden></div>
<noscript><p>This course needs JavaScript. Turn it on and open the course again.</p></noscript>
<script src="{CONFIG_FILE}"></script>
<script src="{SCRIPT_FILE}"></script>
</body>
</html>
"""


@lru_cache(maxsize=1)
def dispatch_script() -> str:
    return (ASSETS_DIR / SCRIPT_FILE).read_text(encoding="utf-8")


# ---------------------------------------------------------------- the zip


@dataclass(frozen=True)
class _Member:
    """A zip member, deflated: its name, CRC-32, size and compressed bytes."""

    name: bytes
    crc: int
    size: int
    deflated: bytes


def _member(name: str, data: bytes) -> _Member:
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return _Member(name.encode("ascii"), zlib.crc32(data), len(data), compressor.compress(data) + compressor.flush())


@lru_cache(maxsize=1)
def _script_member() -> _Member:
    """``dispatch.js`` is the same in every package: compressed once."""
    return _member(SCRIPT_FILE, dispatch_script().encode("utf-8"))


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CENTRAL_HEADER = struct.Struct("<4s4B4HL2L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_ZIP_VERSION = 20  # deflate
_UNIX = 3
_DEFLATED = 8
_DOS_DATE = (_ZIP_TIME[0] - 1980) << 9 | _ZIP_TIME[1] << 5 | _ZIP_TIME[2]
_DOS_TIME = _ZIP_TIME[3] << 11 | _ZIP_TIME[4] << 5 | _ZIP_TIME[5] // 2
_FILE_MODE = 0o644 << 16


def zip_members(members: Iterable[_Member]) -> bytes:
    """A zip of deflated members, in order: the bytes ``zipfile`` writes for them (fixed time,
    mode 644, made on Unix), without compressing what is already compressed."""
    body: list[bytes] = []
    directory: list[bytes] = []
    offset = count = 0
    for m in members:
        sizes = (m.crc, len(m.deflated), m.size, len(m.name))
        body += (_LOCAL_HEADER.pack(b"PK\x03\x04", _ZIP_VERSION, 0, 0, _DEFLATED, _DOS_TIME, _DOS_DATE, *sizes, 0),
                 m.name, m.deflated)
        directory += (_CENTRAL_HEADER.pack(b"PK\x01\x02", _ZIP_VERSION, _UNIX, _ZIP_VERSION, 0, 0, _DEFLATED,
                                           _DOS_TIME, _DOS_DATE, *sizes, 0, 0, 0, 0, _FILE_MODE, offset), m.name)
        offset += _LOCAL_HEADER.size + len(m.name) + len(m.deflated)
        count += 1
    central = b"".join(directory)
    return b"".join(body) + central + _END_RECORD.pack(b"PK\x05\x06", 0, 0, count, count, len(central), offset, 0)


def build_package(spec: PackageSpec) -> BuiltPackage:
    """The zip. Its manifest passed ``check_manifest`` (``fast_manifest``: a broken package is
    never handed out); the script is compressed once for every package."""
    if spec.fmt not in FORMATS:
        raise PackagingError(f"format must be one of {', '.join(FORMATS)}, got {spec.fmt!r}")
    if tuple(spec.manifest.files) != PACKAGE_FILES or spec.manifest.launch_href != LAUNCH_PAGE:
        raise PackagingError(f"a dispatch manifest lists exactly {', '.join(PACKAGE_FILES)}")
    if not spec.secret or spec.generation < 1:
        raise PackagingError("a package needs its signing secret and generation")
    try:
        manifest = fast_manifest(spec.manifest, spec.fmt)
    except ManifestError as exc:
        raise PackagingError(f"the built package failed its own check: {exc}") from None
    data = zip_members((
        _member(MANIFEST_FILE, manifest),
        _member(LAUNCH_PAGE, launch_page(spec).encode("utf-8")),
        _script_member(),
        _member(CONFIG_FILE, config_js(spec).encode("ascii")),
    ))
    m = spec.manifest
    return BuiltPackage(package_filename(m.course_title, m.catalog_id, m.license_type, spec.fmt), data)


# ---------------------------------------------------------------- several packages, streamed


class _Sink(io.RawIOBase):
    """A write-only, non-seekable stream that keeps what was written until it is taken
    (``zipfile`` then writes data descriptors instead of seeking back)."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def unique_member_name(package: BuiltPackage, catalog_id: str, taken: set[str]) -> str:
    """The package's file name inside a zip of zips; two courses with the same title get their
    catalog id in front (``c-101__workplace-safety__volume__scorm12.zip``). Adds it to ``taken``."""
    name = package.filename
    if name in taken:
        name = f"{slug(catalog_id) or 'course'}__{name}"
    counter = 2
    base = name
    while name in taken:
        name = f"{base.removesuffix('.zip')}-{counter}.zip"
        counter += 1
    taken.add(name)
    return name


def stream_zip_of_zips(members: Iterable[tuple[str, bytes]]) -> Iterator[bytes]:
    """One zip of the given (file name, zip bytes) members, as chunks: one chunk per member (its
    header and data) as the member is consumed, then the zip's directory. ``members`` is read
    lazily: pass a generator to build each package only when its turn comes."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
            yield sink.take()
    yield sink.take()


_MEMBER_OVERHEAD = 30 + 16 + 46  # local header, data descriptor, central directory entry
_END_OVERHEAD = 22


def estimated_zip_of_zips_size(count: int, sample: BuiltPackage) -> int:
    """About how many bytes ``stream_zip_of_zips`` writes for ``count`` packages like ``sample``
    (packages differ only in their titles): what a progress bar measures the stream against."""
    per_member = len(sample.data) + 2 * len(sample.filename) + _MEMBER_OVERHEAD
    return count * per_member + _END_OVERHEAD


def zip_of_zips_name(count: int, fmt: str) -> str:
    """``courses-3__scorm2004.zip``: the download name of several packages."""
    if fmt not in FORMATS:
        raise PackagingError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return f"courses-{count}__{fmt}.zip"
