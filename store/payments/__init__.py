"""Payments: one gateway interface (:mod:`store.payments.gateway`), the local gateway
(:mod:`store.payments.local`), the Stripe adapter (:mod:`store.payments.stripe_gateway`) and
:func:`gateway_for`, which picks one by the ``PAYMENT_GATEWAY`` setting."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from config import Settings, check_payment_settings
from store.payments.errors import CardInvalid, PaymentDeclined, PaymentError, PaymentUnavailable
from store.payments.gateway import CardDetails, CardToken, Charge, PaymentGateway, Refund


def gateway_for(settings: Settings, sessions: sessionmaker[Session]) -> PaymentGateway:
    """The payment gateway the settings choose; ConfigError when they cannot work (Stripe
    without keys; the local gateway in production without ``PAYMENTS_TEST_MODE``)."""
    check_payment_settings(settings)
    if settings.payment_gateway == "stripe":
        from store.outbound import client_for
        from store.payments.stripe_gateway import StripeGateway

        return StripeGateway(settings.stripe_secret_key, settings.stripe_publishable_key, client_for(settings),
                             api_base=settings.stripe_api_base)
    from store.payments.local import LocalGateway

    return LocalGateway(sessions)


__all__ = ["CardDetails", "CardInvalid", "CardToken", "Charge", "PaymentDeclined", "PaymentError", "PaymentGateway",
           "PaymentUnavailable", "Refund", "gateway_for"]
