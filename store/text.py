"""The one input rule for text from outside (pure: no Flask, no SQLAlchemy, no I/O).

Text comes from LMSs, packages, the catalog feed, the command line and browsers. Every entry
point applies this rule before the text reaches a service or the database:

- **Refused**: NUL (U+0000: PostgreSQL text cannot hold it) and surrogate code points
  (U+D800–U+DFFF: a broken ``\\ud800`` JSON escape, or an invalid UTF-8 byte decoded with
  ``surrogateescape`` as Python does for ``sys.argv``; no encoder can write them). Also, when a
  field is one line only, line breaks. The error names the field and never echoes the value.
- **Limited**: each field has a maximum number of characters (matching its column: PostgreSQL
  counts characters as Python's ``len`` does).
- **Accepted unchanged**: everything else, including other control characters. They are never
  printed raw: :func:`printable` escapes them for a terminal or a log line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from store.errors import InvalidInput

# NUL and every surrogate code point: what can never be stored or encoded.
_INVALID = re.compile("[\x00\ud800-\udfff]")
# What str.splitlines() splits on: a one-line field must hold none of them.
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# What must not reach a terminal or log raw: C0 and C1 controls, DEL, surrogates, line and
# paragraph separators, and the bidirectional overrides/isolates that reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

MAX_FIELD_NAME_SHOWN = 80
MAX_DEPTH = 200  # nesting of a JSON document the deep check walks (json.loads allows about 1000)


class InvalidText(InvalidInput):
    """Text that breaks the input rule. ``reason`` is ``invalid_text`` (NUL, surrogates, a line
    break in a one-line field) or ``text_too_long``; ``field`` names where it was."""

    reason = "invalid_text"

    def __init__(self, message: str, *, field: str, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.field = field


def _field(field: str) -> str:
    return printable(field[:MAX_FIELD_NAME_SHOWN])


def text_problem(value: str, *, max_chars: int | None = None, allow_newlines: bool = True) -> str | None:
    """What is wrong with ``value`` in words (never quoting it), or None when it is acceptable."""
    found = _INVALID.search(value)
    if found is not None:
        if found.group() == "\x00":
            return "contains a NUL character"
        return "contains invalid text (a lone surrogate: invalid UTF-8 or a broken \\u escape)"
    if not allow_newlines and _LINE_BREAKS.search(value):
        return "must be one line (it contains a line break)"
    if max_chars is not None and len(value) > max_chars:
        return f"is longer than {max_chars:,} characters ({len(value):,})"
    return None


def check_text(value: str, field: str, *, max_chars: int | None, allow_newlines: bool = False) -> str:
    """``value`` unchanged when it keeps the rule; otherwise InvalidText naming ``field``."""
    if not isinstance(value, str):
        raise InvalidText(f"{_field(field)} must be text", field=field)
    problem = text_problem(value, max_chars=max_chars, allow_newlines=allow_newlines)
    if problem is not None:
        too_long = problem.startswith("is longer")
        raise InvalidText(f"{_field(field)} {problem}", field=field,
                          reason="text_too_long" if too_long else "invalid_text")
    return value


def check_optional_text(value: str | None, field: str, *, max_chars: int | None,
                        allow_newlines: bool = False) -> str | None:
    return None if value is None else check_text(value, field, max_chars=max_chars, allow_newlines=allow_newlines)


def has_invalid_text(value: str) -> bool:
    """True when ``value`` holds NUL or a surrogate (what no length or option makes acceptable)."""
    return _INVALID.search(value) is not None


def _walk(value: Any, path: str, depth: int) -> Iterator[tuple[str, Any, bool]]:
    """(path, item, is_key) for every string key and value of a JSON-like document, iteratively."""
    stack: list[tuple[Any, str, int]] = [(value, path, depth)]
    while stack:
        item, where, level = stack.pop()
        if isinstance(item, str):
            yield where, item, False
        elif isinstance(item, Mapping):
            if level >= MAX_DEPTH:
                yield where, None, False
                continue
            for key, child in item.items():
                key_text = key if isinstance(key, str) else str(key)
                yield where, key_text, True
                stack.append((child, f"{where}.{key_text}" if where else key_text, level + 1))
        elif isinstance(item, list | tuple):
            if level >= MAX_DEPTH:
                yield where, None, False
                continue
            for index, child in enumerate(item):
                stack.append((child, f"{where}[{index}]", level + 1))


def find_invalid_text(document: Any, root: str = "") -> str | None:
    """The first problem of a decoded JSON document (every string value and key, at any depth)
    as ``"<path> <problem>"``, or None. Only NUL and surrogates count here: lengths belong to
    the fields that store them."""
    for path, item, is_key in _walk(document, root, 0):
        if item is None:
            return f"{_field(path or 'the document')} is nested more than {MAX_DEPTH} levels deep"
        if has_invalid_text(item):
            where = path or "the document"
            what = f"a key in {where}" if is_key and path else ("a key" if is_key else where)
            return f"{_field(what)} {text_problem(item)}"
    return None


def check_document(document: Any, field: str) -> Any:
    """``document`` unchanged, or InvalidText when any string in it (key or value) holds NUL or
    a surrogate."""
    problem = find_invalid_text(document)
    if problem is not None:
        raise InvalidText(f"{_field(field)}: {problem}", field=field)
    return document


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: str) -> str:
    """``value`` safe to show on a terminal or in one log line: control characters (including
    line breaks and tabs), surrogates and bidirectional overrides become ``\\xNN``/``\\uNNNN``."""
    return _UNPRINTABLE.sub(_escape, value)


def printable_lines(value: str) -> str:
    """Like :func:`printable` but keeps newlines and tabs: for output of several lines."""
    return _UNPRINTABLE_KEEP_LINES.sub(_escape, value)


__all__ = ["InvalidText", "check_document", "check_optional_text", "check_text", "find_invalid_text",
           "has_invalid_text", "printable", "printable_lines", "text_problem"]
