"""Imported SCORM content for tests: generated packages through the real import."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from store.content.archive import ImportLimits
from store.content.scorm_fixture import build_package
from store.content.service import ContentStore, ImportResult, import_content

LIMITS = ImportLimits(max_total_bytes=5_000_000, max_file_bytes=1_000_000, max_files=200)


def content_store(root: Path, limits: ImportLimits = LIMITS) -> ContentStore:
    return ContentStore(root, limits)


def write_zip(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def import_generated(sessions: sessionmaker[Session], store: ContentStore, catalog_id: str, version: str,
                     now: datetime, folder: Path, **package_options: object) -> ImportResult:
    """Build a generated package of ``version`` and import it as the course's content."""
    data = build_package(version, **package_options)  # type: ignore[arg-type]
    path = write_zip(folder, f"{catalog_id}-{version}-{len(data)}.zip", data)
    return import_content(sessions, store, catalog_id, path, now)
