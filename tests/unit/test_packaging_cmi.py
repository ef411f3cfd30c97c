"""The relay's pure helpers: session time formats, limits, status and score mapping."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scorm_packages import cmi

TIMESPAN_12 = re.compile(r"^\d{4}:\d{2}:\d{2}\.\d{2}$")
DURATION_2004 = re.compile(r"^PT(\d+H)?(\d+M)?(\d+(\.\d{1,2})?S)?$")


@pytest.mark.parametrize("seconds, twelve, twenty04", [
    (0, "0000:00:00.00", "PT0S"),
    (90, "0000:01:30.00", "PT1M30S"),
    (90.5, "0000:01:30.50", "PT1M30.5S"),
    (3.256, "0000:00:03.26", "PT3.26S"),
    (3600, "0001:00:00.00", "PT1H"),
    (3723.25, "0001:02:03.25", "PT1H2M3.25S"),
    (0.004, "0000:00:00.00", "PT0S"),
    (-5, "0000:00:00.00", "PT0S"),
    (float("nan"), "0000:00:00.00", "PT0S"),
    (99_999 * 3600, "9999:59:59.99", "PT99999H"),
])
def test_session_time_formats(seconds: float, twelve: str, twenty04: str) -> None:
    assert cmi.session_time("scorm12", seconds) == twelve
    assert cmi.session_time("scorm2004", seconds) == twenty04


@given(st.floats(min_value=0, max_value=10**7, allow_nan=False))
def test_session_times_are_always_well_formed(seconds: float) -> None:
    assert TIMESPAN_12.match(cmi.session_time_scorm12(seconds))
    text = cmi.session_time_scorm2004(seconds)
    assert DURATION_2004.match(text) and text != "PT"


def test_suspend_data_and_location_limits() -> None:
    long = "x" * 70_000
    assert len(cmi.limit("scorm12", "suspend_data", long)) == 4096
    assert len(cmi.limit("scorm2004", "suspend_data", long)) == 64000
    assert len(cmi.limit("scorm12", "location", long)) == 255
    assert len(cmi.limit("scorm2004", "location", long)) == 1000
    assert cmi.limit("scorm12", "location", "short") == "short"


def test_truncation_counts_utf16_units_and_never_splits_a_pair() -> None:
    emoji = "\U0001F600"  # two UTF-16 units
    assert cmi.utf16_length(emoji * 3) == 6
    assert cmi.truncate_utf16("ab" + emoji, 3) == "ab"
    assert cmi.truncate_utf16("ab" + emoji, 4) == "ab" + emoji
    assert cmi.truncate_utf16("日本語", 2) == "日本"


@given(st.text(max_size=300), st.integers(min_value=0, max_value=300))
def test_truncation_is_a_prefix_within_the_limit(text: str, limit: int) -> None:
    cut = cmi.truncate_utf16(text, limit)
    assert text.startswith(cut) and cmi.utf16_length(cut) <= limit
    if cmi.utf16_length(text) <= limit:
        assert cut == text


@pytest.mark.parametrize("completion, success, status", [
    ("completed", "passed", "passed"), ("completed", "failed", "failed"), ("incomplete", "unknown", "incomplete"),
    ("completed", "unknown", "completed"), ("not attempted", "unknown", None), (None, None, None),
])
def test_scorm12_lesson_status(completion: str | None, success: str | None, status: str | None) -> None:
    assert cmi.lesson_status_scorm12(completion, success) == status


def test_values_scorm12() -> None:
    state = {"completion_status": "completed", "success_status": "passed", "score_percent": 83.333,
             "location": "quiz", "suspend_data": "s" * 5000}
    values = cmi.cmi_values("scorm12", state, 90)
    assert values == [
        ("cmi.core.lesson_status", "passed"), ("cmi.core.score.min", "0"), ("cmi.core.score.max", "100"),
        ("cmi.core.score.raw", "83.33"), ("cmi.core.lesson_location", "quiz"), ("cmi.suspend_data", "s" * 4096),
        ("cmi.core.session_time", "0000:01:30.00"),
    ]


def test_values_scorm2004() -> None:
    state = {"completion_status": "incomplete", "success_status": "unknown", "score_raw": 3, "score_max": 4,
             "location": "lesson-2", "suspend_data": '{"visited":["lesson-1"]}'}
    assert cmi.cmi_values("scorm2004", state, 5.5) == [
        ("cmi.completion_status", "incomplete"), ("cmi.score.min", "0"), ("cmi.score.max", "100"),
        ("cmi.score.raw", "75"), ("cmi.score.scaled", "0.75"), ("cmi.location", "lesson-2"),
        ("cmi.suspend_data", '{"visited":["lesson-1"]}'), ("cmi.session_time", "PT5.5S"),
    ]


def test_values_skip_what_is_unknown() -> None:
    assert cmi.cmi_values("scorm2004", {"completion_status": "not attempted", "score_percent": None,
                                        "score_raw": True, "score_max": 0, "location": None}, 0) == [
        ("cmi.session_time", "PT0S")]
    assert cmi.cmi_values("scorm2004", {"score_percent": 100}, 0)[:4] == [
        ("cmi.score.min", "0"), ("cmi.score.max", "100"), ("cmi.score.raw", "100"), ("cmi.score.scaled", "1")]
    assert cmi.cmi_values("scorm12", {"score_percent": 250}, 0)[2] == ("cmi.core.score.raw", "100")


def test_exit_values() -> None:
    assert cmi.exit_value("scorm12", {"completion_status": "incomplete"}) == "suspend"
    assert cmi.exit_value("scorm12", {"completion_status": "completed"}) == ""
    assert cmi.exit_value("scorm2004", {"completion_status": "completed"}) == "normal"
    assert cmi.exit_value("scorm2004", {}) == "suspend"


def test_decimal_text() -> None:
    assert [cmi.decimal_text(v) for v in (80, 80.5, 80.255, 0.004, 99.999)] == ["80", "80.5", "80.26", "0", "100"]


def test_unknown_format() -> None:
    with pytest.raises(ValueError):
        cmi.cmi_values("aicc", {}, 0)


def test_an_empty_location_or_suspend_data_is_not_written() -> None:
    for fmt in ("scorm12", "scorm2004"):
        written = dict(cmi.cmi_values(fmt, {"completion_status": "incomplete", "location": "",
                                            "suspend_data": ""}, 1))
        assert not [name for name in written if "location" in name or "suspend_data" in name]
        kept = dict(cmi.cmi_values(fmt, {"completion_status": "incomplete", "location": "p2",
                                         "suspend_data": "x"}, 1))
        assert "p2" in kept.values() and "x" in kept.values()
