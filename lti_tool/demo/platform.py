"""The demo LMS as an LTI 1.3 platform: which origin is the LMS and which the tool, the
``TestPlatform`` it signs with, what a launch carries from the demo page to the authorization
endpoint, and the checks it makes on what the tool sends back (deep-linking responses, OAuth2
client assertions). No Flask and no database here: the views and ``setup`` use these.

Two origins, one server: a browser only shows the real iframe behaviour (third-party cookies,
``postMessage`` between origins) when the LMS page and the tool frame are different *sites*.
``localhost`` and ``127.0.0.1`` reach the same development server but are different sites, so
the demo LMS is served from the loopback name that ``PUBLIC_BASE_URL`` does not use.

The platform is stateless: the launch the newcomer picked travels, signed with ``SECRET_KEY``
(itsdangerous), in ``lti_message_hint`` through the tool's login and back to the authorization
endpoint, as a real LMS keeps it in its own session; ``data`` of a deep-linking request is signed
the same way, so the response can be checked on any process.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from lti_tool.demo.keys import key_id
from lti_tool.lti import claims
from lti_tool.lti.login import origin_of
from lti_tool.lti.testplatform import ROLE_INSTITUTION_INSTRUCTOR, ROLE_INSTITUTION_STUDENT, ROLE_INSTRUCTOR, \
    ROLE_LEARNER, SigningKey, TestPlatform

CLIENT_ID = "demo-lms-client"
DEPLOYMENT_ID = "demo-lms-deployment"
PLATFORM_PATH = "/demo/platform"
STORAGE_FRAME = "demo_lti_storage"  # lti_storage_target: the named frame answering lti.put_data/get_data
HINT_MAX_AGE_SECONDS = 3600
DEEP_LINK_DATA_MAX_AGE_SECONDS = 3600
ACCESS_TOKEN_SECONDS = 3600
CLOCK_LEEWAY_SECONDS = 60
MAX_CUSTOM_PARAMS = 20
MAX_CUSTOM_CHARS = 500
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
DL_MSG = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
DL_ERRORMSG = "https://purl.imsglobal.org/spec/lti-dl/claim/errormsg"
LAUNCH_PRESENTATION = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

LICENSE_TYPES = ("plus", "volume", "ppu")
ROLES = ("learner", "admin")
KINDS = ("course", "navigation", "deep_linking")


class DemoPlatformError(Exception):
    """A request the demo platform refuses (shown as a 400 page naming the problem)."""


# ---------------------------------------------------------------- people

@dataclass(frozen=True)
class Person:
    key: str
    name: str

    @property
    def sub(self) -> str:
        return SUB_PREFIX + self.key

    @property
    def email(self) -> str:
        return f"{self.key}@demo-lms.example"


PEOPLE = (
    # The seat holders `lti-tool demo seed` creates (store.demo.SEEDED_LEARNERS, with this LMS's
    # identity: see seeded_identity), then people the tool has not seen yet.
    Person("ada-lovelace", "Ada Lovelace"),
    Person("alan-turing", "Alan Turing"),
    Person("grace-hopper", "Grace Hopper"),
    Person("edsger-dijkstra", "Edsger Dijkstra"),
    Person("barbara-liskov", "Barbara Liskov"),
    Person("maria-garcia", "Maria Garcia"),
    Person("kenji-tanaka", "Kenji Tanaka"),
    Person("amara-okafor", "Amara Okafor"),
    Person("lucas-silva", "Lucas Silva"),
    Person("pat-morgan", "Pat Morgan"),
)
SUB_PREFIX = "demo-"  # a person's LTI sub: Person.sub
NEW_PERSON_PREFIX = "new-"  # "new-" + 8 hex digits: a learner the tool has never seen


def person_for(key: str) -> Person:
    """A demo person by key; ``new`` makes a fresh one, ``new-<8 hex>`` names one made before."""
    for person in PEOPLE:
        if person.key == key:
            return person
    if key == "new":
        key = NEW_PERSON_PREFIX + secrets.token_hex(4)
    suffix = key[len(NEW_PERSON_PREFIX):]
    if key.startswith(NEW_PERSON_PREFIX) and len(suffix) == 8 and all(c in "0123456789abcdef" for c in suffix):
        return Person(key, f"New Learner {suffix.upper()}")
    raise DemoPlatformError(f"unknown demo person {key[:40]!r}")


# ---------------------------------------------------------------- origins

def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Origins:
    """Where the tool is (``PUBLIC_BASE_URL``) and where the demo LMS is served from."""

    tool: str
    demo: str | None  # None: this request cannot act as the LMS (see ``problem``)
    redirect_to: str | None = None  # open the demo here instead (the other loopback name)
    problem: str | None = None


def _swap_loopback(origin: str) -> str | None:
    parts = urlsplit(origin)
    host = (parts.hostname or "").lower()
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(host)
    if other is None:
        return None
    return f"{parts.scheme}://{other}" + (f":{parts.port}" if parts.port else "")


def resolve_origins(public_base_url: str, request_origin: str) -> Origins:
    """The demo LMS origin for a request arriving at ``request_origin``.

    - Another origin than the tool's, on a loopback host: the demo LMS is served from there.
    - The tool's own origin: send the browser to the other loopback name (127.0.0.1 <->
      localhost) when the tool uses one of them.
    - Any other host: refused, so nobody can register their own origin as the demo platform
      by sending a Host header.
    """
    tool = origin_of(public_base_url) or public_base_url
    request_origin = origin_of(request_origin) or request_origin
    if request_origin == tool:
        other = _swap_loopback(tool)
        if other is not None:
            return Origins(tool, None, redirect_to=other)
        return Origins(tool, None, problem=(
            f"This page was opened on the tool's own address ({tool}), and the demo LMS must run on another "
            "site so that the tool frame is really cross-site. Open it as http://localhost:PORT/demo (or "
            "http://127.0.0.1:PORT/demo) on the machine running the server."))
    host = urlsplit(request_origin).hostname or ""
    if not _is_loopback(host):
        return Origins(tool, None, problem=(
            f"The demo LMS runs only on a loopback address (localhost, 127.0.0.1), not on {request_origin}."))
    return Origins(tool, request_origin)


def issuer_for(demo_origin: str) -> str:
    return demo_origin + PLATFORM_PATH


def seeded_identity(public_base_url: str) -> tuple[str, str] | None:
    """(learner source, sub prefix) of the demo LMS's people when it runs on the other loopback
    name of ``public_base_url`` (the usual set-up), for seeding its seat holders; else None."""
    other = resolve_origins(public_base_url, public_base_url).redirect_to
    return None if other is None else ("lti:" + issuer_for(other), SUB_PREFIX)


# ---------------------------------------------------------------- the platform

def make_platform(private_key: rsa.RSAPrivateKey, demo_origin: str) -> TestPlatform:
    """The demo LMS's ``TestPlatform``: issuer ``<demo origin>/demo/platform`` with its auth,
    JWKS and token endpoints below it, signing with the stored demo key (lti_tool/demo/keys.py)."""
    issuer = issuer_for(demo_origin)
    return TestPlatform(issuer=issuer, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID,
                        auth_login_url=issuer + "/auth", key_set_url=issuer + "/jwks", auth_token_url=issuer + "/token",
                        keys=[SigningKey(key_id(private_key), private_key)])


# ---------------------------------------------------------------- what a launch carries

@dataclass(frozen=True)
class LaunchChoice:
    """One launch picked on the demo page: travels signed in ``lti_message_hint``."""

    kind: str  # course | navigation | deep_linking
    role: str  # learner | admin
    person: Person
    custom: dict[str, str] = field(default_factory=dict)
    resource_link_id: str = ""
    target_link_uri: str = ""

    @property
    def roles(self) -> list[str]:
        if self.role == "admin":
            return [ROLE_INSTRUCTOR, ROLE_INSTITUTION_INSTRUCTOR]
        return [ROLE_LEARNER, ROLE_INSTITUTION_STUDENT]

    def as_dict(self) -> dict[str, Any]:
        return {"k": self.kind, "r": self.role, "p": self.person.key, "n": self.person.name, "c": self.custom,
                "l": self.resource_link_id, "t": self.target_link_uri}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LaunchChoice:
        person = Person(str(data["p"]), str(data["n"]))
        return cls(str(data["k"]), str(data["r"]), person, {str(k): str(v) for k, v in dict(data["c"]).items()},
                   str(data["l"]), str(data["t"]))


def parse_custom(raw: str | None) -> dict[str, str]:
    """Custom parameters as JSON (an object of short strings), e.g. a deep-linked item's."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise DemoPlatformError("the custom parameters are not JSON") from None
    if not isinstance(value, dict) or len(value) > MAX_CUSTOM_PARAMS:
        raise DemoPlatformError(f"the custom parameters must be a JSON object of at most {MAX_CUSTOM_PARAMS} entries")
    out = {}
    for key, item in value.items():
        if not isinstance(item, str | int | float) or isinstance(item, bool) or len(str(item)) > MAX_CUSTOM_CHARS \
                or len(key) > 100:
            raise DemoPlatformError(f"the custom parameter {key[:40]!r} is not a short text")
        out[key] = str(item)
    return out


