"""Learner reports: one row per learner and course (with identity linking on: per person, every
identity of theirs together), with first and last launch, status, score, time spent, license
types and delivery methods; filtered by course, license type, status and date range; a page for
the dashboard and a streamed CSV of exactly the same rows.

API::

    report_page(read_sessions, account_id, filters, page=1, per_page=50) -> ReportPage
    report_csv(read_sessions, account_id, filters, *, batch=500) -> Iterator[str]   # CSV text, line by line
    report_courses(read_sessions, account_id) -> tuple[ReportCourse, ...]            # the Course filter's choices

**Visibility.** A report shows only seats of the account: seats under the licenses it bought (or
staff granted it). A learner who buys a license for themself does so in an account of their own
(an independent learner's, kind ``individual``), so their activity never appears in an
organization's report, even with the same address and identity linking on (linking never
crosses accounts).

**Streaming.** The CSV is a generator over one grouped query read with ``yield_per`` (a
server-side cursor on PostgreSQL; SQLite steps through its result): rows are fetched ``batch``
at a time, and each batch's identities come with one more query, so memory stays bounded
whatever the report's size.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from store.accounts.identities import DELIVERIES, identity_label
from store.accounts.models import Account, Learner
from store.catalog.limits import CATALOG_ID_MAX
from store.catalog.models import Course
from store.errors import InvalidInput, NotFound
from store.licenses.labels import LICENSE_TYPES
from store.licenses.models import CourseLaunch, Seat
from store.paging import Paged
from store.progress.models import CourseProgress
from store.reports import rules
from store.reports.rules import ReportFilters, ReportRow
from store.text import check_text

DEFAULT_PER_PAGE = 50
CSV_BATCH = 500


@dataclass(frozen=True)
class ReportPage(Paged):
    filters: ReportFilters
    rows: tuple[ReportRow, ...]
    total: int
    page: int
    per_page: int
    linked: bool  # identity linking on: rows are people, their identities together


def _rank() -> ColumnElement[int]:
    """The status rank of one progress record (no record: not started)."""
    return case(
        (CourseProgress.success_status == "passed", rules.RANK["passed"]),
        (and_(CourseProgress.completion_status == "completed", CourseProgress.success_status != "failed"),
         rules.RANK["completed"]),
        (CourseProgress.success_status == "failed", rules.RANK["failed"]),
        (CourseProgress.completion_status == "incomplete", rules.RANK["in_progress"]),
        else_=rules.RANK["not_started"],
    )


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.max(case((condition, 1), else_=0))


def _person(linked: bool) -> ColumnElement[int]:
    return func.coalesce(Learner.person_id, Learner.id) if linked else Learner.id


def _grouped(account_id: int, filters: ReportFilters, linked: bool) -> Select[Any]:
    person = _person(linked).label("person")
    rank = func.max(_rank())
    first = func.min(CourseLaunch.first_launched_at)
    last = func.max(CourseLaunch.last_launched_at)
    stmt = (
        select(person, Course.id, Course.catalog_id, Course.title, first, last, rank,
               func.max(CourseProgress.score_scaled), func.coalesce(func.sum(CourseProgress.total_time_seconds), 0),
               func.sum(CourseLaunch.launch_count), func.max(Learner.name), func.max(Learner.email),
               *(_flag(Seat.license_type == t) for t in LICENSE_TYPES),
               *(_flag(Learner.delivery == d) for d in DELIVERIES))
        .select_from(CourseLaunch)
        .join(Seat, Seat.id == CourseLaunch.seat_id)
        .join(Learner, Learner.id == Seat.learner_id)
        .join(Course, Course.id == CourseLaunch.course_pk)
        .outerjoin(CourseProgress, and_(CourseProgress.seat_id == CourseLaunch.seat_id,
                                        CourseProgress.course_pk == CourseLaunch.course_pk))
        # Visibility: only the account's own seats (under the licenses it holds).
        .where(Seat.account_id == account_id, Learner.account_id == account_id)
        .group_by(person, Course.id, Course.catalog_id, Course.title)
    )
    if filters.catalog_id is not None:
        stmt = stmt.where(Course.catalog_id == filters.catalog_id)
    if filters.license_type is not None:
        stmt = stmt.where(Seat.license_type == filters.license_type)
    if filters.status is not None:
        stmt = stmt.having(rank == rules.RANK[filters.status])
    if filters.date_from is not None:
        stmt = stmt.having(last >= filters.date_from)
    if filters.date_to is not None:
        stmt = stmt.having(first < filters.date_to)
    return stmt


def _ordered(stmt: Select[Any]) -> Select[Any]:
    """Most recent activity first; ties by person and course, so pages never overlap."""
    columns = stmt.selected_columns
    return stmt.order_by(columns[5].desc(), columns[0], columns[1])


def _check(session: Session, account_id: int, filters: ReportFilters) -> bool:
    """Check the filters and the account; returns whether identity linking is on."""
    problem = rules.filter_problem(filters)
    if problem is not None:
        raise InvalidInput(problem[1], reason=problem[0])
    linked = session.scalar(select(Account.link_identities).where(Account.id == account_id))
    if linked is None:
        raise NotFound(f"unknown account {account_id!r}", reason="unknown_account")
    if filters.catalog_id is not None:
        check_text(filters.catalog_id, "course id", max_chars=CATALOG_ID_MAX)
        if session.scalar(select(Course.id).where(Course.catalog_id == filters.catalog_id)) is None:
            raise NotFound(f"unknown course {filters.catalog_id!r} (give its catalog id)", reason="unknown_course")
    return bool(linked)


def _identities(session: Session, account_id: int, people: Iterable[int], linked: bool) -> dict[int, list[str]]:
    wanted = sorted(set(people))
    if not wanted:
        return {}
    person = _person(linked)
    found: dict[int, list[str]] = defaultdict(list)
    for key, source, external_id, delivery in session.execute(
        select(person, Learner.identity_source, Learner.external_id, Learner.delivery)
        .where(Learner.account_id == account_id, person.in_(wanted)).order_by(Learner.id)
    ):
        found[int(key)].append(identity_label(source, external_id, delivery))
    return found


def _rows(session: Session, account_id: int, batch: Sequence[Any], linked: bool) -> list[ReportRow]:
    identities = _identities(session, account_id, (r[0] for r in batch), linked)
    n_types = len(LICENSE_TYPES)
    out = []
    for r in batch:
        flags = tuple(r[12:])
        out.append(ReportRow(
            person_id=int(r[0]), name=r[10], email=r[11], identities=tuple(identities.get(int(r[0]), ())),
            catalog_id=r[2], course_title=r[3], license_types=rules.license_types_of(flags[:n_types]),
            deliveries=rules.deliveries_of(flags[n_types:]), first_launch=r[4], last_launch=r[5],
            status=rules.status_of(r[6]), score_percent=rules.score_percent(r[7]), time_seconds=int(r[8] or 0),
            launches=int(r[9] or 0)))
    return out


def report_page(read_sessions: sessionmaker[Session], account_id: int, filters: ReportFilters, page: int = 1,
                per_page: int = DEFAULT_PER_PAGE) -> ReportPage:
    """One page of the report, most recent activity first. Raises InvalidInput (``invalid_page``,
    ``invalid_license_type``, ``invalid_status``, ``invalid_dates``) and NotFound
    (``unknown_account``, ``unknown_course``)."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidInput("page must be a whole number from 1", reason="invalid_page")
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= rules.MAX_PER_PAGE:
        raise InvalidInput(f"per page must be between 1 and {rules.MAX_PER_PAGE}", reason="invalid_page")
    filters = filters.normalized()
    with read_sessions() as session:
        linked = _check(session, account_id, filters)
        grouped = _grouped(account_id, filters, linked)
        total = int(session.scalar(select(func.count()).select_from(grouped.subquery())) or 0)
        batch = session.execute(_ordered(grouped).limit(per_page).offset((page - 1) * per_page)).all()
        rows = _rows(session, account_id, batch, linked)
    return ReportPage(filters, tuple(rows), total, page, per_page, linked)


