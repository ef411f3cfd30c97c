"""Calendar arithmetic on aware UTC datetimes (pure)."""

from __future__ import annotations

import calendar
from datetime import datetime


def shift_months(year: int, month: int, day: int, months: int) -> tuple[int, int, int]:
    """(year, month, day) moved by calendar months, the day clamped to the month's end.

    Raises ValueError when the result leaves years 1..9999.
    """
    new_year, month0 = divmod(year * 12 + (month - 1) + months, 12)
    if not 1 <= new_year <= 9999:
        raise ValueError("date out of range")
    return new_year, month0 + 1, min(day, calendar.monthrange(new_year, month0 + 1)[1])


def add_months(moment: datetime, months: int) -> datetime:
    """Add calendar months, clamping the day to the target month's end (31 Jan + 1 = 28/29 Feb)."""
    year, month, day = shift_months(moment.year, moment.month, moment.day, months)
    return moment.replace(year=year, month=month, day=day)
