"""Pure rules of the learner reports: statuses and their order, filters, and the CSV row.

A report row is one learner (with identity linking on: one person, every identity of theirs
together) in one course. Its **status** is the best of its progress records in that course:
``passed`` > ``completed`` > ``failed`` > ``in_progress`` > ``not_started``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from store.accounts.identities import DELIVERIES, delivery_label
from store.licenses.labels import LICENSE_TYPES, license_label

# In rank order (the SQL ranks each progress record by these numbers, then takes the highest).
STATUSES = ("not_started", "in_progress", "failed", "completed", "passed")
STATUS_LABELS = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "failed": "Failed",
    "completed": "Completed",
    "passed": "Passed",
}
RANK = {status: rank for rank, status in enumerate(STATUSES)}
MAX_PER_PAGE = 200

CSV_HEADER = ("learner_name", "email", "identities", "course_id", "course_title", "license_types",
              "delivery_methods", "first_launch", "last_launch", "status", "score_percent", "time_spent_seconds",
              "time_spent", "launches")


@dataclass(frozen=True)
class ReportFilters:
    catalog_id: str | None = None
    license_type: str | None = None  # only activity under seats of this type
    status: str | None = None
    date_from: datetime | None = None  # rows with activity in [date_from, date_to)
    date_to: datetime | None = None

    def normalized(self) -> ReportFilters:
        """Empty text (a form's "any" choice) means no filter."""
        return ReportFilters(self.catalog_id or None, self.license_type or None, self.status or None,
                             self.date_from, self.date_to)


def filter_problem(filters: ReportFilters) -> tuple[str, str] | None:
    """(reason, message) for a filter that cannot be, or None."""
    if filters.license_type is not None and filters.license_type not in LICENSE_TYPES:
        return "invalid_license_type", f"license type must be one of {', '.join(LICENSE_TYPES)}"
    if filters.status is not None and filters.status not in STATUSES:
        return "invalid_status", f"status must be one of {', '.join(STATUSES)}"
    for moment in (filters.date_from, filters.date_to):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            return "invalid_dates", "dates must be timezone-aware"
    if filters.date_from is not None and filters.date_to is not None and filters.date_from >= filters.date_to:
        return "invalid_dates", "the start of the date range must be before its end"
    return None


def status_of(rank: int | None) -> str:
    return STATUSES[rank or 0]


def license_types_of(flags: Iterable[object]) -> tuple[str, ...]:
    """License types from one 0/1 flag per type, in ``LICENSE_TYPES`` order."""
    return tuple(t for t, flag in zip(LICENSE_TYPES, flags, strict=True) if flag)


def deliveries_of(flags: Iterable[object]) -> tuple[str, ...]:
    """Delivery labels from one 0/1 flag per delivery method, in ``DELIVERIES`` order."""
    return tuple(delivery_label(d) for d, flag in zip(DELIVERIES, flags, strict=True) if flag)


def score_percent(scaled: float | None) -> float | None:
    return None if scaled is None else round(scaled * 100, 1)


def duration(seconds: int) -> str:
    """``H:MM:SS`` (hours are not limited to 24)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell as text; text that a spreadsheet would run as a formula (``=HYPERLINK(…)`` in a
    learner's name) starts with an apostrophe, so it stays text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@dataclass(frozen=True)
class ReportRow:
    person_id: int  # the learner id (linking off) or the person's (linking on)
    name: str | None
    email: str | None
    identities: tuple[str, ...]  # every identity of the learner/person, e.g. "LTI (https://…): 42"
    catalog_id: str
    course_title: str
    license_types: tuple[str, ...]
    deliveries: tuple[str, ...]  # labels: "LTI", "SCORM 1.2", "Invitation", …
    first_launch: datetime
    last_launch: datetime
    status: str
    score_percent: float | None
    time_seconds: int
    launches: int

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def license_labels(self) -> tuple[str, ...]:
        return tuple(license_label(t) for t in self.license_types)

    @property
    def time_spent(self) -> str:
        return duration(self.time_seconds)

    def csv_cells(self) -> tuple[str, ...]:
        score = "" if self.score_percent is None else f"{self.score_percent:g}"
        values: tuple[object, ...] = (
            self.name, self.email, "; ".join(self.identities), self.catalog_id, self.course_title,
            "; ".join(self.license_labels), "; ".join(self.deliveries), self.first_launch, self.last_launch,
            self.status_label, score, self.time_seconds, self.time_spent, self.launches)
        return tuple(csv_cell(v) for v in values)
