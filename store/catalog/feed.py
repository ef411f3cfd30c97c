"""The catalog feed: JSON Lines, one course per line. Parsing and validation only (pure).

A feed is checked as a whole before anything is written: every problem is collected as
``line N: what is wrong`` so the vendor can fix the file in one go. Checks that need the
database (a ``replacement_id`` naming a course that is neither in the feed nor in the catalog)
happen in :mod:`store.catalog.service`, which reports them the same way.

Every string follows the input rule (:mod:`store.text`): a NUL or a lone surrogate (a broken
``\\ud800`` escape) is a problem of its line, and so is a line break in a one-line field.

Fields (unknown fields are an error, ``null`` means "not given"):

=========================  ========  ==========================================================
field                      required  meaning
=========================  ========  ==========================================================
id                         yes       the course's catalog id (string, unique in the feed)
title                      yes       string
publisher                  yes       publisher name; publishers are matched by exact name
description                no        string (up to 20,000 characters, may hold line breaks), default ""
language                   no        language tag like ``en`` or ``pt-BR``, default ``en``
duration_minutes           no        whole number >= 0, default 0
topics                     no        list of up to 50 strings (100 characters each), default []
volume_price_cents         yes       Volume unit price, whole number of cents >= 0
ppu_price_cents            yes       Pay Per Use price, whole number of cents >= 0
plus                       no        true when in the Plus subscription catalog, default false
bundle                     no        bundle name or null
bundle_subscription_only   no        true/false sets the bundle's flag; absent keeps it
status                     no        active | retiring | retired, default active
replacement_id             no        catalog id of the suggested replacement course
=========================  ========  ==========================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from store.catalog.limits import (
    BUNDLE_NAME_MAX,
    CATALOG_ID_MAX,
    COURSE_STATUSES,
    LANGUAGE_MAX,
    PUBLISHER_NAME_MAX,
    TITLE_MAX,
)
from store.errors import StoreError
from store.text import printable, text_problem

# Integer columns are 32-bit on PostgreSQL: a bigger value must be a feed error, not a crash.
INT_MAX = 2_147_483_647
TOPIC_MAX = 100
TOPICS_MAX = 50  # topics per course
DESCRIPTION_MAX = 20_000  # the column is TEXT: a sensible size for search and the deep-linking text
DEFAULT_LANGUAGE = "en"
PROBLEMS_SHOWN = 20

FIELDS = (
    "id",
    "title",
    "publisher",
    "description",
    "language",
    "duration_minutes",
    "topics",
    "volume_price_cents",
    "ppu_price_cents",
    "plus",
    "bundle",
    "bundle_subscription_only",
    "status",
    "replacement_id",
)
_KNOWN_FIELDS = frozenset(FIELDS)
_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")


class FeedError(StoreError):
    """The feed has problems; nothing was imported. ``problems`` holds every one, in line order."""

    reason = "invalid_feed"

    def __init__(self, problems: Iterable[str], *, reason: str | None = None) -> None:
        self.problems: list[str] = list(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"the feed has {count} {noun}; nothing was imported", reason=reason)

    def summary(self, limit: int = PROBLEMS_SHOWN) -> list[str]:
        """The first ``limit`` problems, then one line saying how many more there are."""
        shown = self.problems[:limit]
        hidden = len(self.problems) - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more {'problem' if hidden == 1 else 'problems'}")
        return shown


@dataclass(frozen=True, slots=True)
class FeedProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class FeedCourse:
    """One valid feed line, normalised (strings stripped, defaults filled in)."""

    line: int
    catalog_id: str
    title: str
    publisher: str
    description: str
    language: str
    duration_minutes: int
    topics: tuple[str, ...]
    volume_price_cents: int
    ppu_price_cents: int
    is_plus: bool
    bundle: str | None
    # None: the line does not say, so an existing bundle keeps its flag (a new one gets False).
    is_bundle_subscription_only: bool | None
    status: str
    replacement_id: str | None


@dataclass(frozen=True)
class ParsedFeed:
    """A whole feed after validation: the valid courses and every problem found."""

    courses: tuple[FeedCourse, ...]
    problems: tuple[FeedProblem, ...]
    lines: int

    @property
    def is_valid(self) -> bool:
        return not self.problems

    def raise_for_problems(self, extra: Iterable[FeedProblem] = ()) -> None:
        """Raise FeedError listing this feed's problems plus ``extra`` ones, in line order."""
        problems = sorted([*self.problems, *extra], key=lambda p: p.line)
        if problems:
            raise FeedError(str(p) for p in problems)


