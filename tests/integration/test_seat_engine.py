"""The seat engine against a real database: every rule of seats and licenses (README: "How the engine decides a seat")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.clock import add_months
from store.errors import InvalidInput, NotFound
from store.licenses import service
from store.licenses.models import CourseLaunch, DepositEntry, LaunchRefusal, PlusSubscription, PpuConfig, Seat, VolumeLot
from tests.factories.catalog import make_bundle, make_course
from tests.factories.licenses import T0, claim, learner, make_account

Sessions = sessionmaker[Session]


@pytest.fixture
def account_id(sessions: Sessions) -> int:
    return make_account(sessions).id


@pytest.fixture
def catalog(sessions: Sessions) -> dict[str, str]:
    with sessions.begin() as s:
        ted = make_bundle(s, "TED@Work", subscription_only=True)
        return {
            "plus": make_course(s, "PLUS-1", is_plus=True).catalog_id,
            "plus2": make_course(s, "PLUS-2", is_plus=True).catalog_id,
            "vol": make_course(s, "VOL-1", is_plus=False, ppu_price_cents=2_500).catalog_id,
            "ted": make_course(s, "TED-1", is_plus=True, bundle=ted).catalog_id,
            "retired": make_course(s, "OLD-1", is_plus=True, status="retired").catalog_id,
        }


def count(sessions: Sessions, model: type, *where: object) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


# ------------------------------------------------------------------ Plus


def test_plus_seat_covers_every_plus_course_and_relaunch_takes_none(sessions: Sessions, account_id: int,
                                                                    catalog: dict[str, str]) -> None:
    service.grant_plus(sessions, account_id, 2, "annual", T0)
    first = claim(sessions, account_id, "plus", catalog["plus"], "ann", T0 + timedelta(days=1))
    assert first.ok and first.is_new_seat and first.seat and first.seat.license_type == "plus"
    again = claim(sessions, account_id, "plus", catalog["plus"], "ann", T0 + timedelta(days=2))
    other_course = claim(sessions, account_id, "plus", catalog["plus2"], "ann", T0 + timedelta(days=3))
    assert again.ok and not again.is_new_seat and again.seat and again.seat.id == first.seat.id
    assert other_course.ok and not other_course.is_new_seat
    with sessions() as s:
        sub = s.scalars(select(PlusSubscription)).one()
        assert sub.seats_used == 1
        launches = s.scalars(select(CourseLaunch).order_by(CourseLaunch.course_pk)).all()
        assert [launch.launch_count for launch in launches] == [2, 1]


def test_plus_refusals(sessions: Sessions, account_id: int, catalog: dict[str, str]) -> None:
    assert claim(sessions, account_id, "plus", catalog["plus"], "a", T0).reason == "no_license"
    service.grant_plus(sessions, account_id, 1, "monthly", T0)
    assert claim(sessions, account_id, "plus", catalog["vol"], "a", T0).reason == "not_covered"
    assert claim(sessions, account_id, "plus", catalog["plus"], "a", T0).ok
    assert claim(sessions, account_id, "plus", catalog["plus"], "b", T0).reason == "no_seats"
    after_term = add_months(T0, 1)
    # The subscription lapsed: even the seat holder is refused.
    assert claim(sessions, account_id, "plus", catalog["plus"], "a", after_term).reason == "license_expired"
    assert count(sessions, LaunchRefusal) == 4


def test_plus_may_deliver_subscription_only_bundle(sessions: Sessions, account_id: int,
                                                   catalog: dict[str, str]) -> None:
    service.grant_plus(sessions, account_id, 1, "annual", T0)
    assert claim(sessions, account_id, "plus", catalog["ted"], "a", T0).ok


def test_retired_course_takes_no_new_seat_but_holders_keep_theirs(sessions: Sessions, account_id: int,
                                                                   catalog: dict[str, str]) -> None:
    service.grant_plus(sessions, account_id, 5, "annual", T0)
    assert claim(sessions, account_id, "plus", catalog["retired"], "a", T0).reason == "course_retired"
    assert claim(sessions, account_id, "plus", catalog["plus"], "b", T0).ok
    # "b" holds a Plus seat: relaunching the retired Plus course reuses it.
    assert claim(sessions, account_id, "plus", catalog["retired"], "b", T0).ok


# ------------------------------------------------------------------ Volume


def test_volume_takes_oldest_valid_lot_and_expiry_refuses_holders(sessions: Sessions, account_id: int,
                                                                 catalog: dict[str, str]) -> None:
    old = service.grant_volume(sessions, account_id, catalog["vol"], 1, T0, start=add_months(T0, -11))
    new = service.grant_volume(sessions, account_id, catalog["vol"], 2, T0)
    a = claim(sessions, account_id, "volume", catalog["vol"], "a", T0)
    b = claim(sessions, account_id, "volume", catalog["vol"], "b", T0)
    assert a.seat and a.seat.lot_id == old.id
    assert b.seat and b.seat.lot_id == new.id
    # The old lot expires: its learner gets an error; new lot's learners go on.
    later = add_months(T0, 2)
    assert claim(sessions, account_id, "volume", catalog["vol"], "a", later).reason == "license_expired"
    assert claim(sessions, account_id, "volume", catalog["vol"], "b", later).ok
    assert claim(sessions, account_id, "volume", catalog["vol"], "c", later).ok
    assert claim(sessions, account_id, "volume", catalog["vol"], "d", later).reason == "no_seats"
    with sessions() as s:
        assert [lot.seats_used for lot in s.scalars(select(VolumeLot).order_by(VolumeLot.id))] == [1, 2]


def test_volume_refusals(sessions: Sessions, account_id: int, catalog: dict[str, str]) -> None:
    assert claim(sessions, account_id, "volume", catalog["vol"], "a", T0).reason == "no_license"
    service.grant_volume(sessions, account_id, catalog["vol"], 3, add_months(T0, -13))  # expired
    assert claim(sessions, account_id, "volume", catalog["vol"], "a", T0).reason == "license_expired"
    assert claim(sessions, account_id, "volume", catalog["ted"], "a", T0).reason == "bundle_excluded"
    assert claim(sessions, account_id, "volume", "NOPE", "a", T0).reason == "unknown_course"


def test_annual_retake(sessions: Sessions, account_id: int, catalog: dict[str, str]) -> None:
    service.grant_volume(sessions, account_id, catalog["vol"], 5, T0)
    first = claim(sessions, account_id, "volume", catalog["vol"], "a", T0)
    year_later = add_months(T0, 12) + timedelta(days=1)
    service.grant_volume(sessions, account_id, catalog["vol"], 5, year_later)
    assert claim(sessions, account_id, "volume", catalog["vol"], "a", year_later).reason == "retake_not_allowed"
    service.set_annual_retake(sessions, account_id, True)
    retake = claim(sessions, account_id, "volume", catalog["vol"], "a", year_later)
    assert retake.ok and retake.is_new_seat and retake.seat and first.seat
    assert retake.seat.attempt == 2 and retake.seat.id != first.seat.id
    again = claim(sessions, account_id, "volume", catalog["vol"], "a", year_later + timedelta(days=3))
    assert again.seat and again.seat.id == retake.seat.id and not again.is_new_seat


# ------------------------------------------------------------------ PPU


def test_ppu_debits_full_price_and_gives_a_twelve_month_seat(sessions: Sessions, account_id: int,
                                                            catalog: dict[str, str]) -> None:
    assert claim(sessions, account_id, "ppu", catalog["vol"], "a", T0).reason == "ppu_not_configured"
    service.configure_ppu(sessions, account_id, "CTR-1", 6_000, T0)
    assert claim(sessions, account_id, "ppu", catalog["vol"], "a", T0).reason == "not_in_library"
    assert service.add_to_ppu_library(sessions, account_id, catalog["vol"], T0) is True
    assert service.add_to_ppu_library(sessions, account_id, catalog["vol"], T0) is False
    a = claim(sessions, account_id, "ppu", catalog["vol"], "a", T0)
    assert a.ok and a.seat and a.seat.price_cents == 2_500 and a.seat.expires_at == add_months(T0, 12)
    assert claim(sessions, account_id, "ppu", catalog["vol"], "a", T0 + timedelta(days=30)).is_new_seat is False
    assert claim(sessions, account_id, "ppu", catalog["vol"], "b", T0).ok
    assert claim(sessions, account_id, "ppu", catalog["vol"], "c", T0).reason == "insufficient_deposit"
    with sessions() as s:
        assert s.scalars(select(PpuConfig.balance_cents)).one() == 1_000
        ledger = s.scalars(select(DepositEntry).order_by(DepositEntry.id)).all()
        assert [(e.kind, e.amount_cents, e.balance_after_cents) for e in ledger] == [
            ("deposit", 6_000, 6_000), ("seat", -2_500, 3_500), ("seat", -2_500, 1_000)]
        assert sum(e.amount_cents for e in ledger) == 1_000
    service.add_deposit(sessions, account_id, 1_500, T0)
    assert claim(sessions, account_id, "ppu", catalog["vol"], "c", T0).ok


def test_ppu_rejects_subscription_only_bundle(sessions: Sessions, account_id: int, catalog: dict[str, str]) -> None:
    service.configure_ppu(sessions, account_id, "CTR-1", 6_000, T0)
    with pytest.raises(InvalidInput) as err:
        service.add_to_ppu_library(sessions, account_id, catalog["ted"], T0)
    assert err.value.reason == "bundle_excluded"
    assert claim(sessions, account_id, "ppu", catalog["ted"], "a", T0).reason == "bundle_excluded"


def test_learner_is_never_charged_twice_for_one_course(sessions: Sessions, account_id: int,
                                                       catalog: dict[str, str]) -> None:
    service.grant_volume(sessions, account_id, catalog["vol"], 1, T0)
    service.configure_ppu(sessions, account_id, "CTR", 10_000, T0)
    service.add_to_ppu_library(sessions, account_id, catalog["vol"], T0)
    vol = claim(sessions, account_id, "volume", catalog["vol"], "a", T0)
    via_ppu = claim(sessions, account_id, "ppu", catalog["vol"], "a", T0)
    assert via_ppu.ok and not via_ppu.is_new_seat and via_ppu.seat and vol.seat
    assert via_ppu.seat.id == vol.seat.id
    with sessions() as s:
        assert s.scalars(select(PpuConfig.balance_cents)).one() == 10_000


# ------------------------------------------------------------------ identity and input


def test_same_id_from_another_identity_source_is_another_learner(sessions: Sessions, account_id: int,
                                                                 catalog: dict[str, str]) -> None:
    service.grant_plus(sessions, account_id, 5, "annual", T0)
    a = service.claim_seat(sessions, service.ClaimRequest(account_id, "plus", catalog["plus"], learner("42")), T0)
    b = service.claim_seat(
        sessions, service.ClaimRequest(account_id, "plus", catalog["plus"], learner("42", "package:abc")), T0)
    assert a.seat and b.seat and a.seat.id != b.seat.id
    assert count(sessions, Seat) == 2


def test_bad_input_changes_nothing(sessions: Sessions, account_id: int, catalog: dict[str, str]) -> None:
    for seats in (0, -3, 100_001):
        with pytest.raises(InvalidInput):
            service.grant_plus(sessions, account_id, seats, "annual", T0)
        with pytest.raises(InvalidInput):
            service.grant_volume(sessions, account_id, catalog["vol"], seats, T0)
    with pytest.raises(InvalidInput):
        service.grant_plus(sessions, account_id, 5, "weekly", T0)
    with pytest.raises(InvalidInput) as err:
        service.grant_volume(sessions, account_id, catalog["ted"], 5, T0)
    assert err.value.reason == "bundle_excluded"
    with pytest.raises(NotFound):
        service.grant_volume(sessions, 999_999, catalog["vol"], 5, T0)
    with pytest.raises(NotFound):
        service.grant_volume(sessions, account_id, "NOPE", 5, T0)
    with pytest.raises(InvalidInput):
        service.add_deposit(sessions, account_id, 100, T0)  # not configured
    with pytest.raises(InvalidInput):
        service.claim_seat(sessions, service.ClaimRequest(account_id, "gold", catalog["plus"], learner("a")), T0)
    assert count(sessions, PlusSubscription) == count(sessions, VolumeLot) == count(sessions, PpuConfig) == 0
    assert count(sessions, Seat) == 0


def test_adding_plus_seats_extends_the_active_subscription(sessions: Sessions, account_id: int) -> None:
    first = service.grant_plus(sessions, account_id, 10, "annual", T0)
    more = service.grant_plus(sessions, account_id, 5, "annual", add_months(T0, 3))
    assert more.id == first.id and more.seats_total == 15 and more.current_period_end == add_months(T0, 12)
    with pytest.raises(InvalidInput) as err:
        service.grant_plus(sessions, account_id, 5, "monthly", add_months(T0, 3))
    assert err.value.reason == "term_mismatch"
