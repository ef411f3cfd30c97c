"""Feed parsing and validation: every kind of bad line is reported with its line number."""

from __future__ import annotations

import json
from typing import Any

import pytest

from store.catalog.demo import SUBSCRIPTION_ONLY_BUNDLE, generate_feed
from store.catalog.feed import (
    FeedError,
    FeedProblem,
    parse_lines,
    parse_records,
    subscription_only_problems,
    unknown_replacements,
)


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "C-1",
        "title": "Fire Safety Basics",
        "publisher": "Northwind Learning",
        "volume_price_cents": 4_900,
        "ppu_price_cents": 7_900,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not ...}


def line(**changes: Any) -> str:
    return json.dumps(record(**changes))


def problems_of(*lines: str) -> list[str]:
    return [str(p) for p in parse_lines(lines).problems]


def test_minimal_line_gets_defaults() -> None:
    feed = parse_lines([line()])
    assert feed.problems == ()
    (course,) = feed.courses
    assert course.catalog_id == "C-1"
    assert course.line == 1
    assert course.description == ""
    assert course.language == "en"
    assert course.duration_minutes == 0
    assert course.topics == ()
    assert course.is_plus is False
    assert course.bundle is None
    assert course.is_bundle_subscription_only is None
    assert course.status == "active"
    assert course.replacement_id is None


def test_full_line_is_normalised() -> None:
    feed = parse_lines(
        [
            line(
                id="  C-9 ",
                title=" Führung & <Teams> ",
                description="Über \"Führung\"",
                language="DE-at",
                duration_minutes=45,
                topics=["leadership", " leadership ", "hr"],
                plus=True,
                bundle="TED@Work",
                bundle_subscription_only=True,
                status="retiring",
                replacement_id="C-2",
            )
        ]
    )
    (course,) = feed.courses
    assert course.catalog_id == "C-9"
    assert course.title == "Führung & <Teams>"
    assert course.language == "de-at"
    assert course.topics == ("leadership", "hr")
    assert course.is_plus and course.bundle == "TED@Work" and course.is_bundle_subscription_only
    assert course.status == "retiring" and course.replacement_id == "C-2"


