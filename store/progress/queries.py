"""Read functions for progress: the player's resume state, a learner's courses, reports.

They take a Session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, func, select
from sqlalchemy.orm import Session

from store.accounts.models import Learner
from store.catalog.models import Course, Publisher
from store.content import ContentPackage, CourseInfo
from store.content.models import CourseContentVersion
from store.content.queries import current_package, package_of
from store.database import built_once, column_snapshot
from store.licenses.models import CourseLaunch, Seat
from store.progress.models import CourseProgress
from store.progress.rules import ProgressState


@dataclass(frozen=True)
class ProgressView:
    """A learner's progress in one course under one seat (all defaults: not started yet)."""

    seat_id: int
    catalog_id: str  # catalog id
    learner_id: int
    location: str = ""
    completion_status: str = "not attempted"
    success_status: str = "unknown"
    score_raw: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    score_scaled: float | None = None
    total_time_seconds: int = 0
    session_count: int = 0
    suspend_data: str = ""
    cmi: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    # Set by a commit: whether it changed completion, success or the score (what an LMS
    # gradebook shows); a commit of location or time only leaves it False.
    status_changed: bool = False

    @property
    def score_percent(self) -> int | None:
        return None if self.score_scaled is None else round(self.score_scaled * 100)

    @property
    def is_completed(self) -> bool:
        return self.completion_status == "completed"

    def state(self) -> ProgressState:
        return ProgressState(
            location=self.location, completion_status=self.completion_status,
            success_status=self.success_status, score_raw=self.score_raw, score_min=self.score_min,
            score_max=self.score_max, score_scaled=self.score_scaled,
            total_time_seconds=self.total_time_seconds, session_count=self.session_count,
            suspend_data=self.suspend_data, cmi=dict(self.cmi), completed_at=self.completed_at,
        )


def content_versions_in_use() -> Select[tuple[int | None]]:
    """Ids of the imported content versions that learners' attempts play (kept by a prune)."""
    return select(CourseProgress.content_id).where(CourseProgress.content_id.is_not(None))


def attempts_per_content_version() -> Select[tuple[int | None, int]]:
    """Columns ``content_id`` and ``attempts``: how many learners' attempts play each version."""
    return (select(CourseProgress.content_id.label("content_id"), func.count().label("attempts"))
            .where(CourseProgress.content_id.is_not(None)).group_by(CourseProgress.content_id))


def view_of(row: CourseProgress, course_catalog_id: str, learner_id: int, status_changed: bool = False) -> ProgressView:
    return ProgressView(
        seat_id=row.seat_id, catalog_id=course_catalog_id, learner_id=learner_id, location=row.location,
        completion_status=row.completion_status, success_status=row.success_status,
        score_raw=row.score_raw, score_min=row.score_min, score_max=row.score_max,
        score_scaled=row.score_scaled, total_time_seconds=row.total_time_seconds,
        session_count=row.session_count, suspend_data=row.suspend_data, cmi=dict(row.cmi or {}),
        started_at=row.started_at, updated_at=row.updated_at, completed_at=row.completed_at,
        status_changed=status_changed,
    )


def find_course(session: Session, catalog_id: str) -> tuple[Course, CourseInfo] | None:
    """The course and the facts its content is built from."""
    row = session.execute(
        select(Course, Publisher.name).join(Publisher, Publisher.id == Course.publisher_id)
        .where(Course.catalog_id == catalog_id)
    ).first()
    if row is None:
        return None
    course, publisher = row
    return course, course_info(course, publisher, current_package(session, course.id))


def course_info(course: Course, publisher: str, package: ContentPackage | None) -> CourseInfo:
    topics: list[Any] = course.topics if isinstance(course.topics, list) else []
    return CourseInfo(
        catalog_id=course.catalog_id, title=course.title, description=course.description or "",
        publisher=publisher, language=course.language or "", duration_minutes=course.duration_minutes or 0,
        topics=tuple(str(t) for t in topics), package=package,
    )


@dataclass(frozen=True)
class PlayerRow:
    """What the player page reads, in one statement (``player_row``). The seat, the course and
    the progress row are read-only snapshots of the columns the player reads (``_PLAYER_COLUMNS``),
    not ORM entities."""

    seat: Seat
    course: Course
    info: CourseInfo
    launched: bool  # the seat engine admitted the seat to the course
    progress: CourseProgress | None


