"""The one outbound HTTP client: every request the product makes to another server (an LMS's
OpenID configuration, registration endpoint, JWKS, token endpoint, AGS; later a payment
gateway) goes through ``OutboundClient``. Standard library only (``http.client``, ``ssl``).

What it guarantees, whatever the other server does:

- **A total deadline** per request (``OutboundPolicy.timeout_seconds``): name resolution,
  connect, TLS handshake, sending, headers and body together. Every socket operation gets only
  the time left, so a server that trickles one byte at a time is cut off at the deadline (a
  per-read timeout would wait forever). Name resolution runs in a helper thread the caller
  stops waiting for at the deadline.
- **No redirects**: a 3xx answer is an error (``redirect``).
- **A size cap** on the answer (``max_bytes``, counted after gzip/deflate decoding too).
- **Unless the policy allows private destinations** (development and tests): https only, and
  every address the host name resolves to must be a global unicast address (loopback, private,
  link-local, shared, multicast, reserved, unspecified, IPv4-mapped or -embedding IPv6 are
  refused). The check runs on the addresses the connection then uses, resolved once, so a DNS
  answer cannot change between the check and the connect. Numeric host forms (``2130706433``,
  ``127.1``, ``0x7f000001``) resolve like any name and are refused the same way. Proxies from
  the environment are never used.
- **Generic errors**: ``OutboundError`` with a stable ``reason`` (``invalid_url``,
  ``refused_address``, ``unreachable``, ``timeout``, ``redirect``, ``too_large``,
  ``bad_status``). Refused address, connection failure and timeout share one message, so a page
  that shows it tells nobody which internal ports exist; the exception's class and text go to
  the log only.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json as jsonlib
import logging
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from config import Settings
from store.errors import StoreError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_BYTES = 1024 * 1024
USER_AGENT = "lti-seat-licenses (outbound)"
_CHUNK = 64 * 1024

UNREACHABLE_MESSAGE = "the server could not be reached"
MESSAGES = {
    "invalid_url": "the address is not a URL this server may fetch",
    "refused_address": UNREACHABLE_MESSAGE,
    "unreachable": UNREACHABLE_MESSAGE,
    "timeout": UNREACHABLE_MESSAGE,
    "redirect": "the server answered with a redirect, which is not followed",
    "too_large": "the server's answer is too large",
    "bad_status": "the server answered with an error",
}
# Reasons a caller may show as "could not be reached": they must look the same from outside.
CONNECTION_REASONS = frozenset({"refused_address", "unreachable", "timeout"})

Resolver = Callable[[str, int], Sequence[tuple[Any, ...]]]


class OutboundError(StoreError):
    """An outbound request failed. ``message`` is safe to show anyone; ``status`` is set for
    ``bad_status``."""

    reason = "unreachable"

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        message = MESSAGES.get(reason, UNREACHABLE_MESSAGE)
        if reason == "bad_status" and status is not None:
            message = f"the server answered HTTP {status}"
        super().__init__(message, reason=reason)
        self.status = status

    @property
    def is_connection_failure(self) -> bool:
        return self.reason in CONNECTION_REASONS


@dataclass(frozen=True)
class OutboundPolicy:
    """What outbound requests may do. ``allow_private``: plain http and non-global addresses
    (development and tests only; ``from_settings`` never allows it in production)."""

    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_bytes: int = DEFAULT_MAX_BYTES
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls(timeout_seconds=float(settings.outbound_timeout_seconds), max_bytes=settings.outbound_max_bytes,
                   allow_private=settings.outbound_allow_private and not settings.is_production)


@dataclass(frozen=True)
class OutboundResponse:
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in (self.header("Content-Type") or "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return jsonlib.loads(self.body)

    def require_ok(self) -> OutboundResponse:
        if not self.ok:
            raise OutboundError("bad_status", status=self.status)
        return self


# ---------------------------------------------------------------- addresses


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address another organization's server may have."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id or address.ipv4_mapped is not None or address.teredo is not None:
            return False
        if address.sixtofour is not None:
            return is_public_address(address.sixtofour)
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.is_site_local:
            return False
    elif address in _SHARED:
        return False
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified
    )


def _address_of(sockaddr: tuple[Any, ...]) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(str(sockaddr[0]))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and len(sockaddr) >= 4 and sockaddr[3]:
        return ipaddress.IPv6Address(f"{address}%{sockaddr[3]}")  # keep the scope: it makes it non-global
    return address


def system_resolver(host: str, port: int) -> Sequence[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


# ---------------------------------------------------------------- deadline-bound sockets


class _Deadline:
    """Gives each socket operation only the time left before ``deadline`` (``time.monotonic()``)."""

    deadline: float | None = None

    def _arm(self) -> None:
        if self.deadline is None:
            return
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("outbound deadline reached")
        self.settimeout(remaining)  # type: ignore[attr-defined]  # the socket class's


class _DeadlineSocket(_Deadline, socket.socket):
    """A socket whose every operation gets only the time left before its deadline."""

    def connect(self, address: Any) -> None:
        self._arm()
        super().connect(address)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._arm()
        return super().recv(bufsize, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data: Any, flags: int = 0) -> int:
        self._arm()
        return super().send(data, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._arm()  # the timeout of sendall covers the whole call
        super().sendall(data, flags)


class _DeadlineSSLSocket(_Deadline, ssl.SSLSocket):
    """The TLS side: ``recv``/``recv_into`` go through ``read`` and ``sendall`` through
    ``send``; the handshake runs inside ``wrap_socket`` with the time left then."""

    def read(self, len: int = 1024, buffer: Any = None) -> Any:  # noqa: A002 - ssl.SSLSocket's signature
        self._arm()
        return super().read(len, buffer)

    def send(self, data: Any, flags: int = 0) -> int:
        self._arm()
        return super().send(data, flags)


# For the other clients that talk to servers under a total deadline (store.mail's SMTP client).
DeadlineSocket = _DeadlineSocket
DeadlineSSLSocket = _DeadlineSSLSocket


def resolve_within(host: str, port: int, deadline: float, resolver: Resolver = system_resolver
                   ) -> Sequence[tuple[Any, ...]]:
    """``resolver(host, port)`` in a helper thread, waited for until ``deadline``
    (``time.monotonic()``) only: getaddrinfo cannot be interrupted, and a slow DNS server must not
    hold the caller. ``TimeoutError`` when the deadline passes first."""
    outcome: list[Any] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append(list(resolver(host, port)))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="outbound-resolve", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise TimeoutError(f"resolving {host} took too long")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result  # type: ignore[no-any-return]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying context, shared (wrapping sockets with it is thread-safe)."""
    try:
        import certifi  # the CA bundle requests used before; the system's otherwise

        context = ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with requests
        context = ssl.create_default_context()
    context.sslsocket_class = _DeadlineSSLSocket
    return context


