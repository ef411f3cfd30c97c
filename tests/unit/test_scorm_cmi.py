"""SCORM run-time data ↔ progress (pure): statuses, scores, limits, session time counted once,
what is kept and what the next session starts with."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from store.progress import rules
from store.progress.rules import ProgressRejected, ProgressState
from store.progress.scorm import (
    CmiCommit,
    entry_for,
    format_time,
    learner_ref,
    parse_session_time,
    preload_cmi,
    update_from_cmi,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def apply(version: str, values: dict[str, object], state: ProgressState | None = None, *, session: int | None = 1,
          mastery: float | None = None, player_seconds: float | None = None) -> ProgressState:
    state = state or ProgressState(session_count=1, content_id=7)
    update, counted = update_from_cmi(CmiCommit(version, values, session, player_seconds), state)
    after = rules.apply_update(state, update, NOW, mastery_score=mastery)
    return replace(after, session_seconds_reported=counted)


def rejected(version: str, values: dict[str, object]) -> str:
    with pytest.raises(ProgressRejected) as info:
        apply(version, values)
    return info.value.reason


@pytest.mark.parametrize("status,completion,success", [
    ("passed", "completed", "passed"),
    ("failed", "completed", "failed"),
    ("completed", "completed", "unknown"),
    ("incomplete", "incomplete", "unknown"),
    ("browsed", "incomplete", "unknown"),
    ("not attempted", "incomplete", "unknown"),  # a commit means the learner started
    ("", "incomplete", "unknown"),
])
def test_scorm12_lesson_status(status: str, completion: str, success: str) -> None:
    state = apply("scorm12", {"cmi.core.lesson_status": status})
    assert (state.completion_status, state.success_status) == (completion, success)


@pytest.mark.parametrize("completion_in,success_in,completion,success", [
    ("completed", "passed", "completed", "passed"),
    ("incomplete", "failed", "incomplete", "failed"),
    ("unknown", "unknown", "incomplete", "unknown"),
    ("not attempted", "", "incomplete", "unknown"),
])
def test_scorm2004_statuses(completion_in: str, success_in: str, completion: str, success: str) -> None:
    state = apply("scorm2004", {"cmi.completion_status": completion_in, "cmi.success_status": success_in})
    assert (state.completion_status, state.success_status) == (completion, success)


def test_completion_never_moves_back() -> None:
    done = apply("scorm12", {"cmi.core.lesson_status": "passed"})
    again = apply("scorm12", {"cmi.core.lesson_status": "incomplete"}, done)
    assert (again.completion_status, again.success_status) == ("completed", "passed")


def test_scores() -> None:
    s12 = apply("scorm12", {"cmi.core.score.raw": "67", "cmi.core.score.min": "", "cmi.core.score.max": "100"})
    assert (s12.score_raw, s12.score_min, s12.score_max, s12.score_scaled) == (67.0, 0.0, 100.0, 0.67)
    # 2004: scaled alone fills raw/min/max as a percentage; scaled with raw keeps both.
    only_scaled = apply("scorm2004", {"cmi.score.scaled": "0.85", "cmi.score.raw": ""})
    assert (only_scaled.score_raw, only_scaled.score_max, only_scaled.score_scaled) == (85.0, 100.0, 0.85)
    both = apply("scorm2004", {"cmi.score.raw": "17", "cmi.score.min": "0", "cmi.score.max": "20",
                               "cmi.score.scaled": "0.85"})
    assert (both.score_raw, both.score_max, both.score_scaled) == (17.0, 20.0, 0.85)
    negative = apply("scorm2004", {"cmi.score.scaled": "-0.5", "cmi.score.raw": "-5", "cmi.score.min": "-10",
                                   "cmi.score.max": "10"})
    assert (negative.score_raw, negative.score_scaled) == (None, -0.5)
    # The mastery score decides success once a score is reported (SCORM 1.2 masteryscore,
    # 2004 scaled passing score).
    assert apply("scorm12", {"cmi.core.score.raw": "70", "cmi.core.lesson_status": "passed"},
                 mastery=0.8).success_status == "failed"
    assert apply("scorm2004", {"cmi.score.scaled": "0.9"}, mastery=0.8).success_status == "passed"


@pytest.mark.parametrize("version,values,expected", [
    ("scorm12", {"cmi.suspend_data": "x" * 4097}, "suspend_data_too_long"),
    ("scorm12", {"cmi.core.lesson_location": "x" * 256}, "location_too_long"),
    ("scorm12", {"cmi.suspend_data": "😀" * 2049}, "suspend_data_too_long"),  # 4098 UTF-16 units
    ("scorm2004", {"cmi.suspend_data": "x" * 64001}, "suspend_data_too_long"),
    ("scorm2004", {"cmi.location": "x" * 1001}, "location_too_long"),
    ("scorm12", {"cmi.core.lesson_status": "done"}, "invalid_lesson_status"),
    ("scorm2004", {"cmi.completion_status": "finished"}, "invalid_completion_status"),
    ("scorm2004", {"cmi.success_status": "great"}, "invalid_success_status"),
    ("scorm12", {"cmi.core.score.raw": "abc"}, "invalid_score"),
    ("scorm12", {"cmi.core.score.raw": "150", "cmi.core.score.max": "100"}, "score_out_of_range"),
    ("scorm2004", {"cmi.score.scaled": "1.5"}, "score_out_of_range"),
    ("scorm12", {"cmi.core.session_time": "1 hour"}, "invalid_session_time"),
    ("scorm2004", {"cmi.session_time": "PT"}, "invalid_session_time"),
    ("scorm2004", {"cmi.session_time": "P2D"}, "session_time_too_long"),
    ("scorm12", {"cmi.comments": 5}, "invalid_cmi_value"),
    ("scorm12", {"cmi.objectives": {"0": "x"}}, "invalid_cmi_value"),
    ("scorm12", {"other.key": "x"}, "invalid_cmi_key"),
    ("scorm3", {}, "invalid_scorm_version"),
])
def test_refused_values(version: str, values: dict[str, object], expected: str) -> None:
    assert rejected(version, values) == expected


def test_limits_are_inclusive() -> None:
    state = apply("scorm12", {"cmi.suspend_data": "x" * 4096, "cmi.core.lesson_location": "y" * 255})
    assert len(state.suspend_data) == 4096 and len(state.location) == 255
    state = apply("scorm2004", {"cmi.suspend_data": "x" * 64000, "cmi.location": "y" * 1000})
    assert len(state.suspend_data) == 64000 and len(state.location) == 1000


def test_session_time_counts_once_per_session() -> None:
    state = apply("scorm12", {"cmi.core.session_time": "00:01:30"})
    assert (state.total_time_seconds, state.session_seconds_reported) == (90, 90)
    state = apply("scorm12", {"cmi.core.session_time": "00:01:30"}, state)  # the same commit again
    assert state.total_time_seconds == 90
    state = apply("scorm12", {"cmi.core.session_time": "0000:02:00.50"}, state)
    assert state.total_time_seconds == 120
    stale = apply("scorm12", {"cmi.core.session_time": "01:00:00"}, state, session=0)  # an older session
    assert stale.total_time_seconds == 120
    next_session = rules.start_session(state)
    assert next_session.session_seconds_reported == 0
    later = apply("scorm12", {"cmi.core.session_time": "00:00:30"}, next_session, session=2)
    assert later.total_time_seconds == 150
    # No session time from the course: the player's own count stands in.
    fallback = apply("scorm2004", {"cmi.session_time": ""}, player_seconds=42.7)
    assert fallback.total_time_seconds == 42


@pytest.mark.parametrize("version,text,seconds", [
    ("scorm12", "00:00:00", 0), ("scorm12", "0001:02:03.50", 3723.5), ("scorm12", "99:59:59.99", 359999.99),
    ("scorm2004", "PT1H2M3.5S", 3723.5), ("scorm2004", "PT45S", 45), ("scorm2004", "P1DT1S", 86401),
    ("scorm2004", "PT0H0M0.25S", 0.25),
])
def test_parse_session_time(version: str, text: str, seconds: float) -> None:
    assert parse_session_time(version, text) == pytest.approx(seconds)


def test_format_time() -> None:
    assert format_time("scorm12", 3723.5) == "0001:02:03.50"
    assert format_time("scorm2004", 3723.5) == "PT1H2M3.5S"
    assert format_time("scorm2004", 0) == "PT0S"


def test_what_is_kept_in_cmi() -> None:
    state = apply("scorm12", {
        "cmi.core.student_id": "u1", "cmi.core.entry": "ab-initio", "cmi.core.total_time": "00:10:00",
        "cmi.core.exit": "suspend", "cmi.comments": "note", "cmi.core._children": "x", "cmi.objectives": {},
        "cmi.interactions.0.id": "q1", "cmi.interactions.0.result": "correct", "cmi.student_preference.audio": "",
        "cmi.suspend_data": "abc", "cmi.core.lesson_location": "p2",
    })
    assert state.cmi == {"cmi.core.exit": "suspend", "cmi.comments": "note", "cmi.interactions.0.id": "q1",
                         "cmi.interactions.0.result": "correct"}
    assert (state.suspend_data, state.location) == ("abc", "p2")
    # The next commit is the whole state: what it no longer has is gone.
    state = apply("scorm12", {"cmi.comments": "note"}, state)
    assert state.cmi == {"cmi.comments": "note"} and state.suspend_data == "abc"


def test_entry() -> None:
    assert entry_for(ProgressState(), is_first_session=True) == "ab-initio"
    assert entry_for(ProgressState(cmi={"cmi.core.exit": "suspend"}), is_first_session=False) == "resume"
    assert entry_for(ProgressState(cmi={"cmi.exit": "suspend"}), is_first_session=False) == "resume"
    assert entry_for(ProgressState(location="p2"), is_first_session=False) == "resume"  # a window closed
    assert entry_for(ProgressState(location="p2", cmi={"cmi.exit": "normal"}), is_first_session=False) == ""


def test_learner_ref() -> None:
    assert learner_ref("scorm12", "user-42", 7) == "user-42"
    assert learner_ref("scorm12", "has space", 7) == "learner-7"
    assert learner_ref("scorm12", "x" * 256, 7) == "learner-7"
    assert learner_ref("scorm2004", "x" * 256, 7) == "x" * 256
    assert learner_ref("scorm2004", None, 7) == "learner-7"


def test_preload_for_each_version() -> None:
    state = ProgressState(location="page-2", suspend_data='{"seen":[0,1]}', completion_status="completed",
                          success_status="failed", score_raw=67.0, score_min=0.0, score_max=100.0, score_scaled=0.67,
                          total_time_seconds=3723, session_count=2,
                          cmi={"cmi.core.exit": "suspend", "cmi.comments": "n", "cmi.interactions.0.id": "q1"})
    data = preload_cmi("scorm12", state, learner_id="u1", learner_name="Ada Lovelace", entry="resume",
                       mastery_score=0.8, launch_data="mode=full")
    assert data == {
        "cmi.comments": "n", "cmi.interactions.0.id": "q1",  # exit does not carry over
        "cmi.core.student_id": "u1", "cmi.core.student_name": "Ada Lovelace", "cmi.core.entry": "resume",
        "cmi.core.credit": "credit", "cmi.core.lesson_mode": "normal", "cmi.core.lesson_location": "page-2",
        "cmi.suspend_data": '{"seen":[0,1]}', "cmi.core.total_time": "0001:02:03.00", "cmi.launch_data": "mode=full",
        "cmi.core.lesson_status": "failed", "cmi.core.score.raw": "67", "cmi.core.score.min": "0",
        "cmi.core.score.max": "100", "cmi.student_data.mastery_score": "80",
    }
    data = preload_cmi("scorm2004", ProgressState(score_scaled=-0.5), learner_id="u1", learner_name="A" * 300,
                       entry="ab-initio", mastery_score=0.75, launch_data=None, completion_threshold=0.5)
    assert data["cmi.learner_name"] == "A" * 250
    assert (data["cmi.completion_status"], data["cmi.success_status"], data["cmi.total_time"]) == (
        "not attempted", "unknown", "PT0S")
    assert (data["cmi.score.scaled"], data["cmi.scaled_passing_score"], data["cmi.completion_threshold"]) == (
        "-0.5", "0.75", "0.5")
    assert "cmi.launch_data" not in data and "cmi.score.raw" not in data


@pytest.mark.parametrize("values", [
    {"cmi.suspend_data": "a\ud800b"}, {"cmi.core.lesson_location": "p\x00"}, {"cmi.interactions.0.id": "\udc00"},
    {"cmi.comments\x00": "x"}, {"cmi.objectives": {"0": {"id": "o\ud800"}}},
])
def test_nul_and_lone_surrogates_are_refused_before_any_use(values: dict[str, object]) -> None:
    # Before: the SCORM length check (UTF-16 units) raised UnicodeEncodeError on a surrogate.
    assert rejected("scorm12", values) == "invalid_text"