# The columns the player reads of each table, the primary key first (NULL: no row joined). Only
# these: every column of a result costs the driver a description object per execution.
_PLAYER_COLUMNS = (
    (Seat.__table__, ("id", "learner_id", "license_type")),
    (Course.__table__, ("id", "catalog_id", "title", "description", "language", "duration_minutes", "topics")),
    (CourseContentVersion.__table__, ("id", "version", "scorm_version", "storage_key", "launch_href", "title",
                                      "mastery_score", "launch_data", "completion_threshold")),
    (CourseProgress.__table__, ("id", "seat_id", "location", "completion_status", "success_status", "score_raw",
                                "score_min", "score_max", "score_scaled", "total_time_seconds", "session_count",
                                "suspend_data", "cmi", "started_at", "updated_at", "completed_at", "content_id")),
)


def _build_player_select(_dialect: str) -> Select[Any]:
    seat, course, version, progress = (table for table, _names in _PLAYER_COLUMNS)
    columns = [table.c[name] for table, names in _PLAYER_COLUMNS for name in names]
    return (
        select(*columns, Publisher.__table__.c.name, CourseLaunch.__table__.c.id)
        .select_from(seat)
        .join(course, course.c.catalog_id == bindparam("catalog_id"))
        .join(Publisher.__table__, Publisher.__table__.c.id == course.c.publisher_id)
        .outerjoin(version, and_(version.c.course_pk == course.c.id, version.c.is_current.is_(True)))
        .outerjoin(CourseLaunch.__table__, and_(CourseLaunch.__table__.c.seat_id == seat.c.id,
                                                CourseLaunch.__table__.c.course_pk == course.c.id))
        .outerjoin(progress, and_(progress.c.seat_id == seat.c.id, progress.c.course_pk == course.c.id))
        .where(seat.c.id == bindparam("seat_id"))
    )


_player_select = built_once(_build_player_select)
_PLAYER_SLICES: list[tuple[int, tuple[str, ...]]] = []
_start = 0
for _table, _names in _PLAYER_COLUMNS:
    _PLAYER_SLICES.append((_start, _names))
    _start += len(_names)
del _start, _table, _names


def player_row(session: Session | Connection, seat_id: int, catalog_id: str) -> PlayerRow | None:
    """The seat, the course with its publisher and current package, whether the seat was
    admitted to it, and the progress row, in one statement (Core rows, no ORM entities); None
    when the seat or the course is unknown."""
    conn = session if isinstance(session, Connection) else session.connection()
    row = conn.execute(_player_select(conn), {"seat_id": seat_id, "catalog_id": catalog_id}).first()
    if row is None:
        return None
    seat, course, version, progress = (column_snapshot(row, start, names) for start, names in _PLAYER_SLICES)
    publisher, launch_id = row[-2], row[-1]
    package = package_of(version) if version is not None else None
    return PlayerRow(seat, course, course_info(course, publisher, package), launch_id is not None, progress)


def find_progress(session: Session, seat_id: int, course_pk: int) -> CourseProgress | None:
    return session.scalars(
        select(CourseProgress).where(CourseProgress.seat_id == seat_id, CourseProgress.course_pk == course_pk)
    ).first()


def has_launched(session: Session, seat_id: int, course_pk: int) -> bool:
    """Whether the seat engine admitted this seat to this course (it records every launch)."""
    return session.scalars(
        select(CourseLaunch.id).where(CourseLaunch.seat_id == seat_id, CourseLaunch.course_pk == course_pk)
    ).first() is not None


# ---------------------------------------------------------------- a learner's courses

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MyCourse:
    seat_id: int
    catalog_id: str  # catalog id
    title: str
    publisher: str
    license_type: str
    attempt: int
    seat_expires_at: datetime | None
    first_launched_at: datetime | None
    last_launched_at: datetime | None
    completion_status: str
    success_status: str
    score_percent: int | None
    total_time_seconds: int


