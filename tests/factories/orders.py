"""Buyers, carts and paid orders for store tests, made through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from store.accounts.service import LearnerIdentity, create_account, upsert_learner
from store.orders import service as store
from store.payments.cards import read_card
from store.payments.gateway import CardToken, PaymentGateway
from store.payments.local import LocalGateway

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
VISA = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
NO_FUNDS = "4000 0000 0000 9995"
DECLINED_LATER = "4000 0000 0000 0341"
BILLING = store.Billing(name="Ann Admin", email="ann@example.com", address="1 Main Street\nSpringfield",
                        country="US", company="Acme Learning")


def store_settings(**overrides: object) -> Settings:
    settings = load_settings({"ENV": "test"})
    return settings.with_overrides(**overrides) if overrides else settings


def make_buyer(sessions: sessionmaker[Session], name: str = "Acme Learning", admin: str = "admin-1",
               now: datetime = T0) -> store.CartOwner:
    account = create_account(sessions, name, now)
    return add_buyer(sessions, account.id, admin, now)


def add_buyer(sessions: sessionmaker[Session], account_id: int, admin: str, now: datetime = T0) -> store.CartOwner:
    with sessions.begin() as session:
        learner_id = upsert_learner(session, account_id, LearnerIdentity("lti:https://lms.example.edu", admin), now)
    return store.CartOwner(account_id, learner_id)


def card(gateway: PaymentGateway, number: str = VISA, now: datetime = T0) -> CardToken:
    return gateway.tokenize(read_card(number, "12/30", "123", now), now)


@dataclass
class Shop:
    """A store on one database: settings, the local gateway, and a buyer."""

    sessions: sessionmaker[Session]
    settings: Settings
    gateway: PaymentGateway
    owner: store.CartOwner

    def add(self, item: store.PlusItem | store.VolumeItem, now: datetime = T0) -> store.CartView:
        return store.add_to_cart(self.sessions, self.settings, self.owner, item, now)

    def cart(self, now: datetime = T0) -> store.CartView:
        with self.sessions() as session:
            return store.get_cart(session, self.settings, self.owner, now)

    def checkout(self, number: str = VISA, now: datetime = T0, *, key: str | None = None,
                 consent: bool = True, payment: object = ..., **kwargs: object) -> store.OrderView:
        key = key if key is not None else self.cart(now).checkout_key
        assert key is not None
        pay = card(self.gateway, number, now) if payment is ... else payment
        return store.checkout(self.sessions, self.settings, self.gateway, self.owner, BILLING, pay,  # type: ignore[arg-type]
                              key, consent, now, **kwargs)  # type: ignore[arg-type]

    def buy(self, *items: store.PlusItem | store.VolumeItem, number: str = VISA,
            now: datetime = T0) -> store.OrderView:
        for item in items:
            self.add(item, now)
        return self.checkout(number, now)


def make_shop(sessions: sessionmaker[Session], name: str = "Acme Learning", **settings: object) -> Shop:
    return Shop(sessions, store_settings(**settings), LocalGateway(sessions), make_buyer(sessions, name))
