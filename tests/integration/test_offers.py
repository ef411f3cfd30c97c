"""What an account can deliver now, as the deep-linking picker reads it (store.licenses.offers over
store.licenses.holdings), on both databases: license types per course, the licensed-course
listing with search, filters and pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from store.clock import add_months
from store.errors import InvalidInput
from store.licenses import holdings, offers
from store.licenses.models import PpuConfig, PpuLibraryEntry, VolumeLot
from store.licenses.service import add_to_ppu_library, configure_ppu, grant_plus, grant_volume
from tests.factories.catalog import make_bundle, make_course
from tests.factories.licenses import T0, claim, make_account

NOW = T0


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Courses: P plus-only, V volume-able, B subscription-only bundle (Plus), R retired Plus."""
    with sessions.begin() as session:
        ted = make_bundle(session, "TED@Work", subscription_only=True)
        ids = {
            "C-P1": make_course(session, "C-P1", title="Workplace Safety", is_plus=True).id,
            "C-P2": make_course(session, "C-P2", title="Fire Drills", is_plus=True, publisher="Blaze Press").id,
            "C-V1": make_course(session, "C-V1", title="Advanced Forklift", is_plus=False).id,
            "C-V2": make_course(session, "C-V2", title="Crane Operation", is_plus=False).id,
            "C-B1": make_course(session, "C-B1", title="Ideas Worth Spreading", is_plus=True, bundle=ted).id,
            "C-R1": make_course(session, "C-R1", title="Retired Safety", is_plus=True, status="retired").id,
        }
    return ids


def _account(sessions: sessionmaker[Session], name: str = "Acme Learning") -> int:
    return make_account(sessions, name, now=NOW).id


def _types(sessions: sessionmaker[Session], account_id: int, catalog_id: str,
           now: datetime = NOW) -> tuple[str, ...]:
    with sessions() as session:
        return holdings.deliverable_license_types(session, account_id, catalog_id, now)


def _listing(sessions: sessionmaker[Session], account_id: int, query: str = "", *, now: datetime = NOW,
             **kw: Any) -> offers.OfferPage:
    with sessions() as session:
        return offers.search_licensed_courses(session, account_id, now, query, **kw)


def _listed(page: offers.OfferPage) -> dict[str, tuple[str, ...]]:
    return {offer.catalog_id: offer.license_types for offer in page.offers}


def test_no_license_no_courses(sessions, catalog) -> None:
    account = _account(sessions)
    page = _listing(sessions, account)
    assert (page.total, page.offers, page.held_types, page.pages) == (0, (), (), 1)
    assert _types(sessions, account, "C-P1") == ()
    assert _types(sessions, account, "C-404") == ()


def test_plus_delivers_every_plus_course_while_the_subscription_is_active(sessions, catalog) -> None:
    account = _account(sessions)
    other = _account(sessions, "Other Org")
    grant_plus(sessions, account, 5, "annual", NOW)
    page = _listing(sessions, account)
    # The bundle course is a Plus course; the retired one and non-Plus courses are not offered.
    assert _listed(page) == {"C-P1": ("plus",), "C-P2": ("plus",), "C-B1": ("plus",)}
    assert page.held_types == ("plus",)
    assert _types(sessions, account, "C-V1") == () and _types(sessions, account, "C-R1") == ()
    assert _listing(sessions, other).total == 0  # another account's subscription is not ours
    # A full subscription still delivers: seat holders open any Plus course.
    grant_plus(sessions, other, 1, "monthly", NOW)
    claim(sessions, other, "plus", "C-P1", "learner-1", NOW)
    assert _types(sessions, other, "C-P2") == ("plus",)
    # Over once its term ends (annual: 12 months), and not before it starts.
    later = add_months(NOW, 12) + timedelta(seconds=1)
    assert _listing(sessions, account, now=later).total == 0 and _types(sessions, account, "C-P1", later) == ()
    assert _types(sessions, account, "C-P1", NOW - timedelta(days=1)) == ()


def test_volume_needs_a_valid_lot_for_that_course(sessions, catalog) -> None:
    account = _account(sessions)
    grant_volume(sessions, account, "C-V1", 1, NOW)
    grant_volume(sessions, _account(sessions, "Other Org"), "C-V2", 3, NOW)
    assert _listed(_listing(sessions, account)) == {"C-V1": ("volume",)}
    assert _types(sessions, account, "C-V2") == ()
    claim(sessions, account, "volume", "C-V1", "learner-1", NOW)  # the lot is full: still delivers
    assert _types(sessions, account, "C-V1") == ("volume",)
    expired = add_months(NOW, 12)
    assert _types(sessions, account, "C-V1", expired) == () and _listing(sessions, account, now=expired).total == 0
    # A lot bought later (a renewal) delivers again.
    grant_volume(sessions, account, "C-V1", 5, expired, start=expired - timedelta(days=1))
    assert _types(sessions, account, "C-V1", expired) == ("volume",)


