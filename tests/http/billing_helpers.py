"""Billing test helpers: the service wired to a fake Stripe, and webhook delivery."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from mosaic.bootstrap import Services
from mosaic.queries.audit_log import verify_database
from tests.conftest import FIXTURES
from tests.fakes.stripe_server import Delivery, FakeStripe, billing_env, serving
from tests.http.conftest import AppClient, User

WEBHOOK = "/api/billing/webhook"
PLANS_FILE = str(FIXTURES / "plans-stripe.toml")


@dataclass
class Shop:
    """The service with Stripe configured, its client, and the fake Stripe behind it."""

    services: Services
    client: AppClient
    stripe: FakeStripe

    def deliver(self, delivery: Delivery) -> httpx.Response:
        return self.client.post(
            WEBHOOK, content=delivery.payload,
            headers={"Stripe-Signature": delivery.signature, "Content-Type": "application/json"},
        )

    def delivered(self, delivery: Delivery) -> str:
        response = self.deliver(delivery)
        assert response.status_code == 200, response.text
        outcome: str = response.json()["outcome"]
        return outcome

    def checkout(self, user: User, **body: str) -> str:
        """Start a checkout as `user` and return the Stripe session id."""
        response = self.client.post("/api/billing/checkout", json=body, headers=user.auth)
        assert response.status_code == 200, response.text
        url: str = response.json()["url"]
        return url.rsplit("/", 1)[-1]

    def subscribe(self, user: User) -> str:
        """Checkout for Commercial, paid: both of Stripe's events delivered; returns the subscription."""
        session_id = self.checkout(user, plan="commercial")
        for delivery in self.stripe.complete_checkout(session_id):
            assert self.delivered(delivery) == "applied"
        return str(next(s for s in self.stripe.sessions if s["id"] == session_id)["subscription"])

    def balance(self, user: User) -> dict[str, object]:
        response = self.client.get("/api/credits/balance", headers=user.auth)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    def audit_clean(self) -> None:
        self.services.runner.catch_up()
        report = verify_database(self.services.db)
        assert report.ok, report.discrepancies


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with serving() as fake:
        yield fake


@pytest.fixture
def shop(
    make_services: Callable[..., Services], make_client: Callable[..., AppClient], fake_stripe: FakeStripe
) -> Shop:
    services = make_services(MOSAIC_PLANS_FILE=PLANS_FILE, **billing_env(fake_stripe))
    return Shop(services, make_client(services), fake_stripe)
