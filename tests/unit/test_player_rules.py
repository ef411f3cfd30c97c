"""What the player shows of progress (lti_tool/player/rules.py): a failed attempt is never called
completed, a lesson is ticked once opened, the quiz only once passed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lti_tool.player import rules

LOCATIONS = ("lesson-1", "lesson-2", "lesson-3", "quiz")
COMPLETION = st.sampled_from(("not attempted", "incomplete", "completed"))
SUCCESS = st.sampled_from(("unknown", "passed", "failed"))
SCORE = st.one_of(st.none(), st.integers(0, 100))


@pytest.mark.parametrize(("completion", "success", "score", "label"), [
    ("not attempted", "unknown", None, "Not started"),
    ("incomplete", "unknown", None, "In progress"),
    ("completed", "unknown", None, "Completed"),
    ("completed", "passed", 85, "Completed — score 85% (passed)"),
    ("completed", "failed", 17, "Not passed yet — score 17%"),
    ("incomplete", "failed", 17, "Not passed yet — score 17%"),
    ("incomplete", "passed", 90, "Completed — score 90% (passed)"),
])
def test_status_labels(completion: str, success: str, score: int | None, label: str) -> None:
    assert rules.status_label(completion, success, score) == label


@given(COMPLETION, SCORE)
def test_a_failed_attempt_is_never_completed(completion: str, score: int | None) -> None:
    assert "Completed" not in rules.status_label(completion, "failed", score)
    assert not rules.is_done(completion, "failed")
    done = rules.done_locations(LOCATIONS, LOCATIONS, "quiz", completion, "failed")
    assert "quiz" not in done and rules.progress_percent(LOCATIONS, done) < 100


def test_the_quiz_is_ticked_only_when_passed_and_lessons_when_opened() -> None:
    opened = ["lesson-1", "quiz"]  # the learner looked at the quiz without answering it
    assert rules.done_locations(LOCATIONS, opened, "quiz", "incomplete", "unknown") == {"lesson-1"}
    assert rules.done_locations(LOCATIONS, opened, "quiz", "incomplete", "passed") == set(LOCATIONS)
    assert rules.done_locations(LOCATIONS, ["lesson-1"], "quiz", "completed", "unknown") == set(LOCATIONS)
    assert rules.progress_percent(LOCATIONS, {"lesson-1"}) == 25
    assert rules.progress_percent((), ()) == 0


@given(st.lists(st.sampled_from(LOCATIONS)), COMPLETION, SUCCESS)
def test_done_places_are_opened_lessons_a_passed_quiz_or_everything_once_done(
        visited: list[str], completion: str, success: str) -> None:
    done = rules.done_locations(LOCATIONS, visited, "quiz", completion, success)
    if rules.is_done(completion, success):
        assert done == set(LOCATIONS)
    else:
        assert done <= set(visited) and ("quiz" in done) == (success == "passed")
