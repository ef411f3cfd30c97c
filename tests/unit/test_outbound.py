"""The outbound HTTP client against real local TCP servers: the total deadline (a server that
trickles bytes, a TLS handshake that never completes, a slow name resolution), SSRF refusals
under the production policy (numeric host forms, names resolving to loopback, IPv4-mapped IPv6)
without a single connection, no redirects, the size cap (gzip included), identical messages."""

from __future__ import annotations

import gzip
import ipaddress
import socket
import threading
import time
from typing import Any

import pytest

from config import load_settings
from store.outbound import (
    UNREACHABLE_MESSAGE,
    OutboundClient,
    OutboundError,
    OutboundPolicy,
    is_public_address,
)
from tests.factories.tcp import answer, read_request, tcp_server, trickle

PRODUCTION = OutboundPolicy(timeout_seconds=5, max_bytes=64 * 1024, allow_private=False)
LOCAL = OutboundPolicy(timeout_seconds=5, max_bytes=64 * 1024, allow_private=True)

# ---------------------------------------------------------------- the total deadline


@pytest.mark.parametrize("prefix", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"],
                         ids=["headers trickle", "body trickle"])
def test_a_server_that_trickles_bytes_is_cut_off_at_the_deadline(prefix: bytes) -> None:
    stop = threading.Event()
    byte = b"X-Slow: 1\r\n" if not prefix else b"x"
    with tcp_server(trickle(stop, b"HTTP/1.1 200 OK\r\n" if not prefix else prefix, byte, every=0.2)) as server:
        client = OutboundClient(OutboundPolicy(timeout_seconds=1, allow_private=True))
        started = time.monotonic()
        with pytest.raises(OutboundError) as raised:
            client.get(server.url + "/slow")
        elapsed = time.monotonic() - started
        stop.set()
    assert raised.value.reason == "timeout" and raised.value.message == UNREACHABLE_MESSAGE
    # the server would go on for 30 s; a per-read timeout of 1 s never fires with a byte every 0.2 s
    assert elapsed < 3, f"took {elapsed:.1f}s"


def test_a_tls_handshake_that_never_completes_is_cut_off_at_the_deadline() -> None:
    stop = threading.Event()

    def silent(conn: socket.socket) -> None:
        stop.wait(30)

    with tcp_server(silent) as server:
        client = OutboundClient(OutboundPolicy(timeout_seconds=1, allow_private=True))
        started = time.monotonic()
        with pytest.raises(OutboundError) as raised:
            client.get(f"https://127.0.0.1:{server.port}/")
        elapsed = time.monotonic() - started
        stop.set()
    assert raised.value.reason == "timeout" and elapsed < 3, f"took {elapsed:.1f}s"


def test_a_slow_name_resolution_counts_against_the_deadline() -> None:
    def slow_resolver(host: str, port: int) -> list[tuple[Any, ...]]:
        time.sleep(10)
        return socket.getaddrinfo("127.0.0.1", port, type=socket.SOCK_STREAM)

    client = OutboundClient(OutboundPolicy(timeout_seconds=1, allow_private=True), resolver=slow_resolver)
    started = time.monotonic()
    with pytest.raises(OutboundError) as raised:
        client.get("http://slow-dns.example/")
    assert raised.value.reason == "timeout" and time.monotonic() - started < 3


def test_an_ordinary_answer_comes_back_with_status_headers_and_body() -> None:
    with tcp_server(answer("200 OK", b'{"keys": []}', {"Content-Type": "application/json"})) as server:
        response = OutboundClient(LOCAL).get(server.url + "/jwks?x=1")
    assert response.status == 200 and response.ok and response.json() == {"keys": []}
    assert response.header("content-type") == "application/json"


def test_error_statuses_are_answers_and_require_ok_turns_them_into_bad_status() -> None:
    with tcp_server(answer("503 Service Unavailable", b"busy", {"Retry-After": "7"})) as server:
        response = OutboundClient(LOCAL).get(server.url)
    assert response.status == 503 and not response.ok and response.header("Retry-After") == "7"
    with pytest.raises(OutboundError) as raised:
        response.require_ok()
    assert raised.value.reason == "bad_status" and raised.value.status == 503 and "503" in raised.value.message


