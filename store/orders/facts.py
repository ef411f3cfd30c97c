"""What the store's rules need from the database, loaded into the frozen facts of
:mod:`store.orders.rules`. Functions take a Session and never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, false, func, select
from sqlalchemy.orm import Session

from config import Settings
from store.accounts.models import Learner
from store.catalog.limits import CATALOG_ID_MAX
from store.catalog.models import Bundle, Course
from store.errors import NotFound
from store.licenses import holdings
from store.licenses.models import PlusSubscription
from store.orders import rules
from store.orders.models import SubscriptionRenewal
from store.text import text_problem


def price_list(settings: Settings) -> rules.PriceList:
    return rules.PriceList(settings.plus_annual_seat_cents, settings.plus_monthly_seat_cents, settings.currency)


def check_buyer(session: Session, account_id: int, learner_id: int) -> None:
    """The buyer is a learner of that account (NotFound ``unknown_buyer`` otherwise)."""
    found = session.scalar(select(Learner.account_id).where(Learner.id == learner_id))
    if found is None or found != account_id:
        raise NotFound("this buyer is not known for the account; open the store again", reason="unknown_buyer")


def account_position(session: Session, account_id: int, now: datetime) -> rules.AccountPosition:
    """What the account holds (:func:`rules.held_types` over the holdings' statuses) and the
    subscription new Plus seats would be added to."""
    overview = holdings.account_overview(session, account_id, now)
    held = rules.held_types(((h.license_type, h.status) for h in overview.holdings if h.license_type != "ppu"),
                            overview.ppu is not None and overview.ppu.is_enabled)
    plus = None
    current = overview.current_plus
    if current is not None and current.term is not None and current.expires_at is not None:
        renewal_open = bool(session.scalar(select(exists().where(
            SubscriptionRenewal.subscription_id == current.holding_id, SubscriptionRenewal.status == "open"))))
        row = session.get_one(PlusSubscription, current.holding_id)
        plus = rules.PlusTerm(current.holding_id, current.term,
                              rules.current_term_start(current.starts_at, current.expires_at, current.term),
                              current.expires_at, renewal_failed=renewal_open,
                              renews=row.auto_renew and row.cancelled_at is None)
    not_started = any(h.status == "not_started" for h in overview.plus)
    return rules.AccountPosition(held, plus, not_started)


def _offer_select():  # type: ignore[no-untyped-def]
    return (select(Course.id, Course.catalog_id, Course.title, Course.volume_price_cents, Course.status,
                   func.coalesce(Bundle.is_subscription_only, false()))
            .outerjoin(Bundle, Bundle.id == Course.bundle_id))


def _offer(row: tuple[object, ...]) -> rules.CourseOffer:
    pk, catalog_id, title, price, status, sub_only = row
    return rules.CourseOffer(int(pk), str(catalog_id), str(title), int(price), str(status), bool(sub_only))  # type: ignore[call-overload]


def course_offer(session: Session, catalog_id: str) -> rules.CourseOffer:
    """A course by catalog id (NotFound ``unknown_course``; text the input rule refuses never
    reaches the database)."""
    if not isinstance(catalog_id, str) or text_problem(catalog_id, max_chars=CATALOG_ID_MAX) is not None:
        raise NotFound("There is no such course in the catalog.", reason="unknown_course")
    row = session.execute(_offer_select().where(Course.catalog_id == catalog_id)).first()
    if row is None:
        raise NotFound(f"There is no course {catalog_id!r} in the catalog.", reason="unknown_course")
    return _offer(tuple(row))


def course_offers(session: Session, course_pks: list[int]) -> dict[int, rules.CourseOffer]:
    if not course_pks:
        return {}
    return {offer.course_pk: offer for offer in (
        _offer(tuple(row)) for row in session.execute(_offer_select().where(Course.id.in_(course_pks))))}
