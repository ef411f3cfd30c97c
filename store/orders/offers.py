"""What the store offers an account before anything is in its cart: the Plus page (seat prices,
or the prorated price of seats added to its subscription) and a course's Volume offer (the
discount levels), each with the problem that keeps the account from buying it, by the same
rules as the cart (:mod:`store.orders.rules`). Read only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy.orm import Session

from config import Settings
from store import pricing
from store.accounts.models import Account
from store.base import require_aware
from store.errors import NotFound
from store.orders import facts, rules


@dataclass(frozen=True)
class PlusOffer:
    """The Plus subscription as this account may buy it now. With ``add_seats`` the seats go to
    its subscription in its term (``term``, until ``period_end``) at ``prorated_seat_cents``
    (``proration`` of a term's price); otherwise a new subscription of either term starts at
    purchase. ``problem`` (e.g. ``contact_support``) says why it cannot be bought here."""

    currency: str
    annual_seat_cents: int
    monthly_seat_cents: int
    max_seats: int
    add_seats: bool
    term: str | None
    period_end: datetime | None
    proration: Fraction | None
    prorated_seat_cents: int | None
    problem: rules.Problem | None

    @property
    def can_buy(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class VolumeOffer:
    """One course's Volume seats for this account: the list price, the discount levels up to the
    store limit, and the problem that keeps it out of the cart (``course_retired``,
    ``bundle_excluded``, ``contact_support``), if any."""

    catalog_id: str
    title: str
    currency: str
    list_price_cents: int
    max_seats: int
    tiers: tuple[pricing.TierRow, ...]
    problem: rules.Problem | None

    @property
    def can_buy(self) -> bool:
        return self.problem is None


def plus_offer(session: Session, settings: Settings, account_id: int, now: datetime) -> PlusOffer:
    now = require_aware(now, "now")
    prices = facts.price_list(settings)
    position = facts.account_position(session, account_id, now)
    problems = rules.line_problems(rules.PLUS, position)
    sub = position.plus
    if sub is not None and sub.period_start is not None and not problems:
        line = rules.price_line(rules.LineFacts(0, rules.PLUS, 1, sub.term), position, prices, now)
        return PlusOffer(settings.currency, prices.plus_annual_seat_cents, prices.plus_monthly_seat_cents,
                         rules.max_quantity(rules.PLUS), True, sub.term, sub.period_end, line.proration,
                         line.unit_cents, None)
    return PlusOffer(settings.currency, prices.plus_annual_seat_cents, prices.plus_monthly_seat_cents,
                     rules.max_quantity(rules.PLUS), False, None, None, None, None, problems[0] if problems else None)


def volume_offer(session: Session, settings: Settings, account_id: int, catalog_id: str, now: datetime) -> VolumeOffer:
    """NotFound ``unknown_course`` for a course not in the catalog."""
    now = require_aware(now, "now")
    if session.get(Account, account_id) is None:
        raise NotFound("unknown account", reason="unknown_account")
    course = facts.course_offer(session, catalog_id)
    position = facts.account_position(session, account_id, now)
    problems = rules.line_problems(rules.VOLUME, position, course)
    limit = rules.max_quantity(rules.VOLUME)
    return VolumeOffer(course.catalog_id, course.title, settings.currency, course.volume_price_cents, limit,
                       tuple(pricing.volume_tier_table(course.volume_price_cents, max_quantity=limit)),
                       problems[0] if problems else None)


@dataclass(frozen=True)
class CardOnFile:
    last4: str


def card_on_file(session: Session, account_id: int) -> CardOnFile | None:
    """The account's card on file (what checkout may charge without a new card), or None."""
    account = session.get(Account, account_id)
    if account is None or not account.payment_token:
        return None
    return CardOnFile(account.card_last4 or "")


__all__ = ["CardOnFile", "PlusOffer", "VolumeOffer", "card_on_file", "plus_offer", "volume_offer"]