def test_the_request_is_sent_with_its_body_and_headers() -> None:
    seen: list[bytes] = []

    def record(conn: socket.socket) -> None:
        data = read_request(conn)
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        while len(rest) < length:
            rest += conn.recv(4096)
        seen.append(data.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + rest)
        conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

    with tcp_server(record) as server:
        response = OutboundClient(LOCAL).post(server.url + "/token", form={"grant_type": "client_credentials"},
                                              headers={"Accept": "application/json"})
    assert response.status == 204 and response.body == b""
    (raw,) = seen
    assert raw.startswith(b"POST /token HTTP/1.1") and b"Accept: application/json" in raw
    assert b"Content-Type: application/x-www-form-urlencoded" in raw and raw.endswith(b"grant_type=client_credentials")


# ---------------------------------------------------------------- SSRF


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f000001", "017700000001", "127.0.0.1", "localhost",
                                  "[::ffff:127.0.0.1]", "0.0.0.0"])
def test_the_production_policy_refuses_loopback_in_every_spelling_without_connecting(host: str) -> None:
    with tcp_server(answer("200 OK", b"secret")) as server:
        with pytest.raises(OutboundError) as raised:
            OutboundClient(PRODUCTION).get(f"https://{host}:{server.port}/")
        assert server.connections == 0
    assert raised.value.reason == "refused_address" and raised.value.message == UNREACHABLE_MESSAGE


def test_a_name_resolving_to_loopback_is_refused_on_the_address_actually_used() -> None:
    """The client resolves once and connects to what it checked: a resolver answering loopback
    for a public-looking name is refused under the production policy, and the same resolver
    under the local policy reaches the server (the connection used the resolved address)."""
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[tuple[Any, ...]]:
        calls.append(host)
        return socket.getaddrinfo("127.0.0.1", port, type=socket.SOCK_STREAM)

    with tcp_server(answer("200 OK", b"internal")) as server:
        with pytest.raises(OutboundError) as raised:
            OutboundClient(PRODUCTION, resolver=resolver).get(f"https://lms.example.com:{server.port}/")
        assert raised.value.reason == "refused_address" and server.connections == 0
        local = OutboundClient(LOCAL, resolver=resolver).get(f"http://lms.example.com:{server.port}/")
        assert local.body == b"internal" and server.connections == 1
    assert calls == ["lms.example.com", "lms.example.com"]  # once per request: no second lookup to race


def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    def resolver(host: str, port: int) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]

    with pytest.raises(OutboundError) as raised:
        OutboundClient(PRODUCTION, resolver=resolver).get("https://mixed.example.com/")
    assert raised.value.reason == "refused_address"


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("240.0.0.1", False), ("255.255.255.255", False), ("::1", False), ("::", False), ("fe80::1", False),
    ("fc00::1", False), ("ff02::1", False), ("::ffff:8.8.8.8", False), ("::ffff:127.0.0.1", False),
    ("2002:7f00:1::", False), ("64:ff9b::7f00:1", False), ("64:ff9b::808:808", True), ("fec0::1", False),
])
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize("url", ["http://lms.example.com/", "ftp://lms.example.com/", "https://user:pw@lms.example.com/",
                                 "https:///nohost", "https://lms.example.com:99999/", "/relative",
                                 "https://lms.example.com/a b"])
def test_urls_the_production_policy_refuses_before_any_lookup(url: str) -> None:
    def resolver(host: str, port: int) -> list[tuple[Any, ...]]:
        raise AssertionError("no lookup for a refused URL")

    with pytest.raises(OutboundError) as raised:
        OutboundClient(PRODUCTION, resolver=resolver).get(url)
    assert raised.value.reason == "invalid_url"


