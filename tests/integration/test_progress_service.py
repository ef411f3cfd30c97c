"""The progress service against a real database (SQLite and PostgreSQL): seat checks, resume,
server-side quiz grading, race-safe upserts, and the report queries."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from store.content import content_for
from store.errors import InvalidInput, NotFound
from store.licenses import service as licenses
from store.licenses.models import CourseLaunch, Seat
from store.progress import queries, service
from store.progress.models import CourseProgress
from store.progress.rules import ProgressRejected, ProgressUpdate
from store.progress.service import CourseNotCovered, SeatGone, SeatNotYours
from tests.factories.catalog import make_course
from tests.factories.licenses import T0, claim, make_account

Sessions = sessionmaker[Session]
LATER = T0 + timedelta(hours=1)


@dataclass(frozen=True)
class Setup:
    account_id: int
    course: str
    other_course: str
    seat_id: int
    learner_id: int


def setup(sessions: Sessions, account: str = "Acme Learning", learner: str = "L1") -> Setup:
    account_id = make_account(sessions, account).id
    with sessions.begin() as s:
        course = make_course(s, f"{account[:4]}-VOL", title="Fire Safety & <Evacuation>", is_plus=False).catalog_id
        other = make_course(s, f"{account[:4]}-OTHER", is_plus=False).catalog_id
    licenses.grant_volume(sessions, account_id, course, 10, T0)
    result = claim(sessions, account_id, "volume", course, learner, T0)
    assert result.ok and result.seat and result.learner_id
    return Setup(account_id, course, other, result.seat.id, result.learner_id)


def info_for(sessions: Sessions, catalog_id: str):  # type: ignore[no-untyped-def]
    with sessions() as s:
        found = queries.find_course(s, catalog_id)
        assert found
        return found[1]


def progress_rows(sessions: Sessions) -> list[CourseProgress]:
    with sessions() as s:
        return list(s.scalars(select(CourseProgress)))


# ---------------------------------------------------------------- opening and resuming


def test_a_fresh_seat_opens_at_the_start(sessions: Sessions) -> None:
    st = setup(sessions)
    player = service.open_player(sessions, st.seat_id, st.course, learner_id=st.learner_id, demo_content=True)
    assert player.info.title == "Fire Safety & <Evacuation>" and player.license_type == "volume"
    assert player.content == content_for(player.info, demo_content=True)
    assert (player.progress.location, player.progress.completion_status, player.progress.session_count) == (
        "", "not attempted", 0)
    assert progress_rows(sessions) == []  # opening the page writes nothing


def test_sessions_commits_and_resume(sessions: Sessions) -> None:
    st = setup(sessions)
    first = service.start_session(sessions, st.seat_id, st.course, T0, learner_id=st.learner_id, demo_content=True)
    assert first.entry == "ab-initio"
    assert (first.progress.session_count, first.progress.completion_status) == (1, "incomplete")
    assert first.progress.status_changed  # not attempted -> incomplete

    view = service.record_progress(
        sessions, st.seat_id, st.course,
        ProgressUpdate(location="lesson-3", suspend_data='{"visited":["lesson-1","lesson-2","lesson-3"]}',
                       session_time_seconds=125),
        LATER, learner_id=st.learner_id, demo_content=True)
    assert (view.location, view.total_time_seconds, view.status_changed) == ("lesson-3", 125, False)
    view = service.record_progress(sessions, st.seat_id, st.course, ProgressUpdate(session_time_seconds=5),
                                   LATER, learner_id=st.learner_id, demo_content=True)
    assert (view.location, view.total_time_seconds) == ("lesson-3", 130)

    again = service.start_session(sessions, st.seat_id, st.course, LATER, learner_id=st.learner_id, demo_content=True)
    assert again.entry == "resume"
    assert (again.progress.location, again.progress.session_count, again.progress.total_time_seconds) == (
        "lesson-3", 2, 130)
    assert again.progress.suspend_data == '{"visited":["lesson-1","lesson-2","lesson-3"]}'
    reopened = service.open_player(sessions, st.seat_id, st.course, learner_id=st.learner_id, demo_content=True)
    assert reopened.progress.location == "lesson-3" and reopened.progress.updated_at == LATER
    rows = progress_rows(sessions)
    assert len(rows) == 1 and rows[0].started_at == T0


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        (ProgressUpdate(score_raw=100), "score_not_accepted"),
        (ProgressUpdate(completion_status="completed"), "score_not_accepted"),
        (ProgressUpdate(success_status="passed"), "score_not_accepted"),
        (ProgressUpdate(cmi={"cmi.exit": "suspend"}), "cmi_not_accepted"),
        (ProgressUpdate(location="lesson-99"), "unknown_location"),
        (ProgressUpdate(location="lesson-1", suspend_data="x" * 64001), "suspend_data_too_long"),
        (ProgressUpdate(location="lesson-1", session_time_seconds=-3), "negative_session_time"),
        (ProgressUpdate(location="lesson-1", session_time_seconds=90_000), "session_time_too_long"),
        # The input rule: a PostgreSQL DataError (NUL) or UnicodeEncodeError (surrogate) before.
        (ProgressUpdate(location="lesson-1", suspend_data="a\x00b"), "invalid_text"),
        (ProgressUpdate(location="lesson-1", suspend_data="a\ud800b"), "invalid_text"),
    ],
)
def test_demo_content_refuses_client_scores_and_bad_input(sessions: Sessions, update: ProgressUpdate,
                                                          reason: str) -> None:
    st = setup(sessions)
    service.record_progress(sessions, st.seat_id, st.course, ProgressUpdate(location="lesson-2"), T0,
                            learner_id=st.learner_id, demo_content=True)
    with pytest.raises(ProgressRejected) as info:
        service.record_progress(sessions, st.seat_id, st.course, update, LATER, learner_id=st.learner_id,
                                demo_content=True)
    assert info.value.reason == reason
    row = progress_rows(sessions)[0]
    assert (row.location, row.completion_status, row.score_raw, row.total_time_seconds, row.cmi) == (
        "lesson-2", "incomplete", None, 0, {})


# ---------------------------------------------------------------- seat checks


def test_seat_checks(sessions: Sessions) -> None:
    st = setup(sessions)
    other = claim(sessions, st.account_id, "volume", st.course, "L2", T0)
    assert other.ok and other.learner_id != st.learner_id
    update = ProgressUpdate(location="lesson-1")
    with pytest.raises(SeatNotYours):
        service.record_progress(sessions, st.seat_id, st.course, update, T0, learner_id=other.learner_id,
                                demo_content=True)
    with pytest.raises(SeatGone):
        service.record_progress(sessions, 999_999, st.course, update, T0, learner_id=st.learner_id, demo_content=True)
    with pytest.raises(CourseNotCovered):  # a seat of course A cannot write progress for course B
        service.record_progress(sessions, st.seat_id, st.other_course, update, T0, learner_id=st.learner_id,
                                demo_content=True)
    with pytest.raises(NotFound):
        service.open_player(sessions, st.seat_id, "NO-SUCH-COURSE", learner_id=st.learner_id, demo_content=True)
    assert progress_rows(sessions) == []


def test_a_deleted_seat_takes_its_progress_and_refuses_more(sessions: Sessions) -> None:
    st = setup(sessions)
    service.record_progress(sessions, st.seat_id, st.course, ProgressUpdate(location="lesson-2"), T0,
                            learner_id=st.learner_id, demo_content=True)
    with sessions.begin() as s:
        s.execute(delete(Seat).where(Seat.id == st.seat_id))
    assert progress_rows(sessions) == []
    with pytest.raises(SeatGone):
        service.start_session(sessions, st.seat_id, st.course, LATER, learner_id=st.learner_id, demo_content=True)
    with pytest.raises(SeatGone):
        service.open_player(sessions, st.seat_id, st.course, learner_id=st.learner_id, demo_content=True)


def test_a_plus_seat_plays_every_plus_course_it_launched(sessions: Sessions) -> None:
    account_id = make_account(sessions, "Plus Org").id
    with sessions.begin() as s:
        a = make_course(s, "PL-A", is_plus=True).catalog_id
        b = make_course(s, "PL-B", is_plus=True).catalog_id
    licenses.grant_plus(sessions, account_id, 5, "annual", T0)
    first = claim(sessions, account_id, "plus", a, "P1", T0)
    assert first.seat
    with pytest.raises(CourseNotCovered):  # not launched yet under this seat
        service.start_session(sessions, first.seat.id, b, T0, learner_id=first.learner_id, demo_content=True)
    second = claim(sessions, account_id, "plus", b, "P1", T0)
    assert second.seat and second.seat.id == first.seat.id
    service.start_session(sessions, first.seat.id, a, T0, learner_id=first.learner_id, demo_content=True)
    service.start_session(sessions, first.seat.id, b, T0, learner_id=first.learner_id, demo_content=True)
    assert len(progress_rows(sessions)) == 2  # one row per (seat, course)


# ---------------------------------------------------------------- the quiz, graded on the server


def test_quiz_is_graded_on_the_server_and_the_best_score_kept(sessions: Sessions) -> None:
    st = setup(sessions)
    content = content_for(info_for(sessions, st.course), demo_content=True)
    right = {q.id: q.answer for q in content.questions}
    wrong = {q.id: next(c.id for c in q.choices if c.id != q.answer) for q in content.questions}

    failed = service.submit_quiz(sessions, st.seat_id, st.course, wrong, T0, learner_id=st.learner_id,
                                 session_time_seconds=60, location="quiz", demo_content=True)
    assert failed.result.correct == 0 and not failed.result.is_passed
    p = failed.progress
    assert (p.completion_status, p.success_status, p.score_raw, p.score_max, p.score_scaled) == (
        "completed", "failed", 0.0, 100.0, 0.0)
    assert p.location == "quiz" and p.total_time_seconds == 60 and p.status_changed

    passed = service.submit_quiz(sessions, st.seat_id, st.course, right, LATER, learner_id=st.learner_id,
                                 demo_content=True)
    assert passed.result.is_passed and passed.is_best_score
    assert (passed.progress.success_status, passed.progress.score_percent) == ("passed", 100)

    retake = service.submit_quiz(sessions, st.seat_id, st.course, wrong, LATER, learner_id=st.learner_id,
                                 demo_content=True)
    assert not retake.result.is_passed and not retake.is_best_score
    assert (retake.progress.success_status, retake.progress.score_percent) == ("passed", 100)
    assert not retake.progress.status_changed
    row = progress_rows(sessions)[0]
    assert row.completed_at == T0 and row.completion_status == "completed"


@pytest.mark.parametrize("answers", [{"q99": "a"}, {"q1": "zz"}])
def test_answers_that_do_not_fit_change_nothing(sessions: Sessions, answers: dict[str, str]) -> None:
    st = setup(sessions)
    with pytest.raises(InvalidInput) as info:
        service.submit_quiz(sessions, st.seat_id, st.course, answers, T0, learner_id=st.learner_id, demo_content=True)
    assert info.value.reason == "invalid_answers"
    assert progress_rows(sessions) == []


# ---------------------------------------------------------------- races


def run_at_once(n: int, fn) -> list:  # type: ignore[no-untyped-def,type-arg]
    barrier = threading.Barrier(n, timeout=60)

    def task(i: int):  # type: ignore[no-untyped-def]
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


@pytest.mark.race
def test_concurrent_commits_for_one_seat_end_in_one_row_with_summed_time(committing_sessions: Sessions) -> None:
    st = setup(committing_sessions)
    n = 12
    run_at_once(n, lambda i: service.start_session(committing_sessions, st.seat_id, st.course, T0,
                                                   learner_id=st.learner_id, demo_content=True))
    run_at_once(n, lambda i: service.record_progress(
        committing_sessions, st.seat_id, st.course,
        ProgressUpdate(location=f"lesson-{1 + i % 3}", session_time_seconds=10 + i), LATER,
        learner_id=st.learner_id, demo_content=True))
    rows = progress_rows(committing_sessions)
    assert len(rows) == 1
    assert rows[0].session_count == n
    assert rows[0].total_time_seconds == sum(10 + i for i in range(n))
    with committing_sessions() as s:
        assert s.scalar(select(func.count()).select_from(CourseProgress)) == 1


# ---------------------------------------------------------------- queries


def test_my_courses_and_the_report(sessions: Sessions) -> None:
    st = setup(sessions)
    content = content_for(info_for(sessions, st.course), demo_content=True)
    service.submit_quiz(sessions, st.seat_id, st.course, {q.id: q.answer for q in content.questions}, LATER,
                        learner_id=st.learner_id, session_time_seconds=300, demo_content=True)
    second = claim(sessions, st.account_id, "volume", st.course, "L2", T0)
    assert second.ok
    elsewhere = setup(sessions, account="Other Org", learner="L1")  # another account's learner

    with sessions() as s:
        mine = queries.my_courses(s, st.learner_id)
        assert [(c.catalog_id, c.license_type, c.completion_status, c.success_status, c.score_percent,
                 c.total_time_seconds) for c in mine] == [(st.course, "volume", "completed", "passed", 100, 300)]
        assert mine[0].title == "Fire Safety & <Evacuation>"

        report = queries.progress_report(s, st.account_id)
        assert [(r.catalog_id, r.learner_external_id, r.completion_status, r.score_percent, r.total_time_seconds)
                for r in report] == [(st.course, "L1", "completed", 100, 300),
                                     (st.course, "L2", "not attempted", None, 0)]
        assert report[0].first_launched_at == T0 and report[0].launch_count == 1
        assert queries.progress_report(s, st.account_id, course_catalog_id=st.other_course) == []
        assert [r.catalog_id for r in queries.progress_report(s, elsewhere.account_id)] == [elsewhere.course]
        assert len(queries.progress_report(s, st.account_id, limit=1)) == 1
        assert [r.learner_external_id for r in queries.progress_report(s, st.account_id, limit=1, offset=1)] == ["L2"]

    # A Volume/PPU seat whose course was never launched (e.g. an invitation) is still listed.
    with sessions.begin() as s:
        s.execute(delete(CourseLaunch).where(CourseLaunch.seat_id == second.seat.id))  # type: ignore[union-attr]
    with sessions() as s:
        listed = queries.my_courses(s, second.learner_id)  # type: ignore[arg-type]
        assert [(c.catalog_id, c.first_launched_at, c.completion_status) for c in listed] == [
            (st.course, None, "not attempted")]