@dataclass(frozen=True)
class ReportCourse:
    catalog_id: str
    title: str


def report_courses(read_sessions: sessionmaker[Session], account_id: int) -> tuple[ReportCourse, ...]:
    """The courses the report has rows for (launched under a seat of the account), by title:
    the choices of the report's course filter."""
    with read_sessions() as session:
        rows = session.execute(
            select(Course.catalog_id, Course.title).select_from(CourseLaunch)
            .join(Seat, Seat.id == CourseLaunch.seat_id).join(Course, Course.id == CourseLaunch.course_pk)
            .where(Seat.account_id == account_id).group_by(Course.catalog_id, Course.title)
            .order_by(Course.title, Course.catalog_id))
        return tuple(ReportCourse(catalog_id, title) for catalog_id, title in rows)


def report_rows(session: Session, account_id: int, filters: ReportFilters, *,
                batch: int = CSV_BATCH) -> Iterator[ReportRow]:
    """Every row of the report in page order, fetched ``batch`` at a time (never all at once)."""
    filters = filters.normalized()
    linked = _check(session, account_id, filters)
    result = session.execute(_ordered(_grouped(account_id, filters, linked)).execution_options(yield_per=batch))
    try:
        for partition in result.partitions():
            yield from _rows(session, account_id, partition, linked)
    finally:
        result.close()


def report_csv(read_sessions: sessionmaker[Session], account_id: int, filters: ReportFilters, *,
               batch: int = CSV_BATCH) -> Iterator[str]:
    """The report as CSV text, one line at a time (``rules.CSV_HEADER`` first): exactly the rows
    of ``report_page`` with the same filters, all pages. Bad filters raise here, before any line
    (so a view can answer 400 before it starts streaming); close the generator to stop early."""
    filters = filters.normalized()
    with read_sessions() as session:
        _check(session, account_id, filters)
    return _csv_lines(read_sessions, account_id, filters, batch)


def _csv_lines(read_sessions: sessionmaker[Session], account_id: int, filters: ReportFilters,
               batch: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: Sequence[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(rules.CSV_HEADER)
    with read_sessions() as session:
        for row in report_rows(session, account_id, filters, batch=batch):
            yield line(row.csv_cells())


__all__ = ["ReportCourse", "ReportFilters", "ReportPage", "ReportRow", "report_courses", "report_csv", "report_page",
           "report_rows"]
