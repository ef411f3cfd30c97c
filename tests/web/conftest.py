"""Web fixtures: an app on the test database (per backend) and its test client.

The app has its own engine on the same database, so web tests work with committed data: the
``app`` fixture empties every table before and after each test (through ``committing_sessions``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from lti_tool import create_app
from lti_tool.services import services_of


def settings_for(engine: Engine, **overrides: object) -> Settings:
    url = engine.url.render_as_string(hide_password=False)
    base = load_settings({"ENV": "test", "DATABASE_URL": url, "PUBLIC_BASE_URL": "http://tool.test"})
    return base.with_overrides(**overrides) if overrides else base


@pytest.fixture
def app(engine: Engine, committing_sessions: sessionmaker[Session]) -> Iterator[Flask]:
    application = create_app(settings_for(engine))
    try:
        yield application
    finally:
        services_of(application).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
