"""Pure: what every payment gateway offers the store, and the words for its outcomes.

The store charges through one interface, :class:`PaymentGateway`, chosen by the setting
``PAYMENT_GATEWAY`` (:func:`store.payments.gateway_for`): the embedded local gateway
(``local.py``, a processor's test mode with its own ledger tables) or the Stripe adapter
(``stripe_gateway.py``). A card number exists only in :class:`CardDetails`, on its way from the
local gateway's card form to :meth:`PaymentGateway.tokenize`; it is never stored, logged or
shown (its ``repr`` leaves it out). Everything after that uses a token: a reusable reference to
the card at the gateway (``accounts.payment_token``) with the card's brand, last four digits and
expiry.

Outcomes: :class:`Charge` says ``succeeded``, ``failed`` (a definite "no": declined, no money
moved; ``failure_reason`` is one of :data:`DECLINES`) or ``processing`` (the gateway has not
decided yet). When the outcome is unknown (the gateway could not be reached, or answered
"try again") the gateway raises :class:`~store.payments.errors.PaymentUnavailable` instead: the
caller keeps the order pending and asks again later with the same idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

SUCCEEDED = "succeeded"
FAILED = "failed"
PROCESSING = "processing"
CHARGE_STATUSES = (SUCCEEDED, FAILED, PROCESSING)

#: Stable failure reasons and what the customer is told.
DECLINES: dict[str, str] = {
    "card_declined": "Your card was declined. Use another card, or ask your bank why.",
    "insufficient_funds": "Your card has insufficient funds. Use another card.",
    "expired_card": "Your card has expired. Use another card.",
    "incorrect_cvc": "The card's security code (CVC) is incorrect.",
    "authentication_required": "Your bank asks to confirm this payment, which cannot be done here. "
                               "Use another card.",
    "processing_error": "The card could not be processed. Try again in a moment.",
    "invalid_payment_method": "The card can no longer be used. Enter a card again.",
    "no_payment_method": "There is no card on file to charge.",
    "gateway_error": "Payments are not available right now; nothing was charged. Try again later.",
}


def decline(reason: str | None) -> tuple[str, str]:
    """(reason, message) for a gateway's failure code: a known reason keeps its name, anything
    else (``generic_decline``, ``do_not_honor``, ``lost_card``, …) reads as ``card_declined``."""
    known = reason if reason in DECLINES else "card_declined"
    return known, DECLINES[known]


@dataclass(frozen=True)
class CardDetails:
    """A card as typed into the local gateway's card form. Lives only between the form and
    :meth:`PaymentGateway.tokenize`: never stored, never logged (``repr`` omits number and CVC)."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)

    @property
    def last4(self) -> str:
        return self.number[-4:]


@dataclass(frozen=True)
class CardToken:
    """A card the gateway keeps for us: ``token`` is what we store and charge (the local
    gateway's ``tok_local_…``; Stripe's ``cus_…:pm_…``), with what may be shown of the card."""

    token: str
    last4: str
    brand: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class Charge:
    """A charge's outcome at the gateway. ``id`` is the gateway's charge or PaymentIntent id
    (None when the gateway refused before creating one)."""

    id: str | None
    status: str  # succeeded | failed | processing
    amount_cents: int
    failure_reason: str | None = None
    failure_message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @classmethod
    def declined(cls, reason: str | None, amount_cents: int, charge_id: str | None = None) -> Charge:
        known, message = decline(reason)
        return cls(charge_id, FAILED, amount_cents, known, message)


@dataclass(frozen=True)
class Refund:
    id: str
    charge_id: str
    amount_cents: int
    status: str  # succeeded | pending | failed


class PaymentGateway(Protocol):
    """What the store needs of a payment processor. Every call that moves money takes an
    idempotency key: the same key again returns the first call's outcome and never charges
    twice. Calls may take seconds: never call them inside a database transaction."""

    name: str  # "local" | "stripe"
    publishable_key: str | None  # what the browser needs (Stripe.js); None for the local gateway

    def tokenize(self, card: CardDetails, now: datetime) -> CardToken:
        """The local card form's card as a token (raises CardInvalid naming the field). Stripe
        tokenizes in the browser instead, so its adapter refuses."""
        ...

    def save_method(self, method_ref: str, *, email: str | None, idempotency_key: str) -> CardToken:
        """A payment method from the page (a local token, a Stripe PaymentMethod id) made
        reusable for later off-session charges (Stripe: a customer with the method attached).
        Raises PaymentDeclined when the gateway refuses the card."""
        ...

    def charge(self, amount_cents: int, currency: str, token: str, idempotency_key: str, *,
               off_session: bool, description: str) -> Charge:
        """Charge a saved method once per idempotency key; ``off_session`` for charges the
        customer does not watch (renewals). Raises PaymentUnavailable when the outcome is
        unknown."""
        ...

    def find_charge(self, idempotency_key: str, token: str, since: datetime) -> Charge | None:
        """The charge made under ``idempotency_key`` (for ``token``, not before ``since``), or
        None when the gateway has none: the reconciliation of orders left pending."""
        ...

    def refund(self, charge_id: str, amount_cents: int, idempotency_key: str) -> Refund:
        """Give back (part of) a succeeded charge once per idempotency key."""
        ...


__all__ = ["CHARGE_STATUSES", "DECLINES", "FAILED", "PROCESSING", "SUCCEEDED", "CardDetails", "CardToken",
           "Charge", "PaymentGateway", "Refund", "decline"]
