"""Opening a publisher's zip safely (no Flask, no database).

``inspect_archive`` reads only the zip's directory and refuses, before anything is extracted:
entries whose path would leave the package folder (absolute paths, ``..`` segments,
backslashes, drive letters, NUL or control characters) or is too deep or too long (more than
``MAX_PATH_DEPTH`` segments, a name over 255 bytes, a path over 1,024 bytes), symbolic links,
encrypted entries, unsupported compression, two entries for one path, and zip bombs (more
files, more bytes in one file or more bytes in total than the limits allow).
``extract_archive`` then streams each file out, counting the bytes it really inflates (a zip's
directory can lie about sizes), into a fresh folder with ordinary permissions.
"""

from __future__ import annotations

import lzma
import os
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from store.content.errors import ContentRejected  # noqa: F401 - raised here, importable from here

CHUNK = 1 << 16
# Paths a package may use (real courses stay far below): deeper or longer ones are refused before
# anything is written (a 2,000-folder-deep entry used to exhaust the recursion of mkdir).
MAX_PATH_DEPTH = 40  # path segments, the file included
MAX_NAME_BYTES = 255  # one file or folder name (the common file system limit)
MAX_PATH_BYTES = 1024  # the whole relative path (PATH_MAX is 4096 with CONTENT_DIR in front)
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@dataclass(frozen=True)
class ImportLimits:
    max_total_bytes: int
    max_file_bytes: int
    max_files: int


@dataclass(frozen=True)
class ArchiveEntry:
    path: str  # normalized, relative, "/"-separated
    info: zipfile.ZipInfo


@dataclass(frozen=True)
class ArchiveListing:
    files: tuple[ArchiveEntry, ...]
    total_bytes: int  # as the directory declares; extraction checks the real count

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(entry.path for entry in self.files)


def _reject(reason: str, message: str) -> ContentRejected:
    return ContentRejected(message, reason=reason)


def _show(name: str) -> str:
    return repr(name[:120])


def safe_member_path(name: str) -> str:
    """The entry's path relative to the package folder, or ContentRejected(unsafe_path)."""
    if not name or _CONTROL.search(name):
        raise _reject("unsafe_path", f"zip entry {_show(name)} has an empty name or control characters")
    if "\\" in name:
        raise _reject("unsafe_path", f"zip entry {_show(name)} uses backslashes: paths must use '/'")
    if name.startswith("/"):
        raise _reject("unsafe_path", f"zip entry {_show(name)} is an absolute path")
    if _DRIVE.match(name):
        raise _reject("unsafe_path", f"zip entry {_show(name)} starts with a drive letter")
    parts = [part for part in name.rstrip("/").split("/") if part not in ("", ".")]
    if any(part == ".." for part in name.split("/")):
        raise _reject("unsafe_path", f"zip entry {_show(name)} leaves the package folder ('..')")
    if not parts:
        raise _reject("unsafe_path", f"zip entry {_show(name)} names no file")
    if len(parts) > MAX_PATH_DEPTH:
        raise _reject("path_too_deep", f"zip entry {_show(name)} is {len(parts) - 1} folders deep; at most "
                                       f"{MAX_PATH_DEPTH - 1} are allowed")
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in parts):
        raise _reject("path_too_long", f"zip entry {_show(name)} has a file or folder name longer than "
                                       f"{MAX_NAME_BYTES} bytes")
    path = "/".join(parts)
    if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise _reject("path_too_long", f"zip entry {_show(name)} has a path longer than {MAX_PATH_BYTES} bytes")
    return path


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return mode != 0 and stat.S_ISLNK(mode)


def inspect_archive(archive: zipfile.ZipFile, limits: ImportLimits) -> ArchiveListing:
    """Every file of the zip, checked (see the module docstring); nothing is extracted."""
    files: list[ArchiveEntry] = []
    seen: dict[str, str] = {}
    total = 0
    for info in archive.infolist():
        path = safe_member_path(info.filename)
        if _is_symlink(info):
            raise _reject("symlink", f"zip entry {_show(info.filename)} is a symbolic link")
        if info.flag_bits & 0x1:
            raise _reject("encrypted", f"zip entry {_show(info.filename)} is encrypted")
        if info.is_dir():
            continue
        if info.compress_type not in SUPPORTED_COMPRESSION:
            raise _reject("unsupported_compression",
                          f"zip entry {_show(info.filename)} uses an unsupported compression method")
        folded = path.casefold()
        if folded in seen:
            raise _reject("duplicate_entry", f"the zip holds {_show(path)} twice (or twice in different case)")
        seen[folded] = path
        if info.file_size > limits.max_file_bytes:
            raise _reject("file_too_big", f"zip entry {_show(path)} unpacks to {info.file_size} bytes, more "
                                          f"than the {limits.max_file_bytes} allowed per file (CONTENT_MAX_FILE_BYTES)")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise _reject("too_big", f"the zip unpacks to more than {limits.max_total_bytes} bytes "
                                     "(CONTENT_MAX_BYTES)")
        files.append(ArchiveEntry(path, info))
        if len(files) > limits.max_files:
            raise _reject("too_many_files", f"the zip holds more than {limits.max_files} files (CONTENT_MAX_FILES)")
    # A file and a folder of the same name cannot both exist on disk.
    folders = {"/".join(e.path.split("/")[:i]).casefold() for e in files for i in range(1, e.path.count("/") + 1)}
    for entry in files:
        if entry.path.casefold() in folders:
            raise _reject("duplicate_entry", f"the zip holds {_show(entry.path)} both as a file and as a folder")
    return ArchiveListing(tuple(files), total)


def _chunks(archive: zipfile.ZipFile, entry: ArchiveEntry) -> Iterator[bytes]:
    with archive.open(entry.info) as source:
        while chunk := source.read(CHUNK):
            yield chunk


def extract_archive(archive: zipfile.ZipFile, listing: ArchiveListing, dest: Path, limits: ImportLimits) -> int:
    """Write every listed file under ``dest`` (which must not exist yet); returns the bytes
    written. ContentRejected when a file inflates past its declared size or the limits, or is
    corrupt; the caller removes ``dest`` then."""
    dest.mkdir(mode=0o755)
    root = dest.resolve()
    written = 0
    for entry in listing.files:
        target = (dest / entry.path).resolve()
        if root not in target.parents:  # belt and braces: safe_member_path already refused this
            raise _reject("unsafe_path", f"zip entry {_show(entry.path)} leaves the package folder")
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        size = 0
        try:
            with open(target, "xb") as out:
                for chunk in _chunks(archive, entry):
                    size += len(chunk)
                    written += len(chunk)
                    if size > entry.info.file_size or size > limits.max_file_bytes or written > limits.max_total_bytes:
                        raise _reject("too_big", f"zip entry {_show(entry.path)} inflates past its declared size "
                                                 "or the limits")
                    out.write(chunk)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, zlib.error,
                lzma.LZMAError, ValueError) as exc:
            raise _reject("corrupt_zip", f"zip entry {_show(entry.path)} cannot be read: {exc}") from None
        os.chmod(target, 0o644)
    return written


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
