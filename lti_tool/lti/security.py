"""Verification of a platform's id_token: every check of the 1EdTech Security Framework.

Why not pylti1p3's ``MessageLaunch.validate()``: in pylti1p3next 2.0.2 it decodes with
``verify_aud=False`` and takes ``aud[0]`` as the client id (no audience check, no ``azp``), has no
clock leeway, checks the nonce only for presence in its session storage (a nonce is never used
up, and a state "valid for this id_token hash" lets the same id_token be posted again), checks
the nonce before the signature, never refetches the platform JWKS for an unknown ``kid`` and
raises bare exceptions with messages like "State not found". The checks below use PyJWT (which
pylti1p3 uses too) for the RS256 signature and JWK parsing, and do the claim checks themselves so
every refusal names the problem and uses the caller's clock.

Cheap checks on the still-unverified token (algorithm, issuer, audience, nonce, times) come
before the key lookup, so a forged token never triggers a network fetch; every one of them only
ever rejects.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt.algorithms import RSAAlgorithm
from jwt.api_jws import PyJWS
from jwt.exceptions import InvalidKeyError, InvalidSignatureError, PyJWKError, PyJWTError
from jwt.warnings import InsecureKeyLengthWarning

from lti_tool.lti import claims
from lti_tool.lti.errors import LaunchError, bad_request, unauthorized
from store.text import find_invalid_text

ALLOWED_ALG = "RS256"
MAX_ID_TOKEN_CHARS = 200_000
MAX_SUB_CHARS = 255  # LTI Core: sub is at most 255 ASCII characters
MAX_DEPLOYMENT_ID_CHARS = 255


@dataclass(frozen=True)
class LoginBinding:
    """What the login stored server side for this ``state``."""

    state: str
    nonce: str
    registration_id: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Expected:
    """The registration the login was for."""

    issuer: str
    client_id: str


KeyResolver = Callable[[str], Mapping[str, Any]]  # kid -> public JWK (raises LaunchError)


@dataclass(frozen=True)
class VerifiedToken:
    header: dict[str, Any]
    body: dict[str, Any]

    @property
    def message_type(self) -> str:
        return str(self.body[claims.MESSAGE_TYPE])

    @property
    def deployment_id(self) -> str:
        return str(self.body[claims.DEPLOYMENT_ID])

    @property
    def exp(self) -> float:
        return float(self.body["exp"])


@dataclass(frozen=True)
class _Parsed:
    """A JWT taken apart once: its header and body (unverified) and what its signature covers."""

    header: dict[str, Any]
    body: dict[str, Any]
    signing_input: bytes
    signature: bytes


_JWS = PyJWS()
_RS256 = RSAAlgorithm(RSAAlgorithm.SHA256)


def _parse(id_token: str) -> _Parsed:
    """The token parsed once (PyJWS's own segment, base64url and header checks, then the body as a
    JSON object, as ``jwt.decode`` does); 400 when it is not a JWT."""
    if not id_token or len(id_token) > MAX_ID_TOKEN_CHARS:
        raise bad_request("malformed_token", "The id_token is empty or too large to be an LTI launch token.")
    try:
        decoded = _JWS.decode_complete(id_token, options={"verify_signature": False})
        try:
            body = json.loads(decoded["payload"])
        except (ValueError, RecursionError) as exc:
            raise jwt.DecodeError(f"Invalid payload string: {exc}") from exc
        if not isinstance(body, dict):
            raise jwt.DecodeError("Invalid payload string: must be a json object")
    except PyJWTError as exc:
        raise bad_request("malformed_token", f"The id_token is not a well-formed JWT ({exc}).") from exc
    header = decoded["header"]
    # The input rule (store.text): no NUL or surrogate in any claim, before any claim is used.
    problem = find_invalid_text(header, "header") or find_invalid_text(body)
    if problem is not None:
        raise bad_request("invalid_text", f"The launch token holds text this tool cannot accept: claim {problem}.",
                          "Ask the LMS administrator to check the user's and the course's names and the link's "
                          "custom parameters for broken characters.")
    return _Parsed(header, body, id_token.encode("utf-8").rsplit(b".", 1)[0], decoded["signature"])


def parse_unverified(id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and body of a JWT without checking anything; 400 when it is not a JWT."""
    parsed = _parse(id_token)
    return parsed.header, parsed.body


