"""Flask application factory: everything the app is made of, wired here in the order it runs.

Read top to bottom: the services object (settings, database, frame policy, player hooks), then
app-wide request plumbing (CSRF, cookie-less web sessions, security headers, error pages,
template helpers), then how each launch path plugs into the course player, then the blueprints.
Registering a blueprint does nothing else: no blueprint installs hooks of its own.
"""

from __future__ import annotations

import logging
from functools import partial

from flask import Flask, Response, jsonify, redirect, url_for
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings, check_payment_settings, load_settings
from config.defaults import PRODUCT_NAME
from lti_tool import error_pages, request_text
from lti_tool.extensions import csrf
from lti_tool.lti import ags, websession
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.frame_policy import FramePolicy
from lti_tool.player.tokens import issue_player_token
from lti_tool.services import EXTENSION_KEY, Services
from lti_tool.dashboard.tabs import dashboard_tabs
from lti_tool.storefront.nav import store_nav
from store.database import make_engine, make_read_sessionmaker, make_sessionmaker
from store.licenses.labels import LICENSE_TYPES, license_label
from store.mail import mailer_for
from store.money import format_amount, format_money
from store.payments import gateway_for


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        ENV_NAME=settings.env,
        TESTING=settings.env == "test",
        PUBLIC_BASE_URL=settings.public_base_url,
        WTF_CSRF_TIME_LIMIT=None,  # tied to the (server-side) session's lifetime instead
    )

    # 1. The one services object every view reaches through lti_tool.services.services().
    services = build_services(settings)
    app.extensions[EXTENSION_KEY] = services

    # 2. App-wide request plumbing.
    if settings.trusted_proxies:  # client address and scheme from the proxies we run, no one else
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    csrf.init_app(app)
    request_text.install(app)  # the input rule (store.text) for every request, before CSRF and every view
    app.session_interface = websession.DbSessionInterface(settings, services.sessions)
    app.after_request(services.frame_policy.apply)  # frame-ancestors: the LMS of the launch
    from lti_tool.lti.views import render_launch_error

    error_pages.install(app)  # every HTTP error (404, 405, 500…) as a page in the house style; JSON for APIs
    app.register_error_handler(LaunchError, render_launch_error)
    app.jinja_env.globals.update(
        url_for_s=websession.url_for_s,
        session_field=websession.session_field,
        license_label=license_label,
        license_types=LICENSE_TYPES,
        money=lambda cents: format_money(cents, settings.currency),
        amount=lambda cents: format_amount(cents, settings.currency),
        currency=settings.currency,
        store_nav=store_nav,  # the store's navigation bar (storefront pages and the Dashboard)
        dashboard_tabs=dashboard_tabs,  # the dashboard's tab bar (lti_tool/dashboard/tabs.py)
        product_name=PRODUCT_NAME,
    )
    _add_health_check(app, services)

    # 3. How each launch path uses the course player (the player imports neither).
    _register_player_launches(services)

    # 4. Blueprints.
    _register_blueprints(app, services)
    return app


def build_services(settings: Settings) -> Services:
    check_payment_settings(settings)  # before anything is opened: start-up stops with a clear message
    engine = make_engine(settings.database_url)
    read_sessions = make_read_sessionmaker(engine)
    sessions = make_sessionmaker(engine)
    return Services(settings=settings, engine=engine, sessions=sessions, read_sessions=read_sessions,
                    frame_policy=FramePolicy(read_sessions), issue_player_token=partial(issue_player_token, settings),
                    mail=mailer_for(settings, sessions),
                    payments=gateway_for(settings, sessions))


def _add_health_check(app: Flask, services: Services) -> None:
    @app.get("/healthz")
    def healthz() -> tuple[Response, int] | Response:
        try:
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - health must answer, not crash
            logging.getLogger(__name__).exception("health check: database unreachable")
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database=services.engine.dialect.name)


def _register_player_launches(services: Services) -> None:
    from scorm_packages.runtime import views as dispatch

    # LTI: framed by the launch's LMS; each progress commit becomes a grade for its gradebook.
    services.player.register(
        "lti",
        frame_ancestors=lambda grant: (services.frame_policy.origins_for_registration(grant.registration_id)
                                       if grant.registration_id is not None
                                       else services.frame_policy.origins_for_lti_launch(grant.launch_id)),
        on_progress=ags.make_progress_listener(services.sessions, services.settings),
    )
    # SCORM dispatch: stops once the package is revoked or replaced; framed by the account's
    # allowed LMS domains; the page relays its status to the package's launch page.
    services.player.register(
        "dispatch",
        check_access=dispatch.player_check_access(services.read_sessions),
        frame_ancestors=dispatch.player_frame_ancestors(services.read_sessions),
        page_config=dispatch.player_page_config(services.read_sessions),
    )
    # An independent learner's course (My courses, signed in on this site): framed by the tool
    # only; no LMS, so no grade passback.
    services.player.register("login", frame_ancestors=lambda grant: ("'self'",))
    # An emailed invitation's link (store.invitations): opened outside any LMS, framed by the tool
    # only; no gradebook to report to.
    services.player.register("invite", frame_ancestors=lambda grant: ("'self'",))


def _register_blueprints(app: Flask, services: Services) -> None:
    from lti_tool.dashboard import reports as dashboard_reports
    from lti_tool.dashboard import settings as dashboard_settings
    from lti_tool.dashboard import views as dashboard
    from lti_tool.delivery import views as delivery
    from lti_tool.demo import views as demo
    from lti_tool.lti import deeplink, dynreg, install
    from lti_tool.lti import views as lti_launch
    from lti_tool.player import views as player
    from lti_tool.storefront import buying
    from lti_tool.storefront import views as storefront
    from lti_tool.signin import views as signin
    from scorm_packages.runtime import views as dispatch

    app.register_blueprint(player.bp)
    app.register_blueprint(install.bp)
    app.register_blueprint(dynreg.bp)
    app.register_blueprint(lti_launch.bp)
    app.register_blueprint(deeplink.bp)
    app.register_blueprint(storefront.bp)
    app.register_blueprint(buying.bp)  # the cart, quotes, checkout and the Order History
    app.register_blueprint(dashboard.bp)  # the admin dashboard: summary, chart and tabs
    app.register_blueprint(dashboard_reports.bp)  # the Reports tab and its CSV
    app.register_blueprint(dashboard_settings.bp)  # the account's settings: identity linking, closure request
    app.register_blueprint(dispatch.bp)
    app.register_blueprint(signin.bp)
    app.register_blueprint(delivery.bp)  # delivering courses (dashboard) and invitation links
    for view in dispatch.csrf_exempt_views():
        csrf.exempt(view)
    # The demo LMS: development only (DEMO_PLATFORM), never in production whatever the settings say.
    has_demo = services.settings.demo_platform and not services.settings.is_production
    if has_demo:
        app.register_blueprint(demo.bp)
    _add_start_page(app, "demo.index" if has_demo else "lti_install.install_page")


def _add_start_page(app: Flask, endpoint: str) -> None:
    """``/`` sends a newcomer somewhere useful: the demo LMS when it runs, else the install page."""

    @app.get("/")
    def start() -> Response:
        return redirect(url_for(endpoint), 302)  # type: ignore[return-value]
