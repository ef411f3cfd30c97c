"""Progress use cases for the course player (LTI and SCORM dispatch alike). Each owns its
transaction.

Every write first checks, in the same transaction, that the seat still exists, belongs to the
learner the player was opened for, and was admitted to the course by the seat engine. The
(seat, course) row is created race-safely with the dialect's ``INSERT … ON CONFLICT DO
NOTHING``, then locked (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
serializes writers), changed by the pure rules and written back, so concurrent commits for one
seat end in one row whose time is the sum of theirs.

Demo content is graded here, on the server: a client reports location, suspend data and time;
``submit_quiz`` computes the score from the chosen answers. Only content that accepts client
scores (imported SCORM courses) lets a commit carry a score or status.

Imported SCORM content: a progress row plays the version it started on. Its first session pins
the course's current version (``content_id``); later sessions, commits and the page use that
version even after a re-import (``lti-tool content import``), until the seat's next attempt.
``record_cmi`` stores a SCORM runtime's commit (store.progress.scorm maps it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.linking import same_person
from store.accounts.models import Learner
from store.base import require_aware
from store.catalog.models import Course
from store.content import CourseContent, CourseInfo, InvalidAnswers, QuizResult, content_for
from store.content.queries import find_package
from store.database import one_statement
from store.errors import InvalidInput, NotFound, StoreError
from store.licenses.models import Seat
from store.progress import queries, rules, scorm
from store.progress.models import CourseProgress
from store.progress.queries import ProgressView
from store.progress.rules import ProgressRejected, ProgressState, ProgressUpdate

log = logging.getLogger(__name__)

MAX_WRITE_RETRIES = 3


class SeatGone(StoreError):
    """The seat no longer exists (account closed, seat removed)."""

    reason = "seat_gone"


class SeatNotYours(StoreError):
    """The seat belongs to another learner than the one the player was opened for."""

    reason = "seat_not_yours"


class CourseNotCovered(StoreError):
    """The seat engine never admitted this seat to this course."""

    reason = "course_not_covered"


@dataclass(frozen=True)
class PlayerCourse:
    """What the player page needs: the course, its content and the learner's progress."""

    seat_id: int
    learner_id: int
    license_type: str
    info: CourseInfo
    content: CourseContent
    progress: ProgressView


@dataclass(frozen=True)
class ResumeState:
    """Where a new player session starts."""

    progress: ProgressView
    entry: str  # "ab-initio" or "resume" (SCORM cmi.entry; "" for a SCORM course exited normally)
    # The content this session plays (the pinned version for imported SCORM content).
    content: CourseContent | None = None
    # Imported SCORM content: the CMI the runtime starts with (flattened cmi.* → value).
    cmi: dict[str, str] | None = None


@dataclass(frozen=True)
class QuizOutcome:
    progress: ProgressView
    result: QuizResult
    is_best_score: bool  # this attempt's score is the one recorded


@dataclass(frozen=True)
class ProgressEvent:
    """Sent to every progress listener after a committed change (grade passback, dispatch)."""

    seat_id: int
    catalog_id: str  # catalog id
    learner_id: int
    launch_id: str | None
    origin: str  # "lti" or "dispatch"
    completion_status: str
    success_status: str
    score_raw: float | None
    score_max: float | None
    score_scaled: float | None
    total_time_seconds: int
    occurred_at: datetime
    # Whether this commit changed completion, success or score (a commit of location or time
    # only does not): a gradebook needs a new post only then.
    status_changed: bool = False

    @classmethod
    def of(cls, view: ProgressView, *, launch_id: str | None, origin: str, occurred_at: datetime) -> ProgressEvent:
        return cls(
            seat_id=view.seat_id, catalog_id=view.catalog_id, learner_id=view.learner_id, launch_id=launch_id,
            origin=origin, completion_status=view.completion_status, success_status=view.success_status,
            score_raw=view.score_raw, score_max=view.score_max, score_scaled=view.score_scaled,
            total_time_seconds=view.total_time_seconds, occurred_at=occurred_at,
            status_changed=view.status_changed,
        )


ProgressListener = Callable[[ProgressEvent], Any]


def notify_listeners(listeners: Iterable[ProgressListener], event: ProgressEvent) -> int:
    """Call each listener with the event; one that raises is logged and skipped. Returns how
    many failed. Call it after the commit, never inside a transaction."""
    failed = 0
    for listener in list(listeners):
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - a listener must not break the learner's commit
            failed += 1
            log.exception("progress listener %r failed for seat %s course %s", listener, event.seat_id,
                          event.catalog_id)
    return failed


# ---------------------------------------------------------------- reading


