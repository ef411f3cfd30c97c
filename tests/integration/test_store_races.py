"""Store races: real threads, real commits, on SQLite and PostgreSQL. Each thread waits on a
barrier and then acts at the same moment: the same checkout submitted from many tabs, renewal
and reconciliation run from several hosts at once. One charge, one order, one set of licenses."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.licenses.models import PlusSubscription, VolumeLot
from store.orders import service as store
from store.orders.models import Order
from store.payments.gateway import Charge
from store.payments.local import LocalGateway
from store.payments.models import LocalCharge
from tests.factories.catalog import make_course
from tests.factories.orders import T0, Shop, card, make_shop

pytestmark = pytest.mark.race

Sessions = sessionmaker[Session]
R = TypeVar("R")
END = datetime(2027, 1, 1, 9, tzinfo=UTC)


def run_at_once(n: int, fn: Callable[[int], R]) -> list[R | BaseException]:
    barrier = threading.Barrier(n, timeout=60)

    def task(i: int) -> R | BaseException:
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:  # noqa: BLE001 - returned for the assertions
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


def count(sessions: Sessions, model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def shop(committing_sessions: Sessions) -> Shop:
    with committing_sessions.begin() as s:
        make_course(s, "VOL-1", is_plus=False, volume_price_cents=1_000)
    return make_shop(committing_sessions)


def test_the_same_checkout_from_eight_tabs_at_once_is_one_order_and_one_charge(shop: Shop) -> None:
    shop.add(store.PlusItem("annual", 3))
    shop.add(store.VolumeItem("VOL-1", 30))
    key = shop.cart().checkout_key
    token = card(shop.gateway)
    results = run_at_once(8, lambda _i: shop.checkout(key=key, payment=token))
    orders = {r.number for r in results if isinstance(r, store.OrderView)}
    assert [r for r in results if not isinstance(r, store.OrderView)] == []
    assert len(orders) == 1 and all(r.status == "fulfilled" for r in results if isinstance(r, store.OrderView))
    assert count(shop.sessions, Order) == 1 and count(shop.sessions, LocalCharge) == 1
    assert count(shop.sessions, PlusSubscription) == 1 and count(shop.sessions, VolumeLot) == 1
    with shop.sessions() as s:
        assert s.scalar(select(PlusSubscription.seats_total)) == 3
    assert shop.cart().is_empty


def test_eight_hosts_renewing_at_once_charge_once(shop: Shop) -> None:
    shop.buy(store.PlusItem("annual", 5))
    at = END + timedelta(hours=1)
    reports = run_at_once(8, lambda _i: store.renew_due(shop.sessions, shop.settings, shop.gateway, at))
    assert [r for r in reports if not isinstance(r, store.RenewalReport)] == []
    assert sum(len(r.orders) for r in reports if isinstance(r, store.RenewalReport)) == 1
    assert count(shop.sessions, Order) == 2 and count(shop.sessions, LocalCharge) == 2
    with shop.sessions() as s:
        assert s.scalar(select(PlusSubscription.current_period_end)) == datetime(2028, 1, 1, 9, tzinfo=UTC)


class Crash(Exception):
    pass


class CrashAfterCharge(LocalGateway):
    def charge(self, *args: object, **kwargs: object) -> Charge:
        super().charge(*args, **kwargs)  # type: ignore[arg-type]
        raise Crash()


def test_eight_reconcilers_at_once_complete_a_crashed_order_once(shop: Shop) -> None:
    crashing = Shop(shop.sessions, shop.settings, CrashAfterCharge(shop.sessions), shop.owner)
    crashing.add(store.VolumeItem("VOL-1", 10))
    with pytest.raises(Crash):
        crashing.checkout()
    later = T0 + timedelta(minutes=2)
    reports = run_at_once(8, lambda _i: store.reconcile_pending(shop.sessions, shop.gateway, later))
    assert [r for r in reports if not isinstance(r, store.ReconcileReport)] == []
    assert sum(len(r.completed) for r in reports if isinstance(r, store.ReconcileReport)) >= 1
    assert count(shop.sessions, VolumeLot) == 1 and count(shop.sessions, LocalCharge) == 1
    with shop.sessions() as s:
        assert s.scalar(select(Order.status)) == "fulfilled"
