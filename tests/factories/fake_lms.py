"""A fake LMS on a real local HTTP server (werkzeug, 127.0.0.1, a free port, its own thread) for
Dynamic Registration and grade passback tests — real HTTP, no request mocking.

It serves:
- ``GET /lti/openid-configuration``: the platform's OpenID configuration (bearer registration
  token required);
- ``POST /lti/registrations``: Dynamic Registration (records the client metadata, answers a new
  client id, with or without a deployment id);
- ``POST /lti/token``: OAuth2 client credentials; verifies the ``private_key_jwt`` client
  assertion against the tool's JWKS (signature, iss = sub = a known client id, aud, exp, jti);
- ``GET/POST /lti/courses/<c>/lineitems`` and ``POST /lti/courses/<c>/lineitems/<n>/scores``:
  AGS, recording what they receive; bearer tokens are checked for validity and scope.

Any endpoint can be told to answer an error status a number of times (``fail_next``).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import jwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from store.base import utcnow

AGS_SCOPE_PREFIX = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPE_SCORE = AGS_SCOPE_PREFIX + "score"
SCOPE_LINEITEM = AGS_SCOPE_PREFIX + "lineitem"
SCOPE_LINEITEM_READONLY = AGS_SCOPE_PREFIX + "lineitem.readonly"


@dataclass
class IssuedToken:
    client_id: str
    scopes: frozenset[str]
    expires_at: datetime
    revoked: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    client_id: str | None = None


@dataclass
class FakeLms:
    jwks_provider: Callable[[], dict[str, Any]] = field(default=lambda: {"keys": []})
    clock: Callable[[], datetime] = utcnow
    registration_token: str = "registration-token-123"
    product: str = "moodle"
    token_expires_in: int | None = 3600
    lineitems_page_size: int = 50
    # Dynamic Registration
    config_overrides: dict[str, Any] = field(default_factory=dict)
    config_raw_body: str | None = None  # answer this text instead of the configuration JSON
    registration_deployment_id: str | None = "dep-dyn-1"
    registration_answer_overrides: dict[str, Any] = field(default_factory=dict)
    # state
    client_audiences: dict[str, str] = field(default_factory=dict)  # client id -> expected aud ("" = token URL)
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    used_jti: set[str] = field(default_factory=set)
    lineitems: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    failures: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-lms", daemon=True)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeLms:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeLms:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ URLs and set-up

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.base_url}/lti/openid-configuration"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/lti/token"

    @property
    def auth_login_url(self) -> str:
        return f"{self.base_url}/lti/auth"

    @property
    def key_set_url(self) -> str:
        return f"{self.base_url}/lti/certs"

    def lineitems_url(self, context: str = "c1") -> str:
        return f"{self.base_url}/lti/courses/{context}/lineitems"

    def add_client(self, client_id: str, audience: str = "") -> None:
        """Accept client assertions of this client id (``audience``: expected ``aud``; default the
        token URL)."""
        self.client_audiences[client_id] = audience

    def add_lineitem(self, context: str = "c1", query: str = "", **fields: Any) -> str:
        with self._lock:
            number = next(self._counter)
        url = f"{self.lineitems_url(context)}/{number}" + (f"?{query}" if query else "")
        self.lineitems.append({"id": url, "scoreMaximum": 100, "label": "Line item", **fields,
                               "_context": context, "_number": number})
        return url

    def fail_next(self, kind: str, *statuses: int) -> None:
        """The next requests of ``kind`` (config, register, token, lineitems, create_lineitem,
        scores) answer these statuses, in order."""
        self.failures.setdefault(kind, []).extend(statuses)

    def revoke_tokens(self) -> None:
        for token in self.tokens.values():
            token.revoked = True

    @property
    def scores(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/scores")]

    @property
    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/lti/token"]

    @property
    def registrations(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/lti/registrations"]

    # ------------------------------------------------------------ WSGI

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _fail(self, kind: str) -> Response | None:
        with self._lock:
            queue = self.failures.get(kind)
            status = queue.pop(0) if queue else None
        if status is None:
            return None
        headers = {"Retry-After": "1"} if status == 429 else {}
        return _json({"error": f"scripted {status}"}, status, headers)

    def _record(self, request: Request, body: Any, client_id: str | None = None) -> None:
        self.requests.append(Recorded(request.method, request.path, parse_qs(request.query_string.decode()),
                                      dict(request.headers), body, client_id))

    def _handle(self, request: Request) -> Response:
        path = request.path
        try:
            if path == "/lti/openid-configuration" and request.method == "GET":
                return self._configuration(request)
            if path == "/lti/registrations" and request.method == "POST":
                return self._register(request)
            if path == "/lti/token" and request.method == "POST":
                return self._token(request)
            parts = path.strip("/").split("/")
            if len(parts) == 4 and parts[:2] == ["lti", "courses"] and parts[3] == "lineitems":
                return self._lineitems(request, parts[2])
            if len(parts) == 6 and parts[:2] == ["lti", "courses"] and parts[3] == "lineitems" and parts[5] == "scores":
                return self._score(request, parts[2], parts[4])
        except Exception as exc:  # noqa: BLE001 - a bug in the fake must show in the test
            return _json({"error": f"fake LMS crashed: {exc!r}"}, 500)
        return _json({"error": "not found"}, 404)

    # ------------------------------------------------------------ Dynamic Registration

    def configuration(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.auth_login_url,
            "registration_endpoint": f"{self.base_url}/lti/registrations",
            "jwks_uri": self.key_set_url,
            "token_endpoint": self.token_url,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "scopes_supported": ["openid", SCOPE_SCORE, SCOPE_LINEITEM],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": self.product, "version": "4.5",
                "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}],
            },
        }
        data.update(self.config_overrides)
        return {k: v for k, v in data.items() if v is not None}

    def _bearer_ok(self, request: Request, token: str) -> bool:
        return request.headers.get("Authorization") == f"Bearer {token}"

    def _configuration(self, request: Request) -> Response:
        self._record(request, None)
        if (failure := self._fail("config")) is not None:
            return failure
        if not self._bearer_ok(request, self.registration_token):
            return _json({"error": "invalid registration token"}, 401)
        if self.config_raw_body is not None:
            return Response(self.config_raw_body, content_type="text/html")
        return _json(self.configuration())

    def _register(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        self._record(request, body)
        if (failure := self._fail("register")) is not None:
            return failure
        if not self._bearer_ok(request, self.registration_token):
            return _json({"error": "invalid registration token"}, 401)
        if not isinstance(body, dict) or body.get("token_endpoint_auth_method") != "private_key_jwt":
            return _json({"error": "invalid_client_metadata"}, 400)
        with self._lock:
            client_id = f"dyn-client-{next(self._counter)}"
        self.add_client(client_id)
        tool_config = dict(body.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {})
        if self.registration_deployment_id:
            tool_config["deployment_id"] = self.registration_deployment_id
        answer = {**body, "client_id": client_id, "https://purl.imsglobal.org/spec/lti-tool-configuration": tool_config}
        answer.update(self.registration_answer_overrides)
        return _json({k: v for k, v in answer.items() if v is not None}, 201)

    # ------------------------------------------------------------ OAuth2 token

    def _token(self, request: Request) -> Response:
        form = request.form.to_dict()
        client_id: str | None = None
        try:
            client_id = jwt.decode(form.get("client_assertion", ""), options={"verify_signature": False}).get("sub")
        except jwt.PyJWTError:
            pass
        self._record(request, form, client_id)
        if (failure := self._fail("token")) is not None:
            return failure
        if form.get("grant_type") != "client_credentials" or \
                form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return _json({"error": "unsupported_grant_type"}, 400)
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            if header.get("alg") != "RS256":
                return _json({"error": "invalid_client", "error_description": "alg"}, 401)
            key = next((k for k in self.jwks_provider()["keys"] if k.get("kid") == header.get("kid")), None)
            if key is None:
                return _json({"error": "invalid_client", "error_description": "unknown kid"}, 401)
            audience = self.client_audiences.get(str(client_id), "") or self.token_url
            claims = jwt.decode(assertion, jwt.PyJWK.from_dict(key).key, algorithms=["RS256"], audience=audience,
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
        except jwt.PyJWTError as exc:
            return _json({"error": "invalid_client", "error_description": str(exc)}, 401)
        now = self.clock().timestamp()
        if claims.get("iss") != claims.get("sub") or claims.get("sub") not in self.client_audiences:
            return _json({"error": "invalid_client", "error_description": "unknown client"}, 401)
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now or claims.get("iat", now) > now + 60:
            return _json({"error": "invalid_client", "error_description": "expired assertion"}, 401)
        with self._lock:
            if not claims.get("jti") or claims["jti"] in self.used_jti:
                return _json({"error": "invalid_client", "error_description": "jti reused"}, 401)
            self.used_jti.add(claims["jti"])
            token = f"token-{next(self._counter)}-{claims['sub']}"
        scopes = frozenset((form.get("scope") or "").split())
        lifetime = self.token_expires_in if self.token_expires_in is not None else 3600
        self.tokens[token] = IssuedToken(str(claims["sub"]), scopes, self.clock() + timedelta(seconds=lifetime))
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "scope": " ".join(sorted(scopes))}
        if self.token_expires_in is not None:
            answer["expires_in"] = self.token_expires_in
        return _json(answer)

    def _authorize(self, request: Request, *scopes: str) -> tuple[IssuedToken | None, Response | None]:
        header = request.headers.get("Authorization", "")
        token = self.tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if token is None or token.revoked or token.expires_at <= self.clock():
            return None, _json({"error": "invalid token"}, 401)
        if not token.scopes.intersection(scopes):
            return None, _json({"error": "insufficient scope"}, 403)
        return token, None

    # ------------------------------------------------------------ AGS

    def _lineitems(self, request: Request, context: str) -> Response:
        body = request.get_json(silent=True, force=True) if request.method == "POST" else None
        kind = "create_lineitem" if request.method == "POST" else "lineitems"
        token, refused = self._authorize(request, *((SCOPE_LINEITEM,) if request.method == "POST"
                                                    else (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY)))
        self._record(request, body, token.client_id if token else None)
        if (failure := self._fail(kind)) is not None:
            return failure
        if refused is not None:
            return refused
        if request.method == "POST":
            if not isinstance(body, dict) or not body.get("label") or not body.get("scoreMaximum"):
                return _json({"error": "label and scoreMaximum are required"}, 400)
            url = self.add_lineitem(context, **body)
            return _json({**body, "id": url}, 201, content_type="application/vnd.ims.lis.v2.lineitem+json")
        items = [i for i in self.lineitems if i["_context"] == context]
        link = request.args.get("resource_link_id")
        if link:
            items = [i for i in items if i.get("resourceLinkId") == link]
        page = int(request.args.get("page", "1"))
        size = self.lineitems_page_size
        chunk = items[(page - 1) * size: page * size]
        headers = {}
        if page * size < len(items):
            query = "&".join(f"{k}={v}" for k, v in [*((k, v) for k, v in request.args.items() if k != "page"),
                                                      ("page", str(page + 1))])
            headers["Link"] = f'<{self.lineitems_url(context)}?{query}>; rel="next"'
        public = [{k: v for k, v in i.items() if not k.startswith("_")} for i in chunk]
        return _json(public, 200, headers, content_type="application/vnd.ims.lis.v2.lineitemcontainer+json")

    def _score(self, request: Request, context: str, number: str) -> Response:
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        token, refused = self._authorize(request, SCOPE_SCORE)
        self._record(request, body, token.client_id if token else None)
        if (failure := self._fail("scores")) is not None:
            return failure
        if refused is not None:
            return refused
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            return _json({"error": f"wrong content type {request.mimetype}"}, 415)
        if not any(i["_context"] == context and str(i["_number"]) == number for i in self.lineitems):
            return _json({"error": "no such line item"}, 404)
        if not isinstance(body, dict) or not body.get("userId") or not body.get("timestamp"):
            return _json({"error": "userId and timestamp are required"}, 400)
        return Response(status=204)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None,
          content_type: str = "application/json") -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type=content_type)
