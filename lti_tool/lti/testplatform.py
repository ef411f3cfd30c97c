"""A test LTI 1.3 platform: what the web tests and the development-only demo LMS use to launch
the tool like an LMS would, with real RS256 JWTs.

It has its own RSA key pair and JWKS, an issuer, a client id and a deployment id; it builds the
login-initiation parameters, answers the tool's authorization request (checking it like a
platform would) with a signed id_token, and has knobs that produce every bad token a launch must
refuse. Not for production use: it has no users, no sessions and no persistence.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lti_tool.lti import claims

ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_CONTEXT_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"
ROLE_INSTITUTION_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
ROLE_INSTITUTION_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"
ROLE_INSTITUTION_STUDENT = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"
ROLE_SYSTEM_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"

_UNSET: Any = object()


class PlatformError(Exception):
    """The tool's authorization request is not one a platform would answer."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or "tp-" + secrets.token_hex(6), rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return jwk


@dataclass
class AuthResponse:
    """What the platform form-posts back to the tool's redirect_uri."""

    action: str
    fields: dict[str, str]


@dataclass
class TestPlatform:
    issuer: str = "https://lms.example.edu"
    client_id: str = "tool-client-1"
    deployment_id: str = "deployment-1"
    auth_login_url: str = ""
    key_set_url: str = ""
    auth_token_url: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    token_lifetime_seconds: int = 300

    __test__ = False  # not a pytest test class

    def __post_init__(self) -> None:
        self.auth_login_url = self.auth_login_url or self.issuer.rstrip("/") + "/auth"
        self.key_set_url = self.key_set_url or self.issuer.rstrip("/") + "/jwks"
        self.auth_token_url = self.auth_token_url or self.issuer.rstrip("/") + "/token"
        if not self.keys:
            self.keys.append(SigningKey.generate())

    # ------------------------------------------------------------ keys

    @property
    def key(self) -> SigningKey:
        """The key new tokens are signed with (the newest)."""
        return self.keys[-1]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys]}

    def rotate_key(self, keep_old: bool = False) -> SigningKey:
        """Sign with a new key from now on; the old one leaves the JWKS unless ``keep_old``."""
        new = SigningKey.generate()
        self.keys = [*self.keys, new] if keep_old else [new]
        return new

    @property
    def origin(self) -> str:
        parts = urlsplit(self.auth_login_url)
        return f"{parts.scheme}://{parts.netloc}"

    # ------------------------------------------------------------ login initiation

    def login_params(self, target_link_uri: str, *, login_hint: str = "user-hint-1",
                     lti_message_hint: str | None = "message-hint-1", send_client_id: bool = True,
                     send_deployment_id: bool = True, storage_target: str | None = None) -> dict[str, str]:
        """The parameters of a third-party initiated login request."""
        params = {"iss": self.issuer, "login_hint": login_hint, "target_link_uri": target_link_uri}
        if lti_message_hint is not None:
            params["lti_message_hint"] = lti_message_hint
        if send_client_id:
            params["client_id"] = self.client_id
        if send_deployment_id:
            params["lti_deployment_id"] = self.deployment_id
        if storage_target is not None:
            params["lti_storage_target"] = storage_target
        return params

    # ------------------------------------------------------------ authorization

    def check_auth_request(self, auth_url: str, redirect_uri: str) -> dict[str, str]:
        """Parse and check the tool's authorization request like a platform does."""
        parts = urlsplit(auth_url)
        base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        if base != self.auth_login_url.split("?")[0]:
            raise PlatformError(f"authorization request sent to {base}, not {self.auth_login_url}")
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        expected = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none"}
        for name, value in expected.items():
            if query.get(name) != value:
                raise PlatformError(f"{name} must be {value!r}, got {query.get(name)!r}")
        if query.get("client_id") != self.client_id:
            raise PlatformError(f"unknown client_id {query.get('client_id')!r}")
        if query.get("redirect_uri") != redirect_uri:
            raise PlatformError(f"redirect_uri {query.get('redirect_uri')!r} is not the registered {redirect_uri!r}")
        for name in ("state", "nonce", "login_hint"):
            if not query.get(name):
                raise PlatformError(f"the authorization request has no {name}")
        return query

    def authorize(self, auth_url: str, redirect_uri: str, **token_options: Any) -> AuthResponse:
        """Answer the tool's authorization request: echo the state, sign an id_token carrying the
        nonce (``token_options`` as for ``id_token``)."""
        query = self.check_auth_request(auth_url, redirect_uri)
        token = self.id_token(query["nonce"], **token_options)
        return AuthResponse(redirect_uri, {"id_token": token, "state": query["state"]})

    # ------------------------------------------------------------ tokens

    def claims_for(self, nonce: str | None, *, message_type: str = claims.RESOURCE_LINK_REQUEST,
                   roles: Sequence[str] = (ROLE_LEARNER,), custom: Mapping[str, Any] | None = None,
                   sub: str | None = "learner-1", name: str | None = "Lee Learner",
                   email: str | None = "lee@example.edu", target_link_uri: str = "https://tool.test/lti/launch",
                   resource_link_id: str | None = "link-1", deployment_id: str | None = None,
                   deep_linking: Mapping[str, Any] | None = None, ags: Mapping[str, Any] | None = None,
                   context: Mapping[str, Any] | None = None, version: str = claims.LTI_VERSION,
                   iss: str | None = None, aud: Any = _UNSET, azp: Any = _UNSET, exp_in: int | None = None,
                   iat_offset: int = 0, nbf_offset: int | None = None, now: float | None = None,
                   extra: Mapping[str, Any] | None = None, remove: Sequence[str] = ()) -> dict[str, Any]:
        """The id_token body. ``None`` for sub/name/email leaves them out (anonymous launch);
        ``remove`` drops any claim after building."""
        now = time.time() if now is None else now
        iat = int(now) + iat_offset
        body: dict[str, Any] = {
            "iss": iss or self.issuer,
            "aud": self.client_id if aud is _UNSET else aud,
            "iat": iat,
            "exp": iat + (self.token_lifetime_seconds if exp_in is None else exp_in),
            claims.MESSAGE_TYPE: message_type,
            claims.VERSION: version,
            claims.DEPLOYMENT_ID: deployment_id or self.deployment_id,
            claims.TARGET_LINK_URI: target_link_uri,
            claims.ROLES: list(roles),
            claims.CONTEXT: dict(context) if context else {"id": "course-ctx-1", "label": "SAFE101",
                                                           "title": "Safety 101"},
            claims.TOOL_PLATFORM: {"guid": "test-platform", "name": "Test LMS", "product_family_code": "test"},
        }
        if nonce is not None:
            body["nonce"] = nonce
        if azp is not _UNSET:
            body["azp"] = azp
        if nbf_offset is not None:
            body["nbf"] = int(now) + nbf_offset
        if sub is not None:
            body["sub"] = sub
        if name is not None:
            body["name"] = name
        if email is not None:
            body["email"] = email
        if custom is not None:
            body[claims.CUSTOM] = dict(custom)
        if message_type == claims.RESOURCE_LINK_REQUEST and resource_link_id is not None:
            body[claims.RESOURCE_LINK] = {"id": resource_link_id, "title": "A course link"}
        if message_type == claims.DEEP_LINKING_REQUEST:
            body[claims.DEEP_LINKING_SETTINGS] = dict(deep_linking) if deep_linking is not None else \
                self.deep_linking_settings()
        if ags is not None:
            body[claims.AGS_ENDPOINT] = dict(ags)
        if extra:
            body.update(extra)
        for name_ in remove:
            body.pop(name_, None)
        return body

    def deep_linking_settings(self, return_url: str | None = None, data: str | None = "dl-data-1",
                              accept_multiple: bool = True) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "deep_link_return_url": return_url or self.issuer.rstrip("/") + "/deep_link_return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": accept_multiple,
        }
        if data is not None:
            settings["data"] = data
        return settings

    def ags_claim(self, lineitem: str | None = None, lineitems: str | None = None,
                  scopes: Sequence[str] = ("https://purl.imsglobal.org/spec/lti-ags/scope/score",
                                           "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem")) -> dict[str, Any]:
        base = self.issuer.rstrip("/")
        claim: dict[str, Any] = {"scope": list(scopes), "lineitems": lineitems or base + "/ags/lineitems"}
        claim["lineitem"] = lineitem or base + "/ags/lineitems/1"
        return claim

    def id_token(self, nonce: str | None, *, alg: str = "RS256", kid: Any = _UNSET, sign_with: SigningKey | None = None,
                 tamper: bool = False, body: Mapping[str, Any] | None = None, **claim_options: Any) -> str:
        """A signed id_token. Bad-case knobs: ``alg`` ("none", "HS256"), ``kid`` (another key id, or
        None for no kid), ``sign_with`` (a key not in the JWKS), ``tamper`` (alter the body after
        signing), plus every ``claims_for`` option."""
        payload = dict(body) if body is not None else self.claims_for(nonce, **claim_options)
        key = sign_with or self.key
        header: dict[str, Any] = {"typ": "JWT", "alg": alg}
        header_kid = key.kid if kid is _UNSET else kid
        if header_kid is not None:
            header["kid"] = header_kid
        if alg == "RS256":
            signing_input = self._signing_input(header, payload)
            signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
            token = signing_input + "." + _b64url(signature)
        elif alg == "none":
            token = self._signing_input(header, payload) + "."
        elif alg == "HS256":
            # The classic key-confusion forgery: HMAC keyed with the platform's *public* key.
            signing_input = self._signing_input(header, payload)
            mac = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
            token = signing_input + "." + _b64url(mac)
        else:
            raise ValueError(f"unsupported alg knob {alg!r}")
        if tamper:
            head, _body, sig = token.split(".")
            altered = dict(payload)
            altered["sub"] = str(altered.get("sub", "")) + "-tampered"
            token = ".".join((head, _b64url(json.dumps(altered, separators=(",", ":")).encode()), sig))
        return token

    @staticmethod
    def _signing_input(header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
        return (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                + _b64url(json.dumps(payload, separators=(",", ":")).encode()))
