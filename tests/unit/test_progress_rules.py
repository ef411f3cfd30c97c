"""Pure progress rules: statuses, scores, time, limits, cmi; Hypothesis properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.progress import rules
from store.progress.rules import ProgressRejected, ProgressState, ProgressUpdate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def apply(state: ProgressState, mastery: float | None = 0.8, keep_best: bool = False, **fields: object) -> ProgressState:
    return rules.apply_update(state, ProgressUpdate(**fields), NOW, mastery_score=mastery,  # type: ignore[arg-type]
                              keep_best_score=keep_best)


def rejected(state: ProgressState, **fields: object) -> str:
    with pytest.raises(ProgressRejected) as info:
        apply(state, **fields)
    return info.value.reason


# ---------------------------------------------------------------- completion


def test_any_commit_marks_the_course_started() -> None:
    assert apply(ProgressState(), location="lesson-2").completion_status == "incomplete"


def test_completion_never_goes_back() -> None:
    done = apply(ProgressState(), completion_status="completed")
    assert done.completion_status == "completed" and done.completed_at == NOW
    later = rules.apply_update(done, ProgressUpdate(completion_status="incomplete"), NOW + timedelta(days=1))
    assert later.completion_status == "completed"
    assert later.completed_at == NOW  # the first completion time stays
    assert apply(done, completion_status="not attempted").completion_status == "completed"


def test_start_session_counts_and_starts() -> None:
    state = rules.start_session(ProgressState())
    assert (state.session_count, state.completion_status) == (1, "incomplete")
    done = rules.start_session(ProgressState(completion_status="completed", session_count=4))
    assert (done.session_count, done.completion_status) == (5, "completed")


def test_entry_mode() -> None:
    assert rules.entry_mode(ProgressState()) == "ab-initio"
    assert rules.entry_mode(ProgressState(location="lesson-3")) == "resume"
    assert rules.entry_mode(ProgressState(suspend_data="x")) == "resume"


def test_unknown_statuses_are_rejected() -> None:
    assert rejected(ProgressState(), completion_status="done") == "invalid_completion_status"
    assert rejected(ProgressState(), success_status="passed!") == "invalid_success_status"


# ---------------------------------------------------------------- score and success


def test_score_scaled_and_success_against_mastery() -> None:
    passed = apply(ProgressState(), score_raw=80, score_max=100)
    assert (passed.score_raw, passed.score_min, passed.score_max, passed.score_scaled) == (80.0, 0.0, 100.0, 0.8)
    assert passed.success_status == "passed"
    failed = apply(ProgressState(), score_raw=15, score_max=20)  # 0.75 < 0.8
    assert failed.score_scaled == 0.75 and failed.success_status == "failed"


def test_success_without_mastery_follows_what_the_content_reports() -> None:
    state = apply(ProgressState(), mastery=None, score_raw=10, success_status="passed")
    assert state.success_status == "passed" and state.score_scaled == 0.1
    assert apply(state, mastery=None, location="x").success_status == "passed"  # unchanged when not reported


def test_mastery_decides_over_a_reported_status() -> None:
    state = apply(ProgressState(), score_raw=50, success_status="passed")
    assert state.success_status == "failed"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"score_raw": 101}, "score_out_of_range"),
        ({"score_raw": -1}, "score_out_of_range"),
        ({"score_raw": 5, "score_min": 10, "score_max": 20}, "score_out_of_range"),
        ({"score_raw": 5, "score_min": 10, "score_max": 10}, "invalid_score_range"),
        ({"score_raw": 0, "score_min": -5, "score_max": 10}, "invalid_score_range"),
        ({"score_raw": 0, "score_max": 0}, "invalid_score_range"),
        ({"score_raw": float("nan")}, "invalid_score"),
        ({"score_raw": float("inf")}, "invalid_score"),
        ({"score_raw": "80"}, "invalid_score"),
        ({"score_raw": True}, "invalid_score"),
        ({"score_raw": 10**400}, "invalid_score"),
        ({"score_max": 100}, "invalid_score"),
    ],
)
def test_bad_scores_are_rejected(fields: dict[str, object], reason: str) -> None:
    assert rejected(ProgressState(), **fields) == reason


def test_keep_best_score_ignores_a_lower_retake() -> None:
    best = apply(ProgressState(), keep_best=True, score_raw=100, completion_status="completed")
    retake = apply(best, keep_best=True, score_raw=40, completion_status="completed")
    assert retake.score_raw == 100 and retake.success_status == "passed"
    better = apply(apply(ProgressState(), keep_best=True, score_raw=40), keep_best=True, score_raw=90)
    assert better.score_raw == 90 and better.success_status == "passed"
    # Without keep_best the latest reported score counts (real SCORM content decides itself).
    assert apply(best, score_raw=40).score_raw == 40


# ---------------------------------------------------------------- time


def test_session_time_adds_up_and_rounds_to_seconds() -> None:
    state = apply(ProgressState(total_time_seconds=100), session_time_seconds=30)
    assert apply(state, session_time_seconds=2.6).total_time_seconds == 133


@pytest.mark.parametrize(
    ("seconds", "reason"),
    [(-1, "negative_session_time"), (24 * 3600 + 1, "session_time_too_long"),
     (float("nan"), "invalid_session_time"), ("60", "invalid_session_time"),
     (10**400, "invalid_session_time"), (None, "invalid_session_time")],
)
def test_bad_session_times_are_rejected(seconds: object, reason: str) -> None:
    assert rejected(ProgressState(), session_time_seconds=seconds) == reason


def test_a_full_day_in_one_session_is_the_limit() -> None:
    assert apply(ProgressState(), session_time_seconds=24 * 3600).total_time_seconds == 86400


# ---------------------------------------------------------------- limits


def test_location_and_suspend_data_limits_reject_not_truncate() -> None:
    ok = apply(ProgressState(), location="x" * 1000, suspend_data="s" * 64000)
    assert len(ok.location) == 1000 and len(ok.suspend_data) == 64000
    assert rejected(ProgressState(), location="x" * 1001) == "location_too_long"
    assert rejected(ProgressState(), suspend_data="s" * 64001) == "suspend_data_too_long"
    assert rejected(ProgressState(), location=5) == "invalid_location"


def test_none_keeps_and_empty_string_clears() -> None:
    state = ProgressState(location="lesson-2", suspend_data="abc")
    assert apply(state, session_time_seconds=1).location == "lesson-2"
    assert apply(state, location="", suspend_data="").suspend_data == ""


# ---------------------------------------------------------------- cmi


def test_cmi_merges_key_by_key() -> None:
    state = apply(ProgressState(), cmi={"cmi.interactions.0.id": "q1", "cmi.exit": "suspend"})
    state = apply(state, cmi={"cmi.exit": "normal", "adl.data.0.store": "x"})
    assert state.cmi == {"cmi.interactions.0.id": "q1", "cmi.exit": "normal", "adl.data.0.store": "x"}


@pytest.mark.parametrize(
    ("cmi", "reason"),
    [
        ({"foo": "x"}, "invalid_cmi_key"),
        ({"cmi." + "k" * 300: "x"}, "invalid_cmi_key"),
        ({"cmi.location": "x"}, "cmi_key_has_field"),
        ({"cmi.core.score.raw": "50"}, "cmi_key_has_field"),
        ({"cmi.exit": 5}, "invalid_cmi_value"),
        ({"cmi.comments": "c" * 64001}, "cmi_value_too_long"),
        ({f"cmi.interactions.{i}.id": "x" for i in range(501)}, "cmi_too_large"),
        ({f"cmi.interactions.{i}.id": "x" * 60000 for i in range(5)}, "cmi_too_large"),
    ],
)
def test_bad_cmi_is_rejected(cmi: dict[str, object], reason: str) -> None:
    assert rejected(ProgressState(), cmi=cmi) == reason


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        rules.apply_update(ProgressState(), ProgressUpdate(), datetime(2026, 1, 1))


# ---------------------------------------------------------------- properties

statuses = st.sampled_from(rules.COMPLETION_STATUSES)
updates = st.builds(
    ProgressUpdate,
    # NUL and surrogates are refused (invalid_text, tested below): any other text.
    location=st.none() | st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=20),
    completion_status=st.none() | statuses,
    success_status=st.none() | st.sampled_from(rules.SUCCESS_STATUSES),
    score_raw=st.none() | st.floats(min_value=0, max_value=100),
    session_time_seconds=st.floats(min_value=0, max_value=24 * 3600) | st.integers(0, 24 * 3600),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(updates, max_size=12), st.none() | st.floats(min_value=0, max_value=1), st.booleans())
def test_properties_over_any_sequence_of_commits(sequence: list[ProgressUpdate], mastery: float | None,
                                                 keep_best: bool) -> None:
    state = ProgressState()
    for update in sequence:
        after = rules.apply_update(state, update, NOW, mastery_score=mastery, keep_best_score=keep_best)
        order = rules.COMPLETION_STATUSES.index
        # Completion never regresses; total time never decreases.
        assert order(after.completion_status) >= order(state.completion_status)
        assert after.total_time_seconds >= state.total_time_seconds
        # Scaled score always within [0, 1] and equal to raw / max.
        if after.score_scaled is not None:
            assert 0.0 <= after.score_scaled <= 1.0
            assert after.score_raw is not None and after.score_max is not None
            assert after.score_scaled == pytest.approx(after.score_raw / after.score_max)
        # The best score never drops when it is kept.
        if keep_best and state.score_scaled is not None:
            assert after.score_scaled is not None and after.score_scaled >= state.score_scaled
        # Success follows the score whenever a mastery score and a score are known.
        if mastery is not None and after.score_scaled is not None and update.score_raw is not None:
            assert after.success_status == ("passed" if after.score_scaled >= mastery else "failed")
        state = after


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**12, 10**12))
def test_session_time_accepted_only_within_a_day(seconds: float) -> None:
    try:
        added = rules.session_seconds(seconds)
    except ProgressRejected:
        assert not (0 <= seconds <= 24 * 3600)
    else:
        assert 0 <= seconds <= 24 * 3600 and 0 <= added <= 24 * 3600


# ---------------------------------------------------------------- the input rule (store.text)


@pytest.mark.parametrize("fields", [
    {"location": "lesson-\x00"}, {"location": "lesson-\ud800"}, {"suspend_data": "a\x00b"},
    {"suspend_data": "a\udfffb"}, {"cmi": {"cmi.comments": "x\x00"}}, {"cmi": {"cmi.comments\ud800": "x"}},
])
def test_nul_and_lone_surrogates_are_refused_by_the_rules(fields: dict[str, object]) -> None:
    """The services refuse them too (not only the web layer): nothing reaches the database."""
    assert rejected(ProgressState(), **fields) == "invalid_text"


def test_other_control_characters_are_kept_unchanged() -> None:
    after = apply(ProgressState(), location="p\t1\x1b", suspend_data="line 1\nline 2\r\x7f")
    assert (after.location, after.suspend_data) == ("p\t1\x1b", "line 1\nline 2\r\x7f")
