"""Order errors (pure): StoreErrors with stable reasons that pages and the CLI show."""

from __future__ import annotations

from collections.abc import Mapping

from store.errors import InvalidInput


class InvalidFields(InvalidInput):
    """A form's fields with problems: ``fields`` maps each bad field to what is wrong, for a
    message next to it; the message is the first of them."""

    reason = "invalid_fields"

    def __init__(self, fields: Mapping[str, str]) -> None:
        first = next(iter(fields.values()), "Some details are missing.")
        super().__init__(first)
        self.fields = dict(fields)


class InvalidBilling(InvalidFields):
    """Billing details with problems (fields ``name``, ``email``, ``company``, ``address``,
    ``country``)."""

    reason = "invalid_billing"


class InvalidQuote(InvalidFields):
    """A quote request with problems (fields ``name``, ``email``, ``message``, ``items``)."""

    reason = "invalid_quote"


class CartProblem(InvalidInput):
    """The cart cannot be checked out as it is (``reason``: ``empty_cart``, ``cart_changed``,
    ``checkout_in_progress``, ``price_changed``, ``consent_required``, or a line's problem such
    as ``contact_support`` or ``course_retired``)."""

    reason = "cart_problem"


__all__ = ["CartProblem", "InvalidBilling", "InvalidFields", "InvalidQuote"]
