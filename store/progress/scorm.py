"""SCORM run-time data and progress (pure: no Flask, no SQLAlchemy).

An imported SCORM course runs in the player with a scorm-again runtime. On each Commit/Finish
the runtime sends its whole CMI state (flattened ``cmi.*`` keys, as SCORM SetValue/GetValue name
them); ``update_from_cmi`` turns it into a ``ProgressUpdate``, and ``preload_cmi`` gives the next
session the saved state back.

- SCORM 1.2: ``cmi.core.lesson_status`` maps to completion/success: passed → completed +
  passed; failed → completed + failed; completed → completed; incomplete and browsed →
  incomplete; not attempted → nothing. Score ``cmi.core.score.raw/min/max``.
- SCORM 2004: ``cmi.completion_status`` (completed, incomplete; not attempted and unknown
  report nothing) and ``cmi.success_status`` (passed, failed; unknown reports nothing); score
  ``cmi.score.raw/min/max`` and ``cmi.score.scaled`` (−1..1, recorded as is; a raw score that
  does not fit 0 <= min <= raw <= max is then left out).
- Limits (in UTF-16 code units, as the course's JavaScript counts): 1.2 lesson location 255 and
  suspend data 4096; 2004 location 1000 and suspend data 64000. Over-limit values are refused
  with a reason; the course's Commit then fails with ``COMMIT_ERROR`` of its version.
- Session time (1.2 ``HH[HH]:MM:SS[.SS]``, 2004 ISO 8601 duration) is cumulative within a
  session and committed many times: the server adds only the part of it not counted yet for the
  current session (``ProgressState.session_seconds_reported``), so a repeated or duplicated
  commit never counts twice; a commit of another session adds no time (the progress service
  refuses it: see ``record_cmi``). When the
  course never sets a session time, the player's own count (``player_seconds``) stands in.
- Values the LMS owns (learner id and name, entry, credit, mode, total time, launch data,
  mastery score, ...) are not stored from a commit: they are made afresh at each launch. Empty
  values and ``_children``/``_count`` keys are not stored either.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store.progress.rules import (
    MAX_SESSION_SECONDS,
    ProgressRejected,
    ProgressState,
    ProgressUpdate,
    check_score,
)
from store.text import find_invalid_text

SCORM12 = "scorm12"
SCORM2004 = "scorm2004"
VERSIONS = (SCORM12, SCORM2004)

LIMITS = {
    SCORM12: {"location": 255, "suspend_data": 4096},
    SCORM2004: {"location": 1000, "suspend_data": 64000},
}
# The SCORM error code a refused commit gives the course (GetLastError after Commit "false").
COMMIT_ERROR = {SCORM12: 101, SCORM2004: 391}
# The code for a SetValue refused for its size (the player checks the limits at SetValue too).
SET_VALUE_ERROR = {SCORM12: 405, SCORM2004: 351}

ELEMENTS = {
    SCORM12: {
        "location": "cmi.core.lesson_location", "suspend_data": "cmi.suspend_data",
        "lesson_status": "cmi.core.lesson_status", "score_raw": "cmi.core.score.raw",
        "score_min": "cmi.core.score.min", "score_max": "cmi.core.score.max",
        "session_time": "cmi.core.session_time", "total_time": "cmi.core.total_time", "exit": "cmi.core.exit",
        "learner_id": "cmi.core.student_id", "learner_name": "cmi.core.student_name", "entry": "cmi.core.entry",
        "credit": "cmi.core.credit", "mode": "cmi.core.lesson_mode", "launch_data": "cmi.launch_data",
        "mastery_score": "cmi.student_data.mastery_score",
    },
    SCORM2004: {
        "location": "cmi.location", "suspend_data": "cmi.suspend_data",
        "completion_status": "cmi.completion_status", "success_status": "cmi.success_status",
        "score_raw": "cmi.score.raw", "score_min": "cmi.score.min", "score_max": "cmi.score.max",
        "score_scaled": "cmi.score.scaled", "session_time": "cmi.session_time", "total_time": "cmi.total_time",
        "exit": "cmi.exit", "learner_id": "cmi.learner_id", "learner_name": "cmi.learner_name",
        "entry": "cmi.entry", "credit": "cmi.credit", "mode": "cmi.mode", "launch_data": "cmi.launch_data",
        "scaled_passing_score": "cmi.scaled_passing_score", "completion_threshold": "cmi.completion_threshold",
    },
}
# Mapped to progress fields (not kept in the cmi dict).
_MAPPED = {
    version: frozenset(names[k] for k in names if k in (
        "location", "suspend_data", "lesson_status", "completion_status", "success_status", "score_raw",
        "score_min", "score_max", "score_scaled", "session_time", "total_time"))
    for version, names in ELEMENTS.items()
}
# Owned by the LMS: made afresh at each launch, never stored from a commit.
_LMS_OWNED = {
    SCORM12: frozenset({
        "cmi.core.student_id", "cmi.core.student_name", "cmi.core.credit", "cmi.core.entry",
        "cmi.core.lesson_mode", "cmi.launch_data", "cmi.comments_from_lms", "cmi.student_data.mastery_score",
        "cmi.student_data.max_time_allowed", "cmi.student_data.time_limit_action",
    }),
    SCORM2004: frozenset({
        "cmi.learner_id", "cmi.learner_name", "cmi.credit", "cmi.entry", "cmi.mode", "cmi.launch_data",
        "cmi.scaled_passing_score", "cmi.completion_threshold", "cmi.max_time_allowed", "cmi.time_limit_action",
    }),
}
_LMS_OWNED_PREFIXES = {SCORM12: (), SCORM2004: ("cmi.comments_from_lms.",)}
# Values of the last session that must not carry into the next one.
_NOT_PRELOADED = {SCORM12: frozenset({"cmi.core.exit", "cmi.core.session_time"}),
                  SCORM2004: frozenset({"cmi.exit", "cmi.session_time"})}

LESSON_STATUSES_12 = ("passed", "completed", "failed", "incomplete", "browsed", "not attempted")
_TIMESPAN_12 = re.compile(r"^(\d{2,4}):([0-5]\d):([0-5]\d)(\.\d{1,2})?$")
_DURATION_2004 = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,2})?)S)?)?$")
_IDENTIFIER = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces (1.2 CMIIdentifier)


@dataclass(frozen=True)
class CmiCommit:
    """What the player's runtime sends on Commit/Finish/Terminate (and on pagehide)."""

    scorm_version: str
    values: Mapping[str, Any]  # flattened cmi.* → value
    session: int | None = None  # the player session (ProgressState.session_count) it belongs to
    player_seconds: float | None = None  # the player's own count of this session's time
    seq: int | None = None  # the page's commit number within the session (1, 2, ...)


