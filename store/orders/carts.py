"""Carts: one per buyer (account, learner). Each change is one short transaction; a refused
change (bad quantity, over the store limit, a line the account may not buy) changes nothing.
Prices are not stored in the cart: :func:`get_cart` prices it from the catalog, the settings and
what the account holds now, and checkout prices it again."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from store.base import require_aware
from store.database import upsert_insert
from store.errors import InvalidInput, NotFound
from store.orders import facts, rules
from store.orders.errors import CartProblem
from store.orders.models import Cart, CartLine, Order
from store.pricing import PLUS_TERMS

MAX_CART_LINES = 50


@dataclass(frozen=True)
class CartOwner:
    """Whose cart: one buyer (a learner record: an LMS admin, or an independent learner) of one
    account."""

    account_id: int
    learner_id: int


@dataclass(frozen=True)
class PlusItem:
    """Plus seats: a new subscription of ``term``, or seats added to the account's subscription
    in its term (then its term applies). ``seats`` may be the text typed into the form."""

    term: str
    seats: int | str


@dataclass(frozen=True)
class VolumeItem:
    """Volume seats of one course (by catalog id); ``seats`` may be the text typed."""

    catalog_id: str
    seats: int | str


@dataclass(frozen=True)
class CartLineView:
    id: int
    kind: str  # plus | volume
    is_add_seats: bool  # Plus seats added to the subscription in its term (prorated)
    title: str
    catalog_id: str | None
    term: str | None
    quantity: int
    max_quantity: int  # the store limit for this line (100 / 1000)
    list_unit_cents: int
    unit_cents: int
    discount_percent: int
    tier_min: int | None
    tier_max: int | None
    capped_by: int | None  # "costs the same as N seats"
    proration: Fraction | None  # share of the term left, for added Plus seats
    period_start: datetime | None
    period_end: datetime | None
    line_total_cents: int
    problems: tuple[rules.Problem, ...]

    @property
    def proration_percent(self) -> int | None:
        return None if self.proration is None else round(self.proration * 100)


@dataclass(frozen=True)
class CartView:
    """A priced cart. ``problems`` are the cart's own (``empty_cart``, ``checkout_in_progress``);
    each line carries its own. ``checkout_key`` goes into the checkout form: it names this cart as
    it is now, so a double submit, a retry or a second tab pay for it once."""

    cart_id: int | None
    revision: int
    currency: str
    lines: tuple[CartLineView, ...]
    subtotal_cents: int
    problems: tuple[rules.Problem, ...]
    checkout_key: str | None
    pending_order_number: str | None
    needs_recurring_consent: bool

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def all_problems(self) -> tuple[rules.Problem, ...]:
        return self.problems + tuple(p for line in self.lines for p in line.problems)

    @property
    def can_checkout(self) -> bool:
        return bool(self.lines) and not self.all_problems

    @property
    def item_count(self) -> int:
        return len(self.lines)


def checkout_key(cart: Cart) -> str:
    return f"co_{cart.nonce}_{cart.revision}"


# ---------------------------------------------------------------- reading


def _cart(session: Session, owner: CartOwner, *, lock: bool = False) -> Cart | None:
    stmt = select(Cart).where(Cart.account_id == owner.account_id, Cart.learner_id == owner.learner_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def _cart_for_change(session: Session, owner: CartOwner, now: datetime) -> Cart:
    """The owner's cart, created when missing, locked for this transaction; refused while it is
    being paid for."""
    facts.check_buyer(session, owner.account_id, owner.learner_id)
    insert = upsert_insert(session)
    session.execute(insert(Cart).values(account_id=owner.account_id, learner_id=owner.learner_id, revision=0,
                                        nonce=secrets.token_hex(8), created_at=now, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["account_id", "learner_id"]))
    cart = _cart(session, owner, lock=True)
    assert cart is not None
    session.refresh(cart)
    if cart.pending_order_id is not None:
        raise CartProblem("Your payment for this cart is being processed, so it cannot change now. "
                          "Try again in a minute.", reason="checkout_in_progress")
    return cart


def cart_lines(session: Session, cart_id: int) -> list[CartLine]:
    return list(session.scalars(select(CartLine).where(CartLine.cart_id == cart_id)
                                .order_by(CartLine.added_at, CartLine.id)))


def price(session: Session, settings: Settings, cart: Cart, now: datetime,
          position: rules.AccountPosition | None = None) -> rules.PricedCart:
    """The cart priced now (with its problems)."""
    lines = cart_lines(session, cart.id)
    offers = facts.course_offers(session, [line.course_pk for line in lines if line.course_pk is not None])
    position = position or facts.account_position(session, cart.account_id, now)
    line_facts = [rules.LineFacts(line.id, line.kind, line.quantity, line.term,
                                  offers.get(line.course_pk) if line.course_pk is not None else None)
                  for line in lines]
    cart_problems = []
    if cart.pending_order_id is not None:
        cart_problems.append(rules.Problem("checkout_in_progress", "Your payment for this cart is being processed."))
    return rules.price_cart(line_facts, position, facts.price_list(settings), now, cart_problems)


def _line_view(line: rules.PricedLine) -> CartLineView:
    return CartLineView(line.line_id, line.kind, line.is_add_seats, line.title, line.catalog_id, line.term,
                        line.quantity, line.max_quantity, line.list_unit_cents, line.unit_cents, line.discount_percent,
                        line.tier_min, line.tier_max, line.capped_by, line.proration, line.period_start,
                        line.period_end, line.line_total_cents, line.problems)


def _view(session: Session, settings: Settings, cart: Cart | None, now: datetime) -> CartView:
    if cart is None:
        return CartView(None, 0, settings.currency, (), 0, (rules.Problem("empty_cart", "Your cart is empty."),),
                        None, None, False)
    priced = price(session, settings, cart, now)
    pending = rules.order_number(cart.pending_order_id) if cart.pending_order_id is not None else None
    return CartView(cart.id, cart.revision, settings.currency, tuple(_line_view(line) for line in priced.lines),
                    priced.subtotal_cents, priced.problems, checkout_key(cart), pending,
                    priced.needs_recurring_consent)


def get_cart(session: Session, settings: Settings, owner: CartOwner, now: datetime) -> CartView:
    """The owner's cart priced now (an empty view when there is none yet). Reads only."""
    now = require_aware(now, "now")
    return _view(session, settings, _cart(session, owner), now)


