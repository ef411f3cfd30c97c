"""Learner reports: rows per learner (or linked person) and course, filters, pages, the streamed
CSV (exactly the filtered rows, memory bounded at 100,000 rows) and the visibility rule."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.linking import set_identity_linking
from store.accounts.service import LearnerIdentity, create_account
from store.catalog.models import Course
from store.errors import InvalidInput, NotFound
from store.licenses import service
from store.licenses.service import ClaimRequest, claim_seat
from store.progress.models import CourseProgress
from store.reports.rules import CSV_HEADER, ReportFilters
from store.reports.service import ReportCourse, report_courses, report_csv, report_page
from tests.factories.catalog import make_course
from tests.factories.licenses import T0, make_account
from tests.factories.reports import bulk_launches

Sessions = sessionmaker[Session]
ISS = "lti:https://lms.example.edu"


def claim(sessions: Sessions, account_id: int, course: str, who: LearnerIdentity, now=T0,  # type: ignore[no-untyped-def]
          license_type: str = "volume"):
    result = claim_seat(sessions, ClaimRequest(account_id, license_type, course, who), now)
    assert result.ok, result.reason
    return result


def progress(sessions: Sessions, seat_id: int, course: str, *, completion: str = "incomplete",
             success: str = "unknown", scaled: float | None = None, seconds: int = 0) -> None:
    with sessions.begin() as s:
        course_pk = s.scalar(select(Course.id).where(Course.catalog_id == course))
        s.add(CourseProgress(seat_id=seat_id, course_pk=course_pk, completion_status=completion, success_status=success,
                             score_scaled=scaled, score_raw=None if scaled is None else scaled * 100,
                             total_time_seconds=seconds, cmi={}, started_at=T0, updated_at=T0))


@pytest.fixture
def org(sessions: Sessions) -> tuple[int, str, str]:
    account_id = make_account(sessions, "Report Org").id
    with sessions.begin() as s:
        volume = make_course(s, "VOL-1", title="Volume Course", is_plus=False).catalog_id
        plus = make_course(s, "PLUS-1", title="Plus Course", is_plus=True).catalog_id
    service.grant_volume(sessions, account_id, volume, 50, T0)
    service.grant_plus(sessions, account_id, 50, "annual", T0)
    return account_id, volume, plus


def page(sessions: Sessions, account_id: int, **filters):  # type: ignore[no-untyped-def]
    per_page = filters.pop("per_page", 50)
    number = filters.pop("page", 1)
    return report_page(sessions, account_id, ReportFilters(**filters), number, per_page)


def csv_rows(sessions: Sessions, account_id: int, **filters) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO("".join(report_csv(sessions, account_id, ReportFilters(**filters))))))


def test_a_row_per_learner_and_course(sessions: Sessions, org: tuple[int, str, str]) -> None:
    account_id, volume, plus = org
    ada = LearnerIdentity(ISS, "sub-1", name="Ada Lovelace", email="ada@example.com")
    first = claim(sessions, account_id, volume, ada)
    claim(sessions, account_id, volume, ada, now=T0 + timedelta(days=2))
    progress(sessions, first.seat.id, volume, completion="completed", success="passed", scaled=0.85, seconds=3725)
    claim(sessions, account_id, plus, ada, now=T0 + timedelta(days=1), license_type="plus")
    result = page(sessions, account_id)
    assert result.total == 2 and not result.linked
    newest, older = result.rows
    assert (newest.catalog_id, newest.first_launch, newest.last_launch) == (volume, T0, T0 + timedelta(days=2))
    assert (newest.status, newest.status_label, newest.score_percent) == ("passed", "Passed", 85.0)
    assert (newest.time_seconds, newest.time_spent, newest.launches) == (3725, "1:02:05", 2)
    assert newest.license_types == ("volume",) and newest.deliveries == ("LTI",)
    assert newest.identities == ("LTI (https://lms.example.edu): sub-1",)
    assert (newest.name, newest.email) == ("Ada Lovelace", "ada@example.com")
    assert (older.catalog_id, older.status, older.score_percent, older.license_types) == (plus, "not_started", None,
                                                                                          ("plus",))


def test_linked_identities_are_one_row_with_every_delivery_method(sessions: Sessions,
                                                                  org: tuple[int, str, str]) -> None:
    account_id, volume, _plus = org
    set_identity_linking(sessions, account_id, True)
    lti = claim(sessions, account_id, volume, LearnerIdentity(ISS, "sub-1", name="Ada", username="adal"))
    claim(sessions, account_id, volume, LearnerIdentity("package:PKG", "adal", package_format="scorm12"),
          now=T0 + timedelta(hours=1))
    progress(sessions, lti.seat.id, volume, completion="incomplete", seconds=60)
    result = page(sessions, account_id)
    assert result.linked and result.total == 1
    row = result.rows[0]
    assert row.deliveries == ("LTI",)  # the package launch reused the LTI identity's seat
    assert set(row.identities) == {"LTI (https://lms.example.edu): sub-1", "SCORM 1.2: adal"}
    assert row.status == "in_progress" and row.launches == 2
    set_identity_linking(sessions, account_id, False)
    assert page(sessions, account_id).total == 1  # one seat, one row, one identity listed
    assert page(sessions, account_id).rows[0].identities == ("LTI (https://lms.example.edu): sub-1",)


def test_linked_people_with_seats_of_their_own_show_together(sessions: Sessions, org: tuple[int, str, str]) -> None:
    account_id, volume, _plus = org
    claim(sessions, account_id, volume, LearnerIdentity(ISS, "sub-1", email="ada@example.com"))
    claim(sessions, account_id, volume, LearnerIdentity(f"invite:{account_id}", "ada@example.com",
                                                        email="ada@example.com"), now=T0 + timedelta(hours=1))
    assert page(sessions, account_id).total == 2  # linking off: two seats, two rows
    set_identity_linking(sessions, account_id, True)
    claim(sessions, account_id, volume, LearnerIdentity(ISS, "sub-1", email="ada@example.com"),
          now=T0 + timedelta(hours=2))
    claim(sessions, account_id, volume, LearnerIdentity(f"invite:{account_id}", "ada@example.com",
                                                        email="ada@example.com"), now=T0 + timedelta(hours=3))
    rows = page(sessions, account_id).rows
    assert len(rows) == 1 and rows[0].deliveries == ("LTI", "Invitation") and rows[0].launches == 4


def test_filters(sessions: Sessions, org: tuple[int, str, str]) -> None:
    account_id, volume, plus = org
    a = claim(sessions, account_id, volume, LearnerIdentity(ISS, "a"))
    b = claim(sessions, account_id, volume, LearnerIdentity(ISS, "b"), now=T0 + timedelta(days=10))
    claim(sessions, account_id, plus, LearnerIdentity(ISS, "c"), now=T0 + timedelta(days=20), license_type="plus")
    progress(sessions, a.seat.id, volume, completion="completed", success="failed", scaled=0.4)
    progress(sessions, b.seat.id, volume, completion="completed")
    assert page(sessions, account_id, catalog_id=plus).total == 1
    assert page(sessions, account_id, license_type="volume").total == 2
    assert [r.status for r in page(sessions, account_id, status="failed").rows] == ["failed"]
    assert [r.status for r in page(sessions, account_id, status="completed").rows] == ["completed"]
    assert page(sessions, account_id, status="not_started").total == 1
    window = page(sessions, account_id, date_from=T0 + timedelta(days=5), date_to=T0 + timedelta(days=15))
    assert [r.last_launch for r in window.rows] == [T0 + timedelta(days=10)]
    assert page(sessions, account_id, date_from=T0 + timedelta(days=30)).total == 0
    assert page(sessions, account_id, catalog_id="", license_type="", status="").total == 3  # a form's "any"
    assert len(csv_rows(sessions, account_id, status="failed")) == 2  # header + the one row


@pytest.mark.parametrize(("filters", "reason"), [
    ({"license_type": "gold"}, "invalid_license_type"),
    ({"status": "done"}, "invalid_status"),
    ({"date_from": T0, "date_to": T0}, "invalid_dates"),
    ({"date_from": T0.replace(tzinfo=None)}, "invalid_dates"),
    ({"catalog_id": "C\x00"}, "invalid_text"),
])
def test_bad_filters(sessions: Sessions, org: tuple[int, str, str], filters: dict, reason: str) -> None:
    account_id = org[0]
    with pytest.raises(InvalidInput) as error:
        page(sessions, account_id, **filters)
    assert error.value.reason == reason
    with pytest.raises(InvalidInput):  # the CSV refuses before its first line
        report_csv(sessions, account_id, ReportFilters(**filters))


def test_unknown_account_course_and_bad_pages(sessions: Sessions, org: tuple[int, str, str]) -> None:
    with pytest.raises(NotFound):
        page(sessions, 999_999)
    with pytest.raises(NotFound) as course:
        page(sessions, org[0], catalog_id="NOPE")
    assert course.value.reason == "unknown_course"
    for bad in ({"page": 0}, {"per_page": 0}, {"per_page": 201}):
        with pytest.raises(InvalidInput):
            page(sessions, org[0], **bad)


def test_pages_and_the_csv_hold_exactly_the_same_rows(sessions: Sessions, org: tuple[int, str, str]) -> None:
    account_id, volume, _plus = org
    for i in range(7):
        claim(sessions, account_id, volume, LearnerIdentity(ISS, f"s{i}", name=f"L{i}"),
              now=T0 + timedelta(hours=i % 3))  # ties in time: the order must still be total
    pages = [page(sessions, account_id, page=n, per_page=3) for n in (1, 2, 3)]
    assert [p.pages for p in pages] == [3, 3, 3] and [len(p.rows) for p in pages] == [3, 3, 1]
    names = [r.name for p in pages for r in p.rows]
    assert sorted(names) == [f"L{i}" for i in range(7)]
    lines = csv_rows(sessions, account_id)
    assert tuple(lines[0]) == CSV_HEADER
    assert [line[0] for line in lines[1:]] == names
    assert pages[0].has_next and not pages[2].has_next


def test_text_a_spreadsheet_would_run_stays_text(sessions: Sessions, org: tuple[int, str, str]) -> None:
    account_id, volume, _plus = org
    claim(sessions, account_id, volume, LearnerIdentity(ISS, "s1", name='=HYPERLINK("http://evil")',
                                                        email="+1@example.com"))
    line = csv_rows(sessions, account_id)[1]
    assert line[0] == "'=HYPERLINK(\"http://evil\")" and line[1] == "'+1@example.com"


def test_a_self_bought_license_stays_private(sessions: Sessions, org: tuple[int, str, str]) -> None:
    """The same person learns at work (the organization's seat) and on their own (a license they
    bought in their own independent learner account): the organization sees only the former."""
    account_id, volume, plus = org
    set_identity_linking(sessions, account_id, True)
    claim(sessions, account_id, volume, LearnerIdentity(ISS, "sub-1", email="ada@example.com"))
    own = create_account(sessions, "Ada Lovelace", T0, kind="individual").id
    service.grant_volume(sessions, own, plus, 1, T0)  # what a purchase in the store gives
    set_identity_linking(sessions, own, True)
    mine = claim(sessions, own, plus, LearnerIdentity("login:1", "1", email="ada@example.com"),
                 now=T0 + timedelta(days=1))
    progress(sessions, mine.seat.id, plus, completion="completed", success="passed", scaled=1.0)
    org_rows = page(sessions, account_id).rows
    assert [r.catalog_id for r in org_rows] == [volume]
    assert [line[3] for line in csv_rows(sessions, account_id)[1:]] == [volume]
    assert page(sessions, account_id, catalog_id=plus).total == 0
    assert [r.catalog_id for r in page(sessions, own).rows] == [plus]  # their own report shows it


# ---------------------------------------------------------------- 100,000 rows, streamed


def test_the_csv_of_100000_rows_streams_in_bounded_memory(sessions: Sessions, org: tuple[int, str, str]) -> None:
    account_id, volume, _plus = org
    n = 100_000
    bulk_launches(sessions, account_id, volume, n, T0)
    lines = report_csv(sessions, account_id, ReportFilters(), batch=500)
    tracemalloc.start()
    try:
        count = size = 0
        for line in lines:
            count += 1
            size += len(line)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n + 1
    assert size > 8_000_000  # the whole CSV: about 10 MB
    assert peak < size / 4, f"peak {peak:,} bytes for a {size:,}-byte CSV: rows were not streamed"


def test_the_course_filters_choices_are_the_courses_launched_under_the_accounts_seats(
        sessions: Sessions, org: tuple[int, str, str]) -> None:
    account_id, volume, plus = org
    assert report_courses(sessions, account_id) == ()
    claim(sessions, account_id, volume, LearnerIdentity(ISS, "a"))
    claim(sessions, account_id, volume, LearnerIdentity(ISS, "b"))
    other = make_account(sessions, "Other Org").id
    service.grant_plus(sessions, other, 5, "annual", T0)
    claim(sessions, other, plus, LearnerIdentity(ISS, "c"), license_type="plus")
    assert report_courses(sessions, account_id) == (ReportCourse(volume, "Volume Course"),)
    claim(sessions, account_id, plus, LearnerIdentity(ISS, "a"), license_type="plus")
    assert [c.title for c in report_courses(sessions, account_id)] == ["Plus Course", "Volume Course"]
