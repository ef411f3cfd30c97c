"""Course content for the player: ``content_for(info, demo_content=...) -> CourseContent``.

A course with a publisher's imported SCORM package (``store.content.service.import_content``,
``lti-tool content import``; its ``CourseInfo.package`` is set) gets content of kind ``"scorm"``,
with ``accepts_client_scores=True``. Without one it plays generated demo lessons only where demo
content is switched on (``DEMO_CONTENT``); otherwise ``content_for`` raises
``ContentNotAvailable``. ``store.content.rules`` makes that decision, in one place; the player,
the progress service and the launches only talk to this interface.
"""

from __future__ import annotations

from functools import lru_cache

from store.content.demo import MASTERY_SCORE
from store.content.demo import demo_content as _demo_lessons
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
from store.content.rules import (
    NOT_AVAILABLE_TITLE,
    ContentKind,
    ContentNotAvailable,
    content_kind,
    mastery_score_of,
    require_content,
)

__all__ = [
    "MASTERY_SCORE",
    "QUIZ_LOCATION",
    "SCORM_VERSIONS",
    "NOT_AVAILABLE_TITLE",
    "Choice",
    "ContentKind",
    "ContentNotAvailable",
    "ContentPackage",
    "CourseContent",
    "CourseInfo",
    "InvalidAnswers",
    "Lesson",
    "Question",
    "QuestionResult",
    "QuizResult",
    "content_for",
    "content_kind",
    "mastery_score_of",
    "require_content",
    "scorm_content",
    "visited_locations",
]


def content_for(info: CourseInfo, *, demo_content: bool) -> CourseContent:
    """The content a course plays (pure). ``demo_content``: the ``DEMO_CONTENT`` setting.
    Raises ``ContentNotAvailable`` for a course without imported content where demo content is
    switched off."""
    require_content(info.catalog_id, info.package, demo_content=demo_content)
    return _content_of(info)


@lru_cache(maxsize=512)
def _content_of(info: CourseInfo) -> CourseContent:
    # Cached, since the same facts give the same content.
    if info.package is not None:
        return scorm_content(info, info.package)
    return _demo_lessons(info)
