"""Dashboard rules (pure): the term a chart covers, seats per day, the run-out projection, actions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from store.dashboard import rules

START = datetime(2026, 1, 31, 9, tzinfo=UTC)


def test_the_current_term_starts_at_the_last_renewal() -> None:
    assert rules.current_term_start(START, datetime(2026, 2, 28, 9, tzinfo=UTC), "monthly") == START
    assert rules.current_term_start(START, datetime(2026, 4, 30, 9, tzinfo=UTC), "monthly") == \
        datetime(2026, 3, 31, 9, tzinfo=UTC)
    grace = datetime(2027, 2, 7, 9, tzinfo=UTC)  # a year and a week: a grace period stretched it
    assert rules.current_term_start(START, grace, "annual") == datetime(2027, 1, 31, 9, tzinfo=UTC)


def test_daily_series_adds_up_each_day() -> None:
    now = START + timedelta(days=3, hours=1)
    series = rules.daily_series(START, now, 2, {date(2026, 1, 31): 1, date(2026, 2, 2): 3})
    assert [(d.day.isoformat(), d.seats_used) for d in series] == [
        ("2026-01-31", 3), ("2026-02-01", 3), ("2026-02-02", 6), ("2026-02-03", 6)]
    assert rules.daily_series(START, START - timedelta(days=1), 0, {}) == ()


def test_a_long_term_is_cut_to_the_last_400_days() -> None:
    series = rules.daily_series(START, START + timedelta(days=500), 0, {START.date(): 5})
    assert len(series) == rules.MAX_SERIES_DAYS and series[0].seats_used == 5


def test_projection_at_the_current_pace() -> None:
    end = START + timedelta(days=365)
    # 10 seats in 10 days: one a day; 40 left: 40 more days.
    run_out = rules.project_run_out(START, START + timedelta(days=10), 0, 10, 50, end)
    assert run_out.on == (START + timedelta(days=50)).date() and run_out.before_term_end
    assert run_out.seats_per_day == 1.0 and not run_out.full
    slow = rules.project_run_out(START, START + timedelta(days=100), 0, 1, 50, end)
    assert slow.on is not None and not slow.before_term_end  # runs out long after the term
    assert rules.project_run_out(START, START + timedelta(days=5), 3, 3, 50, end).on is None  # no pace this term
    full = rules.project_run_out(START, START + timedelta(days=5), 0, 50, 50, end)
    assert full.full and full.on == (START + timedelta(days=5)).date()


def test_the_first_day_counts_as_a_whole_day() -> None:
    run_out = rules.project_run_out(START, START + timedelta(hours=1), 0, 5, 10, START + timedelta(days=30))
    assert run_out.seats_per_day == 5.0 and run_out.on == (START + timedelta(hours=1, days=1)).date()


@settings(deadline=None)
@given(elapsed=st.integers(1, 365), taken=st.integers(1, 1000), extra=st.integers(0, 1000), more=st.integers(1, 500))
def test_more_seats_left_never_run_out_sooner(elapsed: int, taken: int, extra: int, more: int) -> None:
    now = START + timedelta(days=elapsed)
    end = START + timedelta(days=366)
    total = taken + extra + 1
    first = rules.project_run_out(START, now, 0, taken, total, end)
    bigger = rules.project_run_out(START, now, 0, taken, total + more, end)
    assert first.on is not None and bigger.on is not None
    assert now.date() <= first.on <= bigger.on


@settings(deadline=None)
@given(elapsed=st.integers(1, 365), taken=st.integers(1, 1000), faster=st.integers(1, 1000), left=st.integers(1, 1000))
def test_a_faster_pace_never_runs_out_later(elapsed: int, taken: int, faster: int, left: int) -> None:
    now = START + timedelta(days=elapsed)
    end = START + timedelta(days=366)
    slow = rules.project_run_out(START, now, 0, taken, taken + left, end)
    # the same seats left, more taken so far this term
    fast = rules.project_run_out(START, now, 0, taken + faster, taken + faster + left, end)
    assert fast.on is not None and slow.on is not None and fast.on <= slow.on


def test_actions() -> None:
    assert rules.refusal_action("no_seats") == "buy_seats"
    assert rules.refusal_action("course_retired") == "deliver_replacement"
    assert rules.refusal_action("domain_not_allowed") == "allow_domain"
    assert rules.refusal_action("something new") == "contact_support"
    assert set(rules.REFUSAL_ACTIONS.values()) <= rules.ACTIONS
