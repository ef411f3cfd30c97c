"""Read functions for imported content. They take a Session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from store.catalog.models import Course
from store.content.model import ContentPackage
from store.content.models import CourseContentVersion
from store.errors import NotFound


def package_of(row: CourseContentVersion) -> ContentPackage:
    return ContentPackage(
        id=row.id, version=row.version, scorm_version=row.scorm_version, storage_key=row.storage_key,
        launch_href=row.launch_href, title=row.title, mastery_score=row.mastery_score,
        launch_data=row.launch_data, completion_threshold=row.completion_threshold,
    )


def current_package(session: Session, course_pk: int) -> ContentPackage | None:
    """The course's current imported package, or None (the course plays demo lessons)."""
    row = session.scalars(
        select(CourseContentVersion)
        .where(CourseContentVersion.course_pk == course_pk, CourseContentVersion.is_current.is_(True))
    ).first()
    return None if row is None else package_of(row)


def current_packages(session: Session, course_pks: list[int]) -> dict[int, ContentPackage]:
    """The current imported package of each course that has one (by course primary key), in one
    query: for many courses at once (a package export)."""
    if not course_pks:
        return {}
    rows = session.scalars(select(CourseContentVersion).where(
        CourseContentVersion.course_pk.in_(course_pks), CourseContentVersion.is_current.is_(True)))
    return {row.course_pk: package_of(row) for row in rows}


def find_package(session: Session, content_id: int, course_pk: int | None = None) -> ContentPackage | None:
    """One imported version by id (of that course, when ``course_pk`` is given)."""
    row = session.get(CourseContentVersion, content_id)
    if row is None or (course_pk is not None and row.course_pk != course_pk):
        return None
    return package_of(row)


@dataclass(frozen=True)
class ContentVersionRow:
    """One imported version, for ``lti-tool content list``."""

    id: int
    catalog_id: str  # catalog id
    version: int
    scorm_version: str
    title: str
    launch_href: str
    storage_key: str
    size_bytes: int
    file_count: int
    mastery_score: float | None
    original_filename: str
    imported_at: datetime
    is_current: bool
    pinned_attempts: int  # progress rows (seat attempts) that play this version


def list_versions(session: Session, pins: Select[tuple[int | None, int]],
                  course_catalog_id: str | None = None) -> list[ContentVersionRow]:
    """Content versions with how many learners' attempts play each. ``pins`` selects columns
    ``content_id`` and ``attempts``: the progress records' own count
    (``store.progress.queries.attempts_per_content_version``); content does not read progress."""
    pinned = pins.subquery()
    stmt = (
        select(CourseContentVersion, Course.catalog_id, func.coalesce(pinned.c.attempts, 0))
        .join(Course, Course.id == CourseContentVersion.course_pk)
        .outerjoin(pinned, pinned.c.content_id == CourseContentVersion.id)
        .order_by(Course.catalog_id, CourseContentVersion.version)
    )
    if course_catalog_id is not None:
        if session.scalar(select(Course.id).where(Course.catalog_id == course_catalog_id)) is None:
            raise NotFound(f"course {course_catalog_id!r} is not in the catalog", reason="unknown_course")
        stmt = stmt.where(Course.catalog_id == course_catalog_id)
    return [
        ContentVersionRow(
            id=row.id, catalog_id=catalog_id, version=row.version, scorm_version=row.scorm_version,
            title=row.title, launch_href=row.launch_href, storage_key=row.storage_key,
            size_bytes=row.size_bytes, file_count=row.file_count, mastery_score=row.mastery_score,
            original_filename=row.original_filename, imported_at=row.imported_at, is_current=row.is_current,
            pinned_attempts=int(count),
        )
        for row, catalog_id, count in session.execute(stmt)
    ]