def test_a_redirect_to_loopback_is_not_followed() -> None:
    with tcp_server(answer("200 OK", b"internal")) as inside:
        target = f"http://127.0.0.1:{inside.port}/admin"
        with tcp_server(answer("302 Found", headers={"Location": target})) as outside:
            with pytest.raises(OutboundError) as raised:
                OutboundClient(LOCAL).get(outside.url + "/jwks")
            assert outside.connections == 1
        assert inside.connections == 0
    assert raised.value.reason == "redirect"


def test_refusal_causes_share_one_message() -> None:
    """Refused address, closed port, a port that speaks no TLS, a timeout: one message, so an
    error page is no port scanner."""
    def closed_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def banner(conn: socket.socket) -> None:  # a service that speaks first and no TLS (like SSH)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.recv(4096)

    stop = threading.Event()
    errors: list[OutboundError] = []
    with tcp_server(banner) as plain, tcp_server(trickle(stop, every=0.2)) as slow:
        attempts = [
            (PRODUCTION, f"https://2130706433:{plain.port}/"),
            (LOCAL, f"http://127.0.0.1:{closed_port()}/"),
            (LOCAL, f"https://127.0.0.1:{plain.port}/"),
            (OutboundPolicy(timeout_seconds=0.5, allow_private=True), slow.url),
        ]
        for policy, url in attempts:
            with pytest.raises(OutboundError) as raised:
                OutboundClient(policy).get(url)
            errors.append(raised.value)
        stop.set()
    assert [e.reason for e in errors] == ["refused_address", "unreachable", "unreachable", "timeout"]
    assert {str(e) for e in errors} == {UNREACHABLE_MESSAGE}
    assert all("Error" not in str(e) and "refused" not in str(e) for e in errors)


# ---------------------------------------------------------------- size cap


def test_an_answer_over_the_cap_is_refused() -> None:
    small = OutboundPolicy(timeout_seconds=5, max_bytes=1024, allow_private=True)
    with tcp_server(answer("200 OK", b"x" * 2000)) as server:
        with pytest.raises(OutboundError) as declared:
            OutboundClient(small).get(server.url)
    assert declared.value.reason == "too_large"

    def undeclared(conn: socket.socket) -> None:  # no Content-Length: read until the cap
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 5000)

    with tcp_server(undeclared) as server:
        with pytest.raises(OutboundError) as streamed:
            OutboundClient(small).get(server.url)
        assert OutboundClient(small).get(server.url, max_bytes=10_000).body == b"x" * 5000
    assert streamed.value.reason == "too_large"


def test_a_gzip_bomb_is_refused_once_decoded_and_small_gzip_is_decoded() -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)
    assert len(bomb) < 20_000
    with tcp_server(answer("200 OK", bomb, {"Content-Encoding": "gzip"})) as server:
        with pytest.raises(OutboundError) as raised:
            OutboundClient(OutboundPolicy(max_bytes=100_000, allow_private=True)).get(server.url)
    assert raised.value.reason == "too_large"
    with tcp_server(answer("200 OK", gzip.compress(b'{"ok": true}'), {"Content-Encoding": "gzip"})) as server:
        assert OutboundClient(LOCAL).get(server.url).json() == {"ok": True}


# ---------------------------------------------------------------- settings


def test_production_never_allows_private_destinations() -> None:
    production = load_settings({"ENV": "production", "SECRET_KEY": "x" * 40, "OUTBOUND_ALLOW_PRIVATE": "true",
                                "PAYMENTS_TEST_MODE": "true"})
    assert OutboundPolicy.from_settings(production).allow_private is False
    assert OutboundPolicy.from_settings(load_settings({"ENV": "test"})).allow_private is True
    assert OutboundPolicy.from_settings(load_settings({"ENV": "development"})).allow_private is True
    assert OutboundPolicy.from_settings(load_settings({"ENV": "test", "OUTBOUND_ALLOW_PRIVATE": "false"})).allow_private \
        is False
    tuned = OutboundPolicy.from_settings(load_settings({"ENV": "test", "OUTBOUND_TIMEOUT_SECONDS": "3",
                                                        "OUTBOUND_MAX_BYTES": "2048"}))
    assert tuned.timeout_seconds == 3 and tuned.max_bytes == 2048
