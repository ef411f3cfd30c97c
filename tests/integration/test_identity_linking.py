"""Identity linking: one person across delivery methods occupies one seat (account setting)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.linking import is_identity_linking, set_identity_linking
from store.accounts.models import Learner, PersonKey
from store.accounts.service import LearnerIdentity
from store.errors import NotFound
from store.licenses import service
from store.licenses.models import PlusSubscription, Seat, VolumeLot
from store.licenses.service import ClaimRequest, ClaimResult, claim_seat
from store.progress.service import SeatNotYours, open_player
from tests.factories.catalog import make_course
from tests.factories.licenses import T0, make_account

Sessions = sessionmaker[Session]
ISS = "lti:https://lms.example.edu"


def lti(sub: str, email: str | None = None, username: str | None = None) -> LearnerIdentity:
    return LearnerIdentity(ISS, sub, name="Ada Lovelace", email=email, username=username)


def package(learner_id: str, key: str = "PKG1") -> LearnerIdentity:
    return LearnerIdentity(f"package:{key}", learner_id, name="Lovelace, Ada", package_format="scorm12")


def setup(sessions: Sessions, *, link: bool, name: str = "Link Org", seats: int = 10) -> tuple[int, str]:
    account_id = make_account(sessions, name).id
    with sessions.begin() as s:
        course = make_course(s, is_plus=True).catalog_id
    service.grant_volume(sessions, account_id, course, seats, T0)
    service.grant_plus(sessions, account_id, seats, "annual", T0)
    if link:
        assert set_identity_linking(sessions, account_id, True) is True
        assert is_identity_linking(sessions, account_id) is True
    return account_id, course


def claim(sessions: Sessions, account_id: int, course: str, who: LearnerIdentity, license_type: str = "volume",
          ) -> ClaimResult:
    return claim_seat(sessions, ClaimRequest(account_id, license_type, course, who), T0)


def seat_count(sessions: Sessions) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Seat)) or 0)


def test_off_by_default_each_delivery_method_takes_its_own_seat(sessions: Sessions) -> None:
    account_id, course = setup(sessions, link=False)
    assert is_identity_linking(sessions, account_id) is False
    first = claim(sessions, account_id, course, lti("s1", "ada@example.com", "adal"))
    second = claim(sessions, account_id, course, package("adal"))
    assert first.ok and second.ok and first.seat.id != second.seat.id  # type: ignore[union-attr]
    assert second.is_new_seat
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(PersonKey)) == 0


@pytest.mark.parametrize("license_type", ["volume", "plus"])
def test_lti_and_package_launches_of_one_person_share_one_seat_by_username(sessions: Sessions,
                                                                           license_type: str) -> None:
    account_id, course = setup(sessions, link=True)
    first = claim(sessions, account_id, course, lti("s1", "ada@example.com", "AdaL"), license_type)
    second = claim(sessions, account_id, course, package("adal"), license_type)
    assert first.ok and second.ok
    assert second.seat.id == first.seat.id and not second.is_new_seat  # type: ignore[union-attr]
    assert first.learner_id != second.learner_id  # two identities, one person
    assert seat_count(sessions) == 1
    with sessions() as s:
        persons = s.execute(select(Learner.person_id).order_by(Learner.id)).scalars().all()
        assert persons == [first.learner_id, first.learner_id]


def test_email_links_an_invitation_to_an_lti_identity_case_insensitively(sessions: Sessions) -> None:
    account_id, course = setup(sessions, link=True)
    invited = claim(sessions, account_id, course,
                    LearnerIdentity(f"invite:{account_id}", "ada@example.com", email="ada@example.com"))
    launched = claim(sessions, account_id, course, lti("s1", " ADA@Example.com "))
    assert launched.seat.id == invited.seat.id  # type: ignore[union-attr]


def test_linked_identity_plays_the_seat_its_other_identity_took(sessions: Sessions) -> None:
    account_id, course = setup(sessions, link=True)
    first = claim(sessions, account_id, course, lti("s1", username="adal"))
    second = claim(sessions, account_id, course, package("adal"))
    assert second.seat is not None and second.learner_id is not None
    opened = open_player(sessions, second.seat.id, course, demo_content=True, learner_id=second.learner_id)
    assert opened.seat_id == first.seat.id  # type: ignore[union-attr]
    stranger = claim(sessions, account_id, course, lti("s2", username="someone-else"))
    with pytest.raises(SeatNotYours):
        open_player(sessions, first.seat.id, course, demo_content=True,  # type: ignore[union-attr]
                    learner_id=stranger.learner_id)


def test_identities_without_a_key_stay_apart(sessions: Sessions) -> None:
    account_id, course = setup(sessions, link=True)
    first = claim(sessions, account_id, course, lti("s1"))  # the LMS sent neither email nor username
    second = claim(sessions, account_id, course, package("s1"))  # a sub is never a username
    assert first.seat.id != second.seat.id  # type: ignore[union-attr]


def test_a_person_keeps_its_first_link_and_a_shared_key_stays_with_its_first_holder(sessions: Sessions) -> None:
    account_id, course = setup(sessions, link=True)
    ada = claim(sessions, account_id, course, lti("s1", "ada@example.com"))
    bob = claim(sessions, account_id, course, lti("s2", "bob@example.com", "bob"))
    # A package identity "bob" joins Bob; later the same LTI identity of Ada sends Bob's username:
    # Ada stays Ada (no merge), and the username stays Bob's.
    assert claim(sessions, account_id, course, package("bob")).seat.id == bob.seat.id  # type: ignore[union-attr]
    again = claim(sessions, account_id, course, lti("s1", "ada@example.com", "bob"))
    assert again.seat.id == ada.seat.id  # type: ignore[union-attr]
    with sessions() as s:
        holder = s.scalar(select(PersonKey.person_id).where(PersonKey.kind == "username", PersonKey.value == "bob"))
    assert holder == bob.learner_id


def test_a_new_identity_whose_keys_belong_to_two_people_joins_the_email_holder(sessions: Sessions) -> None:
    account_id, course = setup(sessions, link=True)
    ada = claim(sessions, account_id, course, lti("s1", "ada@example.com"))
    claim(sessions, account_id, course, package("adal"))  # a person of its own: username adal
    both = claim(sessions, account_id, course, LearnerIdentity("lti:https://other.example.edu", "x",
                                                               email="ada@example.com", username="adal"))
    assert both.seat.id == ada.seat.id  # type: ignore[union-attr]


def test_linking_never_crosses_accounts(sessions: Sessions) -> None:
    org, course = setup(sessions, link=True, name="Org A")
    other = make_account(sessions, "Org B").id
    service.grant_volume(sessions, other, course, 5, T0)
    set_identity_linking(sessions, other, True)
    a = claim(sessions, org, course, lti("s1", "ada@example.com"))
    b = claim(sessions, other, course, lti("s9", "ada@example.com"))
    assert a.seat.id != b.seat.id  # type: ignore[union-attr]


def test_switching_it_needs_a_known_account(sessions: Sessions) -> None:
    with pytest.raises(NotFound):
        set_identity_linking(sessions, "No Such Org", True)
    with pytest.raises(NotFound):
        is_identity_linking(sessions, 999_999)


def test_turned_off_again_new_seats_are_per_identity(sessions: Sessions) -> None:
    account_id, course = setup(sessions, link=True)
    claim(sessions, account_id, course, lti("s1", username="adal"))
    set_identity_linking(sessions, account_id, False)
    second = claim(sessions, account_id, course, package("adal"))
    assert second.is_new_seat and seat_count(sessions) == 2


# ---------------------------------------------------------------- races (real threads, both databases)


@pytest.mark.race
@pytest.mark.parametrize("license_type", ["volume", "plus"])
def test_first_launches_of_one_person_by_two_methods_at_once_take_one_seat(committing_sessions: Sessions,
                                                                           license_type: str) -> None:
    account_id, course = setup(committing_sessions, link=True, seats=50)
    people = 8
    identities = [lti(f"s{i}", f"p{i}@example.com", f"user{i}") for i in range(people)]
    identities += [package(f"USER{i}") for i in range(people)]
    barrier = threading.Barrier(len(identities), timeout=60)

    def task(i: int) -> ClaimResult:
        barrier.wait()
        return claim(committing_sessions, account_id, course, identities[i], license_type)

    with ThreadPoolExecutor(max_workers=len(identities)) as pool:
        results = list(pool.map(task, range(len(identities))))
    assert Counter(r.ok for r in results) == {True: 2 * people}
    for i in range(people):
        assert results[i].seat.id == results[people + i].seat.id  # type: ignore[union-attr]
    assert seat_count(committing_sessions) == people
    with committing_sessions() as s:
        used = s.scalar(select(func.sum(VolumeLot.seats_used))) if license_type == "volume" \
            else s.scalar(select(PlusSubscription.seats_used))
        assert used == people
        assert s.scalar(select(func.count(func.distinct(Learner.person_id)))) == people


@pytest.mark.race
def test_linked_identities_launching_a_new_course_at_once_take_one_seat(committing_sessions: Sessions) -> None:
    """Keys already linked (nobody waits on a key insert): the person's unique seat index decides."""
    account_id, first_course = setup(committing_sessions, link=True, seats=50)
    with committing_sessions.begin() as s:
        course = make_course(s, is_plus=False).catalog_id
    service.grant_volume(committing_sessions, account_id, course, 50, T0)
    people = 8
    identities = [lti(f"s{i}", f"p{i}@example.com", f"user{i}") for i in range(people)]
    identities += [package(f"user{i}") for i in range(people)]
    for who in identities:  # linked beforehand, through another course
        assert claim(committing_sessions, account_id, first_course, who).ok
    barrier = threading.Barrier(len(identities), timeout=60)

    def task(i: int) -> ClaimResult:
        barrier.wait()
        return claim(committing_sessions, account_id, course, identities[i])

    with ThreadPoolExecutor(max_workers=len(identities)) as pool:
        results = list(pool.map(task, range(len(identities))))
    assert all(r.ok for r in results)
    assert len({r.seat.id for r in results}) == people  # type: ignore[union-attr]
    with committing_sessions() as s:
        lot_used = s.scalar(select(VolumeLot.seats_used).join(Seat, Seat.lot_id == VolumeLot.id)
                            .where(Seat.id == results[0].seat.id))  # type: ignore[union-attr]
    assert lot_used == people
