"""The demo LMS (blueprint ``demo``): development only, never registered in production.

- ``GET /demo``: the page a newcomer opens after ``make run``. It is served from the loopback
  name that ``PUBLIC_BASE_URL`` does not use (``http://localhost:5000`` when the tool is
  ``http://127.0.0.1:5000``, and the other way round), so the tool frame is cross-site exactly
  as inside a real LMS. It registers itself with the tool for the demo account (idempotently),
  and launches as a learner or an admin into a demo course under a license type, without a
  course (navigation), or for deep linking, inside an iframe; it answers the tool's LTI Platform
  Storage messages (``lti.capabilities``, ``lti.put_data``, ``lti.get_data``) and shows the demo
  account's seats.
- ``GET /demo/start``: from the page's form, inside the iframe: builds the third-party initiated
  login request and redirects the frame to the tool's ``/lti/login``.
- The platform's endpoints, below ``/demo/platform``: ``auth`` (checks the tool's authorization
  request like a platform and auto-posts the signed id_token into the frame), ``jwks``,
  ``token`` (OAuth2 client credentials with a JWT assertion), ``deep-link-return`` (checks the
  ``LtiDeepLinkingResponse`` against the tool's JWKS and shows the returned links) and
  ``storage`` (the named frame that answers Platform Storage messages).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for

from lti_tool.demo import platform as dp
from lti_tool.demo.keys import demo_private_key
from lti_tool.demo.setup import (
    DemoAccount,
    demo_courses,
    demo_seats,
    ensure_demo_registration,
    find_demo_account,
    find_demo_registration,
)
from lti_tool.extensions import csrf
from lti_tool.lti import keys
from lti_tool.lti.login import origin_of
from lti_tool.lti.testplatform import PlatformError, TestPlatform
from lti_tool.services import services
from store.base import utcnow
from store.licenses.labels import license_label

log = logging.getLogger(__name__)

bp = Blueprint("demo", __name__)

MAX_FORM_CHARS = 4000


@bp.before_request
def _development_only() -> None:
    settings = services().settings
    if settings.is_production or not settings.demo_platform:
        abort(404)


@bp.errorhandler(dp.DemoPlatformError)
def _refused(error: dp.DemoPlatformError) -> tuple[str, int]:
    message = str(error).replace("\r", "\\r").replace("\n", "\\n")
    log.warning("demo LMS refused %s: %s", request.path, message)
    return render_template("demo/error.html", message=str(error)), 400





def _origins() -> dp.Origins:
    return dp.resolve_origins(services().settings.public_base_url, request.host_url)


def _demo_origin() -> str:
    """The demo LMS origin of this request (the platform endpoints must be reached on it)."""
    origins = _origins()
    if origins.demo is None:
        raise dp.DemoPlatformError(origins.problem or
                                   f"The demo LMS runs on {origins.redirect_to}, not on the tool's address "
                                   f"{origins.tool}.")
    return origins.demo


def _platform(demo_origin: str) -> TestPlatform:
    return dp.make_platform(demo_private_key(services().sessions, services().settings), demo_origin)


def _tool_base() -> str:
    return services().settings.public_base_url


def _register(account: DemoAccount, platform: TestPlatform) -> None:
    result = ensure_demo_registration(services().sessions, account.id, platform, utcnow())
    if result.created:
        log.info("demo LMS registered: issuer %s, registration %s, account %s", platform.issuer,
                 result.registration.id, account.id)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- the demo page


@bp.get("/demo")
def index() -> Response | tuple[str, int] | str:
    origins = _origins()
    if origins.redirect_to:
        return redirect(origins.redirect_to + url_for("demo.index"), 302)
    if origins.demo is None:
        return render_template("demo/error.html", message=origins.problem), 400
    account = find_demo_account(services().read_sessions)
    if account is None:
        return render_template("demo/not_seeded.html")
    platform = _platform(origins.demo)
    _register(account, platform)
    now = utcnow()
    tool_port = urlsplit(origins.tool).port
    request_port = urlsplit(origins.demo).port
    config = {"toolOrigin": origins.tool, "demoOrigin": origins.demo, "storageFrame": dp.STORAGE_FRAME,
              "seatsUrl": url_for("demo.seats"), "startUrl": url_for("demo.start"), "toolFrame": "demo-tool-frame"}
    seats = demo_seats(services().read_sessions, account.id, platform.issuer, now)
    page = render_template(
        "demo/index.html", origins=origins, platform=platform, account=account, people=dp.PEOPLE,
        courses=demo_courses(services().read_sessions, account.id, now, services().settings.currency),
        seats=seats, seat_holders={seat.learner for seat in seats.recent if seat.via_demo_lms},
        port_mismatch=tool_port != request_port, config=config, storage_frame=dp.STORAGE_FRAME,
    )
    response = _no_store(Response(page))
    # The demo page frames the tool, which runs on another origin (the app adds the rest of the
    # page policy).
    response.headers["Content-Security-Policy"] = f"frame-src 'self' {origins.tool}"
    return response


@bp.get("/demo/seats.json")
def seats() -> Response:
    demo_origin = _demo_origin()
    account = find_demo_account(services().read_sessions)
    if account is None:
        return _no_store(jsonify(total=0, valid=0, seats=[]))
    listing = demo_seats(services().read_sessions, account.id, dp.issuer_for(demo_origin), utcnow())
    return _no_store(jsonify(
        total=listing.total, valid=listing.valid,
        seats=[{"id": s.id, "learner": s.learner, "license_type": s.license_type,
                "license_label": license_label(s.license_type), "course_id": s.catalog_id,
                "attempt": s.attempt, "occupied_at": s.occupied_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "is_valid": s.is_valid, "via_demo_lms": s.via_demo_lms} for s in listing.recent],
    ))


def _arg(name: str, default: str = "") -> str:
    value = request.args.get(name, default)
    if len(value) > MAX_FORM_CHARS:
        raise dp.DemoPlatformError(f"the parameter {name!r} is too long")
    return value.strip()


@bp.get("/demo/start")
def start() -> Response:
    """The LMS side of a launch, inside the frame: the login initiation request to the tool."""
    demo_origin = _demo_origin()
    account = find_demo_account(services().read_sessions)
    if account is None:
        raise dp.DemoPlatformError("There is no demo account yet: run `lti-tool demo seed` first.")
    platform = _platform(demo_origin)
    if find_demo_registration(services().read_sessions, platform.issuer, platform.client_id) is None:
        _register(account, platform)
    choice = dp.build_choice(
        kind=_arg("kind", "course"), role=_arg("role", "learner"), person_key=_arg("person", dp.PEOPLE[0].key),
        tool_base_url=_tool_base(), catalog_id=_arg("course_other") or _arg("course"),
        license_type=_arg("license"), custom=dp.parse_custom(_arg("custom")), url=_arg("url"),
    )
    params = dp.login_params(platform, choice, services().settings.secret_key)
    return _no_store(redirect(_tool_base() + "/lti/login?" + urlencode(params), 302))


# ---------------------------------------------------------------- the platform's endpoints


@bp.get("/demo/platform/storage")
def storage_frame() -> Response:
    """The frame named by ``lti_storage_target``: answers the tool's Platform Storage messages."""
    demo_origin = _demo_origin()
    config = {"toolOrigin": origin_of(_tool_base()), "frameName": dp.STORAGE_FRAME, "demoOrigin": demo_origin}
    return _no_store(Response(render_template("demo/storage_frame.html", config=config)))


