"""A local HTTP double of the Stripe endpoints the adapter calls, on 127.0.0.1 and a free port,
in its own thread (the standard library's threading HTTP server). The ``stripe`` package talks
to it through ``STRIPE_API_BASE`` exactly as it would to api.stripe.com: form-encoded requests,
``Authorization: Bearer``, ``Idempotency-Key`` headers, JSON answers and error objects.

Endpoints: ``POST /v1/customers``, ``GET /v1/payment_methods/<id>``, ``POST /v1/payment_intents``
(created and confirmed at once), ``GET /v1/payment_intents`` (by customer, ``created[gte]``,
``starting_after``, ``limit``), ``POST /v1/refunds``. A POST with a known idempotency key
replays the first answer (different parameters: an ``idempotency_error``).

Test PaymentMethods (Stripe's names): ``pm_card_visa`` succeeds;
``pm_card_visa_chargeDeclined`` is declined (``generic_decline``);
``pm_card_visa_chargeDeclinedInsufficientFunds`` (``insufficient_funds``);
``pm_card_chargeCustomerFail`` is saved and charged at checkout but declined off-session.

``fail_next(mode, path=None)`` makes the next request (to that path) fail: ``"drop"`` closes the connection before doing
anything, ``"drop_after"`` does the work and then closes the connection without an answer (the
charge happened, its answer is lost), ``"500"`` answers a server error.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SECRET_KEY = "sk_test_double_0123456789"
PUBLISHABLE_KEY = "pk_test_double_0123456789"

CARDS = {
    "pm_card_visa": ("visa", "4242", None, None),
    "pm_card_mastercard": ("mastercard", "4444", None, None),
    "pm_card_visa_chargeDeclined": ("visa", "0002", "generic_decline", "generic_decline"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": ("visa", "9995", "insufficient_funds", "insufficient_funds"),
    "pm_card_chargeCustomerFail": ("visa", "0341", None, "generic_decline"),
}


@dataclass
class StripeDouble:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, tuple[dict[str, str], int, dict[str, Any]]] = field(default_factory=dict)
    failures: list[tuple[str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, mode: str, path: str | None = None) -> None:
        """The next request (to ``path``, when given) fails as ``mode`` says."""
        self.failures.append((mode, path))

    def _failure(self, path: str) -> str | None:
        for index, (mode, wanted) in enumerate(self.failures):
            if wanted is None or wanted == path:
                del self.failures[index]
                return mode
        return None

    # -------------------------------------------------------- the API

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/customers":
            return self._customer(form)
        if method == "GET" and path.startswith("/v1/payment_methods/"):
            return self._payment_method(path.rsplit("/", 1)[1])
        if method == "POST" and path == "/v1/payment_intents":
            return self._intent(form)
        if method == "GET" and path == "/v1/payment_intents":
            return self._list(query)
        if method == "POST" and path == "/v1/refunds":
            return self._refund(form)
        return 404, _error("invalid_request_error", "Unrecognized request URL", code="resource_missing")

    def _customer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        method = form.get("payment_method", "")
        if method not in CARDS:
            return 400, _error("invalid_request_error", f"No such PaymentMethod: '{method}'", code="resource_missing")
        customer = {"id": f"cus_{secrets.token_hex(7)}", "object": "customer", "email": form.get("email"),
                    "invoice_settings": {"default_payment_method": form.get("invoice_settings[default_payment_method]")}}
        self.customers[customer["id"]] = {**customer, "payment_methods": [method]}
        return 200, customer

    def _payment_method(self, method: str) -> tuple[int, dict[str, Any]]:
        if method not in CARDS:
            return 404, _error("invalid_request_error", f"No such PaymentMethod: '{method}'", code="resource_missing")
        brand, last4, _now, _later = CARDS[method]
        return 200, {"id": method, "object": "payment_method", "type": "card",
                     "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034}}

    def _intent(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        customer, method = form.get("customer", ""), form.get("payment_method", "")
        if customer not in self.customers or method not in self.customers[customer]["payment_methods"]:
            return 400, _error("invalid_request_error", "No such customer or payment method", code="resource_missing")
        off_session = form.get("off_session") == "true"
        _brand, _last4, decline_now, decline_later = CARDS[method]
        decline_code = decline_later if off_session else decline_now
        intent = {"id": f"pi_{secrets.token_hex(8)}", "object": "payment_intent", "amount": int(form["amount"]),
                  "currency": form.get("currency"), "customer": customer, "payment_method": method,
                  "description": form.get("description"), "created": int(time.time()),
                  "metadata": {k[len("metadata["):-1]: v for k, v in form.items() if k.startswith("metadata[")},
                  "status": "succeeded", "last_payment_error": None, "off_session": off_session}
        self.intents[intent["id"]] = intent
        if decline_code is None:
            return 200, intent
        code = "card_declined"
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {"type": "card_error", "code": code, "decline_code": decline_code}
        body = _error("card_error", "Your card was declined.", code=code, decline_code=decline_code)
        body["error"]["payment_intent"] = intent
        return 402, body

    def _list(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        found = [i for i in self.intents.values() if i["customer"] == query.get("customer")
                 and i["created"] >= int(query.get("created[gte]", "0"))]
        found.sort(key=lambda i: (-i["created"], i["id"]))
        after = query.get("starting_after")
        if after:
            ids = [i["id"] for i in found]
            found = found[ids.index(after) + 1:] if after in ids else []
        limit = int(query.get("limit", "10"))
        return 200, {"object": "list", "url": "/v1/payment_intents", "data": found[:limit],
                     "has_more": len(found) > limit}

    def _refund(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return 400, _error("invalid_request_error", "This PaymentIntent cannot be refunded", code="charge_not_refundable")
        amount = int(form.get("amount", intent["amount"]))
        done = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"])
        if done + amount > intent["amount"]:
            return 400, _error("invalid_request_error", "Refund is greater than unrefunded amount",
                               code="amount_too_large")
        refund = {"id": f"re_{secrets.token_hex(8)}", "object": "refund", "amount": amount,
                  "payment_intent": intent["id"], "status": "succeeded"}
        self.refunds[refund["id"]] = refund
        return 200, refund


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


def _handler(double: StripeDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return None

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            form = dict(parse_qsl(raw, keep_blank_values=True))
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            key = self.headers.get("Idempotency-Key")
            with double.lock:
                double.requests.append({"method": self.command, "path": parts.path, "form": form, "query": query,
                                        "idempotency_key": key, "authorization": self.headers.get("Authorization")})
                failure = double._failure(parts.path)
                if failure == "drop":
                    self.close_connection = True
                    return
                if failure == "500":
                    return self._answer(500, _error("api_error", "Something went wrong"))
                if self.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
                    return self._answer(401, _error("invalid_request_error", "Invalid API Key provided"))
                replay = double.idempotent.get(key) if key and self.command == "POST" else None
                if replay is not None:
                    first_form, status, body = replay
                    if first_form != form:
                        status, body = 400, _error("idempotency_error", "Keys for idempotent requests can only be "
                                                   "used with the same parameters they were first used with.")
                else:
                    status, body = double.handle(self.command, parts.path, query, form)
                    if key and self.command == "POST":
                        double.idempotent[key] = (form, status, body)
                if failure == "drop_after":
                    self.close_connection = True
                    return
                self._answer(status, body)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

    return Handler


@contextmanager
def serve_stripe_double() -> Iterator[StripeDouble]:
    double = StripeDouble()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    server.daemon_threads = True
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-double",
                              daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
