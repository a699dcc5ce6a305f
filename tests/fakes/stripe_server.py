"""A fake of Stripe's API on loopback: a real HTTP server in a thread that the real `stripe` library
talks to (`MOSAIC_STRIPE_API_BASE=fake.base_url`), and the webhook events Stripe would send.

    with serving() as fake:
        ... checkout through the service ...
        session = fake.sessions[-1]
        for event in fake.complete_checkout(session["id"]):
            post(event.payload, event.signature)

It speaks the calls the service makes: `POST /v1/customers` (with Stripe's Idempotency-Key: a
repeat gets the first answer), `POST /v1/checkout/sessions`, `POST /v1/billing_portal/sessions` and
`GET /v1/subscriptions/{id}`; bodies are form-encoded as the library sends them. Events are shaped as
Stripe documents them for API version 2026-10-28 (an invoice's subscription under
`parent.subscription_details`, a line's price under `pricing.price_details`, periods on subscription
items) and signed with Stripe's scheme: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" keyed by the endpoint's secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl

WEBHOOK_SECRET = "whsec_test_" + "s" * 32
SECRET_KEY = "sk_test_" + "k" * 32
MONTH_S = 30 * 24 * 3600
PERIOD_0 = 1_796_000_000  # a fixed start (2026-11-29): events are the same every run

Behaviour = Literal["ok", "down", "unauthorized"]
# the Prices of tests/fixtures/plans-stripe.toml, as the operator's Stripe account would hold them
PRICES = {"price_commercial_month": 4399, "price_commercial_year": 43990, "price_pack_100": 999}


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: the body and its signature header."""

    event_id: str
    event_type: str
    payload: bytes
    signature: str


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass
class FakeStripe:
    base_url: str = ""
    behaviour: Behaviour = "ok"
    prices: dict[str, int] = field(default_factory=lambda: dict(PRICES))  # Price id -> cents
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    portal_sessions: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    authorizations: set[str] = field(default_factory=set)
    idempotent: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _clock: Iterator[int] = field(default_factory=lambda: itertools.count(PERIOD_0 + 100, 10))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def now(self) -> int:
        """Event timestamps that only go up (Stripe's `created`), one run like the next."""
        return next(self._clock)

    # -- events --------------------------------------------------------------------------------

    def event(self, event_type: str, obj: dict[str, Any], *, created: int | None = None) -> Delivery:
        event_id = self.new_id("evt")
        body = {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": self.now() if created is None else created,
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
        payload = json.dumps(body).encode()
        return Delivery(event_id, event_type, payload, sign(payload))

    def complete_checkout(self, session_id: str, *, status: str = "active", period: int = 0) -> list[Delivery]:
        """The customer paid on Stripe's page: the subscription (or payment) exists; the events
        Stripe sends then: `checkout.session.completed` and, for a subscription (starting `period`
        months after PERIOD_0), `invoice.paid`."""
        session = next(s for s in self.sessions if s["id"] == session_id)
        session.update(status="complete", payment_status="paid")
        price = session["line_items"][0]["price"]
        if session["mode"] == "payment":
            session["payment_intent"] = self.new_id("pi")
            session["amount_total"] = self.prices.get(price, 0)
            return [self.event("checkout.session.completed", dict(session))]
        sub = self.subscription_object(session["customer"], price, period=period, status=status)
        self.subscriptions[sub["id"]] = sub
        session["subscription"] = sub["id"]
        return [
            self.event("checkout.session.completed", dict(session)),
            self.invoice_event("invoice.paid", sub["id"], period=period, billing_reason="subscription_create"),
        ]

    def subscription_object(self, customer: str, price: str, *, period: int, status: str) -> dict[str, Any]:
        start = PERIOD_0 + period * MONTH_S
        return {
            "id": self.new_id("sub"),
            "object": "subscription",
            "customer": customer,
            "status": status,
            "metadata": {},
            "items": {
                "object": "list",
                "data": [{
                    "id": self.new_id("si"),
                    "object": "subscription_item",
                    "price": {"id": price, "object": "price", "recurring": {"interval": "month"}},
                    "quantity": 1,
                    "current_period_start": start,
                    "current_period_end": start + MONTH_S,
                }],
            },
        }

    def invoice_event(
        self, event_type: str, subscription_id: str, *, period: int, billing_reason: str = "subscription_cycle",
        created: int | None = None,
    ) -> Delivery:
        sub = self.subscriptions[subscription_id]
        price = sub["items"]["data"][0]["price"]["id"]
        start = PERIOD_0 + period * MONTH_S
        paid = event_type == "invoice.paid"
        invoice = {
            "id": self.new_id("in"),
            "object": "invoice",
            "customer": sub["customer"],
            "billing_reason": billing_reason,
            "status": "paid" if paid else "open",
            "amount_paid": 4399 if paid else 0,
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": subscription_id}},
            "lines": {
                "object": "list",
                "data": [{
                    "id": self.new_id("il"),
                    "object": "line_item",
                    "amount": 4399,
                    "period": {"start": start, "end": start + MONTH_S},
                    "pricing": {"type": "price_details", "price_details": {"price": price}},
                }],
            },
        }
        # a renewal's invoice moves the subscription into its period, paid or not: a failed payment
        # leaves it past_due in the new period, a paid one active
        item = sub["items"]["data"][0]
        if start > item["current_period_start"]:
            item.update(current_period_start=start, current_period_end=start + MONTH_S)
        if sub["status"] in ("active", "past_due", "unpaid"):
            sub["status"] = "active" if paid else "past_due"
        return self.event(event_type, invoice, created=created)

    def subscription_event(
        self, event_type: str, subscription_id: str, *, status: str, created: int | None = None
    ) -> Delivery:
        sub = dict(self.subscriptions[subscription_id], status=status)
        if event_type.endswith(".deleted"):
            sub["status"] = "canceled"
        self.subscriptions[subscription_id] = sub
        return self.event(event_type, sub, created=created)

    def refund_event(self, purchase_id: str, *, amount: int, refunded: int) -> Delivery:
        session = next(s for s in self.sessions if s.get("payment_intent") == purchase_id)
        charge = {
            "id": self.new_id("ch"),
            "object": "charge",
            "customer": session["customer"],
            "payment_intent": purchase_id,
            "amount": amount,
            "amount_refunded": refunded,
            "refunded": refunded == amount,
        }
        return self.event("charge.refunded", charge)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a test greps the service's logs, not these

    def do_GET(self) -> None:
        fake = self.server.fake
        with fake.lock:
            if not self._admitted(fake):
                return
            if self.path.startswith("/v1/subscriptions/"):
                sub = fake.subscriptions.get(self.path.rsplit("/", 1)[-1])
                if sub is None:
                    return self._error(404, "resource_missing", "No such subscription")
                return self._json(200, sub)
        self._error(404, "resource_missing", f"Unrecognized request URL (GET: {self.path})")

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("content-length") or 0)
        form = _nested(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        with fake.lock:
            if not self._admitted(fake):
                return
            key = self.headers.get("idempotency-key")
            if key and f"{self.path}:{key}" in fake.idempotent:
                return self._send(200, fake.idempotent[f"{self.path}:{key}"])
            if self.path == "/v1/customers":
                customer = {"id": fake.new_id("cus"), "object": "customer", **form}
                fake.customers[customer["id"]] = customer
                body = customer
            elif self.path == "/v1/checkout/sessions":
                if form.get("customer") not in fake.customers:
                    return self._error(400, "resource_missing", "No such customer")
                session_id = fake.new_id("cs")
                body = {
                    "id": session_id, "object": "checkout.session", "status": "open", "payment_status": "unpaid",
                    "url": f"https://checkout.stripe.test/c/pay/{session_id}", "subscription": None,
                    "payment_intent": None, "amount_total": None, **form,
                }
                fake.sessions.append(body)
            elif self.path == "/v1/billing_portal/sessions":
                session_id = fake.new_id("bps")
                body = {"id": session_id, "object": "billing_portal.session",
                        "url": f"https://billing.stripe.test/p/session/{session_id}", **form}
                fake.portal_sessions.append(body)
            else:
                return self._error(404, "resource_missing", f"Unrecognized request URL (POST: {self.path})")
            encoded = json.dumps(body).encode()
            if key:
                fake.idempotent[f"{self.path}:{key}"] = encoded
            self._send(200, encoded)

    def _admitted(self, fake: FakeStripe) -> bool:
        fake.calls.append((self.command, self.path.split("?")[0]))
        fake.authorizations.add(self.headers.get("authorization", ""))
        if fake.behaviour == "down":
            self._error(500, "api_error", "Something went wrong on Stripe's end.")
            return False
        if fake.behaviour == "unauthorized" or self.headers.get("authorization") != f"Bearer {SECRET_KEY}":
            self._error(401, "invalid_request_error", "Invalid API Key provided")
            return False
        return True

    def _error(self, status: int, code: str, message: str) -> None:
        kind = "api_error" if status >= 500 else "invalid_request_error"
        self._json(status, {"error": {"type": kind, "code": code, "message": message}})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", "req_fake")
        self.end_headers()
        self.wfile.write(body)


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`a[b][0][c]=v` pairs (the library's form encoding) as nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node: Any = root
        for part, following in itertools.pairwise(parts):
            child: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(child)
                node = node[index]
            else:
                node = node.setdefault(part, child)
        last = parts[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return root


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeStripe) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@contextmanager
def serving() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    server = _Server(fake)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-stripe", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def billing_env(fake: FakeStripe) -> dict[str, str]:
    """The service's environment for talking to `fake`."""
    return {
        "MOSAIC_STRIPE_SECRET_KEY": SECRET_KEY,
        "MOSAIC_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MOSAIC_STRIPE_API_BASE": fake.base_url,
        "MOSAIC_PUBLIC_URL": "https://studio.example.com",
    }