@bp.route("/demo/platform/auth", methods=["GET", "POST"])
@csrf.exempt
def authorize() -> Response:
    """The OIDC authorization endpoint: check the tool's request, sign the id_token, auto-post it
    (with the state and ``lti_storage_target``) to the registered redirect URI, in the frame."""
    demo_origin = _demo_origin()
    platform = _platform(demo_origin)
    if find_demo_registration(services().read_sessions, platform.issuer, platform.client_id) is None:
        raise dp.DemoPlatformError("This demo LMS is not registered with the tool yet: open /demo first.")
    pairs = [(k, v) for k, v in request.values.items(multi=False)]
    if any(len(v) > MAX_FORM_CHARS for _, v in pairs):
        raise dp.DemoPlatformError("an authorization request parameter is too long")
    redirect_uri = _tool_base() + "/lti/launch"
    try:
        query = platform.check_auth_request(platform.auth_login_url + "?" + urlencode(pairs), redirect_uri)
    except PlatformError as exc:
        raise dp.DemoPlatformError(f"The tool's authorization request is not valid: {exc}.") from None
    secret_key = services().settings.secret_key
    choice = dp.load_choice(secret_key, query.get("lti_message_hint"))
    if query["login_hint"] != choice.person.sub:
        raise dp.DemoPlatformError("the login_hint does not name the user this launch was started for")
    token = platform.id_token(query["nonce"], **dp.id_token_options(choice, platform, demo_origin, secret_key))
    fields = {"id_token": token, "state": query["state"], "lti_storage_target": dp.STORAGE_FRAME}
    return _no_store(Response(render_template("demo/autopost.html", action=redirect_uri, fields=fields,
                                              choice=choice)))


@bp.get("/demo/platform/jwks")
def jwks() -> Response:
    # One stored key (lti_tool/demo/keys.py): the same on every origin and process.
    response = jsonify(_platform(origin_of(request.host_url) or "").jwks())
    response.headers["Cache-Control"] = "max-age=60"
    return response


def _oauth_error(error: str, description: str) -> tuple[Response, int]:
    return jsonify(error=error, error_description=description), 400


@bp.post("/demo/platform/token")
@csrf.exempt
def token() -> Response | tuple[Response, int]:
    """OAuth2 token endpoint (client credentials, JWT client assertion signed by the tool)."""
    try:
        platform = _platform(_demo_origin())
        granted = dp.grant_access_token(request.form, keys.public_jwks(services().sessions, services().settings), platform,
                                        services().settings.secret_key)
    except dp.DemoPlatformError as exc:
        log.warning("demo LMS token request refused: %s", exc)
        return _oauth_error("invalid_client" if "assertion" in str(exc) else "invalid_request", str(exc))
    return _no_store(jsonify(access_token=granted.access_token, token_type="Bearer", expires_in=granted.expires_in,
                             scope=granted.scope))


@bp.post("/demo/platform/deep-link-return")
@csrf.exempt
def deep_link_return() -> Response:
    """Where the tool's content picker posts its ``LtiDeepLinkingResponse`` (field ``JWT``)."""
    demo_origin = _demo_origin()
    platform = _platform(demo_origin)
    token_value = request.form.get("JWT", "")
    if len(token_value) > 200_000:
        raise dp.DemoPlatformError("the deep-linking response is too large")
    result = dp.verify_deep_link_response(token_value, keys.public_jwks(services().sessions, services().settings), platform,
                                          services().settings.secret_key)
    items: list[dict[str, Any]] = [item.as_json() for item in result.items]
    log.info("demo LMS received %d deep-linked item(s)", len(items))
    config = {"demoOrigin": demo_origin, "items": items}
    return _no_store(Response(render_template("demo/deep_link_return.html", result=result, config=config)))
