"""LTI Dynamic Registration (/lti/register): an LMS admin pastes one URL into Moodle, Canvas or
Brightspace and the registration is made.

1. GET with ``openid_configuration`` (a URL) and ``registration_token``: fetch the platform's
   OpenID configuration with the token as bearer, check it (its ``issuer`` is a prefix of the
   configuration URL, https except localhost in development/test, the endpoints we need), and
   show a form binding the registration to an account: an existing one (name or id, plus a
   registration code from ``lti-tool platform registration-code``, so nobody can attach an LMS to
   somebody else's account) or a new organization account.
2. POST (CSRF-protected): fetch and check the configuration again (nothing from step 1 is
   trusted), check the account choice, POST our client metadata to the platform's
   ``registration_endpoint`` with the token, store the returned client id (and deployment id
   when there is one; Canvas sends it with the first launch) in one transaction, and render a
   page that posts ``{subject: "org.imsglobal.lti.close"}`` to the LMS window.

Every failure is a 4xx page that names the problem; nothing is stored. Every fetch goes through
``store.outbound`` (total deadline, no redirects, size cap, public https addresses only in
production), and a fetch that fails reads the same whatever the cause, so the page is no port
scanner. Attempts without a staff registration code (in the URL for step 1, with the chosen
account for step 2) are rate-limited per client and in total (429); a registration that makes a
new account this way waits for staff review (``lti-tool platform review``).

pylti1p3's ``DynamicRegistration`` is not used: it fetches without timeouts, follows redirects,
checks with ``assert`` (a 500 under ``python -O`` or a bare AssertionError otherwise), does not
check the issuer against the configuration URL, and its closing page posts to ``'*'``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, render_template, request
from flask_wtf.csrf import CSRFError

from config import Settings
from lti_tool.lti import registrations
from lti_tool.lti.install import LTI_TOOL_CONFIGURATION, TOOL_NAME, registration_metadata, tool_urls
from lti_tool.lti.registrations import AccountBinding, PlatformDetails, RegistrationView
from lti_tool.services import services
from store import outbound
from store.base import utcnow
from store.errors import InvalidInput, NotFound, StoreError
from store.outbound import OutboundClient, OutboundError, OutboundResponse
from store.ratelimit.keys import client_network, hashed_key
from store.ratelimit.service import Limit, RateLimited, hit

log = logging.getLogger(__name__)

bp = Blueprint("lti_dynreg", __name__, static_folder="../templates/dynreg/assets",
               static_url_path="/lti/register/assets")

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
RATE_WINDOW_SECONDS = 3600


class RegistrationFailed(Exception):
    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint


@dataclass(frozen=True)
class PlatformConfiguration:
    url: str
    issuer: str
    registration_endpoint: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    authorization_server: str | None
    product: str
    version: str
    account_name: str
    scopes_supported: tuple[str, ...]
    raw: dict[str, Any]



# ---------------------------------------------------------------- talking to the platform


def _headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _not_fetched(exc: OutboundError, code: str, what: str) -> RegistrationFailed:
    """The page for a failed fetch. Every connection failure (refused address, closed port,
    TLS, timeout) reads the same: the page must not tell a visitor what is listening where."""
    if exc.reason == "too_large":
        return RegistrationFailed(400, "platform_answer_too_large", f"{what} is too large.")
    if exc.reason == "redirect":
        return RegistrationFailed(400, f"{code}_redirected",
                                  f"{what} answered with a redirect, which this tool does not follow.",
                                  "Ask your LMS vendor: the platform must answer at the address it gives.")
    return RegistrationFailed(400, f"{code}_unreachable", f"{what} could not be fetched: {exc.message}.",
                              "Check that this server can reach your LMS over the internet (https).")


def _read_json(response: OutboundResponse, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RegistrationFailed(400, "platform_answer_not_json",
                                 f"The platform's {what} is not JSON (HTTP {response.status}).") from None


def fetch_configuration(settings: Settings, url: str | None, token: str | None,
                        client: OutboundClient | None = None) -> PlatformConfiguration:
    """Fetch and check the platform's OpenID configuration."""
    if not url:
        raise RegistrationFailed(400, "missing_openid_configuration",
                                 "The request has no openid_configuration parameter.",
                                 "Start the registration from your LMS: it adds the parameters to this URL.")
    try:
        url = registrations.check_fetchable_url(url, settings, "openid_configuration")
    except InvalidInput as exc:
        raise RegistrationFailed(400, "bad_openid_configuration", f"The {exc.message}.") from None
    what = f"The platform's OpenID configuration at {url}"
    try:
        response = (client or outbound.client_for(settings)).get(url, headers=_headers(token))
    except OutboundError as exc:
        raise _not_fetched(exc, "openid_configuration", what) from None
    if response.status != 200:
        raise RegistrationFailed(400, "openid_configuration_unavailable", f"{what} answered HTTP {response.status}.",
                                 "The registration token may have expired: start the registration again from "
                                 "your LMS.")
    return check_configuration(settings, url, _read_json(response, "OpenID configuration"))


