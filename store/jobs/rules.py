"""Pure rules of background jobs: when a job is due next, how soon a failed one is retried, and
the one line a failure is recorded as.

Slots are aligned to the interval (a 10-minute job's slots start at :00, :10, :20 … UTC), so
every worker on every host computes the same slot; a worker that was down does not catch up on
the slots it missed: the job runs once, then in the next slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ERROR_MAX = 300
RETRY_FIRST_SECONDS = 30


@dataclass(frozen=True)
class Schedule:
    """A job's name, and how often it runs (seconds between slots)."""

    name: str
    interval_seconds: int

    def __post_init__(self) -> None:
        if self.interval_seconds < 1:
            raise ValueError(f"job {self.name!r}: the interval must be at least one second")


def next_slot(now: datetime, interval_seconds: int) -> datetime:
    """The start of the first slot after ``now`` (slots are multiples of the interval since the
    epoch, UTC)."""
    elapsed = int((now - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=(elapsed // interval_seconds + 1) * interval_seconds)


def retry_at(now: datetime, interval_seconds: int, failures_in_a_row: int) -> datetime:
    """When a job that has just failed ``failures_in_a_row`` times (1 or more) runs again:
    30 s, 60 s, 120 s … after the failure, never later than its next regular slot."""
    exponent = min(max(failures_in_a_row, 1) - 1, 20)
    backoff = now + timedelta(seconds=RETRY_FIRST_SECONDS * 2 ** exponent)
    return min(backoff, next_slot(now, interval_seconds))


def error_line(exc: BaseException) -> str:
    """A failure as one short line: the exception's type and message, line breaks and control
    characters replaced by spaces."""
    message = str(exc).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())[:ERROR_MAX]
