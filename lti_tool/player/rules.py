"""Pure rules of what the course player shows of a learner's progress: the status line and which
places of a course are done (ticked, and counted by the progress bar). No Flask, no database.

- A failed attempt is never called completed: SCORM reports a graded course as "completed" once
  its quiz is answered, passed or not; the learner reads "Not passed yet" with the score until a
  passing score arrives (the best score counts).
- A lesson is done once the learner has opened it; the quiz is done only when it is passed. A
  course reported completed (and not failed) counts every place as done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def status_label(completion_status: str, success_status: str, score_percent: int | None) -> str:
    score = "" if score_percent is None else f" — score {score_percent}%"
    if success_status == "failed":
        return f"Not passed yet{score}"
    if success_status == "passed":
        return f"Completed{score} (passed)"
    if completion_status == "completed":
        return f"Completed{score}"
    if completion_status == "incomplete":
        return "In progress"
    return "Not started"


def is_done(completion_status: str, success_status: str) -> bool:
    """Completed for the learner: reported completed and not failed, or passed."""
    return success_status == "passed" or (completion_status == "completed" and success_status != "failed")


def done_locations(locations: Sequence[str], visited: Iterable[str], quiz_location: str,
                   completion_status: str, success_status: str) -> frozenset[str]:
    if is_done(completion_status, success_status):
        return frozenset(locations)
    seen = set(visited)
    return frozenset(loc for loc in locations
                     if (success_status == "passed" if loc == quiz_location else loc in seen))


def progress_percent(locations: Sequence[str], done: Iterable[str]) -> int:
    if not locations:
        return 0
    return round(100 * len(set(done) & set(locations)) / len(locations))