def _endpoint(settings: Settings, data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise RegistrationFailed(400, "openid_configuration_incomplete",
                                 f"The platform's OpenID configuration has no {key}.")
    try:
        if key == "registration_endpoint":
            return registrations.check_fetchable_url(value, settings, key)
        return registrations.check_url(value, settings, key)
    except InvalidInput as exc:
        raise RegistrationFailed(400, "openid_configuration_bad_url",
                                 f"The platform's OpenID configuration: {exc.message}.") from None


def check_configuration(settings: Settings, url: str, data: Any) -> PlatformConfiguration:
    if not isinstance(data, dict):
        raise RegistrationFailed(400, "openid_configuration_invalid", "The platform's OpenID configuration is "
                                 "not a JSON object.")
    issuer = data.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise RegistrationFailed(400, "openid_configuration_incomplete",
                                 "The platform's OpenID configuration has no issuer.")
    try:
        issuer = registrations.check_issuer(issuer, settings)
    except InvalidInput as exc:
        raise RegistrationFailed(400, "bad_issuer", f"The platform's {exc.message}.") from None
    if not registrations.issuer_is_prefix_of(issuer, url):
        raise RegistrationFailed(400, "issuer_mismatch",
                                 f"The platform says its issuer is {issuer}, but its configuration was fetched "
                                 f"from {url}: the issuer must be the beginning of that URL.",
                                 "This protects against a configuration served by somebody else. Start the "
                                 "registration again from your LMS's own address.")
    platform = data.get(PLATFORM_CONFIGURATION)
    if not isinstance(platform, dict):
        raise RegistrationFailed(400, "not_an_lti_platform",
                                 "The OpenID configuration is not an LTI platform's (it has no "
                                 "lti-platform-configuration).")
    authorization_server = data.get("authorization_server")
    token_endpoint = _endpoint(settings, data, "token_endpoint")
    # Brightspace names a token audience different from its token URL. Canvas sends a bare host
    # name here while it checks the token URL as audience: keep only an absolute URL.
    audience = None
    if isinstance(authorization_server, str) and urlsplit(authorization_server).scheme in ("http", "https") \
            and authorization_server != token_endpoint:
        audience = authorization_server
    scopes = data.get("scopes_supported")
    return PlatformConfiguration(
        url=url,
        issuer=issuer,
        registration_endpoint=_endpoint(settings, data, "registration_endpoint"),
        authorization_endpoint=_endpoint(settings, data, "authorization_endpoint"),
        token_endpoint=token_endpoint,
        jwks_uri=_endpoint(settings, data, "jwks_uri"),
        authorization_server=audience,
        product=str(platform.get("product_family_code") or ""),
        version=str(platform.get("version") or ""),
        account_name=str(platform.get("https://canvas.instructure.com/lti/account_name") or ""),
        scopes_supported=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        raw=data,
    )


def post_registration(settings: Settings, config: PlatformConfiguration, token: str | None,
                      client: OutboundClient | None = None) -> dict[str, Any]:
    """POST our client metadata; the platform's answer (with ``client_id``)."""
    metadata = registration_metadata(settings)
    what = f"The platform's registration endpoint {config.registration_endpoint}"
    try:
        response = (client or outbound.client_for(settings)).post(config.registration_endpoint, json=metadata,
                                                                  headers=_headers(token))
    except OutboundError as exc:
        raise _not_fetched(exc, "platform", what) from None
    if response.status not in (200, 201):
        detail = response.text[:400].replace("\n", " ")
        raise RegistrationFailed(400, "platform_refused",
                                 f"The platform refused the registration (HTTP {response.status}): {detail}".strip(),
                                 "The registration token may have expired or been used already: start "
                                 "the registration again from your LMS.")
    answer = _read_json(response, "registration answer")
    if not isinstance(answer, dict) or not isinstance(answer.get("client_id"), str | int) \
            or not str(answer.get("client_id")).strip():
        raise RegistrationFailed(400, "platform_answer_incomplete",
                                 "The platform's registration answer has no client_id.")
    return answer


def _deployment_id(answer: dict[str, Any]) -> str | None:
    block = answer.get(LTI_TOOL_CONFIGURATION)
    value = block.get("deployment_id") if isinstance(block, dict) else None
    return str(value).strip() if isinstance(value, str | int) and str(value).strip() else None


# ---------------------------------------------------------------- pages


def _origin_or_none(value: str | None) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return registrations.origin_of(value)


def _secure(response: Response) -> Response:
    """The registration token is in this page's URL: keep it out of caches and referrers. The
    platform is not registered yet, so framing is allowed from any https origin (the page acts on
    nothing but its own form: binding to an existing account needs that account's code)."""
    settings = services().settings
    ancestors = "https:" + (" http://localhost:* http://127.0.0.1:*" if settings.env in ("development", "test")
                            else "")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = f"frame-ancestors 'self' {ancestors}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _error_page(exc: RegistrationFailed) -> Response:
    log.warning("dynamic registration refused: %s: %s", exc.code, exc.message)
    page = render_template("dynreg/error.html", error=exc, tool_name=TOOL_NAME)
    return _secure(Response(page, status=exc.status))


def _form_page(config: PlatformConfiguration, token: str | None, platform_origin: str | None,
               form: dict[str, str], error: str | None = None, status: int = 200) -> Response:
    page = render_template("dynreg/form.html", config=config, token=token or "", platform_origin=platform_origin or "",
                           form=form, error=error, tool_name=TOOL_NAME, urls=tool_urls(services().settings))
    return _secure(Response(page, status=status))


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> Response:
    return _error_page(RegistrationFailed(
        400, "csrf_failed", f"The registration form could not be verified ({exc.description}).",
        "Start the registration again from your LMS. If it keeps failing, allow this site's cookies or open "
        "the registration in a new window."))


def _count_anonymous_attempt(settings: Settings) -> Response | None:
    """Count a registration attempt without a staff code (per client and in total, per hour);
    the 429 page when a limit is reached."""
    client_key = hashed_key(settings.secret_key, "lti-register", client_network(request.remote_addr))
    limits = [Limit("lti-register-client", client_key, settings.lti_register_per_ip_per_hour, RATE_WINDOW_SECONDS),
              Limit("lti-register-all", "*", settings.lti_register_per_hour, RATE_WINDOW_SECONDS)]
    try:
        hit(services().sessions, limits, utcnow())
    except RateLimited as exc:
        minutes = max(1, (exc.retry_after_seconds + 59) // 60)
        who = "from your network" if exc.limit == limits[0] else "on this server"
        response = _error_page(RegistrationFailed(
            429, "rate_limited",
            f"Too many registrations were started {who} in the last hour.",
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, or ask the vendor's support for a "
            "registration URL with your account's registration code: registrations with a code are not limited."))
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    return None


@bp.get("/lti/register")
def start() -> Response:
    settings = services().settings
    token = request.args.get("registration_token") or None
    # Staff may hand out the registration URL with an account's code: such a registration is
    # neither limited nor anonymous, and the form comes filled in.
    code = (request.args.get("registration_code") or "").strip()
    code_account = registrations.registration_code_account(settings, code, utcnow())
    if request.args.get("openid_configuration") and code_account is None:
        refused = _count_anonymous_attempt(settings)
        if refused is not None:
            return refused
    try:
        config = fetch_configuration(settings, request.args.get("openid_configuration"), token)
    except RegistrationFailed as exc:
        return _error_page(exc)
    form = ({"account_choice": "existing", "account": str(code_account), "registration_code": code}
            if code_account is not None else {"account_choice": "new"})
    return _form_page(config, token, _origin_or_none(request.referrer), form)


@bp.post("/lti/register")
def finish() -> Response:
    settings = services().settings
    form = {key: (request.form.get(key) or "").strip() for key in
            ("account_choice", "account", "registration_code", "new_account_name")}
    token = request.form.get("registration_token") or None
    platform_origin = _origin_or_none(request.form.get("platform_origin"))
    if not _has_valid_staff_code(settings, form):
        refused = _count_anonymous_attempt(settings)
        if refused is not None:
            return refused
    try:
        config = fetch_configuration(settings, request.form.get("openid_configuration"), token)
    except RegistrationFailed as exc:
        return _error_page(exc)

    if form["account_choice"] == "existing":
        binding = AccountBinding(existing=form["account"], registration_code=form["registration_code"])
    elif form["account_choice"] == "new":
        binding = AccountBinding(new_account_name=form["new_account_name"])
    else:
        binding = AccountBinding()
    now = utcnow()
    try:
        registrations.check_binding(services().sessions, settings, binding, now)
    except StoreError as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        return _form_page(config, token, platform_origin, form, error=exc.message, status=status)

    try:
        answer = post_registration(settings, config, token)
    except RegistrationFailed as exc:
        return _error_page(exc)

    label = " — ".join(part for part in (config.product or "LMS", config.account_name) if part)
    deployment_id = _deployment_id(answer)
    details = PlatformDetails(
        issuer=config.issuer, client_id=str(answer["client_id"]).strip(),
        auth_login_url=config.authorization_endpoint, auth_token_url=config.token_endpoint,
        key_set_url=config.jwks_uri, auth_audience=config.authorization_server,
        label=f"{label} (dynamic registration)"[:200], deployment_ids=(deployment_id,) if deployment_id else (),
    )
    try:
        view = registrations.register_dynamic(services().sessions, settings, binding, details, now)
    except StoreError as exc:
        return _error_page(RegistrationFailed(
            409 if exc.reason in ("duplicate_registration", "duplicate_account") else 400, exc.reason,
            f"The LMS registered the tool, but it could not be recorded here: {exc.message}.",
            "Remove the new tool in your LMS, fix the problem and register again."))
    log.info("dynamic registration %s: %s client %s for account %s", view.id, view.issuer, view.client_id,
             view.account_id)
    return _done_page(view, config, platform_origin)


def _has_valid_staff_code(settings: Settings, form: dict[str, str]) -> bool:
    if form["account_choice"] != "existing":
        return False
    try:
        registrations.check_binding(services().sessions, settings,
                                    AccountBinding(existing=form["account"], registration_code=form["registration_code"]),
                                    utcnow())
    except StoreError:
        return False
    return True


def _done_page(view: RegistrationView, config: PlatformConfiguration, platform_origin: str | None) -> Response:
    origins: list[str] = []
    for origin in (registrations.origin_of(config.issuer), registrations.origin_of(config.url), platform_origin):
        if origin and origin not in origins:
            origins.append(origin)
    page = render_template("dynreg/done.html", registration=view, config=config, origins=origins,
                           tool_name=TOOL_NAME)
    return _secure(Response(page, status=200))
