"""Which content a course plays (pure): the one decision the launches, the player and grading ask.

- A course with an imported publisher package (``lti-tool content import``) plays it.
- Otherwise it plays generated demo lessons and a quiz only where demo content is switched on
  (the ``DEMO_CONTENT`` setting: on in development and test, never in production), so a sold
  course never plays a placeholder or sends a placeholder score to an LMS gradebook.
- Otherwise its content is "not available yet": no launch takes a seat for it, and the player
  refuses it (``ContentNotAvailable``, reason ``content_not_available``).

Callers pass the setting in; nothing here reads configuration.
"""

from __future__ import annotations

from typing import Literal

from store.content.demo import MASTERY_SCORE
from store.content.model import ContentPackage
from store.errors import StoreError

ContentKind = Literal["scorm", "demo"]

NOT_AVAILABLE_TITLE = "This course's content is not available yet"


class ContentNotAvailable(StoreError):
    """The course has no imported content, and demo content is switched off here."""

    reason = "content_not_available"


def content_kind(package: ContentPackage | None, *, demo_content: bool) -> ContentKind | None:
    """What a course plays: its imported package (``"scorm"``), generated demo lessons
    (``"demo"``, only where demo content is on), or nothing (``None``)."""
    if package is not None:
        return "scorm"
    return "demo" if demo_content else None


def require_content(catalog_id: str, package: ContentPackage | None, *, demo_content: bool) -> ContentKind:
    """``content_kind``, or ``ContentNotAvailable`` when the course has nothing to play."""
    kind = content_kind(package, demo_content=demo_content)
    if kind is None:
        raise ContentNotAvailable(f"course {catalog_id!r} has no imported content yet (demo content is switched "
                                  "off on this server)")
    return kind


def mastery_score_of(package: ContentPackage | None) -> float | None:
    """The score (scaled 0..1) a course's content is passed with, for a package manifest, without
    generating any content: its imported package's own (None: the package decides pass/fail
    itself), else the demo quiz's pass mark."""
    return package.mastery_score if package is not None else MASTERY_SCORE