def test_ppu_delivers_library_courses_when_configured_and_enabled(sessions, catalog) -> None:
    account = _account(sessions)
    configure_ppu(sessions, account, "PPU-1", 0, NOW)  # an empty deposit still delivers: top-up is asked at launch
    assert _listing(sessions, account).held_types == ()  # configured, empty library
    add_to_ppu_library(sessions, account, "C-V2", NOW)
    page = _listing(sessions, account)
    assert _listed(page) == {"C-V2": ("ppu",)} and page.held_types == ("ppu",)
    with sessions.begin() as session:
        session.execute(update(PpuConfig).where(PpuConfig.account_id == account).values(is_enabled=False))
    assert _listing(sessions, account).total == 0 and _types(sessions, account, "C-V2") == ()


def test_subscription_only_bundle_only_under_plus_and_retired_never(sessions, catalog) -> None:
    account = _account(sessions)
    configure_ppu(sessions, account, "PPU-1", 10_000, NOW)
    with sessions.begin() as session:  # rows the services refuse to make (say the bundle changed later)
        for course in ("C-B1", "C-R1"):
            session.add(VolumeLot(account_id=account, course_pk=catalog[course], seats_total=5, seats_used=0,
                                  purchased_at=NOW, expires_at=add_months(NOW, 12)))
            session.add(PpuLibraryEntry(account_id=account, course_pk=catalog[course], added_at=NOW))
    assert _listing(sessions, account).total == 0
    assert _types(sessions, account, "C-B1") == () and _types(sessions, account, "C-R1") == ()
    grant_plus(sessions, account, 5, "annual", NOW)
    assert _types(sessions, account, "C-B1") == ("plus",) and _types(sessions, account, "C-R1") == ()
    assert _listed(_listing(sessions, account, license_type="volume")) == {}


def test_several_license_types_filters_search_and_consistency(sessions, catalog) -> None:
    account = _account(sessions)
    grant_plus(sessions, account, 5, "annual", NOW)
    grant_volume(sessions, account, "C-P1", 10, NOW)
    grant_volume(sessions, account, "C-V1", 10, NOW)
    configure_ppu(sessions, account, "PPU-1", 10_000, NOW)
    add_to_ppu_library(sessions, account, "C-P1", NOW)
    add_to_ppu_library(sessions, account, "C-V2", NOW)

    everything = _listing(sessions, account)
    assert _listed(everything) == {"C-P1": ("plus", "volume", "ppu"), "C-P2": ("plus",), "C-B1": ("plus",),
                                   "C-V1": ("volume",), "C-V2": ("ppu",)}
    assert everything.held_types == ("plus", "volume", "ppu")
    # Browsing is in title order; each row's types are the per-course answer.
    assert [o.title for o in everything.offers] == sorted(o.title for o in everything.offers)
    for offer in everything.offers:
        assert offer.license_types and offer.license_types == _types(sessions, account, offer.catalog_id)
    assert next(o for o in everything.offers if o.catalog_id == "C-P1").is_ambiguous

    assert set(_listed(_listing(sessions, account, license_type="volume"))) == {"C-P1", "C-V1"}
    assert set(_listed(_listing(sessions, account, license_type="ppu"))) == {"C-P1", "C-V2"}
    assert set(_listed(_listing(sessions, account, license_type="plus"))) == {"C-P1", "C-P2", "C-B1"}
    # The catalog's full-text search: words, prefixes, publisher; only licensed courses.
    assert set(_listed(_listing(sessions, account, "forklift"))) == {"C-V1"}
    assert set(_listed(_listing(sessions, account, "safe"))) == {"C-P1"}  # not the retired "Retired Safety"
    assert set(_listed(_listing(sessions, account, "blaze"))) == {"C-P2"}
    assert _listing(sessions, account, "forklift", license_type="plus").total == 0
    assert _listing(sessions, account, '"); DROP TABLE courses; --').total == 0
    with pytest.raises(InvalidInput):
        _listing(sessions, account, license_type="gold")
    with pytest.raises(InvalidInput):
        _listing(sessions, account, page=0)


def test_paging_through_the_plus_catalog(sessions) -> None:
    account = _account(sessions)
    with sessions.begin() as session:
        for n in range(23):
            make_course(session, f"C-{n:03d}", title=f"Course {n:03d}", is_plus=True)
        make_course(session, "C-999", title="Not Plus", is_plus=False)
    grant_plus(sessions, account, 5, "annual", NOW)
    first = _listing(sessions, account, per_page=10)
    third = _listing(sessions, account, page=3, per_page=10)
    assert (first.total, first.pages, first.has_next, first.has_previous) == (23, 3, True, False)
    assert [o.catalog_id for o in first.offers] == [f"C-{n:03d}" for n in range(10)]
    assert [o.catalog_id for o in third.offers] == ["C-020", "C-021", "C-022"] and not third.has_next
    beyond = _listing(sessions, account, page=9, per_page=10)
    assert beyond.page == 3 and [o.catalog_id for o in beyond.offers] == ["C-020", "C-021", "C-022"]


def test_offers_for_a_selection(sessions, catalog) -> None:
    account = _account(sessions)
    grant_volume(sessions, account, "C-V1", 1, NOW)
    with sessions() as session:
        found = offers.offers_for(session, account, ["C-V1", "C-P1", "C-404", ""], NOW)
    assert set(found) == {"C-V1", "C-P1"}
    assert found["C-V1"].license_types == ("volume",) and found["C-V1"].publisher == "Factory Publishing"
    assert found["C-P1"].license_types == ()
