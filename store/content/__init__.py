"""Course content for the player: ``content_for(info) -> CourseContent``.

Today every course plays generated demo content. When publisher SCORM packages are imported
(the SCORM dispatch issue), a course with an imported package gets content of kind ``"scorm"``
here instead, with ``accepts_client_scores=True``; the player and the progress service only
talk to this interface.
"""

from __future__ import annotations

from functools import lru_cache

from store.content.demo import MASTERY_SCORE, demo_content
from store.content.model import (
    QUIZ_LOCATION,
    Choice,
    CourseContent,
    CourseInfo,
    InvalidAnswers,
    Lesson,
    Question,
    QuestionResult,
    QuizResult,
    visited_locations,
)

__all__ = [
    "MASTERY_SCORE",
    "QUIZ_LOCATION",
    "Choice",
    "CourseContent",
    "CourseInfo",
    "InvalidAnswers",
    "Lesson",
    "Question",
    "QuestionResult",
    "QuizResult",
    "content_for",
    "visited_locations",
]


@lru_cache(maxsize=512)
def content_for(info: CourseInfo) -> CourseContent:
    """The content a course plays (pure; cached, since the same facts give the same content)."""
    return demo_content(info)
