"""Payment errors (pure): each a StoreError with a stable ``reason``."""

from __future__ import annotations

from store.errors import InvalidInput, StoreError


class PaymentError(StoreError):
    """The payment could not be made; nothing was charged."""

    reason = "payment_error"


class PaymentDeclined(PaymentError):
    """The gateway said no (``reason``: ``card_declined``, ``insufficient_funds``, …; the
    message says what to do)."""

    reason = "card_declined"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)


class PaymentUnavailable(PaymentError):
    """The gateway could not be reached or did not decide: whether money moved is unknown.
    The order stays pending; the same idempotency key later finds out (never a second charge)."""

    reason = "payment_unavailable"


class CardInvalid(InvalidInput):
    """A card form field is wrong: ``field`` is ``number``, ``expiry`` or ``cvc``."""

    reason = "invalid_card"

    def __init__(self, message: str, *, field: str, reason: str) -> None:
        super().__init__(message, reason=reason)
        self.field = field


__all__ = ["CardInvalid", "PaymentDeclined", "PaymentError", "PaymentUnavailable"]
