"""Pure progress rules for the course player: no Flask, no SQLAlchemy, explicit ``now``.

A learner's progress in a course under a seat is a ``ProgressState``. Each commit from the
player (or, later, from a SCORM course through the dispatch runtime) is a ``ProgressUpdate``;
``apply_update`` checks it and returns the next state, or raises ``ProgressRejected`` with a
stable reason and nothing changes. Over-limit input is rejected, never truncated silently.

- Completion only moves forward: not attempted → incomplete → completed (never back).
- Score: ``score_min <= score_raw <= score_max`` with ``0 <= score_min < score_max``;
  ``score_scaled = score_raw / score_max``, so always within [0, 1].
- Success: from the score against the mastery score when both are known; otherwise what the
  content reports; otherwise unchanged.
- Session time adds to ``total_time_seconds``; negative or more than 24 hours in one commit is
  rejected.
- Location at most 1000 characters, suspend data at most 64000 (the SCORM 2004 limits; the
  dispatch runtime sends at most 4096 characters of it to a SCORM 1.2 LMS).
- ``cmi`` keeps every other ``cmi.*``/``adl.*`` value a SCORM course writes, merged key by key;
  an imported SCORM course's runtime sends its whole state on each commit, which then replaces
  the stored one (``replace_cmi``; larger limits, see MAX_SCORM_CMI_*).
- A SCORM 2004 course may report ``score.scaled`` (−1..1) on its own: it is kept as reported;
  without a raw score a non-negative scaled score also fills raw/min/max as a percentage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from store.errors import InvalidInput
from store.text import InvalidText, check_text

COMPLETION_STATUSES = ("not attempted", "incomplete", "completed")  # in the order they may move
SUCCESS_STATUSES = ("unknown", "passed", "failed")

MAX_LOCATION_CHARS = 1000
MAX_SUSPEND_DATA_CHARS = 64000
MAX_SESSION_SECONDS = 24 * 3600
MAX_SCORE = 1_000_000.0
DEFAULT_SCORE_MAX = 100.0

MAX_CMI_KEYS = 500
MAX_CMI_KEY_CHARS = 255
MAX_CMI_VALUE_CHARS = 64000
MAX_CMI_TOTAL_CHARS = 256_000
# A SCORM runtime's full state (interactions, objectives, ...) replacing the stored one.
MAX_SCORM_CMI_KEYS = 5000
MAX_SCORM_CMI_TOTAL_CHARS = 600_000
CMI_PREFIXES = ("cmi.", "adl.")
# Values with their own column: a SCORM runtime maps them to ProgressUpdate fields instead.
CMI_KEYS_WITH_FIELDS = frozenset({
    "cmi.location", "cmi.core.lesson_location", "cmi.suspend_data", "cmi.completion_status",
    "cmi.success_status", "cmi.core.lesson_status", "cmi.score.raw", "cmi.score.min", "cmi.score.max",
    "cmi.score.scaled", "cmi.core.score.raw", "cmi.core.score.min", "cmi.core.score.max",
    "cmi.session_time", "cmi.core.session_time", "cmi.total_time", "cmi.core.total_time",
})


class ProgressRejected(InvalidInput):
    """A progress update that breaks a rule; ``reason`` names which."""

    reason = "progress_rejected"


@dataclass(frozen=True)
class ProgressState:
    location: str = ""
    completion_status: str = "not attempted"
    success_status: str = "unknown"
    score_raw: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    score_scaled: float | None = None
    total_time_seconds: int = 0
    session_count: int = 0
    suspend_data: str = ""
    cmi: Mapping[str, str] = field(default_factory=dict)
    completed_at: datetime | None = None
    # Imported SCORM content: the version this attempt plays, and the part of the current
    # session's time already counted (see store.progress.scorm).
    content_id: int | None = None
    session_seconds_reported: int = 0
    commit_seq: int = 0  # the current session's last applied commit number


@dataclass(frozen=True)
class ProgressUpdate:
    """What one commit reports. ``None`` means "not reported, keep the current value"."""

    location: str | None = None
    suspend_data: str | None = None
    completion_status: str | None = None
    success_status: str | None = None
    score_raw: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    session_time_seconds: float = 0
    cmi: Mapping[str, str] | None = None
    # A score scaled to −1..1 as SCORM 2004's cmi.score.scaled reports it (recorded as is).
    score_scaled: float | None = None
    # ``cmi`` is the whole state (a SCORM runtime's full commit): replace, don't merge.
    replace_cmi: bool = False

    @property
    def has_score_or_status(self) -> bool:
        return any(v is not None for v in (self.completion_status, self.success_status, self.score_raw,
                                            self.score_min, self.score_max, self.score_scaled))


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware (UTC), got naive {now!r}")
    return now.astimezone(UTC)


def _reject(reason: str, message: str) -> ProgressRejected:
    return ProgressRejected(message, reason=reason)


def _check_text(value: str, field: str, *, allow_newlines: bool = True) -> None:
    """The input rule (store.text: no NUL, no surrogates) as a ProgressRejected (reason invalid_text)."""
    try:
        check_text(value, field, max_chars=None, allow_newlines=allow_newlines)
    except InvalidText as exc:
        raise _reject(exc.reason, exc.message) from None


def _is_finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) <= 2**53  # JSON may carry integers too large for a float
    return math.isfinite(value)


def _number(value: Any, what: str) -> float:
    if not _is_finite_number(value):
        raise _reject("invalid_score", f"{what} must be a finite number, got {str(value)[:40]}")
    return float(value)


def session_seconds(value: Any) -> int:
    """Whole seconds of one session (rounded), or ProgressRejected."""
    if not _is_finite_number(value):
        raise _reject("invalid_session_time", f"session time must be a number of seconds, got {str(value)[:40]}")
    if value < 0:
        raise _reject("negative_session_time", f"session time must not be negative, got {value}")
    if value > MAX_SESSION_SECONDS:
        raise _reject("session_time_too_long",
                      f"session time of {value} s is more than 24 hours in one session")
    return int(round(value))


def check_score(raw: Any, minimum: Any = None, maximum: Any = None) -> tuple[float, float, float, float]:
    """(raw, min, max, scaled) for a reported score, or ProgressRejected."""
    raw_f = _number(raw, "score_raw")
    min_f = 0.0 if minimum is None else _number(minimum, "score_min")
    max_f = DEFAULT_SCORE_MAX if maximum is None else _number(maximum, "score_max")
    if min_f < 0 or max_f <= min_f or max_f > MAX_SCORE:
        raise _reject("invalid_score_range",
                      f"score range must satisfy 0 <= min < max <= {MAX_SCORE:g}, got [{min_f:g}, {max_f:g}]")
    if not min_f <= raw_f <= max_f:
        raise _reject("score_out_of_range", f"score {raw_f:g} is outside [{min_f:g}, {max_f:g}]")
    scaled = min(1.0, max(0.0, raw_f / max_f))
    return raw_f, min_f, max_f, scaled


def merge_cmi(current: Mapping[str, str], incoming: Mapping[str, Any], *, max_keys: int = MAX_CMI_KEYS,
              max_total_chars: int = MAX_CMI_TOTAL_CHARS) -> dict[str, str]:
    """Current cmi values updated key by key with the incoming ones, or ProgressRejected."""
    merged = dict(current)
    for key, value in incoming.items():
        if not isinstance(key, str) or not key.startswith(CMI_PREFIXES) or len(key) > MAX_CMI_KEY_CHARS:
            raise _reject("invalid_cmi_key", f"cmi key {str(key)[:80]!r} must start with cmi. or adl. "
                                             f"and have at most {MAX_CMI_KEY_CHARS} characters")
        _check_text(key, "a cmi key", allow_newlines=False)
        if key in CMI_KEYS_WITH_FIELDS:
            raise _reject("cmi_key_has_field", f"{key} is reported in its own field, not in cmi")
        if not isinstance(value, str):
            raise _reject("invalid_cmi_value", f"cmi value of {key} must be a string (as SCORM SetValue takes)")
        _check_text(value, f"cmi value of {key}")
        if len(value) > MAX_CMI_VALUE_CHARS:
            raise _reject("cmi_value_too_long", f"cmi value of {key} has {len(value)} characters, "
                                                f"more than {MAX_CMI_VALUE_CHARS}")
        merged[key] = value
    if len(merged) > max_keys:
        raise _reject("cmi_too_large", f"cmi would hold {len(merged)} keys, more than {max_keys}")
    total = sum(len(k) + len(v) for k, v in merged.items())
    if total > max_total_chars:
        raise _reject("cmi_too_large", f"cmi would hold {total} characters, more than {max_total_chars}")
    return merged


def check_scaled(value: Any) -> float:
    """A SCORM 2004 scaled score: a finite number from −1 to 1, or ProgressRejected."""
    scaled = _number(value, "score_scaled")
    if not -1.0 <= scaled <= 1.0:
        raise _reject("score_out_of_range", f"scaled score {scaled:g} is outside [-1, 1]")
    return scaled


def check_update(update: ProgressUpdate) -> None:
    """Every limit of one update, before anything is applied."""
    if update.location is not None:
        if not isinstance(update.location, str):
            raise _reject("invalid_location", "location must be text")
        _check_text(update.location, "location")
        if len(update.location) > MAX_LOCATION_CHARS:
            raise _reject("location_too_long", f"location has {len(update.location)} characters, "
                                               f"more than {MAX_LOCATION_CHARS}")
    if update.suspend_data is not None:
        if not isinstance(update.suspend_data, str):
            raise _reject("invalid_suspend_data", "suspend data must be text")
        _check_text(update.suspend_data, "suspend data")
        if len(update.suspend_data) > MAX_SUSPEND_DATA_CHARS:
            raise _reject("suspend_data_too_long", f"suspend data has {len(update.suspend_data)} characters, "
                                                   f"more than {MAX_SUSPEND_DATA_CHARS}")
    if update.completion_status is not None and update.completion_status not in COMPLETION_STATUSES:
        raise _reject("invalid_completion_status",
                      f"completion status must be one of {', '.join(COMPLETION_STATUSES)}, "
                      f"got {update.completion_status!r}")
    if update.success_status is not None and update.success_status not in SUCCESS_STATUSES:
        raise _reject("invalid_success_status",
                      f"success status must be one of {', '.join(SUCCESS_STATUSES)}, got {update.success_status!r}")
    if update.score_raw is None and (update.score_min is not None or update.score_max is not None):
        raise _reject("invalid_score", "score_min/score_max need a score_raw")
    if update.score_raw is not None:
        check_score(update.score_raw, update.score_min, update.score_max)
    if update.score_scaled is not None:
        check_scaled(update.score_scaled)
    session_seconds(update.session_time_seconds)
    if update.cmi is not None and not isinstance(update.cmi, Mapping):
        raise _reject("invalid_cmi", "cmi must be an object of cmi.* keys")


def later_completion(current: str, reported: str | None) -> str:
    """Completion never moves back: the later of the two in COMPLETION_STATUSES order."""
    if reported is None:
        return current
    return max(current, reported, key=COMPLETION_STATUSES.index)


def success_from_score(score_scaled: float, mastery_score: float) -> str:
    return "passed" if score_scaled >= mastery_score else "failed"


def apply_update(state: ProgressState, update: ProgressUpdate, now: datetime, *,
                 mastery_score: float | None = None, keep_best_score: bool = False) -> ProgressState:
    """The state after one commit, or ProgressRejected (the state is then unchanged).

    ``keep_best_score``: a lower score than the recorded one is ignored (the demo quiz keeps a
    learner's best attempt, so a retake never lowers the grade sent to the LMS)."""
    now = _aware(now)
    check_update(update)
    if update.replace_cmi:
        cmi = merge_cmi({}, update.cmi or {}, max_keys=MAX_SCORM_CMI_KEYS,
                        max_total_chars=MAX_SCORM_CMI_TOTAL_CHARS)
    else:
        cmi = merge_cmi(state.cmi, update.cmi) if update.cmi else dict(state.cmi)

    raw, s_min, s_max, scaled = state.score_raw, state.score_min, state.score_max, state.score_scaled
    new: tuple[float | None, float | None, float | None, float] | None = None
    if update.score_raw is not None:
        new = check_score(update.score_raw, update.score_min, update.score_max)
        if update.score_scaled is not None:
            new = (new[0], new[1], new[2], check_scaled(update.score_scaled))
    elif update.score_scaled is not None:
        reported = check_scaled(update.score_scaled)
        new = ((round(reported * 100, 4), 0.0, 100.0, reported) if reported >= 0
               else (None, None, None, reported))
    if new is not None and not (keep_best_score and scaled is not None and new[3] < scaled):
        raw, s_min, s_max, scaled = new

    success = state.success_status
    reported_score = update.score_raw is not None or update.score_scaled is not None
    if scaled is not None and mastery_score is not None and (reported_score or
                                                             update.success_status is not None):
        success = success_from_score(scaled, mastery_score)
    elif update.success_status is not None:
        success = update.success_status

    completion = later_completion(state.completion_status, update.completion_status)
    # Anything reported means the learner has started.
    completion = later_completion(completion, "incomplete")
    completed_at = state.completed_at
    if completion == "completed" and completed_at is None:
        completed_at = now

    return replace(
        state,
        location=state.location if update.location is None else update.location,
        suspend_data=state.suspend_data if update.suspend_data is None else update.suspend_data,
        completion_status=completion,
        success_status=success,
        score_raw=raw,
        score_min=s_min,
        score_max=s_max,
        score_scaled=scaled,
        total_time_seconds=state.total_time_seconds + session_seconds(update.session_time_seconds),
        cmi=cmi,
        completed_at=completed_at,
    )


def start_session(state: ProgressState) -> ProgressState:
    """A new player session: one more session, and the course counts as started."""
    return replace(state, session_count=state.session_count + 1, session_seconds_reported=0, commit_seq=0,
                   completion_status=later_completion(state.completion_status, "incomplete"))


def entry_mode(state: ProgressState) -> str:
    """SCORM's cmi.entry for a session starting from this state: "resume" when there is a place
    or saved data to go back to, else "ab-initio"."""
    return "resume" if (state.location or state.suspend_data) else "ab-initio"
