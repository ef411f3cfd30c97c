"""The dashboard's Reports tab (/dashboard/reports): the table's columns and contents, each filter
of its GET form, pages, Download CSV with exactly the filtered rows (streamed, fetched from the
database batch by batch while it is sent), the visibility rule (a learner's self-bought license
stays private), bad filters (400 with the message next to the field, never a 500) and access."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.services import services_of
from store.accounts.linking import set_identity_linking
from store.accounts.service import LearnerIdentity, create_account
from store.catalog.models import Course
from store.licenses import service as licenses
from store.licenses.service import ClaimRequest, ClaimResult, claim_seat
from store.progress.models import CourseProgress
from store.reports.rules import CSV_HEADER
from tests.factories.licenses import T0
from tests.factories.reports import bulk_launches, report_account
from tests.factories.store import Buyer, Page, make_buyer, query_of

Sessions = sessionmaker[Session]
LMS = "lti:https://lms.example.edu"
REPORTS = "/dashboard/reports"
COLUMNS = ["Learner", "Course", "First launch", "Last launch", "Status", "Score", "Time spent", "License type",
           "Delivery method"]


def claim(sessions: Sessions, account_id: int, course: str, who: LearnerIdentity, days: float = 0,
          license_type: str = "volume") -> ClaimResult:
    result = claim_seat(sessions, ClaimRequest(account_id, license_type, course, who), T0 + timedelta(days=days))
    assert result.ok, result.reason
    return result


def progress(sessions: Sessions, result: ClaimResult, course: str, completion: str, success: str = "unknown",
             scaled: float | None = None, seconds: int = 0) -> None:
    assert result.seat is not None
    with sessions.begin() as s:
        course_pk = s.scalar(select(Course.id).where(Course.catalog_id == course))
        s.add(CourseProgress(seat_id=result.seat.id, course_pk=course_pk, completion_status=completion,
                             success_status=success, score_scaled=scaled, total_time_seconds=seconds, cmi={},
                             started_at=T0, updated_at=T0))


@pytest.fixture
def account(app: Flask, committing_sessions: Sessions) -> int:
    return report_account(committing_sessions, "Acme Learning", ("VOL-1", "Forklift Basics"),
                          ("PLUS-1", "Workplace Safety"), 100, T0)


@pytest.fixture
def buyer(app: Flask, committing_sessions: Sessions, account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


@pytest.fixture
def activity(committing_sessions: Sessions, account: int) -> None:
    """Ada: Volume course passed (85 %, 1:02:05) on days 0–2, Plus course opened on day 1;
    Ben: Volume course failed on day 10; Cy (no name or email sent): Plus course in progress on day 20."""
    ada = LearnerIdentity(LMS, "sub-ada", name="Ada Lovelace", email="ada@example.com")
    first = claim(committing_sessions, account, "VOL-1", ada)
    claim(committing_sessions, account, "VOL-1", ada, days=2)
    progress(committing_sessions, first, "VOL-1", "completed", "passed", 0.85, 3725)
    claim(committing_sessions, account, "PLUS-1", ada, days=1, license_type="plus")
    ben = claim(committing_sessions, account, "VOL-1", LearnerIdentity(LMS, "sub-ben", name="Ben Okafor",
                                                                       email="ben@example.com"), days=10)
    progress(committing_sessions, ben, "VOL-1", "completed", "failed", 0.4, 600)
    cy = claim(committing_sessions, account, "PLUS-1", LearnerIdentity(LMS, "sub-cy"), days=20, license_type="plus")
    progress(committing_sessions, cy, "PLUS-1", "incomplete", seconds=59)


def cells(element: Any) -> list[str]:
    return [" ".join(" ".join(td.itertext()).split()) for td in element.xpath("td")]


def table(page: Page) -> list[list[str]]:
    return [cells(tr) for tr in page.doc.xpath('//table[@class="report-table"]/tbody/tr')]


def filtered(buyer: Buyer, **changes: str) -> Page:
    """The report after filling in the filter form and pressing Filter."""
    page = buyer.page(REPORTS)
    response = buyer.submit(page.form_of(page.button("Filter")), "Filter", **changes)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return Page(response)


def download(buyer: Buyer, page: Page) -> Any:
    link = page.link("Download CSV")
    response = buyer.client.get(link)
    assert response.status_code == 200
    return response


def csv_of(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# ---------------------------------------------------------------- the table


def test_every_column_and_row(buyer: Buyer, activity: None) -> None:
    page = buyer.page(REPORTS)
    assert page.h1 == "Reports" and page.current_nav() == ["Dashboard"]
    assert [a.text_content() for a in page.doc.xpath('//nav[@aria-label="Dashboard"]//a[@aria-current="page"]')] \
        == ["Reports"]
    assert [" ".join(th.text_content().split()) for th in page.doc.xpath("//thead//th")] == COLUMNS
    assert table(page) == [
        ["No name or email sent", "Workplace Safety PLUS-1", "2026-01-21 09:00", "2026-01-21 09:00", "In progress",
         "No score", "0:00:59", "Plus", "LTI"],
        ["Ben Okafor ben@example.com", "Forklift Basics VOL-1", "2026-01-11 09:00", "2026-01-11 09:00", "Failed",
         "40 %", "0:10:00", "Volume", "LTI"],
        ["Ada Lovelace ada@example.com", "Forklift Basics VOL-1", "2026-01-01 09:00", "2026-01-03 09:00", "Passed",
         "85 %", "1:02:05", "Volume", "LTI"],
        ["Ada Lovelace ada@example.com", "Workplace Safety PLUS-1", "2026-01-02 09:00", "2026-01-02 09:00",
         "Not started", "No score", "0:00:00", "Plus", "LTI"],
    ]
    assert "4 rows" in page.by_id("report-caption").text_content()
    # The wide table scrolls in a labeled region that a keyboard can reach.
    region = page.doc.xpath('//div[@role="region"]')[0]
    assert region.get("tabindex") == "0" and region.get("aria-labelledby") == "report-caption"
    assert not page.doc.xpath('//nav[@aria-label="Report pages"]')  # one page: no pager


def test_no_activity_yet(buyer: Buyer) -> None:
    page = buyer.page(REPORTS)
    assert "No learner has opened a course yet." in page.by_id("report-empty").text_content()
    assert page.link("Download CSV").startswith("/dashboard/reports.csv?s=")


def test_the_filter_form_has_its_fields_and_choices(buyer: Buyer, activity: None) -> None:
    page = buyer.page(REPORTS)
    for name in ("Course", "License type", "Status", "From", "To"):
        page.field(name)
    assert [o.text_content() for o in page.field("Course").xpath("option")] == [
        "All courses", "Forklift Basics (VOL-1)", "Workplace Safety (PLUS-1)"]
    assert [o.text_content() for o in page.field("License type").xpath("option")] == [
        "All license types", "Plus", "Volume", "Pay Per Use"]
    assert [o.get("value") for o in page.field("Status").xpath("option")] == [
        "", "not_started", "in_progress", "failed", "completed", "passed"]
    assert page.field("From").get("type") == "date" and page.field("To").get("type") == "date"
    form = page.form_of(page.button("Filter"))
    assert form.get("method") == "get" and form.xpath('.//input[@name="s"]')  # the session travels with it


@pytest.mark.parametrize(("changes", "learners"), [
    ({"course": "PLUS-1"}, ["No name or email sent", "Ada Lovelace ada@example.com"]),
    ({"license_type": "volume"}, ["Ben Okafor ben@example.com", "Ada Lovelace ada@example.com"]),
    ({"status": "failed"}, ["Ben Okafor ben@example.com"]),
    ({"status": "not_started"}, ["Ada Lovelace ada@example.com"]),
    ({"from": "2026-01-05", "to": "2026-01-11"}, ["Ben Okafor ben@example.com"]),  # To takes its whole day
    ({"from": "2026-01-03"}, ["No name or email sent", "Ben Okafor ben@example.com", "Ada Lovelace ada@example.com"]),
    ({"to": "2026-01-01"}, ["Ada Lovelace ada@example.com"]),
    ({"course": "VOL-1", "status": "passed", "from": "2026-01-01", "to": "2026-01-31"},
     ["Ada Lovelace ada@example.com"]),
    ({"status": "completed"}, []),
])
def test_each_filter(buyer: Buyer, activity: None, changes: dict[str, str], learners: list[str]) -> None:
    page = filtered(buyer, **changes)
    assert [row[0] for row in table(page)] == learners
    for name, value in changes.items():  # the form shows what was asked
        element = page.doc.xpath(f'//form//*[@name="{name}"]')[0]
        shown = element.xpath("option[@selected]/@value") if element.tag == "select" else [element.get("value")]
        assert shown == [value]
    if not learners:
        assert page.by_id("report-empty").text_content() == "No learner matches these filters."
    assert query_of(page.link("Download CSV")) == {**changes, "s": buyer.token}
    assert query_of(page.link("Clear filters")) == {"s": buyer.token}


def field_error(page: Page, label: str) -> str:
    element = page.field(label)
    assert element.get("aria-invalid") == "true"
    return page.described_by(element)


@pytest.mark.parametrize(("args", "label", "message"), [
    ({"course": "NOPE-1"}, "Course", "There is no course with this catalog id: choose one from the list."),
    ({"course": "X" * 5_000}, "Course", "There is no course with this catalog id: choose one from the list."),
    ({"license_type": "gold"}, "License type", "Choose a license type from the list."),
    ({"status": "done"}, "Status", "Choose a status from the list."),
    ({"from": "yesterday"}, "From", "Enter a date as YYYY-MM-DD, for example 2026-01-31."),
    ({"to": "2026-02-30"}, "To", "Enter a date as YYYY-MM-DD, for example 2026-01-31."),
    ({"to": "9999-12-31"}, "To", "Enter a date between 1900 and 2999."),
    ({"from": "0001-01-01"}, "From", "Enter a date between 1900 and 2999."),
    ({"from": "2026-03-01", "to": "2026-02-01"}, "To", "The end date must be on or after the start date."),
])
def test_bad_filters_get_a_message_next_to_the_field(buyer: Buyer, activity: None, args: dict[str, str], label: str,
                                                     message: str) -> None:
    for path in (REPORTS, REPORTS + ".csv"):
        response = buyer.get(path, **args)
        assert response.status_code == 400, response.get_data(as_text=True)[:1000]
        page = Page(response)
        assert field_error(page, label) == message
        assert not table(page) and not page.links("Download CSV")
        assert response.headers["Content-Type"].startswith("text/html")


def test_a_nul_in_a_filter_is_refused(buyer: Buyer, activity: None) -> None:
    for path in (REPORTS, REPORTS + ".csv"):
        response = buyer.get(path, course="VOL-1\x00")
        assert response.status_code == 400
        assert "Traceback" not in response.get_data(as_text=True)


# ---------------------------------------------------------------- pages


def test_pages_keep_the_filters(app: Flask, buyer: Buyer, committing_sessions: Sessions, account: int,
                                activity: None) -> None:
    bulk_launches(committing_sessions, account, "VOL-1", 62, T0 + timedelta(days=30))
    first = filtered(buyer, license_type="volume")
    assert len(table(first)) == 50 and "64 rows, page 1 of 2" in first.by_id("report-caption").text_content()
    assert not first.links("Previous")
    assert query_of(first.link("Next")) == {"license_type": "volume", "page": "2", "s": buyer.token}
    second = Page(buyer.client.get(first.link("Next")))
    rows = table(second)
    assert len(rows) == 14 and not second.links("Next")
    assert [r[0] for r in rows[-2:]] == ["Ben Okafor ben@example.com", "Ada Lovelace ada@example.com"]
    assert query_of(second.link("Previous")) == {"license_type": "volume", "page": "1", "s": buyer.token}
    names = {r[0] for r in table(first) + rows}
    assert len(names) == 64  # no row on both pages
    beyond = buyer.page(REPORTS, license_type="volume", page="9")
    assert not table(beyond) and "No rows on this page" in beyond.by_id("report-empty").text_content()
    assert buyer.page(REPORTS, page="abc").status == 200  # a page number that is not one: the first


# ---------------------------------------------------------------- the CSV


def test_the_csv_is_exactly_the_filtered_table(buyer: Buyer, activity: None) -> None:
    page = filtered(buyer, license_type="volume", **{"from": "2026-01-01"})
    response = download(buyer, page)
    assert response.is_streamed
    assert response.headers["Content-Type"].startswith("text/csv")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=\"learner-report-") and disposition.endswith('.csv"')
    lines = csv_of(response)
    assert tuple(lines[0]) == CSV_HEADER
    column = {name: i for i, name in enumerate(CSV_HEADER)}
    shown = table(page)
    assert len(lines) - 1 == len(shown) == 2
    for line, row in zip(lines[1:], shown, strict=True):
        learner = " ".join(x for x in (line[column["learner_name"]], line[column["email"]]) if x)
        assert learner == row[0]
        assert f"{line[column['course_title']]} {line[column['course_id']]}" == row[1]
        assert line[column["first_launch"]][:16].replace("T", " ") == row[2]
        assert line[column["last_launch"]][:16].replace("T", " ") == row[3]
        assert line[column["status"]] == row[4]
        assert f"{line[column['score_percent']]} %" == row[5]
        assert line[column["time_spent"]] == row[6]
        assert line[column["license_types"]] == row[7] and line[column["delivery_methods"]] == row[8]


def test_the_unfiltered_csv_holds_every_row(buyer: Buyer, activity: None) -> None:
    lines = csv_of(download(buyer, buyer.page(REPORTS)))
    assert len(lines) == 5 and [line[0] for line in lines[1:]] == ["", "Ben Okafor", "Ada Lovelace", "Ada Lovelace"]


def test_a_big_csv_is_sent_while_its_rows_are_still_being_fetched(app: Flask, buyer: Buyer,
                                                                  committing_sessions: Sessions, account: int) -> None:
    """1,200 rows are read 500 at a time (one query for each batch's identities): when the first
    lines reach the client, only the first batch has been fetched; the rest follow as it reads."""
    bulk_launches(committing_sessions, account, "VOL-1", 1_200, T0)
    fetched: list[int] = []

    def count_batches(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "learners.identity_source" in statement:  # the identities of one batch of rows
            fetched.append(1)

    engine = services_of(app).engine
    event.listen(engine, "before_cursor_execute", count_batches)
    try:
        response = buyer.get(REPORTS + ".csv")
        assert response.status_code == 200 and response.is_streamed
        chunks = iter(response.response)
        header = next(chunks)
        assert header.startswith(b"learner_name,") and fetched == []
        first = next(chunks)
        assert first.startswith(b"Learner ") and len(fetched) == 1
        rest = list(chunks)
        assert len(rest) == 1_199 and len(fetched) == 3
    finally:
        event.remove(engine, "before_cursor_execute", count_batches)
        response.close()


# ---------------------------------------------------------------- visibility and access


def test_a_learners_self_bought_license_stays_private(buyer: Buyer, committing_sessions: Sessions,
                                                      account: int) -> None:
    """Ada learns at work (a seat of the organization) and on her own (a course she bought in her
    own independent learner account, same address, identity linking on in both)."""
    set_identity_linking(committing_sessions, account, True)
    claim(committing_sessions, account, "VOL-1", LearnerIdentity(LMS, "sub-ada", name="Ada", email="ada@example.com"))
    own = create_account(committing_sessions, "Ada Lovelace", T0, kind="individual").id
    licenses.grant_volume(committing_sessions, own, "PLUS-1", 1, T0)  # what her purchase in the store gives
    set_identity_linking(committing_sessions, own, True)
    mine = claim(committing_sessions, own, "PLUS-1", LearnerIdentity("login:1", "1", email="ada@example.com"), days=1)
    progress(committing_sessions, mine, "PLUS-1", "completed", "passed", 1.0)
    page = buyer.page(REPORTS)
    assert [row[1] for row in table(page)] == ["Forklift Basics VOL-1"]
    assert "PLUS-1" not in page.html and "Workplace Safety" not in page.html  # not even as a filter choice
    lines = csv_of(download(buyer, page))
    assert [line[3] for line in lines[1:]] == ["VOL-1"]
    assert "PLUS-1" not in "".join(",".join(line) for line in lines)
    assert not table(buyer.page(REPORTS, course="PLUS-1"))


@pytest.mark.parametrize("path", [REPORTS, REPORTS + ".csv"])
def test_learners_and_strangers_are_refused(app: Flask, client: Any, committing_sessions: Sessions, account: int,
                                            path: str) -> None:
    learner = make_buyer(app, committing_sessions, account, is_admin=False, external_id="learner-1")
    assert learner.get(path).status_code == 403
    assert client.get(path, headers={"Sec-Fetch-Dest": "iframe"}).status_code == 401
    assert client.get(path).status_code == 303  # outside an LMS: the sign-in page
