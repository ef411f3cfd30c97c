"""Calendar arithmetic on aware UTC datetimes (pure)."""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """Add calendar months, clamping the day to the target month's end (31 Jan + 1 = 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month0 = divmod(index, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)
