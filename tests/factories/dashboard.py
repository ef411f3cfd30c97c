"""An account with something on every dashboard tab, made through the real services: Plus (two
courses launched, one of them retiring with a replacement), Volume lots (one expired, one course
with all seats taken and a refused launch), a PPU deposit and library with seats bought from it,
and a failed renewal. Used by the dashboard's web and browser tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.service import LearnerIdentity
from store.catalog.models import Course
from store.licenses import service as licenses
from store.licenses.models import PlusSubscription
from store.licenses.service import ClaimRequest, ClaimResult, claim_seat
from store.orders.models import SubscriptionRenewal
from tests.factories.catalog import make_course
from tests.factories.licenses import make_account

Sessions = sessionmaker[Session]
ISS = "lti:https://lms.example.edu"


def claim(sessions: Sessions, account_id: int, license_type: str, course: str, who: str, now: datetime,
          name: str | None = None) -> ClaimResult:
    return claim_seat(sessions, ClaimRequest(account_id, license_type, course, LearnerIdentity(ISS, who, name=name)),
                      now)


def _courses(sessions: Sessions) -> None:
    with sessions.begin() as s:
        make_course(s, "P-1", title="Workplace Safety")
        make_course(s, "V-1", title="Advanced Forklift", is_plus=False, volume_price_cents=1_000)
        make_course(s, "V-2", title="Loading Docks", is_plus=False)
        make_course(s, "OLD-1", title="Crane Signals")
        make_course(s, "NEW-1", title="Crane Signals Today")
        make_course(s, "PPU-1", title="Ladder Safety", is_plus=False, ppu_price_cents=1_500)


def _retire(sessions: Sessions, now: datetime) -> None:
    with sessions.begin() as s:
        s.execute(update(Course).where(Course.catalog_id == "OLD-1").values(
            status="retiring", updated_at=now - timedelta(days=3),
            replacement_course_pk=select(Course.id).where(Course.catalog_id == "NEW-1").scalar_subquery()))


def _failed_renewal(sessions: Sessions, account_id: int, now: datetime) -> None:
    with sessions.begin() as s:
        sub = s.scalars(select(PlusSubscription).where(PlusSubscription.account_id == account_id)).one()
        s.add(SubscriptionRenewal(account_id=account_id, subscription_id=sub.id, period_end=sub.current_period_end,
                                  status="open", attempts=1, last_attempt_at=now - timedelta(hours=1),
                                  grace_until=now + timedelta(days=7), failure_reason="card_declined",
                                  failure_message="Your card was declined."))


def make_dashboard_account(sessions: Sessions, now: datetime, name: str = "Acme Learning") -> int:
    """The account (see the module docstring); ``now`` is the moment the pages are looked at."""
    _courses(sessions)
    account_id = make_account(sessions, name, now=now - timedelta(days=400)).id
    licenses.grant_plus(sessions, account_id, 10, "annual", now - timedelta(days=4))
    assert claim(sessions, account_id, "plus", "P-1", "ann", now - timedelta(days=3)).ok
    assert claim(sessions, account_id, "plus", "OLD-1", "bob", now - timedelta(days=1)).ok
    licenses.grant_volume(sessions, account_id, "V-1", 5, now - timedelta(days=380))  # expired 15 days ago
    licenses.grant_volume(sessions, account_id, "V-1", 20, now - timedelta(days=2))
    licenses.grant_volume(sessions, account_id, "V-2", 1, now - timedelta(days=2))
    assert claim(sessions, account_id, "volume", "V-1", "cy", now - timedelta(days=1)).ok
    assert claim(sessions, account_id, "volume", "V-2", "dee", now - timedelta(hours=5)).ok
    refused = claim(sessions, account_id, "volume", "V-2", "bea", now - timedelta(hours=2), name="Bea")
    assert refused.reason == "no_seats"
    licenses.configure_ppu(sessions, account_id, "CTR-1", 10_000, now - timedelta(days=2))
    licenses.add_to_ppu_library(sessions, account_id, "PPU-1", now - timedelta(days=2))
    for who in ("eve", "fay"):
        assert claim(sessions, account_id, "ppu", "PPU-1", who, now - timedelta(hours=3)).ok
    _retire(sessions, now)
    _failed_renewal(sessions, account_id, now)
    return account_id