def _number(body: Mapping[str, Any], name: str, required: bool) -> float | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request("missing_claim", f"The launch token has no '{name}' claim.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_request("invalid_claim", f"The launch token's '{name}' claim is not a number (got {value!r}).")
    return float(value)


def _iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def check_times(body: Mapping[str, Any], now: datetime, leeway: int, login_started_at: datetime) -> None:
    """exp in the future, iat not in the future and not before the login began, nbf reached —
    each with ``leeway`` seconds for LMS clock drift."""
    exp = _number(body, "exp", required=True)
    iat = _number(body, "iat", required=True)
    nbf = _number(body, "nbf", required=False)
    assert exp is not None and iat is not None
    t = now.timestamp()
    if exp <= t - leeway:
        raise unauthorized(
            "token_expired",
            f"The launch token expired at {_iso(exp)} (now {_iso(t)}, allowed clock difference {leeway} s).",
            "Launch again from the LMS. If this keeps happening, the LMS server's clock is wrong.",
        )
    if iat > t + leeway:
        raise unauthorized(
            "token_not_yet_valid",
            f"The launch token was issued in the future ({_iso(iat)}, now {_iso(t)}, allowed clock "
            f"difference {leeway} s).",
            "The LMS server's clock is ahead; ask its administrator to fix the time.",
        )
    if nbf is not None and nbf > t + leeway:
        raise unauthorized(
            "token_not_yet_valid",
            f"The launch token is not valid before {_iso(nbf)} (now {_iso(t)}, allowed clock difference {leeway} s).",
        )
    if iat < login_started_at.timestamp() - leeway:
        raise unauthorized(
            "token_too_old",
            f"The launch token was issued at {_iso(iat)}, before this login started "
            f"({_iso(login_started_at.timestamp())}): it was not issued for this login.",
        )


def check_audience(body: Mapping[str, Any], client_id: str) -> None:
    aud = body.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not audiences or not all(isinstance(a, str) for a in audiences):
        raise bad_request("invalid_claim", "The launch token's 'aud' claim is missing or not a string / list of strings.")
    if client_id not in audiences:
        raise unauthorized(
            "wrong_audience",
            f"The launch token's audience does not include this tool's client id '{client_id}' "
            f"(it names {', '.join(repr(a) for a in audiences)}).",
            "Check the client id registered for this LMS.",
        )
    azp = body.get("azp")
    if len(audiences) > 1 and azp is None:
        raise unauthorized(
            "missing_azp",
            f"The launch token names several audiences but no authorized party ('azp'); it must be "
            f"'{client_id}'.",
        )
    if azp is not None and azp != client_id:
        raise unauthorized(
            "wrong_azp",
            f"The launch token's authorized party (azp) is {azp!r}, not this tool's client id '{client_id}'.",
        )


def check_header(header: Mapping[str, Any]) -> str:
    alg = header.get("alg")
    if alg != ALLOWED_ALG:
        raise unauthorized(
            "alg_not_allowed",
            f"The launch token is signed with algorithm {alg!r}; LTI 1.3 requires {ALLOWED_ALG}.",
            "A token with another algorithm is either misconfigured or forged.",
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise unauthorized("missing_kid", "The launch token's header names no key id ('kid').")
    return kid


def verify_signature(id_token: str, jwk: Mapping[str, Any]) -> None:
    _verify_parsed(_parse(id_token), jwk)


# Public keys made from platform JWKs, by the JWK's content: a JWK's RSA numbers are turned into
# a key object once per process, not per launch (the same JWK always makes the same key).
_public_keys: dict[str, Any] = {}
_PUBLIC_KEYS_MAX = 256


def _public_key(jwk: Mapping[str, Any]) -> Any:
    cache_key = json.dumps(jwk, sort_keys=True, default=str)
    key = _public_keys.get(cache_key)
    if key is None:
        key = jwt.PyJWK(dict(jwk), algorithm=ALLOWED_ALG).key
        if len(_public_keys) >= _PUBLIC_KEYS_MAX:
            _public_keys.clear()
        _public_keys[cache_key] = key
    return key


def _verify_parsed(parsed: _Parsed, jwk: Mapping[str, Any]) -> None:
    """The RS256 signature of the parsed token with ``jwk`` (what ``jwt.decode`` checks with
    ``algorithms=["RS256"]``, without parsing the token again)."""
    if jwk.get("kty") != "RSA" or jwk.get("alg", ALLOWED_ALG) != ALLOWED_ALG or jwk.get("use", "sig") != "sig":
        raise unauthorized(
            "unusable_key",
            f"The platform key '{jwk.get('kid')}' is not an RS256 signing key "
            f"(kty={jwk.get('kty')!r}, alg={jwk.get('alg')!r}, use={jwk.get('use')!r}).",
        )
    try:
        if parsed.header.get("alg") != ALLOWED_ALG:
            raise jwt.InvalidAlgorithmError("The specified alg value is not allowed")
        key = _RS256.prepare_key(_public_key(jwk))
        short = _RS256.check_key_length(key)
        if short:
            warnings.warn(short, InsecureKeyLengthWarning, stacklevel=2)
        if not _RS256.verify(parsed.signing_input, key, parsed.signature):
            raise InvalidSignatureError("Signature verification failed")
    except InvalidSignatureError as exc:
        raise unauthorized(
            "bad_signature",
            f"The launch token's signature does not verify with the platform key '{jwk.get('kid')}'.",
            "The token was altered or signed by another key.",
        ) from exc
    except (InvalidKeyError, PyJWKError) as exc:
        raise unauthorized("unusable_key", f"The platform key '{jwk.get('kid')}' cannot be used: {exc}.") from exc
    except PyJWTError as exc:
        raise bad_request("malformed_token", f"The id_token could not be decoded: {exc}.") from exc


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def check_message(body: Mapping[str, Any]) -> None:
    """Message type, version and the claims each supported message requires."""
    message_type = body.get(claims.MESSAGE_TYPE)
    if message_type not in claims.MESSAGE_TYPES:
        raise bad_request(
            "unsupported_message_type",
            f"The launch's message type {message_type!r} is not supported; this tool accepts "
            f"{' and '.join(claims.MESSAGE_TYPES)}.",
        )
    version = body.get(claims.VERSION)
    if version != claims.LTI_VERSION:
        raise bad_request("bad_version", f"The launch's LTI version is {version!r}; this tool requires '1.3.0'.")
    deployment_id = body.get(claims.DEPLOYMENT_ID)
    if not isinstance(deployment_id, str) or not deployment_id or len(deployment_id) > MAX_DEPLOYMENT_ID_CHARS:
        raise bad_request("missing_claim", "The launch has no valid deployment_id claim.")
    if not _is_http_url(body.get(claims.TARGET_LINK_URI)):
        raise bad_request("missing_claim", "The launch has no valid target_link_uri claim.")
    roles = body.get(claims.ROLES)
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise bad_request("missing_claim", "The launch has no roles claim (it may be empty, but must be present).")
    if "sub" in body:
        sub = body["sub"]
        if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUB_CHARS:
            raise bad_request("invalid_claim", "The launch's 'sub' (user id) is empty, not a string or too long.")
    custom = body.get(claims.CUSTOM)
    if custom is not None and not isinstance(custom, dict):
        raise bad_request("invalid_claim", "The launch's custom claim is not an object.")
    if message_type == claims.RESOURCE_LINK_REQUEST:
        link = body.get(claims.RESOURCE_LINK)
        if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link.get("id"):
            raise bad_request("missing_claim", "The resource link launch has no resource_link.id claim.")
    else:
        settings = body.get(claims.DEEP_LINKING_SETTINGS)
        if not isinstance(settings, dict) or not _is_http_url(settings.get("deep_link_return_url")):
            raise bad_request(
                "missing_claim",
                "The deep linking request has no deep_linking_settings.deep_link_return_url claim.",
            )
        accept = settings.get("accept_types")
        if accept is not None and (not isinstance(accept, list) or "ltiResourceLink" not in accept):
            raise bad_request(
                "unsupported_deep_link",
                "The deep linking request does not accept 'ltiResourceLink' items, the only kind this tool returns.",
            )


def verify_id_token(id_token: str, expected: Expected, login: LoginBinding, now: datetime, leeway: int,
                    resolve_key: KeyResolver) -> VerifiedToken:
    """All checks; returns the verified token or raises LaunchError (nothing written)."""
    parsed = _parse(id_token)
    header, body = parsed.header, parsed.body
    kid = check_header(header)
    iss = body.get("iss")
    if iss != expected.issuer:
        raise unauthorized(
            "wrong_issuer",
            f"The launch token's issuer {iss!r} is not the issuer registered for this login ('{expected.issuer}').",
        )
    check_audience(body, expected.client_id)
    nonce = body.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise bad_request("missing_claim", "The launch token has no nonce.")
    if nonce != login.nonce:
        raise unauthorized("nonce_mismatch", "The launch token's nonce is not the one issued for this login.",
                           "The token belongs to another login; launch again from the LMS.")
    check_times(body, now, leeway, login.created_at)
    _verify_parsed(parsed, resolve_key(kid))
    check_message(body)
    return VerifiedToken(header, body)


__all__ = ["Expected", "LaunchError", "LoginBinding", "VerifiedToken", "check_message", "parse_unverified",
           "verify_id_token"]