def build_choice(*, kind: str, role: str, person_key: str, tool_base_url: str, catalog_id: str = "",
                 license_type: str = "", custom: Mapping[str, str] | None = None, url: str = "") -> LaunchChoice:
    """Validate what the demo page asked for and turn it into a launch."""
    if kind not in KINDS:
        raise DemoPlatformError(f"unknown launch kind {kind[:40]!r}")
    if role not in ROLES:
        raise DemoPlatformError(f"unknown role {role[:40]!r}")
    person = person_for(person_key)
    launch_url = tool_base_url + "/lti/launch"
    if kind == "deep_linking":
        return LaunchChoice(kind, "admin", person, {}, "", launch_url)
    if kind == "navigation":
        return LaunchChoice(kind, role, person, {}, "demo-navigation-link", tool_base_url + "/lti/home")
    if custom:
        params = dict(custom)  # a deep-linked item: its own custom parameters, as an LMS would send them
        digest = hashlib.sha256(json.dumps([url, params], sort_keys=True).encode()).hexdigest()[:16]
        target = url if origin_of(url) == origin_of(tool_base_url) else launch_url
        return LaunchChoice(kind, role, person, params, "demo-dl-" + digest, target)
    catalog_id = catalog_id.strip()
    if not catalog_id or len(catalog_id) > 200:
        raise DemoPlatformError("pick a course (or type its catalog id)")
    if license_type not in LICENSE_TYPES:
        raise DemoPlatformError("pick a license type: plus, volume or ppu")
    params = {claims.CUSTOM_COURSE_ID: catalog_id, claims.CUSTOM_LICENSE_TYPE: license_type}
    digest = hashlib.sha256(f"{catalog_id}\n{license_type}".encode()).hexdigest()[:16]
    return LaunchChoice(kind, role, person, params, "demo-link-" + digest, launch_url)


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="lti-tool/demo-platform/" + purpose)


