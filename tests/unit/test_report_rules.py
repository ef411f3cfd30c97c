"""Report rules (pure): statuses, filters, cells."""

from __future__ import annotations

from datetime import UTC, datetime

from store.reports import rules
from store.reports.rules import ReportFilters, ReportRow

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_status_order_and_labels() -> None:
    assert rules.STATUSES == ("not_started", "in_progress", "failed", "completed", "passed")
    assert rules.status_of(None) == "not_started" and rules.status_of(4) == "passed"
    assert set(rules.STATUS_LABELS) == set(rules.STATUSES)


def test_filter_problems() -> None:
    assert rules.filter_problem(ReportFilters()) is None
    assert rules.filter_problem(ReportFilters(license_type="gold"))[0] == "invalid_license_type"  # type: ignore[index]
    assert rules.filter_problem(ReportFilters(status="x"))[0] == "invalid_status"  # type: ignore[index]
    assert rules.filter_problem(ReportFilters(date_from=T, date_to=T))[0] == "invalid_dates"  # type: ignore[index]
    assert rules.filter_problem(ReportFilters(date_to=T.replace(tzinfo=None)))[0] == "invalid_dates"  # type: ignore[index]


def test_flags_and_numbers() -> None:
    assert rules.license_types_of((1, 0, 1)) == ("plus", "ppu")
    assert rules.deliveries_of((1, 0, 1, 0, 0, 0, 0, 0)) == ("LTI", "SCORM 2004")
    assert rules.score_percent(0.855) == 85.5 and rules.score_percent(None) is None
    assert rules.duration(0) == "0:00:00" and rules.duration(90061) == "25:01:01" and rules.duration(-5) == "0:00:00"


def test_cells_never_start_a_formula() -> None:
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert rules.csv_cell(dangerous) == "'" + dangerous
    assert rules.csv_cell("Ada") == "Ada" and rules.csv_cell(None) == "" and rules.csv_cell(3) == "3"
    assert rules.csv_cell(T) == "2026-03-01T00:00:00+00:00"


def test_a_row_as_csv_cells() -> None:
    row = ReportRow(1, "Ada", "ada@example.com", ("LTI (x): 1", "SCORM 1.2: ada"), "C-1", "Course", ("volume", "ppu"),
                    ("LTI", "SCORM 1.2"), T, T, "passed", 92.5, 3661, 4)
    assert row.csv_cells() == ("Ada", "ada@example.com", "LTI (x): 1; SCORM 1.2: ada", "C-1", "Course",
                               "Volume; Pay Per Use", "LTI; SCORM 1.2", T.isoformat(), T.isoformat(), "Passed",
                               "92.5", "3661", "1:01:01", "4")
    assert len(row.csv_cells()) == len(rules.CSV_HEADER)
