"""OIDC third-party initiated login: find the registration, keep state + nonce server side, and
build the platform's authorization request."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.lti.errors import bad_request
from lti_tool.lti.models import LtiLaunch, LtiLoginState, LtiRegistration, LtiUsedNonce, WebSession
from lti_tool.lti.tool_conf import RegistrationView, find_registration
from store.database import built_once, delete_in_batches, one_statement

MAX_PARAM_CHARS = 4000
STATE_COOKIE_PREFIX = "lti1p3-state-"
STORAGE_KEY_PREFIX = "lti1p3_state_"
NEW_WINDOW_PARAM = "lti1p3_new_window"
NEW_WINDOW_EXPIRES_PARAM = "lti1p3_nw_exp"
NEW_WINDOW_SIGNATURE_PARAM = "lti1p3_nw_sig"


@dataclass(frozen=True)
class LoginRequest:
    """The login initiation parameters (query string or form body)."""

    iss: str
    login_hint: str
    target_link_uri: str
    client_id: str | None
    lti_message_hint: str | None
    lti_deployment_id: str | None
    lti_storage_target: str | None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> LoginRequest:
        def get(name: str) -> str | None:
            value = params.get(name)
            if value is None or value.strip() == "":
                return None
            if len(value) > MAX_PARAM_CHARS:
                raise bad_request("invalid_login", f"The login parameter '{name}' is too long.")
            return value.strip()

        iss = get("iss")
        if iss is None:
            raise bad_request("invalid_login", "The login request has no 'iss' (issuer) parameter.",
                              "The LMS must start the launch by calling this tool's login URL with iss and login_hint.")
        login_hint = get("login_hint")
        if login_hint is None:
            raise bad_request("invalid_login", "The login request has no 'login_hint' parameter.")
        storage_target = get("lti_storage_target")
        if storage_target is not None and (len(storage_target) > 200 or not storage_target.isprintable()):
            raise bad_request("invalid_login", "The login parameter 'lti_storage_target' is not a frame name.")
        return cls(iss, login_hint, get("target_link_uri") or "", get("client_id"), get("lti_message_hint"),
                   get("lti_deployment_id"), storage_target)

    def as_params(self) -> dict[str, str]:
        """The parameters again, e.g. to restart the login in a new window."""
        out = {"iss": self.iss, "login_hint": self.login_hint, "target_link_uri": self.target_link_uri}
        for name in ("client_id", "lti_message_hint", "lti_deployment_id"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out


@dataclass(frozen=True)
class LoginStart:
    registration: RegistrationView
    state: str
    nonce: str
    auth_url: str
    platform_origin: str
    expires_at: datetime

    @property
    def state_cookie_name(self) -> str:
        return STATE_COOKIE_PREFIX + self.state

    @property
    def storage_key(self) -> str:
        return STORAGE_KEY_PREFIX + self.state


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, lower-cased; None when it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def purge_expired(sessions: sessionmaker[Session], now: datetime) -> int:
    """Drop server-side LTI state nobody can use any more (indexed on expires_at), in short
    batches; the number of rows deleted. The cleanup job runs it, never a request: every reader
    checks expiry itself (a login state, launch or web session past ``expires_at`` is refused
    while its row still exists; a used nonce's row only refuses), so a late sweep accepts
    nothing."""
    return sum(delete_in_batches(sessions, model, model.expires_at <= now)
               for model in (LtiLoginState, LtiUsedNonce, WebSession, LtiLaunch))


def start_login(sessions: sessionmaker[Session], request: LoginRequest, redirect_uri: str, ttl_seconds: int,
                now: datetime) -> LoginStart:
    """Store a fresh state + nonce for the registration and build the authorization URL.

    Raises a 400 LaunchError for an unknown issuer / client id.
    """
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=ttl_seconds)
    row = {"state": state, "nonce": nonce, "target_link_uri": request.target_link_uri[:2000], "created_at": now,
           "expires_at": expires_at}
    registration = _remembered.get((request.iss, request.client_id)) if request.client_id else None
    if registration is None or not _store_state_if_unchanged(sessions, registration, row):
        registration = _store_state(sessions, request, row)
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": request.login_hint,
        "state": state,
        "nonce": nonce,
    }
    if request.lti_message_hint:
        params["lti_message_hint"] = request.lti_message_hint
    separator = "&" if urlsplit(registration.auth_login_url).query else "?"
    auth_url = registration.auth_login_url + separator + urlencode(params)
    platform_origin = origin_of(registration.auth_login_url)
    assert platform_origin is not None  # checked when the registration was read
    return LoginStart(registration, state, nonce, auth_url, platform_origin, expires_at)


# A process remembers the registration each (issuer, client id) led to, and then stores a login
# state with one INSERT … SELECT that only inserts while that registration still has the values
# the login uses (id, issuer, client id, login URL, review flag): a removed or changed
# registration inserts nothing and is read again at once. Nothing stale is ever used.
_remembered: dict[tuple[str, str | None], RegistrationView] = {}
_REMEMBERED_MAX = 1_000


def _store_state_if_unchanged(sessions: sessionmaker[Session], registration: RegistrationView,
                              row: dict[str, object]) -> bool:
    with one_statement(sessions, write=True) as conn:  # no ORM Session; on PostgreSQL no BEGIN/COMMIT
        inserted = conn.execute(_state_insert_if_unchanged(conn), {
            **row, "registration_id": registration.id, "issuer": registration.issuer,
            "client_id": registration.client_id, "auth_login_url": registration.auth_login_url,
            "needs_review": registration.needs_review,
        }).first()
    return inserted is not None


def _build_state_insert_if_unchanged(_dialect: str) -> Any:
    state = LtiLoginState.__table__.c
    reg = LtiRegistration.__table__.c
    values = [bindparam(name, type_=state[name].type) for name in ("state", "nonce")]
    values.append(reg.id)
    values += [bindparam(name, type_=state[name].type) for name in ("target_link_uri", "created_at", "expires_at")]
    unchanged = [reg[name] == bindparam(name, type_=reg[name].type)
                 for name in ("issuer", "client_id", "auth_login_url", "needs_review")]
    return (insert(LtiLoginState.__table__)
            .from_select(("state", "nonce", "registration_id", "target_link_uri", "created_at", "expires_at"),
                         select(*values).where(reg.id == bindparam("registration_id"), *unchanged))
            .returning(state.id))


_state_insert_if_unchanged = built_once(_build_state_insert_if_unchanged)


def _store_state(sessions: sessionmaker[Session], request: LoginRequest, row: dict[str, object]) -> RegistrationView:
    """Read the registration (400 when unknown or unusable) and store the login state."""
    _remembered.pop((request.iss, request.client_id), None)
    with sessions.begin() as session:
        registration = find_registration(session, request.iss, request.client_id)
        if registration is None:
            who = f"issuer '{request.iss}'" + (f" and client id '{request.client_id}'" if request.client_id else "")
            raise bad_request(
                "unknown_registration",
                f"No LMS is registered with {who}.",
                "Register the LMS with `lti-tool platform add` (or dynamic registration) using exactly the issuer "
                "and client id the LMS shows for this tool.",
            )
        platform_origin = origin_of(registration.auth_login_url)
        if platform_origin is None:
            raise bad_request("bad_registration",
                              f"The registered login URL {registration.auth_login_url!r} is not an http(s) URL.")
        session.execute(insert(LtiLoginState).values(registration_id=registration.id, **row))
    if request.client_id:  # without one, a second registration of the issuer must make the login ambiguous
        if len(_remembered) >= _REMEMBERED_MAX:
            _remembered.clear()
        _remembered[(request.iss, request.client_id)] = registration
    return registration


# ---------------------------------------------------------------- the "open in a new window" link


def _new_window_mac(secret_key: str, params: Mapping[str, str], expires: int) -> str:
    material = json.dumps([sorted(params.items()), expires], separators=(",", ":"))
    return hmac.new(secret_key.encode(), b"lti-tool/new-window\0" + material.encode(), hashlib.sha256).hexdigest()


def new_window_params(secret_key: str, request: LoginRequest, now: datetime, ttl_seconds: int) -> dict[str, str]:
    """The parameters of the fallback page's "Open in a new window" link: the login's own
    parameters, and an HMAC (with SECRET_KEY) over them and an expiry, which proves the link was
    made by this tool's login page."""
    params = request.as_params()
    expires = int(now.timestamp()) + ttl_seconds
    return {**params, NEW_WINDOW_PARAM: "1", NEW_WINDOW_EXPIRES_PARAM: str(expires),
            NEW_WINDOW_SIGNATURE_PARAM: _new_window_mac(secret_key, params, expires)}


def new_window_link_is_ours(secret_key: str, request: LoginRequest, params: Mapping[str, str],
                            now: datetime) -> bool:
    """True when ``params`` carry a valid, unexpired HMAC made by ``new_window_params`` for
    exactly this login request."""
    expires_text = params.get(NEW_WINDOW_EXPIRES_PARAM) or ""
    signature = params.get(NEW_WINDOW_SIGNATURE_PARAM) or ""
    if not expires_text.isdigit() or len(expires_text) > 12 or int(expires_text) <= now.timestamp():
        return False
    expected = _new_window_mac(secret_key, request.as_params(), int(expires_text))
    return hmac.compare_digest(expected, signature)