def test_bytes_lines_blank_lines_bom_and_crlf() -> None:
    raw = ("\ufeff" + line(id="A") + "\r\n").encode() + b"\n" + b"   \n" + (line(id="B") + "\r\n").encode()
    feed = parse_lines(raw.splitlines(keepends=True))
    assert [c.catalog_id for c in feed.courses] == ["A", "B"]
    assert [c.line for c in feed.courses] == [1, 4]
    assert feed.lines == 4


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"id": "C-1", "volume_price_cents": 1' + "0" * 5000 + "}", "invalid JSON: a number is too long"),
        ("[" * 100_000, "invalid JSON"),
        ("[1, 2]", "expected a JSON object, got an array"),
        ('"just a string"', "expected a JSON object, got a string"),
        (line(title=...), "missing required field 'title'"),
        (line(id=...), "missing required field 'id'"),
        (line(publisher=None), "missing required field 'publisher'"),
        (line(volume_price_cents=...), "missing required field 'volume_price_cents'"),
        (line(id=42), "'id' must be a string, got a number"),
        (line(title="   "), "'title' must not be blank"),
        (line(title="x" * 501), "'title' is longer than 500 characters"),
        (line(volume_price_cents=-1), "'volume_price_cents' must not be negative, got -1"),
        (line(ppu_price_cents=-500), "'ppu_price_cents' must not be negative, got -500"),
        (line(ppu_price_cents=19.99), "'ppu_price_cents' must be a whole number, got a number 19.99"),
        (line(volume_price_cents="4900"), "'volume_price_cents' must be a whole number, got a string"),
        (line(volume_price_cents=True), "'volume_price_cents' must be a whole number, got a boolean"),
        (line(volume_price_cents=2**31), "'volume_price_cents' is too large"),
        (line(duration_minutes=-5), "'duration_minutes' must not be negative, got -5"),
        (line(status="archived"), "unknown status \"archived\" (expected one of: active, retiring, retired)"),
        (line(status=1), "unknown status 1"),
        (line(plus="yes"), "'plus' must be true or false, got a string \"yes\""),
        (line(topics="safety"), "'topics' must be a list of strings"),
        (line(topics=["ok", 3]), "'topics' must be a list of strings"),
        (line(topics=["ok", " "]), "'topics' must not contain blank strings"),
        (line(language="english!"), "'language' must be a language tag"),
        (line(durationMinutes=5), "unknown field 'durationMinutes'"),
        (line(bundle_subscription_only=True, plus=True), "'bundle_subscription_only' is given but 'bundle' is empty"),
        (line(bundle="TED@Work", bundle_subscription_only=True, plus=False), "is subscription-only, so the course must have \"plus\": true"),
        (line(replacement_id="C-1"), "'replacement_id' must name another course"),
        (line(title="bad\u0000title"), "'title' contains a NUL character"),
        # The input rule (store.text): lone surrogates and NUL anywhere, line breaks in one-line fields.
        ('{"id": "C-\\ud800", "title": "t", "publisher": "p", "volume_price_cents": 1, "ppu_price_cents": 1}',
         "'id' contains invalid text (a lone surrogate"),
        (line(publisher="North\udfffwind"), "'publisher' contains invalid text"),
        (line(description="a\x00b"), "'description' contains a NUL character"),
        (line(bundle="B\ud801"), "'bundle' contains invalid text"),
        (line(topics=["ok", "t\x00"]), "a topic contains a NUL character"),
        (line(title="Fire\nSafety"), "'title' must be one line"),
        (line(status="\ud800\x1b"), "unknown status \"\\ud800\\u001b\""),  # printable, never raw
        # Sizes: the description is TEXT, limited to a sensible size; topics are counted.
        (line(description="x" * 20_001), "'description' is longer than 20,000 characters"),
        (line(description="x" * 10_000_000), "'description' is longer than 20,000 characters"),
        (line(topics=[f"t{i}" for i in range(51)]), "'topics' holds more than 50 topics"),
    ],
)
def test_each_bad_line_is_reported_with_its_number(bad: str, message: str) -> None:
    problems = problems_of(line(id="A"), bad, line(id="Z"))
    assert problems, f"expected a problem for {bad!r}"
    assert all(p.startswith("line 2: ") for p in problems), problems
    assert any(message in p for p in problems), problems


def test_bad_lines_are_left_out_but_good_ones_kept() -> None:
    feed = parse_lines([line(id="A"), line(id="B", title=""), line(id="C")])
    assert [c.catalog_id for c in feed.courses] == ["A", "C"]
    assert not feed.is_valid


def test_every_problem_of_a_line_is_listed() -> None:
    problems = problems_of(line(title=..., volume_price_cents=-1, status="gone"))
    assert len(problems) == 3
    assert all(p.startswith("line 1: ") for p in problems)


def test_invalid_utf8_is_reported() -> None:
    feed = parse_lines([line(id="A").encode(), b'{"id": "\xff"}'])
    assert [str(p) for p in feed.problems] == ["line 2: not valid UTF-8 (byte 9)"]


def test_duplicate_id_names_the_first_line() -> None:
    problems = problems_of(line(id="A"), line(id="B"), line(id=" A "))
    assert problems == ["line 3: duplicate id 'A' (first on line 1)"]


def test_duplicate_of_an_invalid_line_is_still_a_duplicate() -> None:
    problems = problems_of(line(id="A", ppu_price_cents=-1), line(id="A"))
    assert problems == [
        "line 1: 'ppu_price_cents' must not be negative, got -1",
        "line 2: duplicate id 'A' (first on line 1)",
    ]


def test_bundle_flag_must_agree_between_lines() -> None:
    problems = problems_of(
        line(id="A", bundle="Pack", bundle_subscription_only=False),
        line(id="B", bundle="Pack"),  # not saying is fine
        line(id="C", bundle="Pack", bundle_subscription_only=True, plus=True),
    )
    assert problems == [
        "line 3: bundle 'Pack' is not subscription-only on line 1 but subscription-only here"
    ]


def test_records_are_numbered_like_lines() -> None:
    feed = parse_records([record(id="A"), record(id="B", title=None)])
    assert [str(p) for p in feed.problems] == ["line 2: missing required field 'title'"]


