"""The pure holdings rule: deliverable or why not, holding statuses, and that the two agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.clock import add_months
from store.licenses import holdings_rules as hr
from store.licenses.rules import CourseFacts, Lot, Subscription

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def course(course_pk: int = 1, *, is_plus: bool = True, status: str = "active", sub_only: bool = False,
           price: int = 900) -> CourseFacts:
    return CourseFacts(course_pk, is_plus, status, sub_only, price)


def sub(start: datetime, months: int = 12, *, total: int = 10, used: int = 0, auto_renew: bool = True,
        cancelled_at: datetime | None = None, id_: int = 1) -> Subscription:
    return Subscription(id_, start, add_months(start, months), total, used, "annual" if months == 12 else "monthly",
                        auto_renew, cancelled_at)


def lot(start: datetime, course_pk: int = 1, *, total: int = 10, used: int = 0, id_: int = 1) -> Lot:
    return Lot(id_, start, add_months(start, 12), total, used, course_pk)


def ppu(*library: int, enabled: bool = True, balance: int = 10_000) -> hr.PpuFacts:
    return hr.PpuFacts("CTR-1", enabled, balance, frozenset(library))


CURRENT = sub(NOW - DAY)
FUTURE = sub(NOW + 10 * DAY)
PAST = sub(add_months(NOW, -13))


@pytest.mark.parametrize(("facts", "holdings", "license_type", "reason"), [
    (course(), hr.Holdings(), "plus", "no_license"),
    (course(), hr.Holdings((CURRENT,)), "plus", None),
    (course(), hr.Holdings((sub(NOW - DAY, used=10),)), "plus", None),  # full: still deliverable
    (course(), hr.Holdings((sub(NOW - DAY, auto_renew=False, cancelled_at=NOW - DAY),)), "plus", None),
    (course(), hr.Holdings((FUTURE,)), "plus", "not_started"),
    (course(), hr.Holdings((PAST,)), "plus", "license_expired"),
    (course(), hr.Holdings((PAST, FUTURE)), "plus", "not_started"),
    (course(), hr.Holdings((PAST, CURRENT)), "plus", None),
    (course(is_plus=False), hr.Holdings((CURRENT,)), "plus", "not_covered"),
    (course(sub_only=True), hr.Holdings((CURRENT,)), "plus", None),
    (course(status="retired"), hr.Holdings((CURRENT,)), "plus", "course_retired"),
    (course(status="retiring"), hr.Holdings((CURRENT,)), "plus", None),
    (course(), hr.Holdings(lots=(lot(NOW - DAY),)), "volume", None),
    (course(), hr.Holdings(lots=(lot(NOW - DAY, used=10),)), "volume", None),
    (course(), hr.Holdings(lots=(lot(NOW + DAY),)), "volume", "not_started"),
    (course(), hr.Holdings(lots=(lot(add_months(NOW, -12)),)), "volume", "license_expired"),
    (course(), hr.Holdings(lots=(lot(add_months(NOW, -12)), lot(NOW - DAY, id_=2))), "volume", None),
    (course(), hr.Holdings(lots=(lot(NOW - DAY, course_pk=2),)), "volume", "no_license"),
    (course(sub_only=True), hr.Holdings(lots=(lot(NOW - DAY),)), "volume", "bundle_excluded"),
    (course(status="retired"), hr.Holdings(lots=(lot(NOW - DAY),)), "volume", "course_retired"),
    (course(), hr.Holdings(ppu=ppu(1)), "ppu", None),
    (course(), hr.Holdings(ppu=ppu(1, balance=0)), "ppu", None),  # the deposit never decides
    (course(), hr.Holdings(ppu=ppu(2)), "ppu", "not_in_library"),
    (course(), hr.Holdings(ppu=ppu(1, enabled=False)), "ppu", "ppu_not_configured"),
    (course(), hr.Holdings(), "ppu", "ppu_not_configured"),
    (course(sub_only=True), hr.Holdings(ppu=ppu(1)), "ppu", "bundle_excluded"),
    (course(status="retired"), hr.Holdings(ppu=ppu(1)), "ppu", "course_retired"),
])
def test_verdicts(facts: CourseFacts, holdings: hr.Holdings, license_type: str, reason: str | None) -> None:
    verdict = hr.verdict(facts, holdings, license_type, NOW)
    assert verdict.reason == reason and verdict.deliverable is (reason is None)


def test_not_started_and_expired_carry_their_dates() -> None:
    soon, later = lot(NOW + DAY, id_=1), lot(NOW + 5 * DAY, id_=2)
    assert hr.verdict(course(), hr.Holdings(lots=(later, soon)), "volume", NOW).starts_at == NOW + DAY
    old, older = lot(add_months(NOW, -13), id_=1), lot(add_months(NOW, -20), id_=2)
    assert hr.verdict(course(), hr.Holdings(lots=(older, old)), "volume", NOW).ended_at == old.expires_at


def test_a_term_starts_at_its_first_instant_and_ends_before_its_last() -> None:
    current = lot(NOW)
    holdings = hr.Holdings(lots=(current,))
    assert hr.verdict(course(), holdings, "volume", NOW).deliverable
    assert hr.verdict(course(), holdings, "volume", NOW - timedelta(seconds=1)).reason == "not_started"
    assert hr.verdict(course(), holdings, "volume", current.expires_at).reason == "license_expired"


def test_deliverability_lists_types_in_order_and_rejects_unknown_types() -> None:
    everything = hr.Holdings((CURRENT,), (lot(NOW - DAY),), ppu(1))
    found = hr.deliverability(course(), everything, NOW)
    assert found.license_types == ("plus", "volume", "ppu")
    assert hr.deliverability(course(sub_only=True), everything, NOW).license_types == ("plus",)
    assert hr.deliverability(course(status="retired"), everything, NOW).license_types == ()
    with pytest.raises(ValueError):
        hr.verdict(course(), everything, "gold", NOW)
    with pytest.raises(ValueError):
        found.verdict("gold")


@pytest.mark.parametrize(("subscription", "status"), [
    (sub(NOW + DAY), "not_started"),
    (PAST, "expired"),
    (sub(NOW - DAY, used=10), "exhausted"),
    (sub(NOW - DAY, used=10, auto_renew=False), "exhausted"),
    (sub(NOW - DAY, auto_renew=False), "cancelled"),
    (sub(NOW - DAY, cancelled_at=NOW - DAY), "cancelled"),
    (sub(add_months(NOW, -13), auto_renew=False), "expired"),
    (CURRENT, "active"),
])
def test_subscription_status(subscription: Subscription, status: str) -> None:
    assert hr.subscription_status(subscription, NOW) == status


@pytest.mark.parametrize(("the_lot", "facts", "status"), [
    (lot(NOW + DAY), course(), "not_started"),
    (lot(add_months(NOW, -12)), course(), "expired"),
    (lot(add_months(NOW, -12)), course(status="retired"), "expired"),
    (lot(NOW - DAY), course(status="retired"), "course_retired"),
    (lot(NOW - DAY), course(sub_only=True), "bundle_excluded"),
    (lot(NOW - DAY, used=10), course(), "exhausted"),
    (lot(NOW - DAY), course(), "active"),
])
def test_lot_status(the_lot: Lot, facts: CourseFacts, status: str) -> None:
    assert hr.lot_status(the_lot, facts, NOW) == status


@pytest.mark.parametrize(("facts_ppu", "facts", "status"), [
    (ppu(1, enabled=False), course(), "disabled"),
    (ppu(1), course(status="retired"), "course_retired"),
    (ppu(1), course(sub_only=True), "bundle_excluded"),
    (ppu(1, balance=899), course(price=900), "insufficient_deposit"),
    (ppu(1, balance=900), course(price=900), "active"),
    (ppu(1, balance=0), course(price=0), "active"),
])
def test_library_status(facts_ppu: hr.PpuFacts, facts: CourseFacts, status: str) -> None:
    assert hr.library_status(facts_ppu, facts) == status


def test_every_status_has_a_label() -> None:
    statuses = {hr.ACTIVE, hr.CANCELLED, hr.EXHAUSTED, hr.INSUFFICIENT_DEPOSIT, hr.NOT_STARTED, hr.EXPIRED,
                hr.DISABLED, hr.COURSE_RETIRED, hr.BUNDLE_EXCLUDED}
    assert set(hr.STATUS_LABELS) == statuses and hr.DELIVERING < statuses


# ---------------------------------------------------------------- statuses agree with verdicts

moments = st.integers(-800, 800).map(lambda days: NOW + timedelta(days=days))
course_facts = st.builds(course, course_pk=st.integers(1, 3), is_plus=st.booleans(),
                         status=st.sampled_from(["active", "retiring", "retired"]), sub_only=st.booleans(),
                         price=st.integers(0, 2_000))


@st.composite
def account_holdings(draw: st.DrawFn) -> hr.Holdings:
    subs = tuple(sub(draw(moments), draw(st.sampled_from([1, 12])), used=draw(st.integers(0, 10)),
                     auto_renew=draw(st.booleans()), id_=n) for n in range(draw(st.integers(0, 3))))
    lots = tuple(lot(draw(moments), draw(st.integers(1, 3)), used=draw(st.integers(0, 10)), id_=n)
                 for n in range(draw(st.integers(0, 4))))
    facts_ppu = draw(st.none() | st.builds(
        lambda library, enabled, balance: hr.PpuFacts("CTR", enabled, balance, frozenset(library)),
        st.sets(st.integers(1, 3)), st.booleans(), st.integers(0, 2_000)))
    return hr.Holdings(subs, lots, facts_ppu)


@settings(max_examples=400, deadline=None)
@given(course_facts, account_holdings(), moments)
def test_a_course_is_deliverable_exactly_when_one_of_its_holdings_delivers(
        facts: CourseFacts, holdings: hr.Holdings, now: datetime) -> None:
    found = hr.deliverability(facts, holdings, now)
    plus_delivers = any(hr.subscription_status(s, now) in hr.DELIVERING for s in holdings.subscriptions)
    course_ok_for_plus = facts.is_plus and facts.status != "retired"
    assert found.verdict("plus").deliverable is (plus_delivers and course_ok_for_plus)
    lots_deliver = any(hr.lot_status(x, facts, now) in hr.DELIVERING for x in holdings.lots_for(facts.id))
    assert found.verdict("volume").deliverable is lots_deliver
    ppu_delivers = (holdings.ppu is not None and facts.id in holdings.ppu.library
                    and hr.library_status(holdings.ppu, facts) in hr.DELIVERING)
    assert found.verdict("ppu").deliverable is ppu_delivers
    for verdict in found.verdicts:  # a reason exactly when not deliverable
        assert (verdict.reason is None) is verdict.deliverable


# ---------------------------------------------------------------- room for new learners (the admin's seat warning)


@pytest.mark.parametrize(("facts", "holdings", "license_type", "left"), [
    (course(), hr.Holdings((sub(NOW - DAY, total=20, used=7),)), "plus", 13),
    (course(), hr.Holdings((sub(NOW - DAY, total=20, used=20),)), "plus", 0),
    (course(), hr.Holdings((PAST, sub(NOW - DAY, total=5, used=1, id_=2))), "plus", 4),  # an expired term counts nothing
    (course(is_plus=False), hr.Holdings((CURRENT,)), "plus", 0),  # not deliverable
    (course(), hr.Holdings(lots=(lot(NOW - DAY, total=10, used=3), lot(NOW - DAY, total=5, used=5, id_=2))), "volume", 7),
    (course(), hr.Holdings(lots=(lot(add_months(NOW, -13), total=20),)), "volume", 0),  # expired: 0 usable
    (course(), hr.Holdings(lots=(lot(NOW - DAY, course_pk=2),)), "volume", 0),  # another course's lot
    (course(price=900), hr.Holdings(ppu=ppu(1, balance=2_000)), "ppu", 2),
    (course(price=900), hr.Holdings(ppu=ppu(1, balance=800)), "ppu", 0),
    (course(price=900), hr.Holdings(ppu=ppu(balance=9_000)), "ppu", 0),  # not in the library
    (course(price=0), hr.Holdings(ppu=ppu(1, balance=0)), "ppu", None),  # free: no limit
])
def test_new_learners_left_counts_only_what_can_seat_a_learner_now(
        facts: CourseFacts, holdings: hr.Holdings, license_type: str, left: int | None) -> None:
    assert hr.new_learners_left(facts, holdings, license_type, NOW) == left
