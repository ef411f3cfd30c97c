"""The demo LMS (``/demo``): a development-only LTI 1.3 platform on the same server, for trying
the tool without an LMS. See ``views`` (pages and platform endpoints), ``platform`` (origins,
launches, checks of what the tool sends back), ``setup`` (its registration, demo courses and
seats) and ``keys`` (its signing key, derived from ``SECRET_KEY``)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register the ``demo`` blueprint when the ``DEMO_PLATFORM`` setting is on (development by
    default); never in production, whatever the settings say."""
    settings = app.extensions["settings"]
    if settings.demo_platform and not settings.is_production:
        from lti_tool.demo import views

        app.register_blueprint(views.bp)