# --- one line ---------------------------------------------------------------------------------


class _LineChecker:
    """Collects the problems of one record while reading its fields."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []

    def _value(self, name: str) -> Any:
        return self.data.get(name)

    def string(self, name: str, *, required: bool, max_length: int, multiline: bool = False) -> str | None:
        value = self._value(name)
        if value is None:
            if required:
                self.problems.append(f"missing required field '{name}'")
            return None
        if not isinstance(value, str):
            self.problems.append(f"'{name}' must be a string, got {_json_type(value)}")
            return None
        value = value.strip()
        if required and not value:
            self.problems.append(f"'{name}' must not be blank")
            return None
        # The input rule (store.text): no NUL or lone surrogate; one line unless multiline.
        problem = text_problem(value, allow_newlines=multiline)
        if problem is not None:
            self.problems.append(f"'{name}' {problem}")
            return None
        if max_length is not None and len(value) > max_length:
            self.problems.append(f"'{name}' is longer than {max_length:,} characters")
            return None
        return value

    def whole_number(self, name: str, *, required: bool, default: int = 0) -> int:
        value = self._value(name)
        if value is None:
            if required:
                self.problems.append(f"missing required field '{name}'")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.append(
                f"'{name}' must be a whole number, got {_json_type(value)} {_short(value)}"
            )
            return default
        if value < 0:
            self.problems.append(f"'{name}' must not be negative, got {value}")
            return default
        if value > INT_MAX:
            self.problems.append(f"'{name}' is too large ({value} > {INT_MAX})")
            return default
        return value

    def flag(self, name: str) -> bool | None:
        value = self._value(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.problems.append(
                f"'{name}' must be true or false, got {_json_type(value)} {_short(value)}"
            )
            return None
        return value

    def topics(self) -> tuple[str, ...]:
        value = self._value("topics")
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            self.problems.append("'topics' must be a list of strings")
            return ()
        if len(value) > TOPICS_MAX:
            self.problems.append(f"'topics' holds more than {TOPICS_MAX} topics")
            return ()
        topics: dict[str, None] = {}
        for raw in value:
            topic = raw.strip()
            if not topic:
                self.problems.append("'topics' must not contain blank strings")
                return ()
            problem = text_problem(topic, allow_newlines=False)
            if problem is not None:
                self.problems.append(f"a topic {problem}")
                return ()
            if len(topic) > TOPIC_MAX:
                self.problems.append(f"a topic is longer than {TOPIC_MAX} characters")
                return ()
            topics.setdefault(topic, None)
        return tuple(topics)

    def language(self) -> str:
        value = self.string("language", required=False, max_length=LANGUAGE_MAX)
        if value is None or value == "":
            return DEFAULT_LANGUAGE
        if not _LANGUAGE_RE.match(value):
            self.problems.append(f"'language' must be a language tag like 'en' or 'pt-BR', got {value!r}")
            return DEFAULT_LANGUAGE
        primary, _, rest = value.partition("-")
        return primary.lower() + ("-" + rest if rest else "")

    def status(self) -> str:
        value = self._value("status")
        if value is None:
            return "active"
        if not isinstance(value, str) or value.strip() not in COURSE_STATUSES:
            self.problems.append(
                f"unknown status {_short(value)} (expected one of: {', '.join(COURSE_STATUSES)})"
            )
            return "active"
        return value.strip()


def validate_record(data: Any, line: int) -> FeedCourse | list[str]:
    """Check one decoded record; return the course, or the list of what is wrong with it."""
    if not isinstance(data, Mapping):
        return [f"expected a JSON object, got {_json_type(data)}"]
    check = _LineChecker(data)
    unknown = sorted(str(key) for key in data if key not in _KNOWN_FIELDS)
    for key in unknown:
        check.problems.append(f"unknown field {key!r}")

    catalog_id = check.string("id", required=True, max_length=CATALOG_ID_MAX)
    title = check.string("title", required=True, max_length=TITLE_MAX)
    publisher = check.string("publisher", required=True, max_length=PUBLISHER_NAME_MAX)
    description = check.string("description", required=False, max_length=DESCRIPTION_MAX, multiline=True) or ""
    language = check.language()
    duration = check.whole_number("duration_minutes", required=False)
    topics = check.topics()
    volume_price = check.whole_number("volume_price_cents", required=True)
    ppu_price = check.whole_number("ppu_price_cents", required=True)
    is_plus = check.flag("plus")
    bundle = check.string("bundle", required=False, max_length=BUNDLE_NAME_MAX) or None
    subscription_only = check.flag("bundle_subscription_only")
    status = check.status()
    replacement_id = check.string("replacement_id", required=False, max_length=CATALOG_ID_MAX) or None

    if subscription_only is not None and bundle is None:
        check.problems.append("'bundle_subscription_only' is given but 'bundle' is empty")
    if subscription_only and is_plus is not True:
        check.problems.append(
            f"bundle {bundle!r} is subscription-only, so the course must have \"plus\": true"
        )
    if replacement_id is not None and replacement_id == catalog_id:
        check.problems.append("'replacement_id' must name another course, not the course itself")

    if check.problems:
        return check.problems
    assert catalog_id is not None and title is not None and publisher is not None
    return FeedCourse(
        line=line,
        catalog_id=catalog_id,
        title=title,
        publisher=publisher,
        description=description,
        language=language,
        duration_minutes=duration,
        topics=topics,
        volume_price_cents=volume_price,
        ppu_price_cents=ppu_price,
        is_plus=bool(is_plus),
        bundle=bundle,
        is_bundle_subscription_only=subscription_only,
        status=status,
        replacement_id=replacement_id,
    )


def decode_line(raw: str | bytes, line: int) -> tuple[Any, str | None]:
    """Decode one JSON Lines line: (value, None), or (None, problem). Blank lines give (None, None)."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, f"not valid UTF-8 (byte {exc.start + 1})"
    if line == 1:
        raw = raw.removeprefix("\ufeff")
    text = raw.strip()
    if not text:
        return None, None
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    except ValueError:  # e.g. a number with more digits than Python will convert
        return None, "invalid JSON: a number is too long"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"


