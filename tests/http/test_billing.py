"""Billing through Stripe: the real `stripe` library against a fake Stripe on loopback, and webhooks
signed as Stripe signs them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import pytest

from mosaic.bootstrap import Services
from tests.charging import capture, reserve
from tests.conftest import both_backends
from tests.fakes.stripe_server import WEBHOOK_SECRET, Delivery, FakeStripe, sign
from tests.http.billing_helpers import WEBHOOK, Shop, fake_stripe, shop
from tests.http.conftest import AppClient, bearer, create_key, event_count, signed_in_user

__all__ = ["fake_stripe", "shop"]  # fixtures


def charge(services: Services, account_id: str, credits: int) -> None:
    request_id = uuid.uuid4()
    reserve(services, uuid.UUID(account_id), request_id, cost_credits=credits)
    services.settle(capture(services, uuid.UUID(account_id), request_id))


def statement_kinds(shop: Shop, user: object) -> list[str]:
    response = shop.client.get("/api/credits/history", headers=user.auth)  # type: ignore[attr-defined]
    return [line["kind"] for line in response.json()["lines"]]


@both_backends()
def test_a_checkout_for_the_commercial_plan_answers_stripes_page_and_makes_the_customer_once(shop: Shop) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    first = shop.client.post("/api/billing/checkout", json={"plan": "commercial"}, headers=user.auth)
    assert first.status_code == 200, first.text
    assert first.json()["url"].startswith("https://checkout.stripe.test/c/pay/cs_")
    second = shop.client.post("/api/billing/checkout", json={"plan": "commercial"}, headers=user.auth)
    assert second.status_code == 200
    assert [c for c in shop.stripe.calls if c == ("POST", "/v1/customers")] == [("POST", "/v1/customers")]
    (customer,) = shop.stripe.customers.values()
    assert customer["email"] == user.email and customer["metadata"]["account_id"] == user.account_id
    sessions = shop.stripe.sessions
    assert {s["customer"] for s in sessions} == {customer["id"]}
    assert sessions[0]["mode"] == "subscription"
    assert sessions[0]["line_items"] == [{"price": "price_commercial_month", "quantity": "1"}]
    assert sessions[0]["client_reference_id"] == user.account_id
    assert sessions[0]["success_url"].startswith("https://studio.example.com/billing/success")
    assert "payment" not in statement_kinds(shop, user)


@both_backends()
def test_the_signed_webhooks_of_a_paid_checkout_grant_800_once_and_activate_the_subscription(shop: Shop) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    assert shop.balance(user)["balance"] == 5
    session_id = shop.checkout(user, plan="commercial")
    completed, first_invoice = shop.stripe.complete_checkout(session_id)
    assert shop.delivered(completed) == "applied"
    assert shop.balance(user) == {
        "balance": 800, "monthly_quota": 800, "plan_name": "commercial", "sub_status": "active"
    }
    # the first invoice names the same period: granted once, through two events
    assert shop.delivered(first_invoice) == "applied"
    assert shop.balance(user)["balance"] == 800
    assert statement_kinds(shop, user) == [
        "monthly_grant", "payment", "expiry", "monthly_grant", "payment",
    ]
    billing = shop.client.get("/api/billing", headers=user.auth).json()
    assert billing["plan_name"] == "commercial" and billing["sub_status"] == "active"
    assert billing["subscribed"] is True and billing["renews_at"].endswith("Z")
    key = create_key(shop.client, user)["key"]
    assert shop.client.get("/api/credits/balance", headers=bearer(key)).status_code == 200
    shop.audit_clean()


@both_backends()
def test_a_redelivered_event_is_acknowledged_and_changes_nothing(shop: Shop, database_url: str) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    completed, invoice = shop.stripe.complete_checkout(shop.checkout(user, plan="commercial"))
    assert shop.delivered(completed) == "applied"
    before = event_count(database_url)
    assert shop.delivered(completed) == "duplicate"
    # Stripe signs each delivery afresh: the same event with a new signature is still a repeat
    again = Delivery(completed.event_id, completed.event_type, completed.payload, sign(completed.payload))
    assert shop.delivered(again) == "duplicate"
    assert event_count(database_url) == before
    assert shop.balance(user)["balance"] == 800
    assert shop.delivered(invoice) == "applied"
    assert shop.delivered(invoice) == "duplicate"
    assert shop.balance(user)["balance"] == 800


def _bad_signatures(delivery: Delivery) -> dict[str, dict[str, str]]:
    stale = int(time.time()) - 301
    other_body = json.dumps({**json.loads(delivery.payload), "id": "evt_forged"}).encode()
    return {
        "missing": {},
        "empty": {"Stripe-Signature": ""},
        "garbage": {"Stripe-Signature": "not a signature"},
        "another secret": {"Stripe-Signature": sign(delivery.payload, secret="whsec_other")},
        "stale": {"Stripe-Signature": sign(delivery.payload, at=stale)},
        "signed for another body": {"Stripe-Signature": sign(other_body)},
        "no v1": {"Stripe-Signature": f"t={int(time.time())}"},
    }


@both_backends()
def test_unsigned_wrongly_signed_stale_or_replayed_webhooks_are_400_and_write_nothing(
    shop: Shop, database_url: str
) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    completed, _ = shop.stripe.complete_checkout(shop.checkout(user, plan="commercial"))
    before = event_count(database_url)
    for name, headers in _bad_signatures(completed).items():
        response = shop.client.post(WEBHOOK, content=completed.payload, headers=headers)
        assert response.status_code == 400, name
        assert response.json()["error"]["code"] == "invalid_signature", name
    # a body changed after signing (a replay with another body under a captured signature)
    tampered = completed.payload.replace(b'"complete"', b'"expired"')
    response = shop.client.post(WEBHOOK, content=tampered, headers={"Stripe-Signature": completed.signature})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    assert event_count(database_url) == before
    assert shop.balance(user)["balance"] == 5


@both_backends()
def test_a_signed_but_malformed_event_is_400_naming_the_problem_and_writes_nothing(
    shop: Shop, database_url: str
) -> None:
    before = event_count(database_url)
    cases = {
        b"not json": "invalid_signature",  # the library refuses a body that is not a JSON event
        json.dumps({"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {}}).encode(): "malformed_webhook",
        json.dumps({"id": "evt_2", "type": "invoice.paid", "created": 1,
                    "data": {"object": {"customer": "cus_1", "lines": {"data": []}}}}).encode(): "malformed_webhook",
        json.dumps({"id": "evt_3", "type": "customer.subscription.updated", "created": 1,
                    "data": {"object": {"id": "sub_1", "customer": "cus_1", "status": "sleeping",
                                        "items": {"data": [{"current_period_start": 1, "current_period_end": 2,
                                                            "price": {"id": "p"}}]}}}}).encode(): "malformed_webhook",
    }
    for payload, code in cases.items():
        response = shop.client.post(WEBHOOK, content=payload, headers={"Stripe-Signature": sign(payload)})
        assert response.status_code == 400, payload
        body = response.json()["error"]
        assert body["code"] == code and body["message"], payload
    assert event_count(database_url) == before


def test_events_of_unknown_customers_or_types_are_acknowledged_and_write_nothing(
    shop: Shop, database_url: str
) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    shop.subscribe(user)
    before = event_count(database_url)
    stranger = shop.stripe.subscription_object("cus_stranger", "price_commercial_month", period=0, status="active")
    shop.stripe.subscriptions[stranger["id"]] = stranger
    assert shop.delivered(shop.stripe.invoice_event("invoice.paid", stranger["id"], period=1)) == "ignored"
    assert shop.delivered(shop.stripe.event("customer.created", {"id": "cus_x", "object": "customer"})) == "ignored"
    # a price this catalogue does not sell (the operator's other products on the same Stripe account)
    (sub_id,) = shop.stripe.subscriptions.keys() - {stranger["id"]}
    shop.stripe.subscriptions[sub_id]["items"]["data"][0]["price"]["id"] = "price_t_shirt"
    assert shop.delivered(shop.stripe.invoice_event("invoice.paid", sub_id, period=1)) == "ignored"
    assert event_count(database_url) == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"plan": "platinum"}, 400, "unknown_plan"),
        ({"pack": "credits_9000"}, 400, "unknown_pack"),
        ({}, 400, "invalid_input"),
        ({"plan": "commercial", "pack": "credits_100"}, 400, "invalid_input"),
        ({"plan": "free"}, 400, "not_for_sale"),
        ({"pack": "credits_500"}, 400, "not_for_sale"),  # no Stripe price in this catalogue
        ({"plan": "commercial", "interval": "week"}, 400, "invalid_body"),
        ({"plan": "commercial", "colour": "red"}, 400, "invalid_body"),
        ({"plan": "x" * 65}, 400, "invalid_body"),
    ],
)
def test_a_checkout_for_what_is_not_on_sale_is_a_clear_400_and_calls_stripe_for_nothing(
    shop: Shop, database_url: str, body: dict[str, str], status: int, code: str
) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    before = event_count(database_url)
    response = shop.client.post("/api/billing/checkout", json=body, headers=user.auth)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert shop.stripe.calls == [] and event_count(database_url) == before


def test_a_checkout_for_the_plan_the_account_has_is_409_and_writes_nothing(shop: Shop, database_url: str) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    shop.subscribe(user)
    before, calls = event_count(database_url), len(shop.stripe.calls)
    response = shop.client.post("/api/billing/checkout", json={"plan": "commercial"}, headers=user.auth)
    assert response.status_code == 409 and response.json()["error"]["code"] == "already_subscribed"
    assert event_count(database_url) == before and len(shop.stripe.calls) == calls


def test_the_portal_needs_a_billing_history_then_answers_stripes_portal(shop: Shop) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    refused = shop.client.post("/api/billing/portal", headers=user.auth)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_billing_account"
    shop.subscribe(user)
    response = shop.client.post("/api/billing/portal", headers=user.auth)
    assert response.status_code == 200
    assert response.json()["url"].startswith("https://billing.stripe.test/p/session/bps_")
    (portal,) = shop.stripe.portal_sessions
    assert portal["return_url"] == "https://studio.example.com/billing"
    assert portal["customer"] in shop.stripe.customers


def test_stripe_failing_is_a_503_that_writes_nothing(shop: Shop, database_url: str) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    shop.stripe.behaviour = "down"
    before = event_count(database_url)
    response = shop.client.post("/api/billing/checkout", json={"plan": "commercial"}, headers=user.auth)
    assert response.status_code == 503 and response.json()["error"]["code"] == "payment_provider_unavailable"
    assert event_count(database_url) == before


def test_a_checkout_completion_stripe_cannot_confirm_is_503_so_stripe_delivers_it_again(
    shop: Shop, database_url: str
) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    completed, _ = shop.stripe.complete_checkout(shop.checkout(user, plan="commercial"))
    shop.stripe.behaviour = "down"  # the subscription cannot be read
    before = event_count(database_url)
    assert shop.deliver(completed).status_code == 503
    assert event_count(database_url) == before
    shop.stripe.behaviour = "ok"
    assert shop.delivered(completed) == "applied"
    assert shop.balance(user)["balance"] == 800


@both_backends()
def test_without_stripe_configured_every_billing_route_is_503_billing_unavailable(
    services: Services, make_client: Callable[..., AppClient], database_url: str
) -> None:
    client = make_client(services)
    user = signed_in_user(services, client, plan="free")
    before = event_count(database_url)
    payload = b'{"id": "evt_1"}'
    for method, path, kwargs in [
        ("GET", "/api/billing", {"headers": user.auth}),
        ("POST", "/api/billing/checkout", {"headers": user.auth, "json": {"plan": "commercial"}}),
        ("POST", "/api/billing/portal", {"headers": user.auth}),
        ("POST", WEBHOOK, {"content": payload, "headers": {"Stripe-Signature": sign(payload)}}),
    ]:
        response = client.request(method, path, **kwargs)
        assert response.status_code == 503, path
        assert response.json()["error"]["code"] == "billing_unavailable", path
        assert "retry-after" not in response.headers
    assert event_count(database_url) == before
    assert client.get("/api/credits/balance", headers=user.auth).status_code == 200


def test_billing_lists_the_plans_and_packs_on_sale(shop: Shop) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    body = shop.client.get("/api/billing", headers=user.auth).json()
    assert body["plan_name"] == "free" and body["sub_status"] == "active" and body["renews_at"] is None
    assert body["subscribed"] is False and body["currency"] == "usd"
    assert [(p["name"], p["price_cents_monthly"], p["monthly_credits"], p["intervals"]) for p in body["plans"]] == [
        ("commercial", 4399, 800, ["month", "year"])
    ]
    assert [(p["name"], p["credits"], p["price_cents"], p["on_sale"]) for p in body["packs"]] == [
        ("credits_100", 100, 999, True), ("credits_500", 500, 3999, False)
    ]


def test_the_secrets_never_reach_the_logs_or_the_database(
    shop: Shop, database_url: str, caplog: pytest.LogCaptureFixture, fake_stripe: FakeStripe
) -> None:
    from tests.fakes.stripe_server import SECRET_KEY
    from tests.http.conftest import dump_database

    user = signed_in_user(shop.services, shop.client, plan="free")
    with caplog.at_level("DEBUG"):
        shop.subscribe(user)
        shop.client.post("/api/billing/portal", headers=user.auth)
    stored = repr(dump_database(database_url))
    for secret in (SECRET_KEY, WEBHOOK_SECRET):
        assert secret not in caplog.text and secret not in stored
        assert secret not in repr(shop.services.settings)
    assert fake_stripe.authorizations == {f"Bearer {SECRET_KEY}"}


@both_backends()
def test_a_customer_subscribes_lapses_pays_again_and_buys_and_returns_a_pack(shop: Shop) -> None:
    """The whole journey, through the public routes only."""
    from tests.http.conftest import PASSWORD, User

    client = shop.client
    email = "seller@example.com"
    registered = client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()
    user = User(email, registered.json()["user_id"], registered.json()["account_id"], login["access_token"])
    assert shop.balance(user)["plan_name"] == "free"

    subscription = shop.subscribe(user)
    assert shop.balance(user) == {
        "balance": 800, "monthly_quota": 800, "plan_name": "commercial", "sub_status": "active"
    }
    key = bearer(create_key(client, user)["key"])
    assert client.get("/api/credits/balance", headers=key).status_code == 200

    # the renewal's payment fails: the key is refused, naming the status
    assert shop.delivered(shop.stripe.invoice_event("invoice.payment_failed", subscription, period=1)) == "applied"
    refused = client.get("/api/credits/balance", headers=key)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "subscription_past_due"
    assert shop.balance(user)["sub_status"] == "past_due"

    # the customer updates the card; Stripe retries and the invoice is paid: the new period, once
    paid = shop.stripe.invoice_event("invoice.paid", subscription, period=1)
    assert shop.delivered(paid) == "applied"
    assert client.get("/api/credits/balance", headers=key).status_code == 200
    assert shop.balance(user)["balance"] == 800  # the old period's unspent quota expired, the new granted
    renewal = shop.stripe.subscription_event("customer.subscription.updated", subscription, status="active")
    assert shop.delivered(renewal) == "applied" and shop.delivered(paid) == "duplicate"
    assert shop.balance(user) == {
        "balance": 800, "monthly_quota": 800, "plan_name": "commercial", "sub_status": "active"
    }

    # a pack: bought, then its payment refunded: its credits taken back
    for delivery in shop.stripe.complete_checkout(shop.checkout(user, pack="credits_100")):
        assert shop.delivered(delivery) == "applied"
    assert shop.balance(user)["balance"] == 900
    purchase = shop.stripe.sessions[-1]["payment_intent"]
    assert shop.delivered(shop.stripe.refund_event(purchase, amount=999, refunded=999)) == "applied"
    assert shop.balance(user)["balance"] == 800
    kinds = statement_kinds(shop, user)
    assert kinds.count("monthly_grant") == 3 and kinds.count("pack") == 1 and kinds.count("pack_refund") == 1
    shop.audit_clean()


def test_pack_credits_are_spent_after_the_quota_outlive_a_renewal_and_are_kept_when_the_plan_ends(
    shop: Shop,
) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    subscription = shop.subscribe(user)
    for delivery in shop.stripe.complete_checkout(shop.checkout(user, pack="credits_100")):
        shop.delivered(delivery)
    assert shop.balance(user)["balance"] == 900
    charge(shop.services, user.account_id, 790)  # from the quota: 10 of it left, the pack untouched
    assert shop.delivered(shop.stripe.invoice_event("invoice.paid", subscription, period=1)) == "applied"
    assert shop.balance(user)["balance"] == 900  # 10 expired, 800 granted, the pack's 100 kept
    charge(shop.services, user.account_id, 850)  # 800 of the quota, then 50 of the pack
    ended = shop.stripe.subscription_event("customer.subscription.deleted", subscription, status="canceled")
    assert shop.delivered(ended) == "applied"
    assert shop.balance(user) == {"balance": 50, "monthly_quota": 5, "plan_name": "free", "sub_status": "canceled"}
    key = bearer(create_key(shop.client, user)["key"])
    refused = shop.client.get("/api/credits/balance", headers=key)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "subscription_canceled"
    # a refund of the pack now takes back what is left of it, not what was spent
    purchase = shop.stripe.sessions[-1]["payment_intent"]
    assert shop.delivered(shop.stripe.refund_event(purchase, amount=999, refunded=999)) == "applied"
    assert shop.balance(user)["balance"] == 0
    shop.audit_clean()


def test_a_status_delivered_late_never_moves_the_subscription_backwards(shop: Shop) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    subscription = shop.subscribe(user)
    early = shop.stripe.subscription_event("customer.subscription.updated", subscription, status="past_due")
    late = shop.stripe.subscription_event("customer.subscription.updated", subscription, status="active")
    ended = shop.stripe.subscription_event("customer.subscription.deleted", subscription, status="canceled")
    assert shop.delivered(late) == "applied"
    assert shop.delivered(early) == "applied"  # recorded, but older than the status it would replace
    assert shop.balance(user)["sub_status"] == "active"
    assert shop.delivered(ended) == "applied"
    assert shop.delivered(shop.stripe.invoice_event("invoice.paid", subscription, period=1)) == "applied"
    assert shop.balance(user) == {"balance": 0, "monthly_quota": 5, "plan_name": "free", "sub_status": "canceled"}
    shop.audit_clean()


def test_a_pack_refund_delivered_before_its_purchase_takes_the_credits_back_when_the_purchase_arrives(
    shop: Shop,
) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    (bought,) = shop.stripe.complete_checkout(shop.checkout(user, pack="credits_100"))
    purchase = shop.stripe.sessions[-1]["payment_intent"]
    refunded = shop.stripe.refund_event(purchase, amount=999, refunded=999)
    assert shop.delivered(refunded) == "applied"  # remembered: there is no pack to take back from yet
    assert shop.balance(user)["balance"] == 5
    assert shop.delivered(bought) == "applied"
    assert shop.balance(user)["balance"] == 5
    assert statement_kinds(shop, user)[-2:] == ["pack", "pack_refund"]
    assert shop.delivered(refunded) == "duplicate"
    assert shop.balance(user)["balance"] == 5
    shop.audit_clean()


def test_a_checkout_delivered_after_a_failed_renewal_grants_no_unpaid_period_and_never_undoes_a_later_status(
    shop: Shop,
) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    completed, first_invoice = shop.stripe.complete_checkout(shop.checkout(user, plan="commercial"))
    subscription = shop.stripe.sessions[-1]["subscription"]
    failed = shop.stripe.invoice_event("invoice.payment_failed", subscription, period=1)
    # the deliveries were held up: the checkout comes first, and its subscription, read from Stripe
    # now, is past_due in its second period, not paid for
    assert shop.delivered(completed) == "applied"
    assert shop.balance(user) == {"balance": 5, "monthly_quota": 800, "plan_name": "commercial", "sub_status": "active"}
    assert shop.delivered(first_invoice) == "applied"  # the first period, paid: granted
    assert shop.balance(user) == {"balance": 800, "monthly_quota": 800, "plan_name": "commercial", "sub_status": "active"}
    assert shop.delivered(failed) == "applied"
    assert shop.balance(user)["sub_status"] == "past_due" and shop.balance(user)["balance"] == 800
    paid = shop.stripe.invoice_event("invoice.paid", subscription, period=1)
    assert shop.delivered(paid) == "applied"  # the second period, once it is paid
    assert shop.balance(user)["sub_status"] == "active" and shop.balance(user)["balance"] == 800
    assert statement_kinds(shop, user).count("monthly_grant") == 3
    shop.audit_clean()


def test_a_late_event_of_a_subscription_that_a_new_one_replaced_changes_nothing(shop: Shop) -> None:
    user = signed_in_user(shop.services, shop.client, plan="free")
    # Stripe's deliveries are held up: the customer subscribes, the subscription is canceled at
    # Stripe, and (this server knowing of no subscription) the customer subscribes again
    _, first_invoice = shop.stripe.complete_checkout(shop.checkout(user, plan="commercial"))
    first = shop.stripe.sessions[-1]["subscription"]
    ended = shop.stripe.subscription_event("customer.subscription.deleted", first, status="canceled")
    for delivery in shop.stripe.complete_checkout(shop.checkout(user, plan="commercial"), period=1):
        assert shop.delivered(delivery) == "applied"
    second = shop.stripe.sessions[-1]["subscription"]
    subscribed = {"balance": 800, "monthly_quota": 800, "plan_name": "commercial", "sub_status": "active"}
    assert shop.balance(user) == subscribed
    # then the first subscription's events: older than the second's, they change nothing
    assert shop.delivered(first_invoice) == "applied"
    assert shop.delivered(ended) == "applied"
    assert shop.balance(user) == subscribed
    assert shop.services.views.billing(user.account_id).subscription_id == second
    shop.audit_clean()
