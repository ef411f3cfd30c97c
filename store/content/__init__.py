"""Course content for the player: ``content_for(info) -> CourseContent``.

A course plays generated demo content, unless a publisher's SCORM package was imported for it
(``store.content.service.import_content``, ``lti-tool content import``): then its
``CourseInfo.package`` is set and it gets content of kind ``"scorm"`` instead, with
``accepts_client_scores=True``. The player and the progress service only talk to this interface.
"""

from __future__ import annotations

from functools import lru_cache

from store.content.demo import MASTERY_SCORE, demo_content
from store.content.model import (
    QUIZ_LOCATION,
    SCORM_VERSIONS,
    Choice,
    ContentPackage,
    CourseContent,
    CourseInfo,
    InvalidAnswers,
    Lesson,
    Question,
    QuestionResult,
    QuizResult,
    scorm_content,
    visited_locations,
)

__all__ = [
    "MASTERY_SCORE",
    "QUIZ_LOCATION",
    "SCORM_VERSIONS",
    "Choice",
    "ContentPackage",
    "CourseContent",
    "CourseInfo",
    "InvalidAnswers",
    "Lesson",
    "Question",
    "QuestionResult",
    "QuizResult",
    "content_for",
    "scorm_content",
    "visited_locations",
]


@lru_cache(maxsize=512)
def content_for(info: CourseInfo) -> CourseContent:
    """The content a course plays (pure; cached, since the same facts give the same content)."""
    if info.package is not None:
        return scorm_content(info, info.package)
    return demo_content(info)
