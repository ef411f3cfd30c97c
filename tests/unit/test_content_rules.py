"""The one decision about what a course plays (store.content.rules): imported content always;
generated demo lessons only where demo content is on; otherwise "not available yet"."""

from __future__ import annotations

import pytest

from store.content import (
    MASTERY_SCORE,
    ContentNotAvailable,
    ContentPackage,
    CourseInfo,
    content_for,
    content_kind,
    mastery_score_of,
    require_content,
)
from store.errors import StoreError

INFO = CourseInfo("C-1", "Fire safety", "How to leave a building.", "SafeWork", "en", 30, ("fire",))
PACKAGE = ContentPackage(id=7, version=1, scorm_version="scorm12", storage_key="a" * 64, launch_href="index.html",
                         title="Fire safety", mastery_score=0.7)


@pytest.mark.parametrize("package, demo_content, kind", [
    (PACKAGE, True, "scorm"), (PACKAGE, False, "scorm"), (None, True, "demo"), (None, False, None),
])
def test_content_kind(package: ContentPackage | None, demo_content: bool, kind: str | None) -> None:
    assert content_kind(package, demo_content=demo_content) == kind


def test_without_demo_content_a_course_without_a_package_has_nothing_to_play() -> None:
    with pytest.raises(ContentNotAvailable) as refused:
        content_for(INFO, demo_content=False)
    assert isinstance(refused.value, StoreError) and refused.value.reason == "content_not_available"
    assert "C-1" in refused.value.message
    with pytest.raises(ContentNotAvailable):
        require_content("C-1", None, demo_content=False)
    assert content_for(INFO, demo_content=True).kind == "demo"
    with_package = CourseInfo(**{**INFO.__dict__, "package": PACKAGE})
    assert content_for(with_package, demo_content=False).kind == "scorm"


def test_the_mastery_score_comes_from_the_package_or_the_demo_pass_mark() -> None:
    assert mastery_score_of(PACKAGE) == 0.7
    assert mastery_score_of(ContentPackage(1, 1, "scorm2004", "b" * 64, "i.html", "T", None)) is None
    assert mastery_score_of(None) == MASTERY_SCORE == 0.8
