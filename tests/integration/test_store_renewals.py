"""Renewals on both databases: the card on file charged off-session at the end of the term, a
renewal order in the history; a decline keeps access through the grace period with a notice,
is retried on later runs, then ends access; cancelling renewal; what is never renewed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.errors import InvalidInput
from store.licenses import holdings
from store.licenses import service as licenses
from store.licenses.models import PlusSubscription
from store.orders import service as store
from store.payments.errors import PaymentUnavailable
from store.payments.gateway import Charge
from store.payments.local import LocalGateway
from store.payments.models import LocalCharge
from tests.factories.catalog import make_course
from tests.factories.orders import DECLINED_LATER, T0, VISA, Shop, card, make_shop

Sessions = sessionmaker[Session]
END = datetime(2027, 1, 1, 9, tzinfo=UTC)  # the end of the first annual term bought at T0
NEXT_END = datetime(2028, 1, 1, 9, tzinfo=UTC)


@pytest.fixture
def shop(sessions: Sessions) -> Shop:
    with sessions.begin() as s:
        make_course(s, "PLUS-1", is_plus=True)
    return make_shop(sessions)


def subscription(shop: Shop) -> PlusSubscription:
    with shop.sessions() as s:
        return s.scalars(select(PlusSubscription)).one()


def deliverable(shop: Shop, at: datetime) -> bool:
    with shop.sessions() as s:
        return "plus" in holdings.deliverable_license_types(s, shop.owner.account_id, "PLUS-1", at)


def ledger(shop: Shop) -> list[tuple[str, bool, int]]:
    with shop.sessions() as s:
        return [(c.status, c.off_session, c.amount_cents) for c in s.scalars(select(LocalCharge).order_by(LocalCharge.id))]


def notices(shop: Shop, at: datetime) -> list[store.RenewalNotice]:
    with shop.sessions() as s:
        return store.renewal_notices(s, shop.owner.account_id, at)


def test_a_subscription_renews_at_the_end_of_its_term(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 10))
    assert store.renew_due(shop.sessions, shop.settings, shop.gateway, END - timedelta(minutes=1)).orders == []
    report = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=1))
    assert report.renewed == [subscription(shop).id] and len(report.orders) == 1
    sub = subscription(shop)
    assert (sub.current_period_end, sub.seats_total, sub.auto_renew) == (NEXT_END, 10, True)
    assert ledger(shop) == [("succeeded", False, 399_000), ("succeeded", True, 399_000)]
    with shop.sessions() as s:
        renewal, purchase = store.list_orders(s, shop.owner.account_id)
        view = store.get_order(s, shop.owner.account_id, renewal.number)
    assert (renewal.kind, renewal.status, renewal.total_cents) == ("renewal", "fulfilled", 399_000)
    assert purchase.kind == "purchase"
    (line,) = view.lines
    assert (line.kind, line.quantity, line.period_start, line.period_end) == ("plus_renewal", 10, END, NEXT_END)
    assert view.card_last4 == "4242" and view.billing is not None and view.billing.name == "Ann Admin"
    again = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=2))
    assert again.orders == [] and len(ledger(shop)) == 2  # run twice: charged once


def test_a_declined_renewal_keeps_access_through_the_grace_period_then_ends_it(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 4), number=DECLINED_LATER)  # charged at checkout, declined later
    sub_id = subscription(shop).id
    first = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=1))
    assert first.declined == [sub_id]
    (notice,) = notices(shop, END + timedelta(hours=1))
    assert (notice.status, notice.failure_reason, notice.attempts) == ("open", "card_declined", 1)
    assert notice.grace_until == END + timedelta(days=7) and "try again" in notice.message
    assert deliverable(shop, END + timedelta(days=3))  # access kept during the grace period
    soon = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=2))
    assert soon.waiting == [sub_id] and soon.orders == []  # not retried within the hour
    second = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(days=1, hours=1))
    assert second.declined == [sub_id] and notices(shop, END + timedelta(days=1))[0].attempts == 2
    last = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(days=7, hours=1))
    assert last.ended == [sub_id] and last.orders == []
    sub = subscription(shop)
    assert (sub.current_period_end, sub.auto_renew) == (END, False) and sub.cancelled_at is not None
    assert not deliverable(shop, END + timedelta(days=7, hours=2))
    (ended,) = notices(shop, END + timedelta(days=8))
    assert ended.status == "ended" and "access ended" in ended.message
    assert [s for s, _off, _a in ledger(shop)] == ["succeeded", "failed", "failed"]
    with shop.sessions() as s:
        statuses = [(o.kind, o.status) for o in store.list_orders(s, shop.owner.account_id)]
    assert statuses == [("renewal", "failed"), ("renewal", "failed"), ("purchase", "fulfilled")]
    assert store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(days=9)).orders == []


def test_a_new_card_on_file_lets_the_next_run_renew(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 4), number=DECLINED_LATER)
    store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=1))
    store.update_payment_method(shop.sessions, shop.gateway, shop.owner, card(shop.gateway, VISA), "ann@example.com",
                                END + timedelta(hours=2))
    report = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=3))
    assert report.renewed == [subscription(shop).id]
    assert subscription(shop).current_period_end == NEXT_END  # the next term counts from the old end, not the payment
    assert notices(shop, END + timedelta(hours=3)) == []


def test_without_grace_a_decline_ends_access_at_once(sessions: Sessions) -> None:
    with sessions.begin() as s:
        make_course(s, "PLUS-1", is_plus=True)
    shop = make_shop(sessions, renewal_grace_days=0)
    shop.buy(store.PlusItem("monthly", 2), number=DECLINED_LATER)
    end = datetime(2026, 2, 1, 9, tzinfo=UTC)
    report = store.renew_due(shop.sessions, shop.settings, shop.gateway, end + timedelta(minutes=5))
    assert report.ended == [subscription(shop).id]
    assert subscription(shop).current_period_end == end and not deliverable(shop, end + timedelta(minutes=6))


def test_cancelling_renewal_keeps_access_to_the_end_of_the_term(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 3))
    (cancelled,) = store.cancel_renewal(shop.sessions, shop.owner.account_id, datetime(2026, 6, 1, tzinfo=UTC))
    assert cancelled.access_until == END
    assert deliverable(shop, END - timedelta(days=1)) and not deliverable(shop, END)
    assert store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=1)).orders == []
    with pytest.raises(InvalidInput) as nothing:
        store.cancel_renewal(shop.sessions, shop.owner.account_id, datetime(2026, 6, 2, tzinfo=UTC))
    assert nothing.value.reason == "no_renewing_subscription"


def test_cancelling_during_the_grace_period_ends_access(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 3), number=DECLINED_LATER)
    store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=1))
    assert deliverable(shop, END + timedelta(days=2))
    (cancelled,) = store.cancel_renewal(shop.sessions, shop.owner.account_id, END + timedelta(days=2))
    assert cancelled.access_until == END and not deliverable(shop, END + timedelta(days=2))


def test_staff_granted_subscriptions_are_not_charged(shop: Shop) -> None:
    licenses.grant_plus(shop.sessions, shop.owner.account_id, 5, "annual", T0)
    report = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=1))
    assert report.orders == [] and report.renewed == [] and ledger(shop) == []


def test_a_term_long_over_lapses_without_a_charge(shop: Shop) -> None:
    shop.buy(store.PlusItem("monthly", 2))
    report = store.renew_due(shop.sessions, shop.settings, shop.gateway, datetime(2026, 4, 15, tzinfo=UTC))
    assert report.ended == [subscription(shop).id] and report.orders == [] and len(ledger(shop)) == 1
    assert subscription(shop).auto_renew is False


class Crash(Exception):
    pass


class CrashAfterCharge(LocalGateway):
    def charge(self, *args: object, **kwargs: object) -> Charge:
        super().charge(*args, **kwargs)  # type: ignore[arg-type]
        raise Crash()


class Unreachable(LocalGateway):
    def charge(self, *args: object, **kwargs: object) -> Charge:
        raise PaymentUnavailable("the gateway could not be reached")


def test_a_renewal_that_dies_after_the_charge_is_completed_by_reconcile(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 2))
    with pytest.raises(Crash):
        store.renew_due(shop.sessions, shop.settings, CrashAfterCharge(shop.sessions), END + timedelta(hours=1))
    assert deliverable(shop, END + timedelta(hours=2))  # access continues while the renewal is settled
    waiting = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=1, minutes=5))
    assert waiting.waiting == [subscription(shop).id] and waiting.orders == []  # the pending order is not charged again
    report = store.reconcile_pending(shop.sessions, shop.gateway, END + timedelta(hours=1, minutes=5))
    assert len(report.completed) == 1
    assert subscription(shop).current_period_end == NEXT_END and len(ledger(shop)) == 2


def test_an_unreachable_gateway_leaves_the_renewal_pending_until_settled(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 2))
    report = store.renew_due(shop.sessions, shop.settings, Unreachable(shop.sessions), END + timedelta(hours=1))
    assert report.has_errors and report.unknown == [subscription(shop).id]
    settled = store.reconcile_pending(shop.sessions, shop.gateway, END + timedelta(hours=1, minutes=2))
    assert len(settled.cancelled) == 1  # nothing was charged
    again = store.renew_due(shop.sessions, shop.settings, shop.gateway, END + timedelta(hours=1, minutes=3))
    assert again.renewed == [subscription(shop).id]
    assert subscription(shop).current_period_end == NEXT_END and len(ledger(shop)) == 2
