"""The pricing pages against the fake Stripe: the catalogue, Checkout, the signed webhooks, the
dashboard after them, the portal and the pages Stripe returns to."""

from __future__ import annotations

import re

from tests.http.billing_helpers import Shop, fake_stripe, shop
from tests.http.web.pages import post_form, sign_up

__all__ = ["fake_stripe", "shop"]  # the fixtures


def _continue_url(html: str) -> str:
    found = re.search(r'id="continue" href="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def test_a_new_account_subscribes_through_checkout_and_the_dashboard_shows_the_plan(shop: Shop) -> None:
    client = shop.client
    sign_up(client, "buyer@example.com")
    pricing = client.get("/pricing")
    assert pricing.status_code == 200
    assert "Commercial" in pricing.text and "$43.99" in pricing.text and "$439.90" in pricing.text
    assert "800 credits a month" in pricing.text and "100 credits" in pricing.text and "$9.99" in pricing.text
    assert 'id="subscribe-commercial"' in pricing.text and 'id="buy-credits_100"' in pricing.text
    assert 'id="buy-credits_500"' not in pricing.text  # no Stripe price: shown, not on sale

    leaving = post_form(client, "/pricing/checkout", {"plan": "commercial", "interval": "month"}, from_page="/pricing")
    assert leaving.status_code == 200
    url = _continue_url(leaving.text)
    session_id = url.rsplit("/", 1)[-1]
    assert url.startswith("https://checkout.stripe.test/") and shop.stripe.sessions[-1]["id"] == session_id
    for delivery in shop.stripe.complete_checkout(session_id):
        assert shop.delivered(delivery) == "applied"
    shop.services.runner.catch_up()

    assert client.get(f"/billing/success?session_id={session_id}").status_code == 200
    dashboard = client.get("/dashboard").text
    assert 'id="balance">800<' in dashboard and 'id="plan">commercial<' in dashboard
    assert 'id="sub-status">active<' in dashboard and re.search(r'id="renews">\d{4}-\d\d-\d\d<', dashboard)
    assert '<svg class="chart"' in dashboard

    again = client.get("/pricing").text
    assert 'id="manage-billing"' in again and 'id="subscribe-commercial"' not in again
    portal = post_form(client, "/billing/portal", {}, from_page="/pricing")
    assert _continue_url(portal.text).startswith("https://billing.stripe.test/")


def test_a_refused_checkout_is_named_on_the_page(shop: Shop) -> None:
    sign_up(shop.client, "free@example.com")
    refused = post_form(shop.client, "/pricing/checkout", {"plan": "free"}, from_page="/pricing")
    assert refused.status_code == 400 and 'role="alert"' in refused.text and "not_for_sale" in refused.text
    assert shop.stripe.sessions == []


def test_a_cancelled_checkout_says_nothing_was_charged(shop: Shop) -> None:
    sign_up(shop.client, "changed-mind@example.com")
    cancelled = shop.client.get("/billing/cancel")
    assert cancelled.status_code == 200 and "Nothing was charged" in cancelled.text
