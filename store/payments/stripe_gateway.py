"""The Stripe adapter: :class:`~store.payments.gateway.PaymentGateway` on the official ``stripe``
package (``StripeClient``).

- The card is entered in Stripe's own card field in the browser, which gives a PaymentMethod id
  (``pm_…``); :meth:`StripeGateway.save_method` creates a Customer with that method attached and
  set as its default, so later charges (renewals) can run off-session. Our token is
  ``cus_…:pm_…``.
- A charge is a PaymentIntent created and confirmed at once under our idempotency key (sent as
  Stripe's ``Idempotency-Key`` and kept in the intent's metadata); ``off_session=true`` for
  renewals. A card error is a declined :class:`~store.payments.gateway.Charge`; a network error,
  a 5xx, a 409 (the same key still in flight) or a 429 is
  :class:`~store.payments.errors.PaymentUnavailable`: the outcome is unknown and the order stays
  pending.
- :meth:`StripeGateway.find_charge` lists the customer's PaymentIntents (a list, not search:
  lists are consistent at once) and matches the key in the metadata.
- Refunds are ``POST /v1/refunds`` for the PaymentIntent, under an idempotency key.

Every request goes through the product's one outbound client (:mod:`store.outbound`: a total
deadline, no redirects, a size cap, https and public addresses only in production), plugged
into the package as its HTTP client. The package's own retries are off: the same idempotency
key is retried by the store (the customer's next submit, ``billing reconcile``) instead.
``STRIPE_API_BASE`` moves the API (tests point it to a local double).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import stripe

from store.errors import InvalidInput
from store.outbound import OutboundClient, OutboundError
from store.payments.errors import PaymentDeclined, PaymentError, PaymentUnavailable
from store.payments.gateway import FAILED, PROCESSING, SUCCEEDED, CardDetails, CardToken, Charge, Refund, decline

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.stripe.com"
_ID = re.compile(r"^[A-Za-z0-9_]{3,200}$")
LIST_PAGE = 100
MAX_PAGES = 10
SINCE_SLACK = timedelta(minutes=5)  # clock skew between us and Stripe


class OutboundStripeHttpClient(stripe.HTTPClient):
    """The stripe package's HTTP client, made of the product's outbound client."""

    name = "lti-tool-outbound"

    def __init__(self, client: OutboundClient) -> None:
        super().__init__()
        self._client = client

    def request(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None, *,
                _usage: Any = None) -> tuple[str, int, Mapping[str, str]]:
        try:
            answer = self._client.request(method.upper(), url, headers=dict(headers or {}), body=post_data)
        except OutboundError as exc:
            raise stripe.APIConnectionError(f"Stripe could not be reached [{exc.reason}]",
                                            should_retry=exc.is_connection_failure) from None
        return answer.body.decode("utf-8", "replace"), answer.status, {k.lower(): v for k, v in answer.headers}

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None, *,
                       _usage: Any = None) -> tuple[Any, int, Mapping[str, str]]:
        raise NotImplementedError("streaming Stripe requests are not used")

    def close(self) -> None:
        return None


def _split_token(token: str) -> tuple[str, str] | None:
    """(customer, payment method) of our Stripe token ``cus_…:pm_…``; None for anything else
    (e.g. a local gateway's token: no Stripe charge can be made or found with it)."""
    customer, _, method = token.partition(":") if isinstance(token, str) else ("", "", "")
    if not (customer.startswith("cus_") and method.startswith("pm_") and _ID.match(customer) and _ID.match(method)):
        return None
    return customer, method


def _field(obj: Any, name: str) -> Any:
    try:
        return obj[name]
    except (KeyError, TypeError, IndexError):
        return getattr(obj, name, None)


class StripeGateway:
    name = "stripe"

    def __init__(self, secret_key: str, publishable_key: str, outbound: OutboundClient, api_base: str = "") -> None:
        self.publishable_key: str | None = publishable_key
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base or DEFAULT_API_BASE},
            http_client=OutboundStripeHttpClient(outbound),
            max_network_retries=0,
        )

    # -------------------------------------------------------- cards

    def tokenize(self, card: CardDetails, now: datetime) -> CardToken:
        raise PaymentError("With Stripe the card is entered in Stripe's own card field, never on this server.",
                           reason="tokenize_not_supported")

    def save_method(self, method_ref: str, *, email: str | None, idempotency_key: str) -> CardToken:
        if not isinstance(method_ref, str) or not method_ref.startswith("pm_") or not _ID.match(method_ref):
            raise InvalidInput("the payment method is not a Stripe PaymentMethod id (pm_…)",
                               reason="invalid_payment_method")
        params: dict[str, Any] = {"payment_method": method_ref,
                                  "invoice_settings": {"default_payment_method": method_ref}}
        if email:
            params["email"] = email
        try:
            customer = self._client.v1.customers.create(
                params=params, options={"idempotency_key": f"{idempotency_key}:customer"})  # type: ignore[arg-type]
            method = self._client.v1.payment_methods.retrieve(method_ref)
        except stripe.CardError as exc:
            raise PaymentDeclined(*decline(self._card_error_code(exc))) from None
        except stripe.InvalidRequestError as exc:
            log.warning("stripe: saving payment method refused: %s (%s)", exc.code, exc.user_message)
            raise PaymentDeclined(*decline("invalid_payment_method")) from None
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            log.warning("stripe: saving payment method: %r", exc)
            raise PaymentUnavailable("The payment service could not be reached; nothing was charged. "
                                     "Try again in a moment.") from None
        except stripe.StripeError as exc:
            log.error("stripe: saving payment method failed: %r", exc)
            raise PaymentError(decline("gateway_error")[1], reason="gateway_error") from None
        card = _field(method, "card")
        return CardToken(f"{customer.id}:{method_ref}", str(_field(card, "last4") or "")[-4:].rjust(4, "0"),
                         str(_field(card, "brand") or "card"), int(_field(card, "exp_month") or 0),
                         int(_field(card, "exp_year") or 0))

    # -------------------------------------------------------- charges

    def charge(self, amount_cents: int, currency: str, token: str, idempotency_key: str, *,
               off_session: bool, description: str) -> Charge:
        parts = _split_token(token)
        if parts is None:
            return Charge.declined("invalid_payment_method", amount_cents)
        customer, method = parts
        params: dict[str, Any] = {
            "amount": amount_cents, "currency": currency.lower(), "customer": customer, "payment_method": method,
            "payment_method_types": ["card"], "confirm": True, "off_session": off_session,
            "description": description[:500], "metadata": {"idempotency_key": idempotency_key},
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key})  # type: ignore[arg-type]
        except stripe.CardError as exc:
            intent_id = _field(_field(exc.error, "payment_intent"), "id") if exc.error is not None else None
            return Charge.declined(self._card_error_code(exc), amount_cents, intent_id)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            log.warning("stripe: charge %s outcome unknown: %r", idempotency_key, exc)
            raise PaymentUnavailable("The payment service could not be reached, so we do not know yet whether "
                                     "the card was charged. It will never be charged twice.") from None
        except stripe.InvalidRequestError as exc:
            log.warning("stripe: charge %s refused: %s (%s)", idempotency_key, exc.code, exc.user_message)
            reason = "invalid_payment_method" if exc.code == "resource_missing" else "gateway_error"
            return Charge.declined(reason, amount_cents)
        except stripe.StripeError as exc:  # authentication, permission, idempotency: nothing was charged
            log.error("stripe: charge %s failed: %r", idempotency_key, exc)
            return Charge.declined("gateway_error", amount_cents)
        return self._intent_charge(intent, amount_cents)

    @staticmethod
    def _card_error_code(exc: stripe.StripeError) -> str | None:
        error = exc.error
        code = _field(error, "decline_code") if error is not None else None
        return code or exc.code

    @staticmethod
    def _intent_charge(intent: Any, amount_cents: int) -> Charge:
        status = _field(intent, "status")
        intent_id = _field(intent, "id")
        if status == "succeeded":
            return Charge(intent_id, SUCCEEDED, int(_field(intent, "amount") or amount_cents))
        if status in ("processing", "requires_capture"):
            return Charge(intent_id, PROCESSING, amount_cents)
        if status == "requires_action":
            return Charge.declined("authentication_required", amount_cents, intent_id)
        last_error = _field(intent, "last_payment_error")
        code = (_field(last_error, "decline_code") or _field(last_error, "code")) if last_error else None
        charge = Charge.declined(code, amount_cents, intent_id)
        assert charge.status == FAILED
        return charge

    def find_charge(self, idempotency_key: str, token: str, since: datetime) -> Charge | None:
        parts = _split_token(token)
        if parts is None:
            return None
        params: dict[str, Any] = {"customer": parts[0], "limit": LIST_PAGE,
                                  "created": {"gte": int((since - SINCE_SLACK).timestamp())}}
        try:
            for _page in range(MAX_PAGES):
                page = self._client.v1.payment_intents.list(params=params)  # type: ignore[arg-type]
                for intent in page.data:
                    metadata = _field(intent, "metadata") or {}
                    if _field(metadata, "idempotency_key") == idempotency_key:
                        return self._intent_charge(intent, int(_field(intent, "amount") or 0))
                if not page.has_more or not page.data:
                    return None
                params["starting_after"] = page.data[-1].id
        except stripe.StripeError as exc:
            log.warning("stripe: looking up charge %s: %r", idempotency_key, exc)
            raise PaymentUnavailable("The payment service could not be asked about this charge.") from None
        raise PaymentUnavailable("Too many payments to look through for this charge.")

    # -------------------------------------------------------- refunds

    def refund(self, charge_id: str, amount_cents: int, idempotency_key: str) -> Refund:
        try:
            refund = self._client.v1.refunds.create(
                params={"payment_intent": charge_id, "amount": amount_cents},
                options={"idempotency_key": idempotency_key})
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            log.warning("stripe: refund of %s outcome unknown: %r", charge_id, exc)
            raise PaymentUnavailable("The payment service could not be reached; try the refund again.") from None
        except stripe.StripeError as exc:
            log.warning("stripe: refund of %s refused: %r", charge_id, exc)
            raise PaymentError(f"Stripe refused the refund ({exc.code or 'error'})", reason="refund_refused") from None
        return Refund(refund.id, charge_id, int(refund.amount), str(refund.status))


__all__ = ["DEFAULT_API_BASE", "OutboundStripeHttpClient", "StripeGateway"]