# ---------------------------------------------------------------- changes


def _bump(cart: Cart, now: datetime) -> None:
    cart.revision += 1
    cart.updated_at = now


def add_to_cart(sessions: sessionmaker[Session], settings: Settings, owner: CartOwner, item: PlusItem | VolumeItem,
                now: datetime) -> CartView:
    """Put an item in the cart: Plus seats (a new subscription, or seats added to the one in its
    term: decided from what the account holds) or Volume seats of a course. An item already in
    the cart gets the seats added to its quantity. Raises InvalidInput (``invalid_quantity``,
    ``quote_required``, ``invalid_term``, ``contact_support``, ``course_retired``,
    ``bundle_excluded``, ``cart_full``), NotFound (``unknown_course``) or CartProblem
    (``checkout_in_progress``), and then changes nothing."""
    now = require_aware(now, "now")
    quantity = rules.parse_quantity(item.seats)
    if isinstance(item, PlusItem):
        if item.term not in PLUS_TERMS:
            raise InvalidInput("Choose an annual or a monthly subscription.", reason="invalid_term")
    elif not isinstance(item, VolumeItem):
        raise TypeError(f"not a cart item: {item!r}")
    with sessions.begin() as session:
        cart = _cart_for_change(session, owner, now)
        position = facts.account_position(session, owner.account_id, now)
        course = None
        if isinstance(item, PlusItem):
            kind, key = rules.PLUS, "plus"
            term: str | None = position.plus.term if position.plus is not None else item.term
        else:
            course = facts.course_offer(session, item.catalog_id)
            kind, key, term = rules.VOLUME, f"volume:{course.course_pk}", None
        line = session.scalars(select(CartLine).where(CartLine.cart_id == cart.id, CartLine.line_key == key)).first()
        total = quantity + (line.quantity if line is not None else 0)
        rules.check_new_line(kind, position, course, total)
        if line is None:
            if len(cart_lines(session, cart.id)) >= MAX_CART_LINES:
                raise InvalidInput(f"A cart holds up to {MAX_CART_LINES} items; check out or remove some first.",
                                   reason="cart_full")
            session.add(CartLine(cart_id=cart.id, kind=kind, line_key=key, term=term,
                                 course_pk=course.course_pk if course else None, quantity=total, added_at=now))
        else:
            line.quantity = total
            line.term = term
        _bump(cart, now)
        session.flush()
        return _view(session, settings, cart, now)


def _owned_line(session: Session, cart: Cart, line_id: int) -> CartLine:
    line = session.scalars(select(CartLine).where(CartLine.id == line_id, CartLine.cart_id == cart.id)).first() \
        if isinstance(line_id, int) and not isinstance(line_id, bool) else None
    if line is None:
        raise NotFound("That item is not in your cart (any more).", reason="unknown_line")
    return line


def update_quantity(sessions: sessionmaker[Session], settings: Settings, owner: CartOwner, line_id: int,
                    quantity: int | str, now: datetime) -> CartView:
    """Set a line's quantity (the cart's **Update** button). A bad quantity (0, negative, not a
    number: ``invalid_quantity``; above the store limit: ``quote_required``) changes nothing."""
    now = require_aware(now, "now")
    wanted = rules.parse_quantity(quantity)
    with sessions.begin() as session:
        cart = _cart_for_change(session, owner, now)
        line = _owned_line(session, cart, line_id)
        position = facts.account_position(session, owner.account_id, now)
        course = facts.course_offers(session, [line.course_pk]).get(line.course_pk) if line.course_pk else None
        rules.check_new_line(line.kind, position, course, wanted)
        line.quantity = wanted
        _bump(cart, now)
        session.flush()
        return _view(session, settings, cart, now)


def remove_line(sessions: sessionmaker[Session], settings: Settings, owner: CartOwner, line_id: int,
                now: datetime) -> CartView:
    """Take a line out of the cart (**Remove**)."""
    now = require_aware(now, "now")
    with sessions.begin() as session:
        cart = _cart_for_change(session, owner, now)
        line = _owned_line(session, cart, line_id)
        session.delete(line)
        _bump(cart, now)
        session.flush()
        return _view(session, settings, cart, now)


# ---------------------------------------------------------------- used by checkout


def locked_cart(session: Session, owner: CartOwner) -> Cart | None:
    return _cart(session, owner, lock=True)


def empty_after_order(session: Session, order: Order, now: datetime) -> None:
    """The cart that was being paid for by ``order`` is emptied (the order was paid)."""
    for cart in session.scalars(select(Cart).where(Cart.pending_order_id == order.id).with_for_update()):
        session.execute(delete(CartLine).where(CartLine.cart_id == cart.id))
        cart.pending_order_id = None
        _bump(cart, now)


def release_after_order(session: Session, order: Order, now: datetime) -> None:
    """The cart that was being paid for by ``order`` may change again (the payment failed or the
    order was cancelled); its revision moves on, so the next checkout has a new key."""
    for cart in session.scalars(select(Cart).where(Cart.pending_order_id == order.id).with_for_update()):
        cart.pending_order_id = None
        _bump(cart, now)
