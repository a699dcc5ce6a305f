"""Billing: `GET /api/billing`, `POST /api/billing/checkout` and `/portal` (JWT), and Stripe's
`POST /api/billing/webhook` (signed by Stripe, no session)."""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.http.errors import PayloadTooLarge
from mosaic.http.routing import Call, Endpoint, json_response
from mosaic.http.schemas import (
    BillingBody,
    CheckoutRequest,
    PackOnSaleBody,
    PlanOnSaleBody,
    SessionUrlBody,
    WebhookBody,
)

WEBHOOK_BYTES_MAX = 512 * 1024  # Stripe's events are a few kilobytes; its largest well under this
_NO_STORE = {"Cache-Control": "no-store"}


async def overview(call: Call) -> Response:
    found = await run_in_threadpool(partial(call.use_cases.billing.overview, account_id=call.who.account_id))
    body = BillingBody(
        plan_name=found.plan_name,
        sub_status=found.sub_status,
        renews_at=found.renews_at,
        subscribed=found.subscribed,
        currency=found.currency,
        plans=[
            PlanOnSaleBody(
                p.name, p.title, p.monthly_credits, p.api_access, p.price_cents_monthly, p.price_cents_annual,
                list(p.intervals_on_sale),
            )
            for p in found.plans
        ],
        packs=[
            PackOnSaleBody(p.name, p.title, p.credits, p.price_cents, bool(p.stripe_price))
            for p in found.packs
        ],
    )
    return json_response(body)


async def checkout(call: Call) -> Response:
    assert isinstance(call.body, CheckoutRequest)
    url = await run_in_threadpool(
        partial(
            call.use_cases.billing.checkout,
            account_id=call.who.account_id,
            plan=call.body.plan,
            pack=call.body.pack,
            interval=call.body.interval,
        )
    )
    return json_response(SessionUrlBody(url), headers=_NO_STORE)


async def portal(call: Call) -> Response:
    url = await run_in_threadpool(partial(call.use_cases.billing.portal, account_id=call.who.account_id))
    return json_response(SessionUrlBody(url), headers=_NO_STORE)


async def webhook(call: Call) -> Response:
    chunks: list[bytes] = []
    size = 0
    async for chunk in call.request.stream():
        size += len(chunk)
        if size > WEBHOOK_BYTES_MAX:
            raise PayloadTooLarge("body_too_large", f"a webhook may hold at most {WEBHOOK_BYTES_MAX} bytes")
        chunks.append(chunk)
    applied = await run_in_threadpool(
        call.use_cases.billing.receive, b"".join(chunks), call.request.headers.get("stripe-signature")
    )
    if applied.outcome == "applied":
        # this server refuses or admits the account's keys at once; the others within their cache TTL
        call.http.auth.forget_account(applied.account_id)
    return json_response(WebhookBody(True, applied.outcome))


ENDPOINTS = [
    Endpoint(
        "GET", "/api/billing", overview, "Your plan, subscription status, renewal date, and what is on sale",
        auth="jwt", response=BillingBody, errors=(401, 429, 503), tags=("billing",),
    ),
    Endpoint(
        "POST", "/api/billing/checkout", checkout,
        "A Stripe Checkout page for a plan (subscription) or a credit pack",
        auth="jwt", body=CheckoutRequest, response=SessionUrlBody,
        errors=(400, 401, 409, 413, 429, 502, 503), tags=("billing",),
    ),
    Endpoint(
        "POST", "/api/billing/portal", portal,
        "A Stripe Customer Portal page: payment method, plan, invoices",
        auth="jwt", response=SessionUrlBody, errors=(401, 409, 429, 502, 503), tags=("billing",),
    ),
    Endpoint(
        "POST", "/api/billing/webhook", webhook,
        "Stripe's events (signed with the endpoint's secret); a redelivery changes nothing",
        response=WebhookBody, errors=(400, 413, 503), tags=("billing",),
    ),
]
