"""The input rule for outside text (store/text.py): refused, limited, or accepted unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import InvalidInput
from store.text import (
    InvalidText,
    check_document,
    check_text,
    find_invalid_text,
    printable,
    printable_lines,
    text_problem,
)

SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
BAD = st.one_of(st.just("\x00"), SURROGATES)
# Any code point but NUL and surrogates (Hypothesis' text() never yields surrogates by default).
GOOD_CHARS = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))


@given(st.text(GOOD_CHARS), BAD, st.text(GOOD_CHARS))
def test_any_string_with_a_lone_surrogate_or_nul_is_refused(before: str, bad: str, after: str) -> None:
    value = before + bad + after
    with pytest.raises(InvalidText) as caught:
        check_text(value, "title", max_chars=None, allow_newlines=True)
    assert caught.value.reason == "invalid_text"
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.field == "title"
    assert bad not in caught.value.message  # the message never echoes the raw value


@given(st.text(GOOD_CHARS, max_size=300))
def test_any_other_string_within_limits_is_accepted_unchanged(value: str) -> None:
    assert check_text(value, "suspend data", max_chars=300, allow_newlines=True) is value


@given(st.text(GOOD_CHARS.filter(lambda c: c not in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=50))
def test_one_line_strings_are_accepted_unchanged(value: str) -> None:
    assert check_text(value, "name", max_chars=50) is value


@given(st.text(GOOD_CHARS, min_size=11, max_size=40))
def test_too_long_is_refused_with_its_own_reason(value: str) -> None:
    with pytest.raises(InvalidText) as caught:
        check_text(value, "contract reference", max_chars=10, allow_newlines=True)
    assert caught.value.reason == "text_too_long"
    assert "contract reference is longer than 10 characters" in caught.value.message


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(GOOD_CHARS),
    lambda children: st.lists(children) | st.dictionaries(st.text(GOOD_CHARS), children),
    max_leaves=20,
), BAD)
def test_documents_are_checked_at_every_depth_in_keys_and_values(document: object, bad: str) -> None:
    assert find_invalid_text(document) is None
    assert check_document(document, "body") is document
    with pytest.raises(InvalidText):
        check_document({"a": [document, {"b": "x" + bad}]}, "body")
    with pytest.raises(InvalidText):
        check_document([{"k" + bad: 1}], "body")


def test_line_breaks_only_where_allowed() -> None:
    for brk in ("\n", "\r", "\u2028", "\x85"):
        with pytest.raises(InvalidText, match="must be one line"):
            check_text(f"a{brk}b", "name", max_chars=100)
        assert check_text(f"a{brk}b", "description", max_chars=100, allow_newlines=True) == f"a{brk}b"


def test_messages_name_the_field_and_the_problem() -> None:
    assert text_problem("a\x00b") == "contains a NUL character"
    assert "lone surrogate" in (text_problem("a\ud800b") or "")
    with pytest.raises(InvalidText, match=r"^learner id contains a NUL character$"):
        check_text("x\x00", "learner id", max_chars=10)
    problem = find_invalid_text({"cmi": {"cmi.suspend_data": "a\ud800"}})
    assert problem is not None and problem.startswith("cmi.cmi.suspend_data contains invalid text")
    assert find_invalid_text({"ok": {"bad\x00key": 1}}) == "a key in ok contains a NUL character"
    assert "must be text" in str(pytest.raises(InvalidText, check_text, 5, "x", max_chars=1).value)


def test_very_deep_documents_are_refused_without_recursion() -> None:
    deep: object = "leaf"
    for _ in range(5000):
        deep = [deep]
    problem = find_invalid_text(deep)
    assert problem is not None and "nested more than" in problem


def test_printable_escapes_controls_surrogates_and_bidi_overrides() -> None:
    assert printable("Safety\x1b[2J\x07 101") == "Safety\\x1b[2J\\x07 101"
    assert printable("a\nb\tc\r") == "a\\x0ab\\x09c\\x0d"
    assert printable("x\ud800y\x9bz\u202eq") == "x\\ud800y\\x9bz\\u202eq"
    assert printable("Ünïcödé — 日本語 ✓") == "Ünïcödé — 日本語 ✓"
    assert printable_lines("line 1\n\tline 2\x1b") == "line 1\n\tline 2\\x1b"
    printable("\ud800\x00").encode("ascii")  # always encodable


@given(st.text())
def test_printable_output_is_always_encodable_and_one_line(value: str) -> None:
    shown = printable(value)
    shown.encode("utf-8")
    assert len(shown.splitlines()) <= 1
