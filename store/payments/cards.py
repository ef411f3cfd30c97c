"""Pure card rules for the local gateway: reading its card form, and its test cards.

The local gateway behaves like a processor's test mode. It knows these cards (any future
expiry, any 3-digit CVC):

    ===================  ==========  =================================================
    number               brand       what happens
    ===================  ==========  =================================================
    4242 4242 4242 4242  visa        every charge succeeds
    5555 5555 5555 4444  mastercard  every charge succeeds
    4000 0000 0000 0002  visa        charges are declined (``card_declined``)
    4000 0000 0000 9995  visa        charges fail: ``insufficient_funds``
    4000 0000 0000 0341  visa        saved and charged at checkout; charged later
                                     (off-session: renewals) it is declined
    ===================  ==========  =================================================

Any other number is refused at the form: a malformed one as ``invalid_card_number``, a
well-formed one as ``unknown_test_card`` (a test gateway never takes a real card).
"""

from __future__ import annotations

import re
from datetime import datetime

from store.payments.errors import CardInvalid
from store.payments.gateway import CardDetails

SUCCEED = "succeed"
DECLINE = "decline"
INSUFFICIENT_FUNDS = "insufficient_funds"
DECLINE_OFF_SESSION = "decline_off_session"
BEHAVIORS = (SUCCEED, DECLINE, INSUFFICIENT_FUNDS, DECLINE_OFF_SESSION)

#: The local gateway's test cards: number → (brand, behaviour).
TEST_CARDS: dict[str, tuple[str, str]] = {
    "4242424242424242": ("visa", SUCCEED),
    "5555555555554444": ("mastercard", SUCCEED),
    "4000000000000002": ("visa", DECLINE),
    "4000000000009995": ("visa", INSUFFICIENT_FUNDS),
    "4000000000000341": ("visa", DECLINE_OFF_SESSION),
}

MAX_YEARS_AHEAD = 20
_SEPARATORS = re.compile(r"[ \-]")
_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


def luhn_ok(digits: str) -> bool:
    """The card number's check digit is right (the Luhn algorithm)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def normalize_number(number: str) -> str:
    """The digits of a typed card number (spaces and dashes dropped), or CardInvalid."""
    if not isinstance(number, str):
        raise CardInvalid("Enter the card number.", field="number", reason="invalid_card_number")
    digits = _SEPARATORS.sub("", number.strip())
    if not digits:
        raise CardInvalid("Enter the card number.", field="number", reason="invalid_card_number")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        raise CardInvalid("The card number is not valid.", field="number", reason="invalid_card_number")
    return digits


def parse_expiry(expiry: str, now: datetime) -> tuple[int, int]:
    """(month, year) from ``MM/YY`` or ``MM/YYYY``; the card is valid through that month's end."""
    found = _EXPIRY.match(expiry) if isinstance(expiry, str) and expiry.isascii() else None
    if found is None:
        raise CardInvalid("Enter the expiry date as MM/YY.", field="expiry", reason="invalid_expiry")
    month, year = int(found.group(1)), int(found.group(2))
    if year < 100:
        year += 2000
    if not 1 <= month <= 12:
        raise CardInvalid("Enter the expiry date as MM/YY.", field="expiry", reason="invalid_expiry")
    if (year, month) < (now.year, now.month):
        raise CardInvalid("The card has expired.", field="expiry", reason="card_expired")
    if year > now.year + MAX_YEARS_AHEAD:
        raise CardInvalid("The expiry date is too far ahead.", field="expiry", reason="invalid_expiry")
    return month, year


def check_cvc(cvc: str) -> str:
    if not isinstance(cvc, str) or not cvc.strip().isascii() or not cvc.strip().isdigit() \
            or len(cvc.strip()) != 3:
        raise CardInvalid("Enter the 3-digit security code (CVC) from the back of the card.", field="cvc",
                          reason="invalid_cvc")
    return cvc.strip()


def read_card(number: str, expiry: str, cvc: str, now: datetime) -> CardDetails:
    """The card form's three fields as CardDetails, or CardInvalid naming the first bad field."""
    digits = normalize_number(number)
    month, year = parse_expiry(expiry, now)
    return CardDetails(number=digits, exp_month=month, exp_year=year, cvc=check_cvc(cvc))


def check_card_expiry(card: CardDetails, now: datetime) -> None:
    """A CardDetails built elsewhere still has a valid month and is not expired."""
    if not 1 <= card.exp_month <= 12 or card.exp_year > now.year + MAX_YEARS_AHEAD:
        raise CardInvalid("Enter the expiry date as MM/YY.", field="expiry", reason="invalid_expiry")
    if (card.exp_year, card.exp_month) < (now.year, now.month):
        raise CardInvalid("The card has expired.", field="expiry", reason="card_expired")


def lookup_test_card(card: CardDetails) -> tuple[str, str]:
    """(brand, behaviour) of a local test card, or CardInvalid (``unknown_test_card``)."""
    digits = normalize_number(card.number)
    found = TEST_CARDS.get(digits)
    if found is None:
        raise CardInvalid("This is a test payment system: use a test card such as 4242 4242 4242 4242. "
                          "Never enter a real card here.", field="number", reason="unknown_test_card")
    return found


__all__ = ["BEHAVIORS", "DECLINE", "DECLINE_OFF_SESSION", "INSUFFICIENT_FUNDS", "SUCCEED", "TEST_CARDS",
           "check_card_expiry", "check_cvc", "luhn_ok", "normalize_number", "parse_expiry", "lookup_test_card", "read_card"]