# --- the whole feed ---------------------------------------------------------------------------


class _FeedCollector:
    """Cross-line checks: duplicate ids and bundles whose subscription-only flag disagrees."""

    def __init__(self) -> None:
        self.courses: list[FeedCourse] = []
        self.problems: list[FeedProblem] = []
        self.lines = 0
        self._first_line_of_id: dict[str, int] = {}
        self._bundle_flags: dict[str, tuple[bool, int]] = {}

    def add_problems(self, line: int, messages: Iterable[str]) -> None:
        self.problems.extend(FeedProblem(line, message) for message in messages)

    def duplicate_problem(self, data: Any, line: int) -> str | None:
        """Remember the line's id (even when other fields are wrong); say if it is a repeat."""
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            return None
        catalog_id = data["id"].strip()
        if not catalog_id:
            return None
        first = self._first_line_of_id.setdefault(catalog_id, line)
        if first != line:
            return f"duplicate id {catalog_id!r} (first on line {first})"
        return None

    def bundle_problem(self, course: FeedCourse) -> str | None:
        if course.bundle is None or course.is_bundle_subscription_only is None:
            return None
        flag = course.is_bundle_subscription_only
        seen = self._bundle_flags.setdefault(course.bundle, (flag, course.line))
        if seen[0] == flag:
            return None
        return (
            f"bundle {course.bundle!r} is {_sub_only(seen[0])} on line {seen[1]} "
            f"but {_sub_only(flag)} here"
        )

    def result(self) -> ParsedFeed:
        return ParsedFeed(courses=tuple(self.courses), problems=tuple(self.problems), lines=self.lines)