def test_unknown_replacements_checks_feed_and_catalog() -> None:
    feed = parse_lines(
        [
            line(id="A", status="retiring", replacement_id="B"),
            line(id="B"),
            line(id="C", status="retiring", replacement_id="OLD"),
            line(id="D", status="retiring", replacement_id="NOWHERE"),
        ]
    )
    assert feed.is_valid
    assert unknown_replacements(feed, ["OLD"]) == [
        FeedProblem(4, "replacement_id 'NOWHERE' is not a course in the feed or the catalog")
    ]


def test_subscription_only_bundle_from_catalog_or_other_line_needs_plus() -> None:
    feed = parse_lines(
        [
            line(id="A", bundle="TED@Work", plus=False),
            line(id="B", bundle="Pack", bundle_subscription_only=True, plus=True),
            line(id="C", bundle="Pack", plus=False),
            line(id="D", bundle="Other", plus=False),
        ]
    )
    assert feed.is_valid
    problems = subscription_only_problems(feed, {"TED@Work": True, "Other": False})
    assert [p.line for p in problems] == [1, 3]


def test_feed_error_caps_the_listing() -> None:
    feed = parse_lines([line(id=f"C-{n}", title="") for n in range(1, 26)])
    with pytest.raises(FeedError) as caught:
        feed.raise_for_problems()
    error = caught.value
    assert error.reason == "invalid_feed"
    assert len(error.problems) == 25
    summary = error.summary()
    assert len(summary) == 21
    assert summary[0] == "line 1: 'title' must not be blank"
    assert summary[-1] == "... and 5 more problems"
    assert "25 problems" in error.message


def test_problems_from_several_sources_come_in_line_order() -> None:
    feed = parse_lines([line(id="A", replacement_id="X"), line(id="B", title="")])
    with pytest.raises(FeedError) as caught:
        feed.raise_for_problems(unknown_replacements(feed, []))
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 1", "line 2"]


def test_demo_feed_is_valid_deterministic_and_prefix_stable() -> None:
    first = list(generate_feed(600, seed=3))
    assert first == list(generate_feed(600, seed=3))
    assert first[:100] == list(generate_feed(100, seed=3))
    assert first != list(generate_feed(600, seed=4))
    feed = parse_records(first)
    assert feed.is_valid, feed.problems[:5]
    assert unknown_replacements(feed, []) == []
    assert subscription_only_problems(feed, {}) == []


def test_demo_feed_looks_like_a_catalog() -> None:
    records = list(generate_feed(2_000))
    publishers = {r["publisher"] for r in records}
    assert len(publishers) >= 100
    languages = {r["language"] for r in records}
    assert {"en", "es", "fr", "de", "ja"} <= languages
    assert sum(r["language"] == "en" for r in records) > len(records) / 2
    plus_share = sum(r["plus"] for r in records) / len(records)
    assert 0.5 < plus_share < 0.7
    ted = [r for r in records if r.get("bundle") == SUBSCRIPTION_ONLY_BUNDLE]
    assert 0.01 < len(ted) / len(records) < 0.035
    assert all(r["plus"] and r["bundle_subscription_only"] for r in ted)
    assert all(1_000 <= r["volume_price_cents"] <= 20_000 for r in records)
    assert all(r["ppu_price_cents"] > r["volume_price_cents"] for r in records)
    retiring = [r for r in records if r.get("status") == "retiring"]
    assert retiring and all(r.get("replacement_id") for r in retiring)
    titles = " ".join(r["title"] for r in records)
    for needle in ("&", '"', "<", "ü", "情報"):
        assert needle in titles


def test_text_within_the_rule_is_kept_unchanged() -> None:
    """Descriptions keep their line breaks; other control characters are kept (and escaped only
    when printed)."""
    parsed = parse_lines([line(description="Line 1\nLine 2\tend", title="Safety \x1b 101", topics=["a" * 100])])
    assert not parsed.problems
    course = parsed.courses[0]
    assert (course.description, course.title) == ("Line 1\nLine 2\tend", "Safety \x1b 101")
    assert parse_lines([line(description="x" * 20_000)]).is_valid