def sign_choice(secret_key: str, choice: LaunchChoice) -> str:
    return _serializer(secret_key, "launch").dumps(choice.as_dict())


def load_choice(secret_key: str, hint: str | None, max_age: int = HINT_MAX_AGE_SECONDS) -> LaunchChoice:
    if not hint:
        raise DemoPlatformError("the authorization request has no lti_message_hint (the demo launch it is for)")
    try:
        return LaunchChoice.from_dict(_serializer(secret_key, "launch").loads(hint, max_age=max_age))
    except SignatureExpired:
        raise DemoPlatformError("this demo launch is more than an hour old: launch again from the demo page") from None
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        raise DemoPlatformError("the lti_message_hint is not one the demo LMS issued") from None


def login_params(platform: TestPlatform, choice: LaunchChoice, secret_key: str) -> dict[str, str]:
    """The third-party initiated login request for ``choice``, with platform storage."""
    return platform.login_params(choice.target_link_uri, login_hint=choice.person.sub,
                                 lti_message_hint=sign_choice(secret_key, choice), storage_target=STORAGE_FRAME)


def deep_link_data(secret_key: str) -> str:
    return _serializer(secret_key, "deep-link").dumps(secrets.token_urlsafe(12))


def id_token_options(choice: LaunchChoice, platform: TestPlatform, demo_origin: str, secret_key: str) -> dict[str, Any]:
    """``TestPlatform.id_token`` options for the launch."""
    first, _, last = choice.person.name.partition(" ")
    options: dict[str, Any] = {
        "roles": choice.roles,
        "sub": choice.person.sub,
        "name": choice.person.name,
        "email": choice.person.email,
        "target_link_uri": choice.target_link_uri,
        "context": {"id": "demo-lms-course-1", "label": "DEMO101", "title": "Demo LMS course"},
        "extra": {"given_name": first, "family_name": last, "preferred_username": choice.person.key,
                  LAUNCH_PRESENTATION: {"document_target": "iframe", "return_url": demo_origin + "/demo"},
                  claims.TOOL_PLATFORM: {"guid": "demo-lms", "name": "Demo LMS", "product_family_code": "demo-lms"}},
    }
    if choice.kind == "deep_linking":
        options["message_type"] = claims.DEEP_LINKING_REQUEST
        options["deep_linking"] = platform.deep_linking_settings(
            return_url=demo_origin + PLATFORM_PATH + "/deep-link-return", data=deep_link_data(secret_key))
        options["resource_link_id"] = None
    else:
        options["custom"] = choice.custom
        options["resource_link_id"] = choice.resource_link_id
    return options


