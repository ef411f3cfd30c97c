"""The store's catalog page (/store): search, "Plus courses only", Publisher / Language / Duration
filters, pages, each course's title linking to its page with a badge of what the account holds,
Pay Per Use checkboxes with one Add to Library button, refused filters, and the page's SQL:
a fixed, small number of statements whatever it lists."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.services import services_of
from store.base import utcnow
from store.catalog.queries import catalog_languages, publisher_names
from store.catalog.service import import_records
from store.clock import add_months
from store.licenses.models import PpuLibraryEntry
from store.licenses.service import add_to_ppu_library, configure_ppu, grant_plus, grant_volume
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Page, make_buyer, query_of


def rec(catalog_id: str, title: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": catalog_id, "title": title, "publisher": "Safe Co", "description": "A course.",
                            "volume_price_cents": 5_000, "ppu_price_cents": 2_000, "plus": False,
                            "duration_minutes": 30, "language": "en"}
    base.update(changes)
    return base


CATALOG = [
    rec("C-100", "Workplace Safety", plus=True, duration_minutes=45),
    rec("C-200", "Advanced Forklift", publisher="Forklift Ltd", duration_minutes=90),
    rec("C-300", "Chemical Handling", language="de", duration_minutes=20),
    rec("C-400", "Ideas Worth Spreading", plus=True, bundle="TED@Work", bundle_subscription_only=True,
        publisher="TED", duration_minutes=15),
    rec("C-500", "Crane Signals", language="pt-BR", duration_minutes=150),
    rec("C-600", "Retired Safety Course", status="retired"),
    rec("C-700", "Ladder Safety", duration_minutes=60),
]


@pytest.fixture
def catalog(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    import_records(committing_sessions, CATALOG, full=True, now=utcnow())
    return make_account(committing_sessions, now=utcnow()).id


@pytest.fixture
def buyer(app: Flask, committing_sessions: sessionmaker[Session], catalog: int) -> Buyer:
    return make_buyer(app, committing_sessions, catalog)


def titles(page: Page) -> list[str]:
    return [" ".join(a.text_content().split()) for a in page.doc.xpath('//a[@class="store-result-title"]')]


def search(buyer: Buyer, **args: Any) -> Page:
    return buyer.page("/store", **args)


def test_the_search_form_and_its_controls(buyer: Buyer) -> None:
    page = search(buyer)
    assert page.h1 == "Store" and page.current_nav() == ["Store"]
    assert page.field("Search courses").get("type") == "search"
    assert page.field("Plus courses only").get("type") == "checkbox"
    publisher, language, duration = page.field("Publisher"), page.field("Language"), page.field("Duration")
    assert [o.text for o in publisher.xpath("option")] == ["All publishers", "Forklift Ltd", "Safe Co", "TED"]
    assert [o.text for o in language.xpath("option")] == ["All languages", "German", "English",
                                                          "Portuguese (pt-BR)"]
    assert [o.text for o in duration.xpath("option")] == ["Any duration", "30 minutes or less", "31 to 60 minutes",
                                                          "1 to 2 hours", "More than 2 hours"]
    form = page.form_of(page.button("Search"))
    assert form.get("method") == "get" and form.get("action") == "/store"
    assert form.xpath('.//input[@name="s"]')[0].get("value") == buyer.token  # the token rides along
    # The whole catalog by default (retired courses hidden), in title order.
    assert titles(page) == ["Advanced Forklift", "Chemical Handling", "Crane Signals", "Ideas Worth Spreading",
                            "Ladder Safety", "Workplace Safety"]


def test_each_title_links_to_its_course_page(buyer: Buyer) -> None:
    page = search(buyer, q="forklift")
    assert titles(page) == ["Advanced Forklift"]
    href = page.link("Advanced Forklift")
    assert href.startswith("/store/courses/C-200?") and query_of(href)["s"] == buyer.token
    assert buyer.page(href.split("?")[0]).h1 == "Advanced Forklift"


def test_search_words_and_the_plus_checkbox(buyer: Buyer) -> None:
    assert titles(search(buyer, q="safety")) == ["Ladder Safety", "Workplace Safety"]
    assert titles(search(buyer, q="safety", plus="1")) == ["Workplace Safety"]
    plus = search(buyer, plus="1")
    assert titles(plus) == ["Ideas Worth Spreading", "Workplace Safety"]
    assert plus.field("Plus courses only").get("checked") is not None
    assert search(buyer).field("Plus courses only").get("checked") is None


def test_publisher_language_and_duration_filters(buyer: Buyer) -> None:
    assert titles(search(buyer, publisher="Forklift Ltd")) == ["Advanced Forklift"]
    assert titles(search(buyer, language="de")) == ["Chemical Handling"]
    assert titles(search(buyer, language="pt-BR")) == ["Crane Signals"]
    assert titles(search(buyer, duration="0-30")) == ["Chemical Handling", "Ideas Worth Spreading"]
    assert titles(search(buyer, duration="31-60")) == ["Ladder Safety", "Workplace Safety"]
    assert titles(search(buyer, duration="61-120")) == ["Advanced Forklift"]
    assert titles(search(buyer, duration="121-")) == ["Crane Signals"]
    page = search(buyer, publisher="Safe Co", duration="31-60", q="ladder")
    assert titles(page) == ["Ladder Safety"]
    assert page.field("Publisher").xpath("option[@selected]")[0].text == "Safe Co"
    assert page.field("Duration").xpath("option[@selected]")[0].text == "31 to 60 minutes"
    assert page.field("Search courses").get("value") == "ladder"


@pytest.mark.parametrize(("name", "label", "value", "message"), [
    ("publisher", "Publisher", "Nobody Press", "Choose a publisher from the list."),
    ("language", "Language", "xx", "Choose a language from the list."),
    ("duration", "Duration", "5-10", "Choose a duration from the list."),
])
def test_a_value_not_in_a_filters_list_gets_a_message_next_to_it(buyer: Buyer, name: str, label: str, value: str,
                                                                 message: str) -> None:
    page = search(buyer, status=400, **{name: value})
    field = page.field(label)
    assert field.get("aria-invalid") == "true" and page.described_by(field) == message
    assert titles(page) == [] and "Correct the filter above" in page.text


def test_pages_of_twenty_keep_the_search(app: Flask, committing_sessions: sessionmaker[Session],
                                        buyer: Buyer) -> None:
    import_records(committing_sessions, [rec(f"P-{n:02d}", f"Paging Course {n:02d}") for n in range(1, 26)],
                   full=False, now=utcnow())
    first = search(buyer, q="paging")
    assert len(titles(first)) == 20 and "Page 1 of 2" in first.text and "(25)" in first.text
    assert first.links("‹ Previous") == []
    following = query_of(first.link("Next ›"))
    assert following == {"q": "paging", "page": "2", "s": buyer.token}
    second = search(buyer, **{k: v for k, v in following.items() if k != "s"})
    assert titles(second) == [f"Paging Course {n}" for n in range(21, 26)] and "Page 2 of 2" in second.text
    assert query_of(second.link("‹ Previous"))["page"] == "1"
    beyond = search(buyer, q="paging", page="9")
    assert titles(beyond) == [] and "No courses on this page" in beyond.text
    assert titles(search(buyer, q="paging", page="abc")) == titles(first)  # not a number: the first page


def badges(page: Page) -> dict[str, list[str]]:
    out = {}
    for item in page.doc.xpath('//li[@class="store-result"]'):
        title = " ".join(item.xpath('.//a[@class="store-result-title"]')[0].text_content().split())
        out[title] = [" ".join(b.text_content().split())
                      for b in item.xpath('.//div[@class="store-result-badges"]/span[contains(@class, "badge")]')]
    return out


def test_each_course_shows_what_the_account_holds_for_it(committing_sessions: sessionmaker[Session], catalog: int,
                                                        buyer: Buyer) -> None:
    now = utcnow()
    assert all(not found for found in badges(search(buyer)).values())
    grant_plus(committing_sessions, catalog, 5, "annual", now)
    grant_volume(committing_sessions, catalog, "C-200", 10, now)
    grant_volume(committing_sessions, catalog, "C-300", 10, add_months(now, -13))  # recorded 13 months ago
    grant_volume(committing_sessions, catalog, "C-500", 10, now, start=now + timedelta(days=30))
    configure_ppu(committing_sessions, catalog, "PPU-1", 50_000, now)
    add_to_ppu_library(committing_sessions, catalog, "C-700", now)
    found = badges(search(buyer))
    assert found["Workplace Safety"] == ["Plus licensed"]
    assert found["Ideas Worth Spreading"] == ["Plus licensed"]
    assert found["Advanced Forklift"] == ["Volume licensed"]
    assert found["Chemical Handling"] == ["Volume expired"]
    assert found["Crane Signals"] == [f"Volume from {now + timedelta(days=30):%Y-%m-%d}"]
    assert found["Ladder Safety"] == ["In PPU library"]


def test_an_account_without_pay_per_use_gets_no_library_checkboxes(buyer: Buyer) -> None:
    page = search(buyer)
    assert page.doc.xpath('//input[@name="catalog_id"]') == [] and page.buttons("Add to Library") == []


def test_pay_per_use_accounts_tick_courses_and_add_them_to_the_library(
        committing_sessions: sessionmaker[Session], catalog: int, buyer: Buyer) -> None:
    configure_ppu(committing_sessions, catalog, "PPU-1", 50_000, utcnow())
    add_to_ppu_library(committing_sessions, catalog, "C-700", utcnow())
    page = search(buyer, q="safety")
    boxes = {b.get("value"): page.label_text(b) for b in page.doc.xpath('//input[@name="catalog_id"]')}
    # Not the one already in the library; never a subscription-only course.
    assert boxes == {"C-100": "Select Workplace Safety for the library"}
    everything = search(buyer)
    ticks = sorted(b.get("value") for b in everything.doc.xpath('//input[@name="catalog_id"]'))
    assert ticks == ["C-100", "C-200", "C-300", "C-500"]
    button = everything.button("Add to Library")
    form = everything.form_of(button)
    assert form.get("method") == "post" and form.get("action") == "/store/library"
    response = buyer.submit(form, "Add to Library", catalog_id="C-200")
    # (the submit helper sends one catalog_id; the browser sends every ticked box)
    assert response.status_code == 303 and response.headers["Location"].startswith("/store?")
    back = Page(buyer.client.get(response.headers["Location"]))
    assert "Added to your Pay Per Use library: “Advanced Forklift”." in back.text
    assert badges(back)["Advanced Forklift"] == ["In PPU library"]
    response = buyer.post("/store/library", [("catalog_id", "C-300"), ("catalog_id", "C-500"),
                                             ("back", "/store?q=c")])
    assert response.status_code == 303 and response.headers["Location"] == "/store?q=c"
    assert library(committing_sessions) == ["C-200", "C-300", "C-500", "C-700"]


def library(sessions: sessionmaker[Session]) -> list[str]:
    from store.catalog.models import Course

    with sessions() as session:
        return sorted(session.scalars(select(Course.catalog_id).join(PpuLibraryEntry,
                                                                     PpuLibraryEntry.course_pk == Course.id)))


@pytest.mark.parametrize(("picked", "message"), [
    ([], "Tick at least one course to add to the library."),
    (["C-200", "C-400"], "Nothing was added: course 'C-400' is in a subscription-only bundle"),
    (["C-200", "C-600"], "Nothing was added: course 'C-600' is retired."),
    (["C-200", "C-999"], "Nothing was added: unknown course 'C-999'"),
])
def test_bad_library_additions_say_why_and_add_nothing(committing_sessions: sessionmaker[Session], catalog: int,
                                                       buyer: Buyer, picked: list[str], message: str) -> None:
    configure_ppu(committing_sessions, catalog, "PPU-1", 50_000, utcnow())
    back = f"/store?q=a&s={buyer.token}"
    response = buyer.post("/store/library", [*(("catalog_id", c) for c in picked), ("back", back)])
    assert response.status_code == 303 and response.headers["Location"] == back
    page = Page(buyer.client.get(response.headers["Location"]))
    errors = [" ".join(e.text_content().split()) for e in page.doc.xpath('//*[@class="field-error"]')]
    assert len(errors) == 1 and errors[0].startswith(message)
    # Next to the Add to Library button.
    assert page.doc.xpath('//div[@class="store-library-actions"]/p[@class="field-error"]')
    assert library(committing_sessions) == []


def test_library_additions_need_pay_per_use_and_the_csrf_token(committing_sessions: sessionmaker[Session],
                                                              buyer: Buyer, catalog: int) -> None:
    response = buyer.post("/store/library", {"catalog_id": "C-200", "back": f"/store/courses/C-200?s={buyer.token}"})
    assert response.status_code == 303
    page = Page(buyer.client.get(response.headers["Location"]))
    assert "Your organization does not use Pay Per Use" in page.text
    configure_ppu(committing_sessions, catalog, "PPU-1", 50_000, utcnow())
    refused = buyer.post("/store/library", {"catalog_id": "C-200", "back": "/store"}, csrf=False)
    assert refused.status_code == 400 and "csrf_failed" in refused.get_data(as_text=True)
    assert library(committing_sessions) == []


@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example/store", "/lti/home", "/store\\..",
                                  "javascript:alert(1)"])
def test_the_way_back_stays_in_the_store(committing_sessions: sessionmaker[Session], catalog: int, buyer: Buyer,
                                         back: str) -> None:
    configure_ppu(committing_sessions, catalog, "PPU-1", 50_000, utcnow())
    response = buyer.post("/store/library", {"catalog_id": "C-200", "back": back})
    assert response.headers["Location"] == f"/store/library?s={buyer.token}"


# ---------------------------------------------------------------- SQL per page


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    engine = services_of(app).engine
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's transaction start, not a query
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_catalog_page_runs_a_few_statements_whatever_it_lists(
        app: Flask, committing_sessions: sessionmaker[Session], catalog: int, buyer: Buyer) -> None:
    now = utcnow()
    import_records(committing_sessions, [rec(f"P-{n:02d}", f"Paging Course {n:02d}") for n in range(1, 41)],
                   full=False, now=now)
    grant_plus(committing_sessions, catalog, 5, "annual", now)
    for n in range(1, 21):
        grant_volume(committing_sessions, catalog, f"P-{n:02d}", 3, now)
    configure_ppu(committing_sessions, catalog, "PPU-1", 50_000, now)
    for n in range(21, 31):
        add_to_ppu_library(committing_sessions, catalog, f"P-{n:02d}", now)
    search(buyer)  # warm up: the session's CSRF token is stored, the frame policy cached
    counts = {}
    for label, args in (("one course", {"q": "workplace"}), ("twenty courses", {"q": "paging"}),
                        ("twenty, filtered", {"q": "paging", "publisher": "Safe Co", "language": "en",
                                              "duration": "0-30", "page": "2"})):
        with counting(app) as statements:
            page = search(buyer, **args)
        counts[label] = len(statements)
        assert page.status == 200
    assert len(titles(search(buyer, q="paging"))) == 20
    # web session (1), filter options (2), search count + rows (2), course facts (1), holdings:
    # subscriptions, lots, PPU configuration, library (4); with publisher and language filters
    # the search resolves them (2 more). Never one per course.
    assert counts["one course"] == counts["twenty courses"] <= 10, counts
    assert counts["twenty, filtered"] <= counts["twenty courses"] + 2, counts


def test_filter_options_never_scan_the_catalog(committing_sessions: sessionmaker[Session], catalog: int) -> None:
    with committing_sessions() as session:
        assert catalog_languages(session) == ["de", "en", "pt-BR"]
        assert publisher_names(session) == ["Forklift Ltd", "Safe Co", "TED"]
        plan = session.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT MIN(language) FROM courses WHERE language > 'de'"
        ).fetchall() if session.get_bind().dialect.name == "sqlite" else None
    if plan is not None:  # SQLite: the languages come from index seeks, not a table scan
        assert any("ix_courses_language" in str(row) for row in plan), plan
        assert not any("SCAN courses" == str(row[-1]) for row in plan), plan


def test_counts_helper_sees_statements(app: Flask, buyer: Buyer) -> None:
    with counting(app) as statements:
        buyer.get("/store")
    assert any("course" in statement for statement in statements), "the listener sees the app's statements"
