"""Who a rate limit counts: one client network, or one keyed hash of a value (an email address),
so the counters table never holds a raw address."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress


def client_network(remote_addr: str | None) -> str:
    """Who is counted as one client: the IPv4 address (also when IPv4-mapped), or the IPv6 /64
    (one subscriber)."""
    raw = remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def hashed_key(secret: str, purpose: str, value: str) -> str:
    """A counter key for ``value``: HMAC-SHA256 with the app's secret (64 hex characters)."""
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