def _sub_only(flag: bool) -> str:
    return "subscription-only" if flag else "not subscription-only"


def parse_feed(items: Iterable[str | bytes | Mapping[str, Any]]) -> ParsedFeed:
    """Parse and check a feed given as JSON Lines text lines (str or bytes, without or with the
    line ending) or as already-decoded records (mappings), numbered from 1 in order.

    Blank lines are skipped but still counted, so ``line N`` matches the file.
    """
    collector = _FeedCollector()
    for number, item in enumerate(items, start=1):
        collector.lines = number
        if isinstance(item, Mapping):
            data: Any = item
        else:
            data, problem = decode_line(item, number)
            if problem is not None:
                collector.add_problems(number, [problem])
                continue
            if data is None:
                continue
        duplicate = collector.duplicate_problem(data, number)
        checked = validate_record(data, number)
        problems = [duplicate] if duplicate else []
        if isinstance(checked, FeedCourse):
            bundle_problem = collector.bundle_problem(checked)
            if bundle_problem:
                problems.append(bundle_problem)
            if not problems:
                collector.courses.append(checked)
        else:
            problems.extend(checked)
        collector.add_problems(number, problems)
    return collector.result()


def parse_lines(lines: Iterable[str | bytes]) -> ParsedFeed:
    """Parse a JSON Lines feed (e.g. an open file); see :func:`parse_feed`."""
    return parse_feed(lines)


def parse_records(records: Iterable[Mapping[str, Any]]) -> ParsedFeed:
    """Check already-decoded feed records (e.g. from the demo generator); see :func:`parse_feed`."""
    return parse_feed(records)


def unknown_replacements(feed: ParsedFeed, catalog_ids: Iterable[str]) -> list[FeedProblem]:
    """Problems for replacement ids that name a course neither in the feed nor in ``catalog_ids``
    (the catalog ids already in the database)."""
    known = {course.catalog_id for course in feed.courses}
    known.update(catalog_ids)
    return [
        FeedProblem(
            course.line,
            f"replacement_id {course.replacement_id!r} is not a course in the feed or the catalog",
        )
        for course in feed.courses
        if course.replacement_id is not None and course.replacement_id not in known
    ]


def subscription_only_problems(
    feed: ParsedFeed, bundle_flags_in_catalog: Mapping[str, bool]
) -> list[FeedProblem]:
    """Problems for courses that are not Plus but sit in a subscription-only bundle.

    A bundle's flag is the one the feed gives (any line), else the catalog's, else False. Lines
    that say ``"bundle_subscription_only": true`` themselves were already checked line by line.
    """
    flags = dict(bundle_flags_in_catalog)
    for course in feed.courses:
        if course.bundle is not None and course.is_bundle_subscription_only is not None:
            flags[course.bundle] = course.is_bundle_subscription_only
    return [
        FeedProblem(
            course.line,
            f"bundle {course.bundle!r} is subscription-only, so the course must have \"plus\": true",
        )
        for course in feed.courses
        if course.bundle is not None and flags.get(course.bundle, False) and not course.is_plus
    ]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _short(value: Any, limit: int = 40) -> str:
    """A short, printable rendering of a value for a problem message (controls and surrogates
    escaped: problems are printed on terminals)."""
    text = json.dumps(value, ensure_ascii=False) if _is_json(value) else repr(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return printable(text)


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)