# ---------------------------------------------------------------- what the tool sends back

def _verify_tool_jwt(token: str, tool_jwks: Mapping[str, Any], *, audience: str | list[str], issuer: str,
                     what: str) -> dict[str, Any]:
    if not token:
        raise DemoPlatformError(f"the {what} has no JWT")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise DemoPlatformError(f"the {what} is not a JWT") from None
    if header.get("alg") != "RS256":
        raise DemoPlatformError(f"the {what} must be signed with RS256, not {str(header.get('alg'))[:20]!r}")
    kid = header.get("kid")
    jwk = next((k for k in tool_jwks.get("keys", []) if isinstance(k, dict) and k.get("kid") == kid), None)
    if jwk is None:
        raise DemoPlatformError(f"the {what} is signed with key id {str(kid)[:60]!r}, which is not in the tool's JWKS")
    try:
        key = jwt.PyJWK(jwk, algorithm="RS256").key
        return jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer,
                          leeway=CLOCK_LEEWAY_SECONDS, options={"require": ["exp", "iat", "iss", "aud"]})
    except jwt.InvalidSignatureError:
        raise DemoPlatformError(f"the {what}'s signature does not verify with the tool's key") from None
    except jwt.ExpiredSignatureError:
        raise DemoPlatformError(f"the {what} has expired") from None
    except jwt.InvalidAudienceError:
        raise DemoPlatformError(f"the {what} is not addressed to this platform (aud)") from None
    except jwt.InvalidIssuerError:
        raise DemoPlatformError(f"the {what} does not come from this platform's client id (iss)") from None
    except jwt.PyJWTError as exc:
        raise DemoPlatformError(f"the {what} is not valid: {exc}") from None


@dataclass(frozen=True)
class ReturnedItem:
    title: str
    url: str
    custom: dict[str, str]
    text: str | None = None
    score_maximum: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "url": self.url, "custom": self.custom, "text": self.text,
                "scoreMaximum": self.score_maximum}


@dataclass(frozen=True)
class DeepLinkResult:
    items: tuple[ReturnedItem, ...]
    msg: str | None
    errormsg: str | None
    ignored: int  # content items of other types (the demo LMS accepts ltiResourceLink only)