class _Connection(http.client.HTTPConnection):
    """http.client's connection, connecting only to the addresses it is given (already
    checked), with a deadline on every socket operation; TLS when ``tls``."""

    def __init__(self, host: str, port: int, *, addresses: Sequence[tuple[Any, ...]], deadline: float,
                 tls_context: ssl.SSLContext | None) -> None:
        super().__init__(host, port)
        self._addresses = addresses
        self._deadline = deadline
        self._tls_context = tls_context
        # http.client leaves a response that failed half-way open (it holds the socket's file):
        # keep every response to close it with the connection.
        self._responses: list[http.client.HTTPResponse] = []

        def make_response(sock: socket.socket, *args: Any, **kwargs: Any) -> http.client.HTTPResponse:
            response = http.client.HTTPResponse(sock, *args, **kwargs)
            self._responses.append(response)
            return response

        self.response_class = make_response  # type: ignore[assignment]

    def discard(self) -> None:
        """Close the connection and every response it made (``close`` is http.client's own:
        it hands the socket to a response that will close it)."""
        for response in self._responses:
            response.close()
        self.close()

    def connect(self) -> None:
        last_error: OSError | None = None
        for family, type_, proto, _canonname, sockaddr in self._addresses:
            sock = _DeadlineSocket(family, type_, proto)
            sock.deadline = self._deadline
            try:
                sock.connect(sockaddr)
                if type_ == socket.SOCK_STREAM:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as exc:  # TimeoutError included: the deadline is over for every address
                sock.close()
                last_error = exc
                if isinstance(exc, TimeoutError):
                    raise
                continue
            if self._tls_context is not None:
                try:
                    sock._arm()
                    tls = self._tls_context.wrap_socket(sock, server_hostname=self.host)
                except BaseException:
                    sock.close()
                    raise
                assert isinstance(tls, _DeadlineSSLSocket)
                tls.deadline = self._deadline
                self.sock = tls
            else:
                self.sock = sock
            return
        raise last_error or OSError("no address to connect to")


# ---------------------------------------------------------------- the client


@dataclass(frozen=True)
class _Target:
    tls: bool
    host: str
    port: int
    path: str


