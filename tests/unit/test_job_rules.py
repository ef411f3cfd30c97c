"""Pure rules of background jobs: aligned slots, the retry backoff, the error line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.jobs.rules import Schedule, error_line, next_slot, retry_at

T = datetime(2026, 12, 3, 10, 7, 30, tzinfo=UTC)


def test_slots_are_aligned_to_the_interval() -> None:
    assert next_slot(T, 600) == datetime(2026, 12, 3, 10, 10, tzinfo=UTC)
    assert next_slot(T, 60) == datetime(2026, 12, 3, 10, 8, tzinfo=UTC)
    assert next_slot(T, 3600) == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    # Exactly on a slot: the next one, never the same.
    on_slot = datetime(2026, 12, 3, 10, 10, tzinfo=UTC)
    assert next_slot(on_slot, 600) == datetime(2026, 12, 3, 10, 20, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=7 * 86400))
def test_the_next_slot_is_after_now_within_one_interval_and_the_same_for_every_worker(now: datetime,
                                                                                      interval: int) -> None:
    slot = next_slot(now, interval)
    assert now < slot <= now + timedelta(seconds=interval)
    assert int(slot.timestamp()) % interval == 0
    # A worker a moment later in the same slot computes the same next slot.
    later = now + (slot - now) / 2
    assert later >= slot or next_slot(later, interval) == slot


def test_a_failed_job_is_retried_soon_and_backs_off_but_never_later_than_its_next_slot() -> None:
    assert retry_at(T, 3600, 1) == T + timedelta(seconds=30)
    assert retry_at(T, 3600, 2) == T + timedelta(seconds=60)
    assert retry_at(T, 3600, 3) == T + timedelta(seconds=120)
    assert retry_at(T, 3600, 50) == next_slot(T, 3600)
    assert retry_at(T, 60, 1) == T + timedelta(seconds=30)
    assert retry_at(T, 60, 2) == next_slot(T, 60)  # 10:08:00, sooner than 60 s of backoff


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=-5, max_value=10_000))
def test_the_retry_is_always_in_the_future(interval: int, failures: int) -> None:
    assert T < retry_at(T, interval, failures) <= next_slot(T, interval)


def test_errors_are_one_short_line() -> None:
    assert error_line(ValueError("bad\nthing\x1b[31m")) == "ValueError: bad thing [31m"
    assert error_line(RuntimeError()) == "RuntimeError"
    assert len(error_line(ValueError("x" * 5000))) == 300


def test_an_interval_is_at_least_one_second() -> None:
    with pytest.raises(ValueError, match="at least one second"):
        Schedule("cleanup", 0)
