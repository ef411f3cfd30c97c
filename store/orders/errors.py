"""Order errors (pure): StoreErrors with stable reasons that pages and the CLI show."""

from __future__ import annotations

from collections.abc import Mapping

from store.errors import InvalidInput


class InvalidBilling(InvalidInput):
    """Billing details with problems: ``fields`` maps each bad field (``name``, ``email``,
    ``company``, ``address``, ``country``) to what is wrong, for a message next to it."""

    reason = "invalid_billing"

    def __init__(self, fields: Mapping[str, str]) -> None:
        first = next(iter(fields.values()), "The billing details are incomplete.")
        super().__init__(first)
        self.fields = dict(fields)


class CartProblem(InvalidInput):
    """The cart cannot be checked out as it is (``reason``: ``empty_cart``, ``cart_changed``,
    ``checkout_in_progress``, ``price_changed``, ``consent_required``, or a line's problem such
    as ``contact_support`` or ``course_retired``)."""

    reason = "cart_problem"


__all__ = ["CartProblem", "InvalidBilling"]