def _reject(reason: str, message: str) -> ProgressRejected:
    return ProgressRejected(message, reason=reason)


def check_version(version: Any) -> str:
    if version not in VERSIONS:
        raise _reject("invalid_scorm_version", f"scorm_version must be scorm12 or scorm2004, got {str(version)[:40]!r}")
    return str(version)


def utf16_length(text: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------- time


def parse_session_time(version: str, text: str) -> float:
    """Seconds of a SCORM timespan: 1.2 ``HH[HH]:MM:SS[.SS]``, 2004 ISO 8601 duration
    (years and months counted as 365 and 30 days). ProgressRejected when malformed."""
    text = text.strip()
    if version == SCORM12:
        match = _TIMESPAN_12.fullmatch(text)
        if not match:
            raise _reject("invalid_session_time", f"session time {text[:40]!r} is not HHHH:MM:SS.SS")
        hours, minutes, seconds, fraction = match.groups()
        return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + (float(fraction) if fraction else 0.0)
    match = _DURATION_2004.fullmatch(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise _reject("invalid_session_time", f"session time {text[:40]!r} is not an ISO 8601 duration")
    years, months, days, hours, minutes, seconds = match.groups()
    total = ((int(years or 0) * 365 + int(months or 0) * 30 + int(days or 0)) * 86400
             + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0))
    return float(total)


def format_time(version: str, seconds: float) -> str:
    """A total time in the version's format: 1.2 ``HHHH:MM:SS.SS``, 2004 ``PT#H#M#S``."""
    cs = max(0, int(round(seconds * 100)))
    hours, rest = divmod(cs, 360000)
    minutes, rest = divmod(rest, 6000)
    secs, cents = divmod(rest, 100)
    if version == SCORM12:
        return f"{min(hours, 9999):04d}:{minutes:02d}:{secs:02d}.{cents:02d}"
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or cents:
        out += (f"{secs}.{cents:02d}".rstrip("0").rstrip(".")) + "S"
    return out if out != "PT" else "PT0S"


# ---------------------------------------------------------------- a commit → an update


def _text(values: Mapping[str, Any], key: str) -> str | None:
    value = values.get(key)
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else None


def _decimal(values: Mapping[str, Any], key: str) -> float | None:
    text = _text(values, key)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise _reject("invalid_score", f"{key} must be a number, got {text[:40]!r}") from None
    if not math.isfinite(number):
        raise _reject("invalid_score", f"{key} must be a finite number, got {text[:40]!r}")
    return number


def check_limits(version: str, values: Mapping[str, Any]) -> None:
    """The version's location and suspend data limits, or ProgressRejected naming which."""
    names = ELEMENTS[version]
    for field in ("location", "suspend_data"):
        value = values.get(names[field])
        if isinstance(value, str) and utf16_length(value) > LIMITS[version][field]:
            reason = "location_too_long" if field == "location" else "suspend_data_too_long"
            raise _reject(reason, f"{names[field]} has {utf16_length(value)} characters, more than the "
                                  f"{LIMITS[version][field]} SCORM {'1.2' if version == SCORM12 else '2004'} allows")


def _statuses(version: str, values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    names = ELEMENTS[version]
    if version == SCORM12:
        status = _text(values, names["lesson_status"])
        if status is None or status == "not attempted":
            return None, None
        if status not in LESSON_STATUSES_12:
            raise _reject("invalid_lesson_status", f"cmi.core.lesson_status {status[:40]!r} is not a SCORM 1.2 status")
        if status in ("passed", "failed"):
            return "completed", status
        if status == "completed":
            return "completed", None
        return "incomplete", None  # incomplete, browsed
    completion = _text(values, names["completion_status"])
    success = _text(values, names["success_status"])
    if completion not in (None, "completed", "incomplete", "not attempted", "unknown"):
        raise _reject("invalid_completion_status", f"cmi.completion_status {completion[:40]!r} is not valid")
    if success not in (None, "passed", "failed", "unknown"):
        raise _reject("invalid_success_status", f"cmi.success_status {success[:40]!r} is not valid")
    return (completion if completion in ("completed", "incomplete") else None,
            success if success in ("passed", "failed") else None)


def _score(version: str, values: Mapping[str, Any]) -> tuple[float | None, float | None, float | None, float | None]:
    names = ELEMENTS[version]
    raw = _decimal(values, names["score_raw"])
    s_min = _decimal(values, names["score_min"])
    s_max = _decimal(values, names["score_max"])
    scaled = _decimal(values, names["score_scaled"]) if version == SCORM2004 else None
    if raw is None:
        return None, None, None, scaled
    if scaled is not None:
        try:
            check_score(raw, s_min, s_max)
        except ProgressRejected:
            return None, None, None, scaled  # 2004: scaled is the score; this raw range does not fit ours
    return raw, s_min, s_max, scaled


def kept_cmi(version: str, values: Mapping[str, Any]) -> dict[str, str]:
    """The values kept in the progress row's ``cmi``: set, course-written, not mapped."""
    kept: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise _reject("invalid_cmi_key", "cmi keys must be text")
        if isinstance(value, (dict, list)):
            if value:
                raise _reject("invalid_cmi_value", f"{key[:80]} must be flattened to cmi.* keys")
            continue  # an empty collection (scorm-again renders them as {})
        if not isinstance(value, str):
            raise _reject("invalid_cmi_value", f"cmi value of {key[:80]} must be a string (as SetValue takes)")
        if (value == "" or key in _MAPPED[version] or key in _LMS_OWNED[version]
                or key.startswith(_LMS_OWNED_PREFIXES[version]) or any(p.startswith("_") for p in key.split("."))):
            continue
        kept[key] = value
    return kept


def update_from_cmi(commit: CmiCommit, state: ProgressState) -> tuple[ProgressUpdate, int]:
    """The progress update a runtime commit makes, and the session seconds counted after it.
    ProgressRejected when a value breaks a SCORM limit or is malformed (nothing changes)."""
    version = check_version(commit.scorm_version)
    if not isinstance(commit.values, Mapping):
        raise _reject("invalid_cmi", "cmi must be an object of cmi.* keys")
    values = commit.values
    problem = find_invalid_text(values, "cmi")  # NUL or surrogates anywhere: refused before any use
    if problem is not None:
        raise _reject("invalid_text", problem)
    check_limits(version, values)
    names = ELEMENTS[version]
    completion, success = _statuses(version, values)
    raw, s_min, s_max, scaled = _score(version, values)

    session_text = _text(values, names["session_time"])
    reported = parse_session_time(version, session_text) if session_text is not None else 0.0
    if reported <= 0 and commit.player_seconds is not None:
        if isinstance(commit.player_seconds, bool) or not isinstance(commit.player_seconds, (int, float)) \
                or not math.isfinite(commit.player_seconds) or commit.player_seconds < 0:
            raise _reject("invalid_session_time", "player_seconds must be a number of seconds")
        reported = float(commit.player_seconds)
    if reported > MAX_SESSION_SECONDS:
        raise _reject("session_time_too_long", f"session time of {reported:g} s is more than 24 hours in one session")
    counted = state.session_seconds_reported
    delta = 0
    if commit.session is not None and commit.session == state.session_count:
        whole = int(reported)
        delta = max(0, whole - counted)
        counted = max(counted, whole)

    update = ProgressUpdate(
        location=_string(values, names["location"]),
        suspend_data=_string(values, names["suspend_data"]),
        completion_status=completion,
        success_status=success,
        score_raw=raw,
        score_min=s_min if raw is not None else None,
        score_max=s_max if raw is not None else None,
        score_scaled=scaled,
        session_time_seconds=delta,
        cmi=kept_cmi(version, values),
        replace_cmi=True,
    )
    return update, counted


def _string(values: Mapping[str, Any], key: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _reject("invalid_cmi_value", f"{key} must be a string")
    return value


# ---------------------------------------------------------------- the next session's data


def entry_for(state: ProgressState, *, is_first_session: bool) -> str:
    """cmi.entry for a session starting from ``state``: "ab-initio" the first time; "resume"
    when the course left with exit "suspend" (or left no exit but saved a place or data, as a
    closed window does); else "" (the course was exited normally)."""
    if is_first_session:
        return "ab-initio"
    exit_value = state.cmi.get("cmi.core.exit", state.cmi.get("cmi.exit"))
    if exit_value == "suspend":
        return "resume"
    if exit_value is None and (state.location or state.suspend_data):
        return "resume"
    return ""


def learner_ref(version: str, external_id: str | None, learner_id: int) -> str:
    """cmi.core.student_id / cmi.learner_id: the learner's id from their LMS when it is a valid
    SCORM identifier, else a stable product id."""
    limit = 255 if version == SCORM12 else 4000
    if external_id and len(external_id) <= limit and _IDENTIFIER.fullmatch(external_id):
        return external_id
    return f"learner-{learner_id}"


def _decimal_text(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def lesson_status_12(state: ProgressState) -> str:
    if state.success_status in ("passed", "failed"):
        return state.success_status
    if state.completion_status in ("completed", "incomplete"):
        return state.completion_status
    return "not attempted"


def preload_cmi(version: str, state: ProgressState, *, learner_id: str, learner_name: str, entry: str,
                mastery_score: float | None, launch_data: str | None,
                completion_threshold: float | None = None) -> dict[str, str]:
    """The flattened CMI a session starts with (scorm-again ``loadFromFlattenedJSON``)."""
    version = check_version(version)
    names = ELEMENTS[version]
    data = {k: v for k, v in state.cmi.items()
            if isinstance(v, str) and k not in _NOT_PRELOADED[version] and k not in _MAPPED[version]
            and k not in _LMS_OWNED[version]}
    name_limit = 255 if version == SCORM12 else 250
    data[names["learner_id"]] = learner_id
    data[names["learner_name"]] = learner_name[:name_limit]
    data[names["entry"]] = entry
    data[names["credit"]] = "credit"
    data[names["mode"]] = "normal"
    if state.location:
        data[names["location"]] = state.location
    if state.suspend_data:
        data[names["suspend_data"]] = state.suspend_data
    data[names["total_time"]] = format_time(version, state.total_time_seconds)
    if launch_data:
        data[names["launch_data"]] = launch_data
    if version == SCORM12:
        data[names["lesson_status"]] = lesson_status_12(state)
        if state.score_raw is not None:
            data[names["score_raw"]] = _decimal_text(state.score_raw)
            if state.score_min is not None:
                data[names["score_min"]] = _decimal_text(state.score_min)
            if state.score_max is not None:
                data[names["score_max"]] = _decimal_text(state.score_max)
        if mastery_score is not None:
            data[names["mastery_score"]] = _decimal_text(mastery_score * 100)
    else:
        data[names["completion_status"]] = state.completion_status
        data[names["success_status"]] = state.success_status
        if state.score_raw is not None:
            data[names["score_raw"]] = _decimal_text(state.score_raw)
            if state.score_min is not None:
                data[names["score_min"]] = _decimal_text(state.score_min)
            if state.score_max is not None:
                data[names["score_max"]] = _decimal_text(state.score_max)
        if state.score_scaled is not None:
            data[names["score_scaled"]] = _decimal_text(state.score_scaled)
        if mastery_score is not None:
            data[names["scaled_passing_score"]] = _decimal_text(mastery_score)
        if completion_threshold is not None:
            data[names["completion_threshold"]] = _decimal_text(completion_threshold)
    return data