def _admit(session: Session, seat_id: int, course_catalog_id: str, learner_id: int | None) -> tuple[Seat, Course, CourseInfo]:
    seat = session.get(Seat, seat_id)
    if seat is None:
        raise SeatGone(f"seat {seat_id} no longer exists")
    if learner_id is not None and seat.learner_id != learner_id and not same_person(session, seat.learner_id,
                                                                                    learner_id):
        # (A linked identity of the same person plays the seat another identity of theirs took.)
        raise SeatNotYours(f"seat {seat_id} belongs to another learner")
    found = queries.find_course(session, course_catalog_id)
    if found is None:
        raise NotFound(f"course {course_catalog_id!r} is not in the catalog", reason="unknown_course")
    course, info = found
    if not queries.has_launched(session, seat.id, course.id):
        raise CourseNotCovered(f"seat {seat_id} was never admitted to course {course_catalog_id!r}")
    return seat, course, info


def _is_pinned(info: CourseInfo, content_id: int | None) -> bool:
    """Whether a progress row plays a SCORM version other than the course's current content."""
    return content_id is not None and (info.package is None or info.package.id != content_id)


def _content(session: Session, course_pk: int, info: CourseInfo, content_id: int | None, *,
             demo_content: bool) -> CourseContent:
    """What a progress row plays: its pinned SCORM version, else the course's current content
    (``ContentNotAvailable`` when there is none: no imported package, demo content off)."""
    if _is_pinned(info, content_id):
        pinned = find_package(session, content_id, course_pk)  # type: ignore[arg-type]
        if pinned is not None:
            return content_for(replace(info, package=pinned), demo_content=demo_content)
    return content_for(info, demo_content=demo_content)


def _player_course(seat: Any, course: Any, info: CourseInfo, row: Any, content: CourseContent) -> PlayerCourse:
    progress = (queries.view_of(row, course.catalog_id, seat.learner_id) if row is not None
                else ProgressView(seat.id, course.catalog_id, seat.learner_id))
    return PlayerCourse(seat.id, seat.learner_id, seat.license_type, info, content, progress)


def open_player(sessions: sessionmaker[Session], seat_id: int, course_catalog_id: str, *, demo_content: bool,
                learner_id: int | None = None) -> PlayerCourse:
    """The course, content and saved progress for the player page (reads only).

    ``demo_content`` (every use case here takes it: the ``DEMO_CONTENT`` setting): whether a
    course without imported content plays generated demo lessons; when it is off such a course
    raises ``ContentNotAvailable`` before anything is read or written for it.

    The common case is one statement on a Core connection (``queries.player_row``; on
    PostgreSQL without BEGIN and ROLLBACK); anything else (a check that fails, a pinned SCORM
    version) is read by an ORM Session."""
    with one_statement(sessions) as conn:
        found = queries.player_row(conn, seat_id, course_catalog_id)
    admitted = found is not None and found.launched and (learner_id is None or found.seat.learner_id == learner_id)
    if found is not None and admitted and not _is_pinned(
            found.info, found.progress.content_id if found.progress is not None else None):
        return _player_course(found.seat, found.course, found.info, found.progress,
                              content_for(found.info, demo_content=demo_content))
    with sessions() as session:
        if found is not None and admitted:
            seat, course, info, row = found.seat, found.course, found.info, found.progress
        else:  # the checks one by one, each with its own error
            seat, course, info = _admit(session, seat_id, course_catalog_id, learner_id)
            row = queries.find_progress(session, seat.id, course.id)
        content = _content(session, course.id, info, row.content_id if row is not None else None,
                           demo_content=demo_content)
        return _player_course(seat, course, info, row, content)


# ---------------------------------------------------------------- writing


def _dialect_insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


class _RowVanished(Exception):
    """The progress row was deleted between its upsert and its lock (PostgreSQL, READ COMMITTED:
    the seat was deleted, cascading to its progress, by a transaction that committed meanwhile)."""


