"""Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy import text

from config import Settings, load_settings
from lti_tool import request_text
from lti_tool.extensions import csrf
from lti_tool.player.tokens import issue_player_token
from store.database import make_engine, make_read_sessionmaker, make_sessionmaker


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        ENV_NAME=settings.env,
        TESTING=settings.env == "test",
        PUBLIC_BASE_URL=settings.public_base_url,
    )
    engine = make_engine(settings.database_url)
    app.extensions["settings"] = settings
    app.extensions["engine"] = engine
    app.extensions["sessions"] = make_sessionmaker(engine)
    app.extensions["read_sessions"] = make_read_sessionmaker(engine)  # pages that only read
    # Callables run after a course player progress commit (e.g. grade passback).
    app.extensions["progress_listeners"] = []
    # The course player's link issuer, for launch paths outside lti_tool (SCORM dispatch).
    app.extensions["issue_player_token"] = issue_player_token
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # tied to the (server-side) session's lifetime instead
    csrf.init_app(app)
    request_text.install(app)  # the input rule for every request, before CSRF and every view

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - health must answer, not crash
            logging.getLogger(__name__).exception("health check: database unreachable")
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database=engine.dialect.name)

    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    """Each feature registers its blueprint(s) here, one line each."""
    from lti_tool.player import views as player; app.register_blueprint(player.bp)  # noqa: E702
    from lti_tool.lti import install as lti_install; app.register_blueprint(lti_install.bp)  # noqa: E702
    from lti_tool.lti import views as lti_launch; app.register_blueprint(lti_launch.bp)  # noqa: E702
    from scorm_packages.runtime import views as dispatch; app.register_blueprint(dispatch.bp)  # noqa: E702
    from lti_tool import demo; demo.register(app)  # noqa: E702 - only when DEMO_PLATFORM, never in production
    from lti_tool.lti import deeplink; app.register_blueprint(deeplink.bp)  # noqa: E702
