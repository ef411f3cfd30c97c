"""Demo course content: deterministic, shaped as promised, answerable from its own lessons,
graded correctly, and kept as raw text (the templates escape it)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.catalog.demo import generate_feed
from store.content import CourseContent, CourseInfo, InvalidAnswers, content_for, visited_locations
from store.content.demo import MASTERY_SCORE, demo_content


def info_of(record: dict[str, Any]) -> CourseInfo:
    return CourseInfo(record["id"], record["title"], record["description"], record["publisher"],
                      record["language"], record["duration_minutes"], tuple(record["topics"]))


DEMO = [info_of(r) for r in generate_feed(250, seed=7)]
AWKWARD = CourseInfo(
    catalog_id="AWK-1",
    title='Health & Safety: The "Why" <script>alert(1)</script> 職場の安全',
    description="Über <b>bold</b> & 'quoted' text.",
    publisher="SafeWork <Pro> & O'Brien",
    language="ja",
    duration_minutes=45,
    topics=("workplace safety", "<img src=x>", "workplace safety"),
)


def lesson_text(content: CourseContent, lesson_id: str) -> str:
    lesson = next(lesson for lesson in content.lessons if lesson.id == lesson_id)
    return " ".join((lesson.title, *lesson.paragraphs, *lesson.key_points)).casefold()


def check_shape_and_answers(content: CourseContent) -> None:
    assert 3 <= len(content.lessons) <= 5
    assert 4 <= len(content.questions) <= 6
    assert content.mastery_score == MASTERY_SCORE
    assert content.locations == (*(lesson.id for lesson in content.lessons), "quiz")
    assert len(set(content.locations)) == len(content.locations)
    for question in content.questions:
        texts = [c.text.casefold() for c in question.choices]
        assert len(question.choices) == 4 and len(set(texts)) == 4, question
        assert [c.id for c in question.choices] == ["a", "b", "c", "d"]
        right = next(c.text for c in question.choices if c.id == question.answer)
        # The right answer is stated in the lesson the question points to.
        assert right.rstrip("…").casefold() in lesson_text(content, question.lesson_id), (question, right)


def test_every_demo_course_has_lessons_and_an_answerable_quiz() -> None:
    for info in DEMO:
        check_shape_and_answers(content_for(info, demo_content=True))


def test_content_is_deterministic() -> None:
    for info in DEMO[:40]:
        assert demo_content(info) == demo_content(info)
        assert demo_content(info) is not demo_content(info)
    # Different courses differ (choice order and texts depend on the course).
    assert demo_content(DEMO[0]).questions != demo_content(DEMO[1]).questions


def test_answers_are_not_always_in_the_same_position() -> None:
    positions = {q.answer for info in DEMO[:30] for q in content_for(info, demo_content=True).questions}
    assert positions == {"a", "b", "c", "d"}


def test_facts_come_from_the_catalog_record() -> None:
    content = content_for(AWKWARD, demo_content=True)
    welcome = " ".join(content.lessons[0].paragraphs)
    assert "SafeWork <Pro> & O'Brien" in welcome
    assert "45 minutes" in welcome and "Japanese" in welcome
    covers = " ".join(content.lessons[1].paragraphs)
    assert "Über <b>bold</b> & 'quoted' text." in covers
    # Duplicate topics are folded; one lesson per main topic (at most two).
    assert [lesson.title for lesson in content.lessons] == [
        "Welcome", "What this course covers", "Key topic: Workplace safety", "Key topic: <img src=x>", "Summary"]


def test_text_stays_raw_for_the_templates_to_escape() -> None:
    content = content_for(AWKWARD, demo_content=True)
    everything = " ".join([content.title] + [p for lesson in content.lessons for p in lesson.paragraphs]
                          + [q.prompt for q in content.questions]
                          + [c.text for q in content.questions for c in q.choices])
    assert "<script>alert(1)</script>" in content.title
    assert "&amp;" not in everything and "&lt;" not in everything  # never escaped twice
    check_shape_and_answers(content)


def test_a_course_with_no_description_topics_or_duration_still_has_four_questions() -> None:
    bare = CourseInfo("BARE-1", "Bare", "", "Some Publisher", "en", 0, ())
    content = content_for(bare, demo_content=True)
    check_shape_and_answers(content)
    assert len(content.questions) == 4 and len(content.lessons) == 4
    assert "self-paced" in " ".join(content.lessons[0].paragraphs)


def test_a_long_description_is_shortened_in_the_answer_but_stated_in_full() -> None:
    long = CourseInfo("LONG-1", "Long", "word " * 200, "P", "en", 10, ("alpha",))
    content = content_for(long, demo_content=True)
    check_shape_and_answers(content)
    question = next(q for q in content.questions if "describe" in q.prompt)
    right = next(c.text for c in question.choices if c.id == question.answer)
    assert right.endswith("…") and len(right) <= 240


# ---------------------------------------------------------------- grading


def right_answers(content: CourseContent) -> dict[str, str]:
    return {q.id: q.answer for q in content.questions}


def wrong_answers(content: CourseContent) -> dict[str, str]:
    return {q.id: next(c.id for c in q.choices if c.id != q.answer) for q in content.questions}


def test_grading() -> None:
    content = content_for(DEMO[3], demo_content=True)
    perfect = content.grade(right_answers(content))
    assert (perfect.correct, perfect.score_raw, perfect.score_scaled, perfect.is_passed) == (
        len(content.questions), 100.0, 1.0, True)
    zero = content.grade(wrong_answers(content))
    assert (zero.correct, zero.score_raw, zero.is_passed) == (0, 0.0, False)
    assert all(not r.is_correct for r in zero.questions)
    unanswered = content.grade({})
    assert unanswered.correct == 0 and all(r.chosen is None for r in unanswered.questions)


def test_pass_mark_is_at_or_above_mastery() -> None:
    five = content_for(CourseInfo("FIVE-1", "Five", "", "P", "en", 0, ("alpha",)), demo_content=True)
    assert len(five.questions) == 5
    answers = right_answers(five)
    answers[five.questions[0].id] = wrong_answers(five)[five.questions[0].id]
    four_of_five = five.grade(answers)
    assert four_of_five.score_raw == 80.0 and four_of_five.is_passed  # exactly the mastery score
    answers[five.questions[1].id] = wrong_answers(five)[five.questions[1].id]
    assert not five.grade(answers).is_passed


@pytest.mark.parametrize("answers", [{"q99": "a"}, {"q1": "z"}, {"q1": 1}])
def test_answers_that_do_not_fit_the_quiz_are_refused(answers: dict[str, Any]) -> None:
    with pytest.raises(InvalidAnswers):
        content_for(DEMO[0], demo_content=True).grade(answers)


def test_visited_locations_reads_only_its_own_format() -> None:
    content = content_for(DEMO[0], demo_content=True)
    assert visited_locations('{"visited": ["lesson-2", "nowhere", "quiz", "lesson-2"]}', content) == (
        "lesson-2", "quiz")
    for junk in ("", "not json", "[1,2]", '{"visited": "lesson-1"}', '{"visited": [1]}'):
        assert visited_locations(junk, content) == ()


# ---------------------------------------------------------------- properties

course_infos = st.builds(
    CourseInfo,
    catalog_id=st.text(min_size=1, max_size=30),
    title=st.text(min_size=1, max_size=120),
    description=st.text(max_size=400),
    publisher=st.text(min_size=1, max_size=60).filter(lambda s: s.strip() != ""),
    language=st.sampled_from(["en", "es", "fr", "de", "ja", "xx", ""]),
    duration_minutes=st.integers(0, 10_000),
    topics=st.lists(st.text(max_size=30), max_size=5).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(course_infos)
def test_any_course_gets_valid_answerable_content(info: CourseInfo) -> None:
    content = demo_content(info)
    assert content == demo_content(info)
    perfect = content.grade(right_answers(content))
    assert perfect.is_passed and perfect.score_scaled == 1.0
    for question in content.questions:
        assert len({c.text.casefold() for c in question.choices}) == 4