def _locked_row(session: Session, seat_id: int, course_pk: int, now: datetime) -> CourseProgress:
    """The (seat, course) progress row, created if missing, locked for this transaction. Raises
    ``_RowVanished`` when another transaction deleted it after the upsert: ``_change`` retries,
    and the retry reports ``SeatGone`` when the seat went with it."""
    insert = _dialect_insert(session)
    session.execute(
        insert(CourseProgress)
        .values(seat_id=seat_id, course_pk=course_pk, location="", completion_status="not attempted",
                success_status="unknown", total_time_seconds=0, session_count=0, suspend_data="", cmi={},
                content_id=None, session_seconds_reported=0, commit_seq=0, started_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["seat_id", "course_pk"])
    )
    row = session.scalars(
        select(CourseProgress)
        .where(CourseProgress.seat_id == seat_id, CourseProgress.course_pk == course_pk)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise _RowVanished(f"the progress row of seat {seat_id} was deleted while it was being saved")
    return row


def _state_of(row: CourseProgress) -> ProgressState:
    return ProgressState(
        location=row.location, completion_status=row.completion_status, success_status=row.success_status,
        score_raw=row.score_raw, score_min=row.score_min, score_max=row.score_max, score_scaled=row.score_scaled,
        total_time_seconds=row.total_time_seconds, session_count=row.session_count,
        suspend_data=row.suspend_data, cmi=dict(row.cmi or {}), completed_at=row.completed_at,
        content_id=row.content_id, session_seconds_reported=row.session_seconds_reported or 0,
        commit_seq=row.commit_seq or 0,
    )


def _status_key(state: ProgressState) -> tuple[Any, ...]:
    return (state.completion_status, state.success_status, state.score_raw, state.score_max)


def _write(row: CourseProgress, state: ProgressState, now: datetime) -> None:
    row.location = state.location
    row.completion_status = state.completion_status
    row.success_status = state.success_status
    row.score_raw = state.score_raw
    row.score_min = state.score_min
    row.score_max = state.score_max
    row.score_scaled = state.score_scaled
    row.total_time_seconds = state.total_time_seconds
    row.session_count = state.session_count
    row.suspend_data = state.suspend_data
    row.cmi = dict(state.cmi)
    row.completed_at = state.completed_at
    row.content_id = state.content_id
    row.session_seconds_reported = state.session_seconds_reported
    row.commit_seq = state.commit_seq
    row.updated_at = now


@dataclass(frozen=True)
class _Changed:
    view: ProgressView
    before: ProgressState
    after: ProgressState
    content: CourseContent
    learner: Learner | None


def _change(sessions: sessionmaker[Session], seat_id: int, course_catalog_id: str, learner_id: int | None,
            now: datetime, step: Callable[[ProgressState, CourseContent], ProgressState], *, demo_content: bool,
            with_learner: bool = False) -> _Changed:
    """One transaction: admit, lock the row, apply ``step`` (with the content the row plays),
    write. Retries when the seat's row set changed under it (IntegrityError, or the progress row
    deleted between its upsert and its lock, e.g. the seat deleted meanwhile: the retry then
    reports SeatGone)."""
    now = require_aware(now, "now")
    for attempt in range(MAX_WRITE_RETRIES):
        try:
            with sessions.begin() as session:
                seat, course, info = _admit(session, seat_id, course_catalog_id, learner_id)
                row = _locked_row(session, seat.id, course.id, now)
                before = _state_of(row)
                content = _content(session, course.id, info, before.content_id, demo_content=demo_content)
                after = step(before, content)
                _write(row, after, now)
                session.flush()
                view = queries.view_of(row, course.catalog_id, seat.learner_id,
                                       status_changed=_status_key(before) != _status_key(after))
                learner = session.get(Learner, seat.learner_id) if with_learner else None
                if after.content_id is not None and after.content_id != before.content_id:
                    content = _content(session, course.id, info, after.content_id, demo_content=demo_content)
                return _Changed(view, before, after, content, learner)
        except IntegrityError as exc:
            log.info("progress write collided (try %d): %s", attempt + 1, exc.orig)
        except _RowVanished as exc:
            log.info("progress write collided (try %d): %s", attempt + 1, exc)
    raise StoreError("progress could not be saved because the seat kept changing; try again", reason="busy")


def start_session(sessions: sessionmaker[Session], seat_id: int, course_catalog_id: str, now: datetime, *,
                  demo_content: bool, learner_id: int | None = None) -> ResumeState:
    """A new player session: counts it, marks the course started, returns where to resume.

    Imported SCORM content: the first session pins the course's current version to this
    attempt (a place or data saved for the demo lessons before the import does not carry over),
    and the result carries the CMI the runtime starts with."""
    first_on_content: list[bool] = []

    def step(state: ProgressState, content: CourseContent) -> ProgressState:
        first_on_content.clear()
        if content.package is not None and state.content_id is None:
            first_on_content.append(True)
            state = replace(state, content_id=content.package.id, location="", suspend_data="", cmi={})
        return rules.start_session(state)

    changed = _change(sessions, seat_id, course_catalog_id, learner_id, now, step, demo_content=demo_content,
                      with_learner=True)
    package = changed.content.package
    if package is None:
        return ResumeState(changed.view, rules.entry_mode(changed.before), changed.content)
    entry = scorm.entry_for(changed.before, is_first_session=bool(first_on_content))
    learner = changed.learner
    cmi = scorm.preload_cmi(
        package.scorm_version, changed.after,
        learner_id=scorm.learner_ref(package.scorm_version, learner.external_id if learner else None,
                                     changed.view.learner_id),
        learner_name=(learner.name or "") if learner else "", entry=entry,
        mastery_score=package.mastery_score, launch_data=package.launch_data,
        completion_threshold=package.completion_threshold,
    )
    return ResumeState(changed.view, entry, changed.content, cmi)


def record_cmi(sessions: sessionmaker[Session], seat_id: int, course_catalog_id: str, commit: scorm.CmiCommit,
               now: datetime, *, demo_content: bool, learner_id: int | None = None) -> ProgressView:
    """Store a SCORM runtime's commit for an imported course: the whole CMI state, mapped onto
    the progress fields (store.progress.scorm). A commit numbered (``seq``) at or below the
    session's last applied one is older than what is stored and changes nothing. Raises
    ProgressRejected (a SCORM limit or a malformed value: nothing changes; ``not_scorm_content``,
    ``no_session``, ``version_mismatch``, ``stale_session``: a commit of an earlier session,
    its window replaced by a newer one), SeatGone, SeatNotYours, CourseNotCovered."""

    def step(state: ProgressState, content: CourseContent) -> ProgressState:
        package = content.package
        if package is None:
            raise ProgressRejected("this course plays no imported SCORM package", reason="not_scorm_content")
        if state.content_id is None:
            raise ProgressRejected("no player session was started for this course", reason="no_session")
        if commit.scorm_version != package.scorm_version:
            raise ProgressRejected(f"this course is {package.scorm_version}, the commit is "
                                   f"{str(commit.scorm_version)[:20]}", reason="version_mismatch")
        if commit.session is not None and commit.session != state.session_count:
            raise ProgressRejected("the course was opened again in another window or tab: progress from this "
                                   "one is no longer saved", reason="stale_session")
        if commit.seq is not None and commit.seq <= state.commit_seq:
            return state  # a later commit of this session is already stored
        update, counted = scorm.update_from_cmi(commit, state)
        after = rules.apply_update(state, update, now, mastery_score=content.mastery_score)
        return replace(after, session_seconds_reported=counted,
                       commit_seq=state.commit_seq if commit.seq is None else commit.seq)

    return _change(sessions, seat_id, course_catalog_id, learner_id, now, step, demo_content=demo_content).view


def record_progress(sessions: sessionmaker[Session], seat_id: int, course_catalog_id: str,
                    update: ProgressUpdate, now: datetime, *, demo_content: bool,
                    learner_id: int | None = None) -> ProgressView:
    """Apply one commit from the player. Raises ProgressRejected (a rule or a content limit
    broken: nothing changes), SeatGone, SeatNotYours, CourseNotCovered."""

    def step(state: ProgressState, content: CourseContent) -> ProgressState:
        if not content.accepts_client_scores:
            if update.has_score_or_status:
                raise ProgressRejected("this course is graded by the server: a commit may not report "
                                       "a score or status", reason="score_not_accepted")
            if update.cmi:
                raise ProgressRejected("this course keeps no cmi data", reason="cmi_not_accepted")
            if update.location is not None and not content.is_location(update.location):
                raise ProgressRejected(f"location {update.location[:80]!r} is not a place in this course",
                                       reason="unknown_location")
        return rules.apply_update(state, update, now, mastery_score=content.mastery_score)

    return _change(sessions, seat_id, course_catalog_id, learner_id, now, step, demo_content=demo_content).view


def submit_quiz(sessions: sessionmaker[Session], seat_id: int, course_catalog_id: str,
                answers: Mapping[str, str], now: datetime, *, demo_content: bool, learner_id: int | None = None,
                session_time_seconds: float = 0, location: str | None = None,
                suspend_data: str | None = None) -> QuizOutcome:
    """Grade the learner's answers against the course's own quiz and record the result:
    the course is completed; success is passed or failed against the mastery score; the best
    score across attempts is kept. Raises InvalidInput(reason="invalid_answers") for answers
    that do not fit the quiz."""
    graded: list[QuizResult] = []

    def step(state: ProgressState, content: CourseContent) -> ProgressState:
        if not content.questions:
            raise InvalidInput("this course has no quiz", reason="no_quiz")
        if location is not None and not content.is_location(location):
            raise ProgressRejected(f"location {location[:80]!r} is not a place in this course",
                                   reason="unknown_location")
        try:
            result = content.grade(answers)
        except InvalidAnswers as exc:
            raise InvalidInput(str(exc), reason=exc.reason) from None
        graded.append(result)
        update = ProgressUpdate(
            location=location, suspend_data=suspend_data, completion_status="completed",
            score_raw=result.score_raw, score_min=0.0, score_max=result.score_max,
            session_time_seconds=session_time_seconds,
        )
        return rules.apply_update(state, update, now, mastery_score=content.mastery_score, keep_best_score=True)

    changed = _change(sessions, seat_id, course_catalog_id, learner_id, now, step, demo_content=demo_content)
    result = graded[-1]
    return QuizOutcome(changed.view, result, is_best_score=changed.after.score_scaled == result.score_scaled)
