"""Checkout on both databases with the local gateway: licenses from the moment of purchase, a
decline, a double submit, a stale page, a crash after (or before) the charge settled by
reconciliation, an unknown outcome retried, and no card number anywhere."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.models import Account
from store.errors import InvalidInput, NotFound
from store.licenses.models import PlusSubscription, VolumeLot
from store.models import Base
from store.orders import service as store
from store.orders.models import Order
from store.payments.errors import PaymentUnavailable
from store.payments.gateway import CardDetails, CardToken, Charge
from store.payments.local import LocalGateway
from store.payments.models import LocalCharge
from tests.factories.catalog import make_course
from tests.factories.orders import (
    BILLING,
    DECLINED,
    DECLINED_LATER,
    NO_FUNDS,
    T0,
    Shop,
    add_buyer,
    card,
    make_shop,
)

Sessions = sessionmaker[Session]


@pytest.fixture
def shop(sessions: Sessions) -> Shop:
    with sessions.begin() as s:
        make_course(s, "VOL-1", is_plus=False, volume_price_cents=1_000, title="Forklift Safety")
        make_course(s, "PLUS-1", is_plus=True)
    return make_shop(sessions)


def count(sessions: Sessions, model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def charges(sessions: Sessions) -> list[tuple[str, int]]:
    with sessions() as s:
        return [(c.status, c.amount_cents) for c in s.scalars(select(LocalCharge).order_by(LocalCharge.id))]


# ---------------------------------------------------------------- the purchase


def test_a_purchase_starts_its_licenses_at_the_moment_of_purchase(shop: Shop) -> None:
    order = shop.buy(store.PlusItem("annual", 10), store.VolumeItem("VOL-1", 24))
    assert order.status == "fulfilled" and order.status_label == "Completed" and order.number.startswith("ORD-")
    assert order.total_cents == 399_000 + 22_500 and (order.card_brand, order.card_last4) == ("visa", "4242")
    assert order.consent_recurring and order.billing is not None and order.billing.company == "Acme Learning"
    plus, volume = order.lines
    assert (plus.kind, plus.period_start, plus.period_end) == ("plus_new", T0, datetime(2027, 1, 1, 9, tzinfo=UTC))
    assert (volume.kind, volume.quantity, volume.unit_cents, volume.period_start) == ("volume", 24, 950, T0)
    with shop.sessions() as s:
        sub = s.scalars(select(PlusSubscription)).one()
        lot = s.scalars(select(VolumeLot)).one()
        account = s.get_one(Account, shop.owner.account_id)
        assert (sub.seats_total, sub.started_at, sub.auto_renew) == (10, T0, True)
        assert (lot.seats_total, lot.purchased_at, lot.expires_at) == (24, T0, datetime(2027, 1, 1, 9, tzinfo=UTC))
        assert account.card_last4 == "4242" and account.payment_token and account.payment_token.startswith("tok_local_")
        assert store.get_order(s, shop.owner.account_id, order.number) == order
        assert store.last_billing(s, shop.owner.account_id) == BILLING
        assert [o.number for o in store.list_orders(s, shop.owner.account_id)] == [order.number]
    assert charges(shop.sessions) == [("succeeded", 421_500)]
    assert shop.cart().is_empty


def test_added_seats_are_prorated_again_at_checkout(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 5))
    april = datetime(2026, 4, 1, 10, tzinfo=UTC)
    shown = shop.add(store.PlusItem("annual", 2), april)
    may = datetime(2026, 5, 1, 10, tzinfo=UTC)  # the page stayed open a month: the price moved on
    with pytest.raises(store.CartProblem) as moved:
        shop.checkout(now=may, payment=None, expected_total_cents=shown.total_cents)
    assert moved.value.reason == "price_changed" and "$532.00" in moved.value.message
    order = shop.checkout(now=may, payment=None, expected_total_cents=shop.cart(may).total_cents)  # card on file
    (line,) = order.lines
    assert (line.kind, line.proration_percent, line.line_total_cents) == ("plus_seats", 67, 2 * 26_600)
    with shop.sessions() as s:
        assert s.scalars(select(PlusSubscription.seats_total)).one() == 7


def test_seats_added_to_a_subscription_that_will_not_renew_need_no_recurring_consent(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 5))
    store.cancel_renewal(shop.sessions, shop.owner.account_id, T0 + timedelta(days=1))
    cart = shop.add(store.PlusItem("annual", 1), T0 + timedelta(days=2))
    assert cart.lines[0].is_add_seats and not cart.needs_recurring_consent
    order = shop.checkout(now=T0 + timedelta(days=2), consent=False, payment=None)
    assert order.status == "fulfilled" and not order.consent_recurring


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("number, reason", [(DECLINED, "card_declined"), (NO_FUNDS, "insufficient_funds")])
def test_a_decline_fails_the_order_says_why_and_grants_nothing(shop: Shop, number: str, reason: str) -> None:
    shop.add(store.VolumeItem("VOL-1", 5))
    key = shop.cart().checkout_key
    with pytest.raises(store.PaymentDeclined) as declined:
        shop.checkout(number)
    assert declined.value.reason == reason and declined.value.message
    assert count(shop.sessions, VolumeLot) == 0
    with shop.sessions() as s:
        (summary,) = store.list_orders(s, shop.owner.account_id)
        assert (summary.status, summary.status_label) == ("failed", "Payment failed")
        assert s.get_one(Account, shop.owner.account_id).payment_token is None  # a declined card is not kept
    with pytest.raises(store.PaymentDeclined):  # the same page again: the same answer, no second charge
        shop.checkout(number, key=key)
    assert len(charges(shop.sessions)) == 1
    cart = shop.cart()
    assert [l.quantity for l in cart.lines] == [5] and cart.checkout_key != key  # the cart is kept, with a new key
    assert shop.checkout().status == "fulfilled"  # another card
    assert count(shop.sessions, VolumeLot) == 1


def test_a_double_submit_is_one_order_and_one_charge(shop: Shop) -> None:
    shop.add(store.VolumeItem("VOL-1", 5))
    key = shop.cart().checkout_key
    first = shop.checkout(key=key)
    second = shop.checkout(key=key)  # the same form posted again (the cart is empty by now)
    assert first == second
    assert count(shop.sessions, Order) == 1 and len(charges(shop.sessions)) == 1 and count(shop.sessions, VolumeLot) == 1


def test_a_stale_checkout_page_pays_for_nothing(shop: Shop) -> None:
    shop.add(store.VolumeItem("VOL-1", 5))
    key = shop.cart().checkout_key
    shop.add(store.VolumeItem("VOL-1", 5))  # changed in another tab
    for stale in (key, "co_0123456789abcdef_1", "not a key"):
        with pytest.raises(store.CartProblem) as refused:
            shop.checkout(key=stale)
        assert refused.value.reason == "cart_changed"
    assert count(shop.sessions, Order) == 0 and charges(shop.sessions) == []


def test_what_checkout_refuses_before_anything_is_charged(shop: Shop, sessions: Sessions) -> None:
    with pytest.raises(store.CartProblem) as empty:
        shop.checkout(key="co_0123456789abcdef_0")
    assert empty.value.reason == "empty_cart"
    shop.add(store.PlusItem("annual", 1))
    with pytest.raises(store.CartProblem) as consent:
        shop.checkout(consent=False)
    assert consent.value.reason == "consent_required"
    with pytest.raises(InvalidInput) as no_card:
        shop.checkout(payment=None)
    assert no_card.value.reason == "payment_required"
    with pytest.raises(store.InvalidBilling) as billing:
        store.checkout(shop.sessions, shop.settings, shop.gateway, shop.owner, store.Billing("", "x", "", ""),
                       card(shop.gateway), shop.cart().checkout_key or "", True, T0)
    assert set(billing.value.fields) == {"name", "email", "address", "country"}
    for forged_token in ("tok_local_forged", "tok_local_\x00" + "0" * 31, "pm_card_visa"):
        with pytest.raises(store.PaymentDeclined) as forged:  # a token the gateway never issued
            shop.checkout(payment=CardToken(forged_token, "4242", "visa", 12, 2030))
        assert forged.value.reason == "invalid_payment_method"
    assert count(shop.sessions, Order) == 0 and charges(shop.sessions) == []


def test_another_pending_purchase_of_the_account_waits(shop: Shop) -> None:
    colleague = add_buyer(shop.sessions, shop.owner.account_id, "admin-2")
    crashing = CrashAfterCharge(shop.sessions)
    shop.add(store.VolumeItem("VOL-1", 1))
    with pytest.raises(Crash):
        Shop(shop.sessions, shop.settings, crashing, shop.owner).checkout()
    theirs = store.add_to_cart(shop.sessions, shop.settings, colleague, store.VolumeItem("VOL-1", 2), T0)
    with pytest.raises(store.CartProblem) as waiting:
        store.checkout(shop.sessions, shop.settings, shop.gateway, colleague, BILLING, card(shop.gateway),
                       theirs.checkout_key or "", True, T0)
    assert waiting.value.reason == "checkout_in_progress"


# ---------------------------------------------------------------- crashes and lost answers


class Crash(Exception):
    """The process dies here (nothing after it runs)."""


class CrashAfterCharge(LocalGateway):
    def charge(self, *args: object, **kwargs: object) -> Charge:
        super().charge(*args, **kwargs)  # type: ignore[arg-type]
        raise Crash("killed after the charge")


class CrashBeforeCharge(LocalGateway):
    def charge(self, *args: object, **kwargs: object) -> Charge:
        raise Crash("killed before the charge")


class LostAnswer(LocalGateway):
    """The charge is made, but its answer never arrives (a network error after the request)."""

    def charge(self, *args: object, **kwargs: object) -> Charge:
        super().charge(*args, **kwargs)  # type: ignore[arg-type]
        raise PaymentUnavailable("the gateway could not be reached")


def test_a_crash_after_the_charge_is_completed_by_reconcile(shop: Shop) -> None:
    crashing = Shop(shop.sessions, shop.settings, CrashAfterCharge(shop.sessions), shop.owner)
    crashing.add(store.PlusItem("annual", 3))
    with pytest.raises(Crash):
        crashing.checkout()
    with shop.sessions() as s:
        (pending,) = store.list_orders(s, shop.owner.account_id)
    assert pending.status == "pending" and count(shop.sessions, PlusSubscription) == 0  # paid, no license yet
    with pytest.raises(store.CartProblem) as frozen:
        shop.add(store.VolumeItem("VOL-1", 1))
    assert frozen.value.reason == "checkout_in_progress"
    assert store.reconcile_pending(shop.sessions, shop.gateway, T0 + timedelta(seconds=30)).completed == []  # too young
    report = store.reconcile_pending(shop.sessions, shop.gateway, T0 + timedelta(minutes=2))
    assert report.completed == [pending.number] and not report.has_errors
    with shop.sessions() as s:
        order = store.get_order(s, shop.owner.account_id, pending.number)
        sub = s.scalars(select(PlusSubscription)).one()
    assert order.status == "fulfilled" and sub.started_at == T0 and sub.seats_total == 3  # from the purchase moment
    assert charges(shop.sessions) == [("succeeded", 3 * 39_900)] and shop.cart().is_empty
    assert store.reconcile_pending(shop.sessions, shop.gateway, T0 + timedelta(minutes=5)).completed == []


def test_a_crash_before_the_charge_is_cancelled_by_reconcile(shop: Shop) -> None:
    crashing = Shop(shop.sessions, shop.settings, CrashBeforeCharge(shop.sessions), shop.owner)
    crashing.add(store.VolumeItem("VOL-1", 3))
    with pytest.raises(Crash):
        crashing.checkout()
    report = store.reconcile_pending(shop.sessions, shop.gateway, T0 + timedelta(minutes=2))
    assert len(report.cancelled) == 1 and charges(shop.sessions) == [] and count(shop.sessions, VolumeLot) == 0
    with shop.sessions() as s:
        assert store.get_order(s, shop.owner.account_id, report.cancelled[0]).status == "cancelled"
    assert shop.checkout(now=T0 + timedelta(minutes=3)).status == "fulfilled"  # the cart is free again
    assert count(shop.sessions, VolumeLot) == 1


def test_a_lost_answer_is_retried_with_the_same_key_and_charged_once(shop: Shop) -> None:
    lossy = Shop(shop.sessions, shop.settings, LostAnswer(shop.sessions), shop.owner)
    lossy.add(store.VolumeItem("VOL-1", 3))
    key = shop.cart().checkout_key
    with pytest.raises(PaymentUnavailable):
        lossy.checkout(key=key)
    order = shop.checkout(key=key)  # the customer presses Complete Purchase again
    assert order.status == "fulfilled" and len(charges(shop.sessions)) == 1 and count(shop.sessions, VolumeLot) == 1


class RetryWhileAsked(LocalGateway):
    """While reconciliation asks the gateway, the customer presses Complete Purchase again."""

    def __init__(self, sessions: Sessions, retry: object) -> None:
        super().__init__(sessions)
        self.retry = retry

    def find_charge(self, idempotency_key: str, token: str, since: datetime) -> Charge | None:
        seen = super().find_charge(idempotency_key, token, since)
        self.retry()  # type: ignore[operator]
        return seen


def test_reconcile_never_cancels_an_order_a_retry_is_paying(shop: Shop) -> None:
    crashing = Shop(shop.sessions, shop.settings, CrashBeforeCharge(shop.sessions), shop.owner)
    crashing.add(store.VolumeItem("VOL-1", 3))
    key = shop.cart().checkout_key
    with pytest.raises(Crash):
        crashing.checkout(key=key)
    later = T0 + timedelta(minutes=2)
    asked = RetryWhileAsked(shop.sessions, lambda: shop.checkout(key=key, now=later))
    report = store.reconcile_pending(shop.sessions, asked, later)
    assert report.cancelled == [] and len(report.still_pending) == 1
    with shop.sessions() as s:
        (summary,) = store.list_orders(s, shop.owner.account_id)
    assert summary.status == "fulfilled" and len(charges(shop.sessions)) == 1 and count(shop.sessions, VolumeLot) == 1


class Unreachable(LocalGateway):
    def charge(self, *args: object, **kwargs: object) -> Charge:
        raise PaymentUnavailable("the gateway could not be reached")


def test_reconcile_never_cancels_an_order_whose_retry_has_begun(shop: Shop) -> None:
    """The retry counted its attempt and is about to charge (here its network is down): the
    order reconciliation looked at is not the order any more, so it is left pending."""
    crashing = Shop(shop.sessions, shop.settings, CrashBeforeCharge(shop.sessions), shop.owner)
    crashing.add(store.VolumeItem("VOL-1", 3))
    key = shop.cart().checkout_key
    with pytest.raises(Crash):
        crashing.checkout(key=key)
    later = T0 + timedelta(minutes=2)
    retrying = Shop(shop.sessions, shop.settings, Unreachable(shop.sessions), shop.owner)

    def retry() -> None:
        with pytest.raises(PaymentUnavailable):
            retrying.checkout(key=key, now=later)

    report = store.reconcile_pending(shop.sessions, RetryWhileAsked(shop.sessions, retry), later)
    assert report.cancelled == [] and len(report.still_pending) == 1
    with shop.sessions() as s:
        (summary,) = store.list_orders(s, shop.owner.account_id)
    assert summary.status == "pending"
    assert store.reconcile_pending(shop.sessions, shop.gateway, later + timedelta(minutes=2)).cancelled \
        == [summary.number]  # a minute after the last attempt, with no charge at the gateway


def test_reconcile_leaves_orders_of_another_gateway_alone(shop: Shop) -> None:
    crashing = Shop(shop.sessions, shop.settings, CrashBeforeCharge(shop.sessions), shop.owner)
    crashing.add(store.VolumeItem("VOL-1", 3))
    with pytest.raises(Crash):
        crashing.checkout()

    class Other(LocalGateway):
        name = "stripe"

    report = store.reconcile_pending(shop.sessions, Other(shop.sessions), T0 + timedelta(minutes=2))
    assert report.has_errors and report.cancelled == []


# ---------------------------------------------------------------- orders


def test_an_order_is_only_its_accounts(shop: Shop, sessions: Sessions) -> None:
    order = shop.buy(store.VolumeItem("VOL-1", 1))
    other = make_shop(sessions, "Other Org")
    with sessions() as s:
        for number in (order.number, "ORD-999999", "garbage"):
            with pytest.raises(NotFound) as refused:
                store.get_order(s, other.owner.account_id, number)
            assert refused.value.reason == "unknown_order"
        assert store.get_order(s, shop.owner.account_id, order.number.lower()).id == order.id


# ---------------------------------------------------------------- the card number


def test_the_card_number_is_in_no_table_and_no_log_line(shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    shop.add(store.PlusItem("annual", 2))
    shop.add(store.VolumeItem("VOL-1", 3))
    order = shop.checkout(DECLINED_LATER)
    assert order.status == "fulfilled" and order.card_last4 == "0341"
    digits = DECLINED_LATER.replace(" ", "")
    seen: list[str] = []
    with shop.sessions() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(table.select()):
                seen.extend(str(value) for value in row)
    assert seen and not [value for value in seen if digits in value.replace(" ", "").replace("-", "")]
    logged = [record.getMessage() for record in caplog.records] + [repr(record.args) for record in caplog.records]
    assert logged and not [line for line in logged if digits in line.replace(" ", "") or DECLINED_LATER in line]
    assert "4000000000000341" not in repr(CardDetails("4000000000000341", 12, 2030, "123"))


# ---------------------------------------------------------------- Try again (resume_checkout)


def test_resume_finishes_an_order_left_pending_with_one_charge(shop: Shop) -> None:
    shop.add(store.VolumeItem("VOL-1", 2))
    key = shop.cart().checkout_key
    assert key is not None

    class Unreachable(LocalGateway):
        def charge(self, *args: object, **kwargs: object) -> Charge:  # type: ignore[override]
            raise PaymentUnavailable("The payment service could not be reached.")

    with pytest.raises(PaymentUnavailable):
        store.checkout(shop.sessions, shop.settings, Unreachable(shop.sessions), shop.owner, BILLING,
                       card(shop.gateway), key, False, T0)
    with shop.sessions() as s:
        assert s.scalars(select(Order.status)).one() == "pending"
    order = store.resume_checkout(shop.sessions, shop.gateway, shop.owner, key, T0 + timedelta(minutes=1))
    assert order.status == "fulfilled" and charges(shop.sessions) == [("succeeded", 2_000)]
    again = store.resume_checkout(shop.sessions, shop.gateway, shop.owner, key, T0 + timedelta(minutes=2))
    assert again == order and charges(shop.sessions) == [("succeeded", 2_000)]  # settled: never charged again
    with pytest.raises(NotFound) as unknown:
        store.resume_checkout(shop.sessions, shop.gateway, shop.owner, "co_0000000000000000_9", T0)
    assert unknown.value.reason == "unknown_order"
    other = add_buyer(shop.sessions, _other_account(shop), "stranger")
    with pytest.raises(NotFound):  # another account's key is no order of theirs
        store.resume_checkout(shop.sessions, shop.gateway, other, key, T0)


def _other_account(shop: Shop) -> int:
    from store.accounts.service import create_account

    return create_account(shop.sessions, "Other Org", T0).id