def my_courses(session: Session, learner_id: int) -> list[MyCourse]:
    """Courses a learner holds a seat for: every course launched under their seats (a Plus seat
    covers many), and the course of a Volume/PPU seat not launched yet; most recent first."""
    progress_join = and_(CourseProgress.seat_id == Seat.id, CourseProgress.course_pk == Course.id)
    launched = session.execute(
        select(Seat, Course, Publisher.name, CourseLaunch, CourseProgress)
        .join(CourseLaunch, CourseLaunch.seat_id == Seat.id)
        .join(Course, Course.id == CourseLaunch.course_pk)
        .join(Publisher, Publisher.id == Course.publisher_id)
        .outerjoin(CourseProgress, progress_join)
        .where(Seat.learner_id == learner_id)
    ).all()
    not_launched = session.execute(
        select(Seat, Course, Publisher.name)
        .join(Course, Course.id == Seat.course_pk)
        .join(Publisher, Publisher.id == Course.publisher_id)
        .where(Seat.learner_id == learner_id,
               ~select(CourseLaunch.id).where(CourseLaunch.seat_id == Seat.id,
                                              CourseLaunch.course_pk == Seat.course_pk).exists())
    ).all()
    rows = [(seat, course, publisher, launch, progress) for seat, course, publisher, launch, progress in launched]
    rows += [(seat, course, publisher, None, None) for seat, course, publisher in not_launched]
    out = [
        MyCourse(
            seat_id=seat.id, catalog_id=course.catalog_id, title=course.title, publisher=publisher,
            license_type=seat.license_type, attempt=seat.attempt, seat_expires_at=seat.expires_at,
            first_launched_at=launch.first_launched_at if launch else None,
            last_launched_at=launch.last_launched_at if launch else None,
            completion_status=progress.completion_status if progress else "not attempted",
            success_status=progress.success_status if progress else "unknown",
            score_percent=None if progress is None or progress.score_scaled is None
            else round(progress.score_scaled * 100),
            total_time_seconds=progress.total_time_seconds if progress else 0,
        )
        for seat, course, publisher, launch, progress in rows
    ]
    out.sort(key=lambda c: (c.last_launched_at is not None, c.last_launched_at or _NEVER, c.seat_id),
             reverse=True)
    return out


# ---------------------------------------------------------------- reports


@dataclass(frozen=True)
class ProgressRow:
    """One learner in one course under one seat, for the admin's reports and CSV."""

    catalog_id: str
    course_title: str
    learner_id: int
    learner_external_id: str
    learner_name: str | None
    learner_email: str | None
    license_type: str
    attempt: int
    first_launched_at: datetime
    last_launched_at: datetime
    launch_count: int
    completion_status: str
    success_status: str
    score_percent: int | None
    total_time_seconds: int
    updated_at: datetime | None


def progress_report(session: Session, account_id: int, course_catalog_id: str | None = None,
                    limit: int | None = None, offset: int = 0) -> list[ProgressRow]:
    """Every (seat, course) an account's learners launched, with their progress, ordered by
    course title, learner name and attempt. Only the account's own seats: an organization sees
    activity under the licenses it bought, nobody else's."""
    stmt = (
        select(CourseLaunch, Seat, Course, Learner, CourseProgress)
        .join(Seat, Seat.id == CourseLaunch.seat_id)
        .join(Course, Course.id == CourseLaunch.course_pk)
        .join(Learner, Learner.id == Seat.learner_id)
        .outerjoin(CourseProgress, and_(CourseProgress.seat_id == Seat.id, CourseProgress.course_pk == Course.id))
        .where(Seat.account_id == account_id)
        .order_by(Course.title, Course.id, Learner.name, Learner.external_id, Seat.attempt, Seat.id)
    )
    if course_catalog_id is not None:
        stmt = stmt.where(Course.catalog_id == course_catalog_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return [
        ProgressRow(
            catalog_id=course.catalog_id, course_title=course.title, learner_id=learner.id,
            learner_external_id=learner.external_id, learner_name=learner.name, learner_email=learner.email,
            license_type=seat.license_type, attempt=seat.attempt,
            first_launched_at=launch.first_launched_at, last_launched_at=launch.last_launched_at,
            launch_count=launch.launch_count,
            completion_status=progress.completion_status if progress else "not attempted",
            success_status=progress.success_status if progress else "unknown",
            score_percent=None if progress is None or progress.score_scaled is None
            else round(progress.score_scaled * 100),
            total_time_seconds=progress.total_time_seconds if progress else 0,
            updated_at=progress.updated_at if progress else None,
        )
        for launch, seat, course, learner, progress in session.execute(stmt)
    ]
