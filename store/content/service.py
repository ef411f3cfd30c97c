"""Importing a publisher's SCORM package as a course's content, and cleaning up old versions.

``import_content`` (``lti-tool content import --course C FILE``):

1. the course must be in the catalog; the file must be a zip (``archive.inspect_archive``
   refuses unsafe paths, links, encrypted entries and zip bombs before anything is written);
2. ``imsmanifest.xml`` must be at the zip's root; ``manifest.read_manifest`` finds the SCO to
   launch and checks that every file the manifest names is in the zip;
3. the files are extracted into ``CONTENT_DIR/.incoming/<random>`` and renamed, in one step, to
   ``CONTENT_DIR/packages/<sha256 of the zip>``: a folder there is always complete, and the same
   zip imported again (for this or another course) is stored once. An import holds a lock on its
   extraction folder (``store.content.incoming``): what a killed import left is removed by the
   next import or prune;
4. one transaction adds the version row and makes it the course's current one.

Any failure leaves nothing behind: no row, no new folder. Importing the zip that is already
current changes nothing (``is_new_version`` False).

Old versions: a re-import makes the new version current for every learner who has not started
the course; a learner mid-attempt keeps the version they started on (their progress row pins
it). ``prune_content`` (``lti-tool content prune``) deletes versions that are neither current
nor pinned by any learner's progress, and their folders when no other version uses them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.base import require_aware
from store.catalog.models import Course
from store.content.archive import (
    ArchiveListing,
    ContentRejected,
    ImportLimits,
    extract_archive,
    inspect_archive,
    remove_tree,
)
from store.content.incoming import extraction_folder, remove_abandoned
from store.content.manifest import MANIFEST, MAX_MANIFEST_BYTES, ManifestInfo, read_manifest
from store.content.models import CourseContentVersion
from store.errors import NotFound
from store.text import printable

log = logging.getLogger(__name__)

INCOMING = ".incoming"
PACKAGES = "packages"
# Folders changed more recently than this may belong to an import still running: prune leaves them.
RECENT_FOLDER_SECONDS = 600
RECENT_INCOMING_SECONDS = 3600


@dataclass(frozen=True)
class ContentStore:
    """Where imported packages live on disk, and the limits an import must respect."""

    root: Path
    limits: ImportLimits

    @property
    def packages(self) -> Path:
        return self.root / PACKAGES

    @property
    def incoming(self) -> Path:
        return self.root / INCOMING

    def folder(self, storage_key: str) -> Path:
        if len(storage_key) != 64 or any(c not in "0123456789abcdef" for c in storage_key):
            raise ValueError("a storage key is a SHA-256 in lowercase hex")
        return self.packages / storage_key


@dataclass(frozen=True)
class ImportResult:
    catalog_id: str  # catalog id
    content_id: int
    version: int
    scorm_version: str
    title: str
    launch_href: str
    storage_key: str
    size_bytes: int
    file_count: int
    mastery_score: float | None
    is_new_version: bool  # False: this zip was already the course's current content
    replaced_version: int | None  # the version that was current before


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _course_pk(sessions: sessionmaker[Session], course_catalog_id: str) -> int:
    with sessions() as session:
        pk = session.scalar(select(Course.id).where(Course.catalog_id == course_catalog_id))
    if pk is None:
        raise NotFound(f"course {course_catalog_id!r} is not in the catalog", reason="unknown_course")
    return pk


def _place_files(store: ContentStore, archive: zipfile.ZipFile, listing: ArchiveListing, key: str) -> bool:
    """Make ``packages/<key>`` hold the package's files; True when this call created it."""
    final = store.folder(key)
    if final.is_dir():
        os.utime(final)  # a fresh mtime: prune leaves recently used folders alone
        return False
    remove_abandoned(store.incoming, stale_after_seconds=RECENT_INCOMING_SECONDS)  # what killed imports left
    store.packages.mkdir(parents=True, exist_ok=True)
    with extraction_folder(store.incoming) as temp:  # removed on the way out if not renamed
        extract_archive(archive, listing, temp, store.limits)
        try:
            os.rename(temp, final)
        except OSError:
            if final.is_dir():  # the same zip was imported at the same moment: use that copy
                return False
            raise
    return True


def import_content(sessions: sessionmaker[Session], store: ContentStore, course_catalog_id: str, zip_path: Path | str,
                   now: datetime, *, original_filename: str | None = None) -> ImportResult:
    """Import a SCORM 1.2 or 2004 zip as the course's current content (see the module docstring).
    Raises NotFound(unknown_course) or ContentRejected (reason names the problem)."""
    now = require_aware(now, "now")
    zip_path = Path(zip_path)
    course_pk = _course_pk(sessions, course_catalog_id)
    if not zip_path.is_file():
        raise ContentRejected(f"{str(zip_path)[:200]} is not a file", reason="file_not_found")
    key = _sha256(zip_path)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ContentRejected(f"not a zip file: {str(exc)[:200]}", reason="not_zip") from None
    with archive:
        listing = inspect_archive(archive, store.limits)
        by_path = {entry.path: entry for entry in listing.files}
        manifest_entry = by_path.get(MANIFEST)
        if manifest_entry is None:
            nested = sorted(p for p in by_path if p.rsplit("/", 1)[-1].lower() == MANIFEST)
            hint = (f" (found {nested[0][:120]!r}: zip the folder's contents, not the folder)" if nested else "")
            raise ContentRejected(f"the zip has no {MANIFEST} at its root{hint}", reason="no_manifest")
        if manifest_entry.info.file_size > MAX_MANIFEST_BYTES:
            raise ContentRejected(f"{MANIFEST} is larger than {MAX_MANIFEST_BYTES} bytes", reason="manifest_invalid")
        try:
            manifest_bytes = archive.read(manifest_entry.info)
        except (zipfile.BadZipFile, EOFError, NotImplementedError, ValueError) as exc:
            raise ContentRejected(f"{MANIFEST} cannot be read: {str(exc)[:200]}", reason="corrupt_zip") from None
        info = read_manifest(manifest_bytes, listing.paths)
        created = _place_files(store, archive, listing, key)
    filename = printable(original_filename or zip_path.name)[:255]  # shown in listings: escaped, never raw
    try:
        return _record(sessions, course_pk, course_catalog_id, key, info, listing.total_bytes, len(listing.files),
                       filename, now)
    except BaseException:
        if created:
            _remove_if_unused(sessions, store, key)
        raise


