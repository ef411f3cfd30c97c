"""What the store pages read and write in the domain, on both databases: the catalog's languages
(index seeks) and publishers, course facts by catalog id in one query, PPU seats per course, and
adding several courses to the PPU library in one all-or-nothing transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.catalog.models import Course
from store.catalog.queries import catalog_languages, publisher_names, search_courses
from store.catalog.service import import_records
from store.errors import InvalidInput, NotFound
from store.licenses import queries
from store.licenses.models import PpuLibraryEntry
from store.licenses.service import (
    MAX_LIBRARY_ADDS,
    add_courses_to_ppu_library,
    add_to_ppu_library,
    configure_ppu,
)
from tests.factories.licenses import claim, make_account

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def rec(catalog_id: str, **changes: object) -> dict[str, object]:
    return {"id": catalog_id, "title": f"Course {catalog_id}", "publisher": "Safe Co", "volume_price_cents": 1_000,
            "ppu_price_cents": 2_000, **changes}


@pytest.fixture
def account(sessions: sessionmaker[Session]) -> int:
    import_records(sessions, [
        rec("A", language="en"), rec("B", language="en-GB", publisher="Émile Éditions"), rec("C", language="de"),
        rec("D", language="ja", status="retired", publisher="ábaco"), rec("E", plus=True, bundle="TED@Work",
                                                                          bundle_subscription_only=True),
    ], full=True, now=NOW)
    return make_account(sessions, now=NOW).id


def library(sessions: sessionmaker[Session], account: int) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(Course.catalog_id).join(PpuLibraryEntry,
                                                                     PpuLibraryEntry.course_pk == Course.id)
                                      .where(PpuLibraryEntry.account_id == account)))


def test_languages_and_publishers(sessions: sessionmaker[Session], account: int) -> None:
    with sessions() as session:
        assert catalog_languages(session) == ["de", "en", "en-GB", "ja"]
        assert publisher_names(session) == ["ábaco", "Émile Éditions", "Safe Co"]
        # The language filter resolves "en" through the same list: en and en-GB.
        assert [c.catalog_id for c in search_courses(session, language="en").courses] == ["A", "B", "E"]
        empty = session.scalar(select(func.count()).select_from(Course).where(Course.language == "xx"))
        assert empty == 0


def test_course_facts_by_catalog_id(sessions: sessionmaker[Session], account: int) -> None:
    with sessions() as session:
        found = queries.course_facts_by_catalog_id(session, ["A", "E", "D", "nope", "A"])
        assert sorted(found) == ["A", "D", "E"]
        assert found["E"].is_subscription_only_bundle and found["E"].is_plus
        assert found["D"].status == "retired" and found["A"].ppu_price_cents == 2_000
        assert queries.course_facts_by_catalog_id(session, []) == {}


def test_several_courses_join_the_library_in_one_go(sessions: sessionmaker[Session], account: int) -> None:
    configure_ppu(sessions, account, "PPU-1", 10_000, NOW)
    assert add_to_ppu_library(sessions, account, "A", NOW) is True
    assert add_courses_to_ppu_library(sessions, account, ["B", "A", "C", "B"], NOW) == ["B", "C"]
    assert library(sessions, account) == ["A", "B", "C"]
    assert add_to_ppu_library(sessions, account, "A", NOW) is False


@pytest.mark.parametrize(("picked", "error", "reason"), [
    (["A", "E"], InvalidInput, "bundle_excluded"),
    (["A", "D"], InvalidInput, "course_retired"),
    (["A", "Z"], NotFound, "unknown_course"),
    ([], InvalidInput, "nothing_selected"),
    ([f"X{n}" for n in range(MAX_LIBRARY_ADDS + 1)], InvalidInput, "too_many"),
])
def test_one_bad_course_adds_nothing(sessions: sessionmaker[Session], account: int, picked: list[str],
                                     error: type[Exception], reason: str) -> None:
    configure_ppu(sessions, account, "PPU-1", 10_000, NOW)
    with pytest.raises(error) as refused:
        add_courses_to_ppu_library(sessions, account, picked, NOW)
    assert refused.value.reason == reason  # type: ignore[attr-defined]
    assert library(sessions, account) == []


def test_the_library_needs_pay_per_use(sessions: sessionmaker[Session], account: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        add_courses_to_ppu_library(sessions, account, ["A"], NOW)
    assert refused.value.reason == "ppu_not_configured"


def test_ppu_seats_per_course(sessions: sessionmaker[Session], account: int) -> None:
    configure_ppu(sessions, account, "PPU-1", 10_000, NOW)
    add_courses_to_ppu_library(sessions, account, ["A", "B"], NOW)
    for who in ("x", "y"):
        assert claim(sessions, account, "ppu", "A", who, NOW).ok
    assert claim(sessions, account, "ppu", "B", "x", NOW).ok
    with sessions() as session:
        totals = queries.ppu_seat_totals(session, account)
    assert totals == {"A": queries.PpuSeatTotal(2, 4_000), "B": queries.PpuSeatTotal(1, 2_000)}
