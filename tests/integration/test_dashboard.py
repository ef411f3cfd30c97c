"""The admin dashboard's reads: Plus seats, seats per day with the projection, Plus courses,
Volume courses and lots, the PPU library, Needs Attention, the package format."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.linking import set_identity_linking
from store.accounts.service import LearnerIdentity
from store.catalog.models import Course
from store.dashboard.service import (
    dashboard,
    needs_attention,
    package_format,
    plus_courses,
    plus_summary,
    ppu_library,
    purchased_courses,
    seats_used_per_day,
    set_package_format,
)
from store.errors import InvalidInput, NotFound
from store.licenses import service
from store.licenses.models import PlusSubscription
from store.licenses.service import ClaimRequest, claim_seat
from store.orders.models import SubscriptionRenewal
from store.progress.models import CourseProgress
from tests.factories.catalog import make_course
from tests.factories.licenses import T0, make_account

Sessions = sessionmaker[Session]
ISS = "lti:https://lms.example.edu"


def claim(sessions: Sessions, account_id: int, course: str, who: str, now=T0, license_type="plus", **extra):  # type: ignore[no-untyped-def]
    return claim_seat(sessions, ClaimRequest(account_id, license_type, course, LearnerIdentity(ISS, who, **extra)),
                      now)


@pytest.fixture
def org(sessions: Sessions) -> int:
    return make_account(sessions, "Dash Org").id


def course(sessions: Sessions, catalog_id: str, **kw) -> str:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        return make_course(s, catalog_id, title=f"Title {catalog_id}", **kw).catalog_id


def test_plus_seats_available(sessions: Sessions, org: int) -> None:
    with sessions() as s:
        assert plus_summary(s, org, T0) is None and seats_used_per_day(s, org, T0) is None
    p1 = course(sessions, "P-1")
    service.grant_plus(sessions, org, 10, "annual", T0)
    for i in range(3):
        assert claim(sessions, org, p1, f"u{i}").ok
    with sessions() as s:
        summary = plus_summary(s, org, T0 + timedelta(days=1))
    assert summary is not None and summary.text == "Available Plus seats: 7 of 10"
    assert (summary.term, summary.status, summary.renews) == ("annual", "active", False)  # granted: never charged


def test_seats_per_day_and_when_they_run_out(sessions: Sessions, org: int) -> None:
    p1 = course(sessions, "P-1")
    service.grant_plus(sessions, org, 20, "annual", T0)
    for day, n in ((0, 2), (2, 3), (4, 5)):
        for i in range(n):
            assert claim(sessions, org, p1, f"d{day}-{i}", now=T0 + timedelta(days=day, hours=1)).ok
    now = T0 + timedelta(days=5)
    with sessions() as s:
        usage = seats_used_per_day(s, org, now)
    assert usage is not None
    assert [d.seats_used for d in usage.days] == [2, 2, 5, 5, 10, 10]
    assert usage.days[0].day == T0.date() and usage.days[-1].day == now.date()
    # 10 seats in 5 days: 2 a day; 10 left: 5 more days.
    assert usage.run_out.seats_per_day == 2.0 and usage.run_out.on == (now + timedelta(days=5)).date()
    assert usage.run_out.before_term_end


def test_plus_courses_appear_once_launched(sessions: Sessions, org: int) -> None:
    a, b = course(sessions, "P-A"), course(sessions, "P-B")
    service.grant_plus(sessions, org, 10, "annual", T0)
    set_identity_linking(sessions, org, True)
    first = claim(sessions, org, a, "s1", username="ada")
    claim_seat(sessions, ClaimRequest(org, "plus", a, LearnerIdentity("package:K", "ada")), T0 + timedelta(hours=1))
    claim(sessions, org, a, "s2", now=T0 + timedelta(hours=2))
    with sessions.begin() as s:
        s.add(CourseProgress(seat_id=first.seat.id, course_pk=s.scalar(select(Course.id).where(Course.catalog_id == a)),
                             completion_status="completed", cmi={}))
    with sessions() as s:
        rows = plus_courses(s, org)
    assert [(r.catalog_id, r.learners, r.completions) for r in rows] == [(a, 2, 1)]  # P-B: nobody launched it
    assert rows[0].first_launched_at == T0 and rows[0].last_launched_at == T0 + timedelta(hours=2)
    assert b not in [r.catalog_id for r in rows]


def test_volume_courses_with_their_lots(sessions: Sessions, org: int) -> None:
    v, w = course(sessions, "V-1", is_plus=False), course(sessions, "W-1", is_plus=False)
    service.grant_volume(sessions, org, v, 5, T0 - timedelta(days=370))  # expired five days before T0
    service.grant_volume(sessions, org, v, 10, T0)
    service.grant_volume(sessions, org, w, 3, T0)
    claim(sessions, org, v, "a", license_type="volume")
    now = T0 + timedelta(days=20)
    with sessions() as s:
        rows = purchased_courses(s, org, now)
    assert [(r.catalog_id, r.seats_bought, r.seats_used, r.seats_left) for r in rows] == [(v, 10, 1, 9), (w, 3, 0, 3)]
    assert [(lot.seats, lot.status) for lot in rows[0].lots] == [(5, "expired"), (10, "active")]
    assert rows[0].next_expiry == rows[0].lots[1].expires_at


def test_ppu_library(sessions: Sessions, org: int) -> None:
    c = course(sessions, "PPU-1", ppu_price_cents=1_500)
    with sessions() as s:
        assert ppu_library(s, org, T0) is None
    service.configure_ppu(sessions, org, "CTR-1", 10_000, T0)
    service.add_to_ppu_library(sessions, org, c, T0)
    claim(sessions, org, c, "a", license_type="ppu")
    claim(sessions, org, c, "b", license_type="ppu")
    with sessions() as s:
        library = ppu_library(s, org, T0)
    assert library is not None and library.balance_cents == 7_000 and library.contract_ref == "CTR-1"
    assert [(r.catalog_id, r.price_cents, r.seats_bought, r.spent_cents, r.status) for r in library.courses] == [
        (c, 1_500, 2, 3_000, "active")]
    assert library.seats_bought == 2 and library.spent_cents == 3_000


def test_needs_attention_newest_first_with_actions(sessions: Sessions, org: int) -> None:
    v, old = course(sessions, "V-1", is_plus=False), course(sessions, "OLD-1")
    new = course(sessions, "NEW-1")
    with sessions.begin() as s:
        s.execute(update(Course).where(Course.catalog_id == old).values(
            status="retiring", updated_at=T0 + timedelta(days=340),
            replacement_course_pk=select(Course.id).where(Course.catalog_id == new).scalar_subquery()))
    service.grant_volume(sessions, org, v, 1, T0)  # expires T0 + 12 months
    service.grant_plus(sessions, org, 5, "annual", T0)
    claim(sessions, org, v, "a", license_type="volume")
    claim(sessions, org, old, "a", now=T0 + timedelta(days=300))
    refused = claim(sessions, org, v, "b", now=T0 + timedelta(days=350), license_type="volume", name="Bea")
    assert refused.reason == "no_seats"
    with sessions.begin() as s:
        sub_id = s.scalar(select(PlusSubscription.id))
        s.add(SubscriptionRenewal(account_id=org, subscription_id=sub_id, period_end=T0 + timedelta(days=365),
                                  status="open", attempts=1, last_attempt_at=T0 + timedelta(days=351),
                                  grace_until=T0 + timedelta(days=372), failure_reason="card_declined",
                                  failure_message="Your card was declined."))
    now = T0 + timedelta(days=352)
    with sessions() as s:
        items = needs_attention(s, org, now)
    assert [(i.kind, i.action) for i in items] == [
        ("failed_renewal", "update_card"),
        ("refused_launch", "buy_seats"),
        ("retiring_course", "deliver_replacement"),
        ("expiring_license", "renew"),   # the Volume lot
        ("expiring_license", "renew"),   # the granted Plus subscription, which never renews
    ]
    refusal = items[1]
    assert (refusal.learner, refusal.catalog_id, refusal.reason) == ("Bea", v, "no_seats")
    assert refusal.message.startswith("All seats")
    retiring = items[2]
    assert (retiring.catalog_id, retiring.replacement_catalog_id, retiring.replacement_title) == (old, new, "Title NEW-1")
    assert items[0].expires_at == T0 + timedelta(days=372)
    with sessions() as s:  # older than 30 days: the refusal leaves the list
        assert "refused_launch" not in [i.kind for i in needs_attention(s, org, now + timedelta(days=31))]
        assert len(needs_attention(s, org, now, limit=2)) == 2


def test_the_whole_dashboard_in_one_call(sessions: Sessions, org: int) -> None:
    p1 = course(sessions, "P-1")
    service.grant_plus(sessions, org, 4, "monthly", T0)
    claim(sessions, org, p1, "a")
    page = dashboard(sessions, org, T0 + timedelta(days=1))
    assert page.account_name == "Dash Org" and not page.link_identities and page.package_format is None
    assert page.plus is not None and page.plus.text == "Available Plus seats: 3 of 4"
    assert page.seat_usage is not None and [c.catalog_id for c in page.plus_courses] == [p1]
    assert page.purchased_courses == () and page.ppu is None
    with pytest.raises(NotFound):
        dashboard(sessions, 999_999, T0)
    with sessions() as s, pytest.raises(NotFound):
        needs_attention(s, 999_999, T0)


def test_package_format_is_remembered(sessions: Sessions, org: int) -> None:
    assert set_package_format(sessions, org, "scorm2004") == "scorm2004"
    with sessions() as s:
        assert package_format(s, org) == "scorm2004"
    with pytest.raises(InvalidInput) as bad:
        set_package_format(sessions, org, "zip")
    assert bad.value.reason == "invalid_format"
    with pytest.raises(NotFound):
        set_package_format(sessions, 999_999, "scorm12")
