"""Demo course content generated from catalog data (pure, deterministic).

Every catalog course gets 4 or 5 short lessons built from its title, publisher, description,
topics, language and duration, and a 4–6 question multiple-choice quiz whose answers are all
stated in those lessons. The same course facts always give the same content (choice order
included), so a learner who reloads sees the same quiz, and grading needs no stored copy.

Texts are plain strings: the templates escape them when rendering (titles may contain ``&``,
``<``, quotes or non-Latin text). Lessons are in English whatever the course language; the
course language is named in the first lesson.
"""

from __future__ import annotations

import random

from store.content.model import Choice, CourseContent, CourseInfo, Lesson, Question

MASTERY_SCORE = 0.8  # 80%: a quiz score at or above it passes
MAX_QUESTIONS = 6
DESCRIPTION_ANSWER_MAX = 240

LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "ja": "Japanese",
    "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "zh": "Chinese",
}
_OTHER_LANGUAGES = ("English", "Spanish", "French", "German", "Japanese", "Italian")
_DECOY_PUBLISHERS = (
    "Harbor Lane Learning", "Quillstone Academy", "Northfield Training Co.", "Brightwater Press",
    "Cobalt Ridge Institute", "Maple & Finch Media",
)
_DECOY_TOPICS = (
    "marine biology", "medieval poetry", "pastry baking", "jazz improvisation", "beekeeping",
    "astrophotography", "origami",
)
_DECOY_DESCRIPTIONS = (
    "A hands-on workshop on baking sourdough bread at home.",
    "A travel guide to the mountain villages of the Alps.",
    "An introduction to playing the classical guitar.",
    "A history of sailing ships in the eighteenth century.",
    "A beginner's course in watercolour landscape painting.",
)
_DECOY_DURATIONS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 480)
_DECOY_PASS_MARKS = ("50%", "65%", "70%", "90%", "100%")

_TOPIC_OPENERS = (
    "This lesson looks at {topic} as it applies to “{title}”.",
    "{Topic} is one of the main topics of “{title}”, and this lesson is about it.",
    "Here we focus on {topic}, a main topic of “{title}”.",
)
_TOPIC_BODIES = (
    "Start by asking where {topic} shows up in your own work: which tasks, which decisions and "
    "which people it touches. Everything else in the course is easier to apply once you can name "
    "those situations.",
    "Most problems with {topic} come from small habits rather than big decisions. Notice the "
    "routine moments in your week where {topic} matters, and check what you do in each of them.",
    "Talk about {topic} with your team: agree on what good looks like, who to ask when unsure, "
    "and how to raise a concern early.",
)
_TOPIC_CLOSERS = (
    "Before moving on, write down one change related to {topic} that you will make this week.",
    "Pick one situation from your own work and plan how you will handle {topic} next time.",
)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.lower(), code)


def _minutes(n: int) -> str:
    return "1 minute" if n == 1 else f"{n} minutes"


def _short(text: str, limit: int = DESCRIPTION_ANSWER_MAX) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def _topics(info: CourseInfo) -> list[str]:
    seen: dict[str, str] = {}
    for topic in info.topics:
        clean = " ".join(str(topic).split())
        if clean and clean.lower() not in seen:
            seen[clean.lower()] = clean
    return list(seen.values())


def _lesson_count(topics: list[str]) -> int:
    """Welcome, what it covers, one per main topic (at most two; a practice lesson when the
    course has none), summary."""
    return 3 + max(1, min(2, len(topics)))


