"""Pure SCORM run-time helpers for the dispatch relay: what the launch page writes to the LMS.

``scorm_packages/runtime/static/dispatch.js`` mirrors these functions one for one (its
``DispatchCmi`` object); ``tests/unit/test_packaging_js.py`` runs both on the same inputs.

- Session time: SCORM 1.2 ``HHHH:MM:SS.SS`` (CMITimespan), SCORM 2004 an ISO 8601 duration
  (``PT1H2M3.5S``), centisecond precision, from elapsed seconds.
- Limits (counted in UTF-16 code units, as the LMS's JavaScript counts them, never splitting a
  surrogate pair): 1.2 lesson location 255 and suspend data 4096; 2004 location 1000 and suspend
  data 64000. The full state stays on the product's server; the LMS gets at most the limit.
- Status: 1.2 has one ``lesson_status`` (passed/failed win over completed/incomplete); 2004 has
  ``completion_status`` and ``success_status``. "not attempted"/"unknown" are never written
  (the LMS starts there, and 1.2 forbids a SCO to set "not attempted").
- Score: the percentage 0-100 as ``score.raw`` with ``min`` 0 and ``max`` 100 (the 1.2
  ``masteryscore`` is a percentage too); 2004 adds ``score.scaled`` = percent / 100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

LIMITS = {
    "scorm12": {"location": 255, "suspend_data": 4096},
    "scorm2004": {"location": 1000, "suspend_data": 64000},
}
ELEMENTS = {
    "scorm12": {
        "location": "cmi.core.lesson_location", "suspend_data": "cmi.suspend_data",
        "session_time": "cmi.core.session_time", "exit": "cmi.core.exit",
        "score_min": "cmi.core.score.min", "score_max": "cmi.core.score.max", "score_raw": "cmi.core.score.raw",
        "lesson_status": "cmi.core.lesson_status",
    },
    "scorm2004": {
        "location": "cmi.location", "suspend_data": "cmi.suspend_data",
        "session_time": "cmi.session_time", "exit": "cmi.exit",
        "score_min": "cmi.score.min", "score_max": "cmi.score.max", "score_raw": "cmi.score.raw",
        "score_scaled": "cmi.score.scaled", "completion_status": "cmi.completion_status",
        "success_status": "cmi.success_status",
    },
}
MAX_HOURS_12 = 9999


def _check(fmt: str) -> None:
    if fmt not in LIMITS:
        raise ValueError(f"format must be scorm12 or scorm2004, got {fmt!r}")


def _centiseconds(seconds: float) -> int:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
        return 0
    return max(0, math.floor(seconds * 100 + 0.5))


def session_time_scorm12(seconds: float) -> str:
    """``HHHH:MM:SS.SS``; capped at 9999:59:59.99."""
    cs = min(_centiseconds(seconds), (MAX_HOURS_12 + 1) * 360000 - 1)
    hours, rest = divmod(cs, 360000)
    minutes, rest = divmod(rest, 6000)
    secs, cents = divmod(rest, 100)
    return f"{hours:04d}:{minutes:02d}:{secs:02d}.{cents:02d}"


def session_time_scorm2004(seconds: float) -> str:
    """An ISO 8601 duration: ``PT1H2M3.5S``, ``PT45S``, ``PT0S``."""
    cs = _centiseconds(seconds)
    hours, rest = divmod(cs, 360000)
    minutes, rest = divmod(rest, 6000)
    secs, cents = divmod(rest, 100)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or cents:
        out += f"{secs}.{cents:02d}".rstrip("0").rstrip(".") + "S"
    return out if out != "PT" else "PT0S"


def session_time(fmt: str, seconds: float) -> str:
    _check(fmt)
    return session_time_scorm12(seconds) if fmt == "scorm12" else session_time_scorm2004(seconds)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def truncate_utf16(text: str, max_units: int) -> str:
    """At most ``max_units`` UTF-16 code units, cut before a character that would not fit
    (a surrogate pair is never split)."""
    if utf16_length(text) <= max_units:
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > max_units:
            return text[:index]
    return text


def limit(fmt: str, field: str, text: str) -> str:
    _check(fmt)
    return truncate_utf16(text, LIMITS[fmt][field])


def decimal_text(value: float) -> str:
    """A CMIDecimal: at most two decimals, no trailing zeros ("80", "80.5", "80.25")."""
    rounded = math.floor(value * 100 + 0.5) / 100
    return str(int(rounded)) if float(rounded).is_integer() else repr(rounded)


def score_percent(state: Mapping[str, Any]) -> float | None:
    """The score as a percentage 0-100: ``score_percent``, else ``score_raw / score_max``."""
    percent = state.get("score_percent")
    if _is_number(percent):
        return min(100.0, max(0.0, float(percent)))
    raw, top = state.get("score_raw"), state.get("score_max")
    if _is_number(raw) and _is_number(top) and top > 0:
        return min(100.0, max(0.0, 100.0 * float(raw) / float(top)))
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def lesson_status_scorm12(completion_status: Any, success_status: Any) -> str | None:
    if success_status in ("passed", "failed"):
        return str(success_status)
    if completion_status in ("completed", "incomplete"):
        return str(completion_status)
    return None


def exit_value(fmt: str, state: Mapping[str, Any]) -> str:
    """``suspend`` while the course is not completed (the LMS keeps the attempt open), else the
    normal exit: "" in 1.2, "normal" in 2004."""
    _check(fmt)
    if state.get("completion_status") == "completed":
        return "" if fmt == "scorm12" else "normal"
    return "suspend"


def cmi_values(fmt: str, state: Mapping[str, Any], elapsed_seconds: float) -> list[tuple[str, str]]:
    """The (element, value) pairs to write for a player state, in the order to write them."""
    _check(fmt)
    names = ELEMENTS[fmt]
    out: list[tuple[str, str]] = []
    if fmt == "scorm12":
        status = lesson_status_scorm12(state.get("completion_status"), state.get("success_status"))
        if status is not None:
            out.append((names["lesson_status"], status))
    else:
        if state.get("completion_status") in ("completed", "incomplete"):
            out.append((names["completion_status"], str(state["completion_status"])))
        if state.get("success_status") in ("passed", "failed"):
            out.append((names["success_status"], str(state["success_status"])))
    percent = score_percent(state)
    if percent is not None:
        out += [(names["score_min"], "0"), (names["score_max"], "100"), (names["score_raw"], decimal_text(percent))]
        if fmt == "scorm2004":
            scaled = math.floor(percent * 100 + 0.5) / 10000
            out.append((names["score_scaled"], str(int(scaled)) if scaled.is_integer() else repr(scaled)))
    # An empty location or suspend data is not written: an LMS may refuse "" (scorm-again's 2004
    # runtime answers 406) and there is nothing to keep.
    location = state.get("location")
    if isinstance(location, str) and location:
        out.append((names["location"], limit(fmt, "location", location)))
    suspend = state.get("suspend_data")
    if isinstance(suspend, str) and suspend:
        out.append((names["suspend_data"], limit(fmt, "suspend_data", suspend)))
    out.append((names["session_time"], session_time(fmt, elapsed_seconds)))
    return out
