"""The app's payment gateway: built once by create_app from the settings, reached by views as
services().payments; start-up stops when the settings cannot take payments."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config import ConfigError
from lti_tool import create_app
from lti_tool.services import services_of
from store.payments.local import LocalGateway
from store.payments.stripe_gateway import StripeGateway
from tests.web.conftest import settings_for


def test_the_local_gateway_is_the_default(app: Flask) -> None:
    assert isinstance(services_of(app).payments, LocalGateway)
    assert services_of(app).payments.publishable_key is None


def test_stripe_is_chosen_by_setting(engine: Engine, committing_sessions: sessionmaker[Session]) -> None:
    app = create_app(settings_for(engine, payment_gateway="stripe", stripe_secret_key="sk_test_x",
                                  stripe_publishable_key="pk_test_x"))
    try:
        payments = services_of(app).payments
        assert isinstance(payments, StripeGateway) and payments.publishable_key == "pk_test_x"
    finally:
        services_of(app).engine.dispose()


@pytest.mark.parametrize("overrides, message", [
    ({"payment_gateway": "stripe"}, "STRIPE_SECRET_KEY"),
    ({"env": "production", "secret_key": "p" * 48}, "PAYMENTS_TEST_MODE"),
])
def test_start_up_stops_when_payments_cannot_work(engine: Engine, overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_app(settings_for(engine, **overrides))