def verify_deep_link_response(token: str, tool_jwks: Mapping[str, Any], platform: TestPlatform,
                              secret_key: str) -> DeepLinkResult:
    """Check an ``LtiDeepLinkingResponse`` like a platform: signature by the tool's key (its
    JWKS), ``iss`` = our client id, ``aud`` = our issuer, ``exp``/``iat``, message type, version,
    deployment, and ``data`` = the signed value the request carried."""
    body = _verify_tool_jwt(token, tool_jwks, audience=platform.issuer, issuer=platform.client_id,
                            what="deep-linking response")
    if body.get(claims.MESSAGE_TYPE) != DEEP_LINKING_RESPONSE:
        raise DemoPlatformError(f"the message type is {str(body.get(claims.MESSAGE_TYPE))[:60]!r}, "
                                f"not {DEEP_LINKING_RESPONSE!r}")
    if body.get(claims.VERSION) != claims.LTI_VERSION:
        raise DemoPlatformError(f"the LTI version is {str(body.get(claims.VERSION))[:20]!r}, "
                                f"not {claims.LTI_VERSION!r}")
    if body.get(claims.DEPLOYMENT_ID) != platform.deployment_id:
        raise DemoPlatformError("the response is for another deployment")
    data = body.get(DL_DATA)
    try:
        _serializer(secret_key, "deep-link").loads(data if isinstance(data, str) else "",
                                                   max_age=DEEP_LINK_DATA_MAX_AGE_SECONDS)
    except (BadSignature, SignatureExpired):
        raise DemoPlatformError("the response does not echo the 'data' of a deep-linking request of this "
                                "platform (or that request is more than an hour old)") from None
    raw_items = body.get(DL_CONTENT_ITEMS, [])
    if not isinstance(raw_items, list):
        raise DemoPlatformError("content_items is not a list")
    items, ignored = [], 0
    for raw in raw_items:
        if not isinstance(raw, dict) or raw.get("type") != "ltiResourceLink":
            ignored += 1
            continue
        custom = raw.get("custom") or {}
        if not isinstance(custom, dict):
            raise DemoPlatformError("an item's custom parameters are not an object")
        line_item = raw.get("lineItem") if isinstance(raw.get("lineItem"), dict) else {}
        score_maximum = line_item.get("scoreMaximum")
        items.append(ReturnedItem(
            title=str(raw.get("title") or "(untitled)")[:300], url=str(raw.get("url") or "")[:2000],
            custom={str(k)[:100]: str(v)[:MAX_CUSTOM_CHARS] for k, v in list(custom.items())[:MAX_CUSTOM_PARAMS]},
            text=str(raw["text"])[:1000] if raw.get("text") else None,
            score_maximum=score_maximum if isinstance(score_maximum, int | float) else None,
        ))
    msg, errormsg = body.get(DL_MSG), body.get(DL_ERRORMSG)
    return DeepLinkResult(tuple(items), str(msg)[:500] if msg else None, str(errormsg)[:500] if errormsg else None,
                          ignored)


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    scope: str
    expires_in: int


def grant_access_token(form: Mapping[str, str], tool_jwks: Mapping[str, Any], platform: TestPlatform,
                       secret_key: str) -> AccessToken:
    """OAuth2 client credentials with a JWT client assertion (LTI Security Framework 4.1): the
    assertion is signed by the tool's key, ``iss`` = ``sub`` = our client id, ``aud`` = the token
    URL (or the issuer). Grants the scopes asked for."""
    if form.get("grant_type") != "client_credentials":
        raise DemoPlatformError("grant_type must be client_credentials")
    if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise DemoPlatformError(f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}")
    body = _verify_tool_jwt(form.get("client_assertion", ""), tool_jwks,
                            audience=[platform.auth_token_url, platform.issuer], issuer=platform.client_id,
                            what="client assertion")
    if body.get("sub") != platform.client_id:
        raise DemoPlatformError("the client assertion's sub is not this platform's client id")
    if not isinstance(body.get("jti"), str) or not body["jti"]:
        raise DemoPlatformError("the client assertion has no jti")
    scope = " ".join(str(form.get("scope", "")).split())[:1000]
    token = _serializer(secret_key, "access-token").dumps({"scope": scope, "client_id": platform.client_id})
    return AccessToken(token, scope, ACCESS_TOKEN_SECONDS)
