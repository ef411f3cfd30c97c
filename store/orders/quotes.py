"""Quote requests: above the store limits a customer asks for a quote; staff see the requests
(``lti-tool staff quotes``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from store.accounts.models import Account
from store.base import require_aware
from store.errors import InvalidInput, NotFound
from store.orders import facts, rules
from store.orders.carts import CartOwner, CartView, PlusItem, VolumeItem
from store.orders.errors import InvalidQuote
from store.orders.models import QuoteRequest
from store.orders.queries import QuoteView, _quote_items
from store.pricing import PLUS_TERMS

MESSAGE_MAX = 5000
MAX_ITEMS = 50
MAX_QUOTE_SEATS = 10_000_000


def items_of_cart(cart: CartView) -> list[PlusItem | VolumeItem]:
    """A cart's lines as quote items (what the customer has chosen so far)."""
    items: list[PlusItem | VolumeItem] = []
    for line in cart.lines:
        if line.kind == rules.PLUS:
            items.append(PlusItem(line.term or "annual", line.quantity))
        elif line.catalog_id is not None:
            items.append(VolumeItem(line.catalog_id, line.quantity))
    return items


def request_quote(sessions: sessionmaker[Session], owner: CartOwner, name: str, email: str, message: str,
                  items: Sequence[PlusItem | VolumeItem], now: datetime) -> QuoteView:
    """Store a quote request: who asks (name, email), their message and what they asked for
    (``items``: Plus and Volume items with any quantity from 1; e.g. the cart's lines with the
    quantity that was over the limit, see :func:`items_of_cart`). InvalidQuote names the bad
    fields; an unknown course is NotFound."""
    now = require_aware(now, "now")
    problems: dict[str, str] = {}
    name = rules.read_field(problems, name, "name", "name", rules.NAME_MAX, required=True)
    email = rules.read_field(problems, email, "email", "email address", rules.EMAIL_MAX, required=True)
    if email and not rules.is_email(email):
        problems["email"] = "Enter an email address like name@example.com."
    message = rules.read_field(problems, message, "message", "message", MESSAGE_MAX, required=False,
                               multiline=True)
    if len(items) > MAX_ITEMS:
        problems["items"] = f"A quote request holds up to {MAX_ITEMS} items."
    elif not items and not message and "message" not in problems:
        problems["message"] = "Tell us what you would like a quote for."
    wanted: list[tuple[str, str | None, str | None, int]] = []
    for item in items[:MAX_ITEMS]:
        try:
            seats = rules.parse_quantity(item.seats)
        except InvalidInput as exc:
            problems["items"] = exc.message
            continue
        if seats > MAX_QUOTE_SEATS:
            problems["items"] = f"Ask for at most {MAX_QUOTE_SEATS:,} seats; tell us more in the message."
        elif isinstance(item, PlusItem):
            if item.term not in PLUS_TERMS:
                problems["items"] = "Choose an annual or a monthly subscription."
            wanted.append((rules.PLUS, None, item.term, seats))
        elif isinstance(item, VolumeItem):
            wanted.append((rules.VOLUME, item.catalog_id, None, seats))
        else:
            raise TypeError(f"not a quote item: {item!r}")
    if problems:
        raise InvalidQuote(problems)
    with sessions.begin() as session:
        facts.check_buyer(session, owner.account_id, owner.learner_id)
        snapshot: list[dict[str, Any]] = []
        for kind, catalog_id, term, seats in wanted:
            if kind == rules.PLUS:
                snapshot.append({"kind": kind, "course_id": None, "title": f"Plus subscription ({term})",
                                 "term": term, "seats": seats})
            else:
                assert catalog_id is not None
                offer = facts.course_offer(session, catalog_id)
                snapshot.append({"kind": kind, "course_id": offer.catalog_id, "title": offer.title, "term": None,
                                 "seats": seats})
        quote = QuoteRequest(account_id=owner.account_id, learner_id=owner.learner_id, name=name, email=email,
                             message=message, items=snapshot, created_at=now)
        session.add(quote)
        session.flush()
        account = session.get(Account, owner.account_id)
        if account is None:
            raise NotFound("unknown account", reason="unknown_account")
        return QuoteView(quote.id, account.id, account.name, quote.name, quote.email, quote.message,
                         _quote_items(quote.items), quote.created_at)


__all__ = ["items_of_cart", "request_quote"]
