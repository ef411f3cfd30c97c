from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from store.clock import add_months


def test_month_end_is_clamped() -> None:
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 3, 31, tzinfo=UTC), -1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 14) == datetime(2028, 1, 15, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)),
       st.integers(0, 120))
def test_adding_months_moves_forward_and_keeps_time_of_day(moment: datetime, months: int) -> None:
    later = add_months(moment, months)
    assert later >= moment
    assert (later.year - moment.year) * 12 + later.month - moment.month == months
    assert later.time() == moment.time() and later.tzinfo == moment.tzinfo