def _lessons(info: CourseInfo, topics: list[str], rng: random.Random, question_count: int) -> tuple[Lesson, ...]:
    language = _language_name(info.language)
    topic_lessons = topics[:2]
    lesson_count = _lesson_count(topics)
    pass_mark = f"{round(MASTERY_SCORE * 100)}%"

    welcome = [f"Welcome to “{info.title}”, a course published by {info.publisher}."]
    if info.duration_minutes > 0:
        welcome.append(f"The course is designed to take about {_minutes(info.duration_minutes)} "
                       f"and is presented in {language}.")
    else:
        welcome.append(f"The course is self-paced and is presented in {language}.")
    welcome.append(
        f"It has {lesson_count} lessons followed by a short quiz of {question_count} questions. "
        f"You pass with a score of {pass_mark} or more, and you may retake the quiz: your best "
        "score counts. Your place is saved as you go, so you can stop and come back later."
    )
    key = [f"Publisher: {info.publisher}", f"Language: {language}", f"Lessons: {lesson_count}",
           f"Pass mark: {pass_mark}"]
    if info.duration_minutes > 0:
        key.insert(1, f"Duration: about {_minutes(info.duration_minutes)}")
    lessons = [Lesson("lesson-1", "Welcome", tuple(welcome), tuple(key))]

    covers: list[str] = []
    description = " ".join(info.description.split())
    if description:
        covers.append(f"In the publisher's words: {description}")
    if topics:
        covers.append("The main topics of this course are: " + ", ".join(topics) + ".")
    else:
        covers.append(f"This course is about {info.title}.")
    covers.append("The next lessons take these one at a time, then the quiz checks what you "
                  "have learned.")
    lessons.append(Lesson("lesson-2", "What this course covers", tuple(covers),
                          tuple(_cap(t) for t in topics)))

    if topic_lessons:
        for topic in topic_lessons:
            fill = {"topic": topic, "Topic": _cap(topic), "title": info.title}
            paragraphs = (
                rng.choice(_TOPIC_OPENERS).format(**fill),
                *(body.format(**fill) for body in rng.sample(_TOPIC_BODIES, 2)),
                rng.choice(_TOPIC_CLOSERS).format(**fill),
            )
            lessons.append(Lesson(f"lesson-{len(lessons) + 1}", f"Key topic: {_cap(topic)}", paragraphs,
                                  (f"Recognise where {topic} affects your daily work.",
                                   "Agree on one concrete action and follow it up.")))
    else:
        lessons.append(Lesson(
            f"lesson-{len(lessons) + 1}", "Putting it into practice",
            (f"Think of two situations at work where “{info.title}” applies.",
             "For each, note what you do today, what you would like to do differently, and who "
             "can help you."),
            ("Name the situations.", "Plan one change."),
        ))

    summary = [f"You have reached the end of the lessons of “{info.title}” by {info.publisher}."]
    if topics:
        summary.append("You looked at " + ", ".join(topics) + ".")
    summary.append(f"Now take the quiz: {question_count} questions, pass mark {pass_mark}.")
    lessons.append(Lesson(f"lesson-{len(lessons) + 1}", "Summary", tuple(summary)))
    assert len(lessons) == lesson_count
    return tuple(lessons)


def _question(info: CourseInfo, qid: str, prompt: str, right: str, decoys: list[str],
              lesson_id: str) -> Question:
    rng = random.Random(f"{info.catalog_id}:{qid}")
    wrong: list[str] = []
    for decoy in decoys:
        if decoy.casefold() != right.casefold() and decoy.casefold() not in {w.casefold() for w in wrong}:
            wrong.append(decoy)
    options = [right, *rng.sample(wrong, 3)]
    rng.shuffle(options)
    choices = tuple(Choice("abcd"[i], text) for i, text in enumerate(options))
    answer = next(c.id for c in choices if c.text == right)
    return Question(qid, prompt, choices, answer, lesson_id)


def _questions(info: CourseInfo, topics: list[str], rng: random.Random) -> list[tuple[str, str, str, list[str], str]]:
    """Candidate questions in priority order: (key, prompt, right answer, decoys, lesson id)."""
    found: list[tuple[str, str, str, list[str], str]] = []
    if topics:
        topic = rng.choice(topics[:2])
        decoys = [d for d in _DECOY_TOPICS if d.casefold() not in {t.casefold() for t in topics}]
        found.append(("topic", "Which of these is one of the main topics of this course?", _cap(topic),
                      [_cap(d) for d in decoys], "lesson-2"))
    description = " ".join(info.description.split())
    if description:
        found.append(("description", "Which statement does the publisher use to describe this course?",
                      _short(description), list(_DECOY_DESCRIPTIONS), "lesson-2"))
    found.append(("publisher", f"Who publishes “{info.title}”?", info.publisher, list(_DECOY_PUBLISHERS),
                  "lesson-1"))
    if info.duration_minutes > 0:
        found.append(("duration", "About how long is this course designed to take?",
                      _minutes(info.duration_minutes), [_minutes(d) for d in _DECOY_DURATIONS], "lesson-1"))
    found.append(("pass_mark", "What quiz score do you need to pass this course?",
                  f"{round(MASTERY_SCORE * 100)}% or more", [f"{m} or more" for m in _DECOY_PASS_MARKS],
                  "lesson-1"))
    found.append(("language", "In which language is this course presented?", _language_name(info.language),
                  list(_OTHER_LANGUAGES), "lesson-1"))
    found.append(("lessons", "How many lessons does this course have before the quiz?",
                  str(_lesson_count(topics)), [str(n) for n in range(2, 9)], "lesson-1"))
    return found[:MAX_QUESTIONS]


def demo_content(info: CourseInfo) -> CourseContent:
    """Lessons and quiz for a catalog course, the same for the same facts."""
    rng = random.Random(f"demo-content:{info.catalog_id}")
    topics = _topics(info)
    candidates = _questions(info, topics, rng)
    lessons = _lessons(info, topics, rng, len(candidates))
    questions = tuple(
        _question(info, f"q{i}", prompt, right, decoys, lesson_id)
        for i, (_key, prompt, right, decoys, lesson_id) in enumerate(candidates, start=1)
    )
    return CourseContent(
        kind="demo",
        catalog_id=info.catalog_id,
        title=info.title,
        lessons=lessons,
        questions=questions,
        mastery_score=MASTERY_SCORE,
        accepts_client_scores=False,
    )