class OutboundClient:
    """``request``/``get``/``post`` under one ``OutboundPolicy``. Keeps no connection between
    requests; safe to share between threads."""

    def __init__(self, policy: OutboundPolicy, *, resolver: Resolver | None = None,
                 tls_context: ssl.SSLContext | None = None) -> None:
        self.policy = policy
        self._resolver = resolver or system_resolver
        if tls_context is not None:
            tls_context.sslsocket_class = _DeadlineSSLSocket
        self._tls_context = tls_context

    # -------------------------------------------------------- public API

    def get(self, url: str, **kwargs: Any) -> OutboundResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> OutboundResponse:
        return self.request("POST", url, **kwargs)

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | str | None = None, form: Mapping[str, str] | None = None, json: Any = None,
                max_bytes: int | None = None) -> OutboundResponse:
        """One request; the response of any status but 3xx. Raises ``OutboundError``."""
        started = time.monotonic()
        deadline = started + self.policy.timeout_seconds
        limit = self.policy.max_bytes if max_bytes is None else max_bytes
        target = self._target(url)
        send_headers = {"User-Agent": USER_AGENT, "Connection": "close"}
        payload: bytes | None = None
        if form is not None:
            payload = urlencode(form).encode("ascii")
            send_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json is not None:
            payload = jsonlib.dumps(json).encode("utf-8")
            send_headers["Content-Type"] = "application/json"
        elif body is not None:
            payload = body.encode("utf-8") if isinstance(body, str) else body
        send_headers.update(headers or {})
        try:
            addresses = self._addresses(target, deadline)
            connection = _Connection(target.host, target.port, addresses=addresses, deadline=deadline,
                                     tls_context=(self._tls_context or _tls_context()) if target.tls else None)
            try:
                connection.request(method, target.path, body=payload, headers=send_headers)
                answer = connection.getresponse()
                if 300 <= answer.status < 400:
                    raise self._fail("redirect", method, url, f"HTTP {answer.status} to {answer.getheader('Location')!r}")
                data = self._read_body(answer, limit, method, url)
                return OutboundResponse(url=url, status=answer.status, headers=tuple(answer.getheaders()), body=data)
            finally:
                connection.discard()
        except OutboundError:
            raise
        except TimeoutError as exc:
            raise self._fail("timeout", method, url, f"after {time.monotonic() - started:.1f}s: {exc!r}") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise self._fail("unreachable", method, url, repr(exc)) from None

    # -------------------------------------------------------- steps

    def _target(self, url: str) -> _Target:
        try:
            parts = urlsplit(url)
            port = parts.port
            host = parts.hostname
        except ValueError:
            raise self._fail("invalid_url", "-", url, "malformed URL") from None
        if parts.scheme not in ("http", "https") or not host or parts.username is not None \
                or parts.password is not None or any(ord(c) < 33 for c in url):
            raise self._fail("invalid_url", "-", url, "not an absolute http(s) URL without user info")
        if parts.scheme == "http" and not self.policy.allow_private:
            raise self._fail("invalid_url", "-", url, "plain http is allowed only in development and tests")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return _Target(parts.scheme == "https", host, port or (443 if parts.scheme == "https" else 80), path)

    def _addresses(self, target: _Target, deadline: float) -> Sequence[tuple[Any, ...]]:
        resolved = self._resolve(target.host, target.port, deadline)
        usable = [info for info in resolved if info[0] in (socket.AF_INET, socket.AF_INET6)]
        if not usable:
            raise OSError(f"{target.host} has no IP address")
        if not self.policy.allow_private:
            for info in usable:
                address = _address_of(info[4])
                if address is None or not is_public_address(address):
                    raise self._fail("refused_address", "-", f"{target.host}:{target.port}",
                                     f"resolves to {info[4][0]}, which is not a public address")
        return usable

    def _resolve(self, host: str, port: int, deadline: float) -> Sequence[tuple[Any, ...]]:
        """The resolver in a helper thread, waited for until the deadline only (getaddrinfo
        cannot be interrupted; a slow DNS server must not hold the caller)."""
        return resolve_within(host, port, deadline, self._resolver)

    def _read_body(self, answer: http.client.HTTPResponse, limit: int, method: str, url: str) -> bytes:
        length = answer.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > limit:
            raise self._fail("too_large", method, url, f"Content-Length {length} > {limit}")
        encoding = (answer.getheader("Content-Encoding") or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            decoder: Any = zlib.decompressobj(47)  # gzip or zlib header, detected
        elif encoding == "identity":
            decoder = None
        else:
            raise self._fail("unreachable", method, url, f"unsupported Content-Encoding {encoding!r}")
        out = bytearray()
        received = 0
        while True:
            chunk = answer.read(_CHUNK)
            if not chunk:
                break
            received += len(chunk)
            if received > limit:
                raise self._fail("too_large", method, url, f"more than {limit} bytes")
            if decoder is None:
                out += chunk
            else:
                out += decoder.decompress(chunk, limit + 1 - len(out))
                if decoder.unconsumed_tail or len(out) > limit:
                    raise self._fail("too_large", method, url, f"more than {limit} bytes once decoded")
        if decoder is not None:
            out += decoder.flush()
            if len(out) > limit:
                raise self._fail("too_large", method, url, f"more than {limit} bytes once decoded")
        return bytes(out)

    @staticmethod
    def _fail(reason: str, method: str, url: str, detail: str) -> OutboundError:
        shown = url.split("?", 1)[0][:300]
        log.warning("outbound %s %s refused or failed [%s]: %s", method, shown, reason, detail)
        return OutboundError(reason)


def client_for(settings: Settings) -> OutboundClient:
    """The client every product fetch uses, under the settings' policy."""
    return OutboundClient(OutboundPolicy.from_settings(settings))