def _record(sessions: sessionmaker[Session], course_pk: int, course_catalog_id: str, key: str, info: ManifestInfo,
            size: int, count: int, filename: str, now: datetime) -> ImportResult:
    try:
        with sessions.begin() as session:
            current = session.scalars(
                select(CourseContentVersion)
                .where(CourseContentVersion.course_pk == course_pk, CourseContentVersion.is_current.is_(True))
                .with_for_update()
            ).first()
            if (current is not None and current.storage_key == key and current.launch_href == info.launch_href
                    and current.scorm_version == info.scorm_version):
                return _result(course_catalog_id, current, is_new=False, replaced=None)
            latest = session.scalar(select(func.max(CourseContentVersion.version))
                                    .where(CourseContentVersion.course_pk == course_pk)) or 0
            replaced = None
            if current is not None:
                replaced = current.version
                current.is_current = False
                session.flush()  # before the insert: one current version per course
            row = CourseContentVersion(
                course_pk=course_pk, version=latest + 1, scorm_version=info.scorm_version, storage_key=key,
                launch_href=info.launch_href, title=info.title, manifest_identifier=info.identifier,
                item_identifier=info.item_identifier, mastery_score=info.mastery_score,
                launch_data=info.launch_data, completion_threshold=info.completion_threshold, size_bytes=size,
                file_count=count, original_filename=filename, imported_at=now, is_current=True,
            )
            session.add(row)
            session.flush()
            return _result(course_catalog_id, row, is_new=True, replaced=replaced)
    except IntegrityError:
        raise ContentRejected("another import of this course ran at the same time; try again",
                              reason="busy") from None


def _result(course_catalog_id: str, row: CourseContentVersion, *, is_new: bool, replaced: int | None) -> ImportResult:
    return ImportResult(
        catalog_id=course_catalog_id, content_id=row.id, version=row.version, scorm_version=row.scorm_version,
        title=row.title, launch_href=row.launch_href, storage_key=row.storage_key, size_bytes=row.size_bytes,
        file_count=row.file_count, mastery_score=row.mastery_score, is_new_version=is_new, replaced_version=replaced,
    )


def _remove_if_unused(sessions: sessionmaker[Session], store: ContentStore, key: str) -> None:
    try:
        with sessions() as session:
            used = session.scalar(select(func.count()).select_from(CourseContentVersion)
                                  .where(CourseContentVersion.storage_key == key))
    except Exception:  # noqa: BLE001 - the database failed: keep the files, prune removes them later
        log.exception("could not check whether content %s is used; leaving its folder", key)
        return
    if not used:
        remove_tree(store.folder(key))


# ---------------------------------------------------------------- pruning


@dataclass(frozen=True)
class PruneResult:
    removed_versions: tuple[tuple[str, int], ...]  # (course catalog id, version)
    kept_pinned: int  # old versions kept because a learner's attempt plays them
    removed_folders: int


def prune_content(sessions: sessionmaker[Session], store: ContentStore, in_use: Select[tuple[int | None]], *,
                  course_catalog_id: str | None = None, recent_seconds: int = RECENT_FOLDER_SECONDS,
                  recent_incoming_seconds: int = RECENT_INCOMING_SECONDS) -> PruneResult:
    """Delete old versions no learner plays, then the folders no version uses (folders changed
    in the last ``recent_seconds`` are left: an import may be about to record them), then the
    extraction folders of imports that were interrupted (at once when their lock is free;
    where locks cannot tell, once unchanged for ``recent_incoming_seconds``). ``in_use`` selects
    the ids of the versions learners' attempts play (``store.progress.queries.content_versions_in_use``):
    content does not read progress records itself. NotFound(unknown_course) when
    ``course_catalog_id`` names no catalog course."""
    if course_catalog_id is not None:
        _course_pk(sessions, course_catalog_id)
    with sessions.begin() as session:
        pinned = CourseContentVersion.id.in_(in_use)
        old = (select(CourseContentVersion, Course.catalog_id)
               .join(Course, Course.id == CourseContentVersion.course_pk)
               .where(CourseContentVersion.is_current.is_(False)))
        if course_catalog_id is not None:
            old = old.where(Course.catalog_id == course_catalog_id)
        removed: list[tuple[str, int]] = []
        kept = 0
        for row, catalog_id in session.execute(old.where(~pinned)).all():
            removed.append((catalog_id, row.version))
            session.delete(row)
        kept = session.scalar(select(func.count()).select_from(old.where(pinned).subquery())) or 0
        session.flush()
        used = set(session.scalars(select(CourseContentVersion.storage_key).distinct()))
    folders = 0
    now = time.time()
    if store.packages.is_dir():
        for folder in store.packages.iterdir():
            if folder.name not in used and folder.is_dir() and folder.stat().st_mtime <= now - recent_seconds:
                remove_tree(folder)
                folders += 1
    remove_abandoned(store.incoming, stale_after_seconds=recent_incoming_seconds)
    return PruneResult(tuple(removed), kept, folders)
