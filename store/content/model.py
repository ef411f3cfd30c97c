"""What the course player plays: a course's lessons and quiz (pure, no Flask, no SQLAlchemy).

``CourseContent`` is the small interface between the catalog and the player. A course gets
generated demo content (``store.content.demo``) unless a publisher's SCORM package was imported
for it (``lti-tool content import``): then ``CourseInfo.package`` names the imported version and
the content is of kind ``"scorm"``, played by the SCORM runtime, which reports its own score and
status (``accepts_client_scores``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

QUIZ_LOCATION = "quiz"


SCORM_VERSIONS = ("scorm12", "scorm2004")


@dataclass(frozen=True)
class ContentPackage:
    """One imported version of a publisher's SCORM package (a ``course_contents`` row)."""

    id: int
    version: int  # 1, 2, ... per course
    scorm_version: str  # "scorm12" or "scorm2004"
    storage_key: str  # the folder under CONTENT_DIR/packages (the zip's SHA-256)
    launch_href: str  # relative URL of the SCO inside the package (parameters included)
    title: str
    mastery_score: float | None = None  # scaled 0..1 (1.2 masteryscore / 100; 2004 minNormalizedMeasure)
    launch_data: str | None = None  # adlcp:datafromlms / adlcp:dataFromLMS
    completion_threshold: float | None = None  # 2004 adlcp:completionThreshold


@dataclass(frozen=True)
class CourseInfo:
    """The catalog facts content is built from (loaded by a query, passed in)."""

    catalog_id: str
    title: str
    description: str
    publisher: str
    language: str
    duration_minutes: int
    topics: tuple[str, ...]
    # The course's current imported SCORM package, if any (then it plays that, not demo lessons).
    package: ContentPackage | None = None


@dataclass(frozen=True)
class Lesson:
    id: str  # also its location, e.g. "lesson-2"
    title: str
    paragraphs: tuple[str, ...]
    key_points: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choice:
    id: str  # "a", "b", ...
    text: str


@dataclass(frozen=True)
class Question:
    id: str  # "q1", ...
    prompt: str
    choices: tuple[Choice, ...]
    answer: str  # the right choice id: never sent to the browser
    lesson_id: str  # the lesson that teaches the answer


@dataclass(frozen=True)
class QuestionResult:
    id: str
    chosen: str | None
    is_correct: bool


@dataclass(frozen=True)
class QuizResult:
    correct: int
    total: int
    score_raw: float  # percent, 0..100
    score_max: float
    score_scaled: float  # 0..1
    is_passed: bool
    questions: tuple[QuestionResult, ...]


class InvalidAnswers(ValueError):
    """Quiz answers that do not fit the quiz (unknown question or choice)."""

    def __init__(self, message: str, reason: str = "invalid_answers") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CourseContent:
    kind: str  # "demo" (generated) or "scorm" (an imported publisher package)
    catalog_id: str
    title: str
    lessons: tuple[Lesson, ...]
    questions: tuple[Question, ...]
    # Scaled 0..1: a score at or above it passes. None: the content decides pass/fail itself
    # (a SCORM package without a mastery score).
    mastery_score: float | None
    # Whether a client may report its own score/status (real SCORM content does; demo content is
    # graded on the server from the answers).
    accepts_client_scores: bool = False
    # The imported package this content plays (kind "scorm").
    package: ContentPackage | None = None

    @property
    def locations(self) -> tuple[str, ...]:
        """Every place the learner can be, in course order (lessons then the quiz)."""
        return tuple(lesson.id for lesson in self.lessons) + ((QUIZ_LOCATION,) if self.questions else ())

    def is_location(self, location: str) -> bool:
        return location == "" or location in self.locations

    def grade(self, answers: Mapping[str, str]) -> QuizResult:
        """Grade chosen answers ({question id: choice id}); unanswered questions count wrong.

        Raises InvalidAnswers for a question or choice the quiz does not have."""
        by_id = {q.id: q for q in self.questions}
        for qid, choice in answers.items():
            question = by_id.get(qid)
            if question is None:
                raise InvalidAnswers(f"unknown question {qid!r}")
            if not isinstance(choice, str) or choice not in {c.id for c in question.choices}:
                raise InvalidAnswers(f"question {qid!r} has no choice {choice!r}")
        results = tuple(
            QuestionResult(q.id, answers.get(q.id), answers.get(q.id) == q.answer) for q in self.questions
        )
        total = len(results)
        correct = sum(r.is_correct for r in results)
        scaled = correct / total if total else 0.0
        raw = round(100.0 * scaled, 2)
        return QuizResult(
            correct=correct,
            total=total,
            score_raw=raw,
            score_max=100.0,
            score_scaled=raw / 100.0,
            is_passed=raw / 100.0 >= (1.0 if self.mastery_score is None else self.mastery_score),
            questions=results,
        )


def visited_locations(suspend_data: str, content: CourseContent) -> tuple[str, ...]:
    """The demo player's suspend data is JSON ``{"visited": [location, ...]}``; anything else
    (or unknown locations) counts as nothing visited. Used for the progress bar."""
    try:
        data = json.loads(suspend_data) if suspend_data else {}
    except ValueError:
        return ()
    visited = data.get("visited") if isinstance(data, dict) else None
    if not isinstance(visited, list):
        return ()
    known = set(content.locations)
    return tuple(loc for loc in dict.fromkeys(v for v in visited if isinstance(v, str)) if loc in known)


def scorm_content(info: CourseInfo, package: ContentPackage) -> CourseContent:
    """What a course with an imported SCORM package plays: the package's SCO, no demo lessons."""
    return CourseContent(
        kind="scorm", catalog_id=info.catalog_id, title=info.title, lessons=(), questions=(),
        mastery_score=package.mastery_score, accepts_client_scores=True, package=package,
    )
