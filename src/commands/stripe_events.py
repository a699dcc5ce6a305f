"""Stripe's webhook events, read into the few facts the ledger acts on.

Stripe's objects change shape between API versions (an invoice line's price moved from `price` to
`pricing.price_details.price`, an invoice's subscription from `subscription` to
`parent.subscription_details.subscription`, a subscription's period from the subscription to its
items); both shapes are read. A signed event that lacks a fact its type needs is `MalformedEvent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from mosaic.domain.errors import ErrorKind, Failure
from mosaic.domain.plans import SUBSCRIPTION_STATUSES

HANDLED_TYPES: Final = (
    "checkout.session.completed",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
)
# Stripe's statuses this service has no counterpart for (a subscription not yet paid for, or paused)
# leave the account's status as it is.
IGNORED_STATUSES: Final = frozenset({"incomplete", "incomplete_expired", "paused"})


class MalformedEvent(Failure):
    """A signed event whose object lacks what its type needs."""

    kind = ErrorKind.INVALID_INPUT
    code = "malformed_webhook"


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    customer_id: str
    status: str  # one of SUBSCRIPTION_STATUSES, or one of IGNORED_STATUSES
    price_id: str
    period_start: str  # ISO 8601, UTC, seconds: the period's key (and so its grant's id)
    period_end: str


@dataclass(frozen=True, slots=True)
class Notice:
    """One Stripe event: what every type has, and the facts of its own type."""

    event_id: str
    event_type: str
    created: int  # Stripe's timestamp (seconds): orders status changes
    customer_id: str
    account_id: str = ""  # a checkout session names the account it was made for
    subscription_id: str = ""
    subscription: Subscription | None = None  # a subscription event's object (or, for a checkout, fetched)
    price_id: str = ""  # an invoice's plan price
    period_start: str = ""
    period_end: str = ""
    pack_name: str = ""  # a pack's checkout
    purchase_id: str = ""  # the payment (intent) a pack was paid by
    paid_cents: int = 0
    refunded_cents: int = 0

    @property
    def handled(self) -> bool:
        return self.event_type in HANDLED_TYPES


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_event(event: Mapping[str, Any]) -> Notice:
    """The facts of a verified event. Types not handled give a Notice with only the common facts."""
    event_id, event_type = _text(event, "id"), _text(event, "type")
    created = _int(event, "created")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise MalformedEvent("the event has no data.object")
    if event_type not in HANDLED_TYPES:
        return Notice(event_id, event_type, created, _customer(obj, required=False))
    common = Notice(event_id, event_type, created, customer_id="")
    if event_type == "checkout.session.completed":
        return _checkout(obj, common)
    if event_type in ("invoice.paid", "invoice.payment_failed"):
        return _invoice(obj, common)
    if event_type.startswith("customer.subscription."):
        sub = read_subscription(obj)
        return replace(
            common, customer_id=sub.customer_id, subscription_id=sub.subscription_id, subscription=sub
        )
    # charge.refunded
    return replace(
        common,
        customer_id=_customer(obj),
        # a pack is known by its payment intent; a charge without one (made outside Checkout) by itself
        purchase_id=_id_of(obj.get("payment_intent") or obj.get("id")),
        paid_cents=_int(obj, "amount"),
        refunded_cents=_int(obj, "amount_refunded"),
    )


def read_subscription(obj: Mapping[str, Any]) -> Subscription:
    """A subscription object (from an event, or fetched from the API)."""
    items = obj.get("items")
    rows = items.get("data") if isinstance(items, Mapping) else None
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], Mapping):
        raise MalformedEvent("the subscription has no items")
    item = rows[0]
    status = _text(obj, "status")
    if status not in SUBSCRIPTION_STATUSES and status not in IGNORED_STATUSES:
        raise MalformedEvent(f"unknown subscription status {status!r}")
    start = item.get("current_period_start", obj.get("current_period_start"))
    end = item.get("current_period_end", obj.get("current_period_end"))
    if not isinstance(start, int) or not isinstance(end, int):
        raise MalformedEvent("the subscription has no current period")
    return Subscription(
        subscription_id=_text(obj, "id"),
        customer_id=_customer(obj),
        status=status,
        price_id=_id_of(item.get("price")),
        period_start=iso(start),
        period_end=iso(end),
    )


def _checkout(obj: Mapping[str, Any], common: Notice) -> Notice:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(metadata, Mapping)
    account_id = obj.get("client_reference_id") or metadata.get("account_id") or ""
    mode = obj.get("mode")
    if mode == "subscription":
        return replace(
            common,
            customer_id=_customer(obj),
            account_id=str(account_id),
            subscription_id=_id_of(obj.get("subscription")),
        )
    if mode == "payment":
        return replace(
            common,
            customer_id=_customer(obj),
            account_id=str(account_id),
            pack_name=str(metadata.get("pack", "")),
            purchase_id=_id_of(obj.get("payment_intent")),
            paid_cents=_int(obj, "amount_total"),
        )
    raise MalformedEvent(f"a checkout session of mode {mode!r} is not one this service makes")


def _invoice(obj: Mapping[str, Any], common: Notice) -> Notice:
    subscription = obj.get("subscription")
    parent = obj.get("parent")
    if not subscription and isinstance(parent, Mapping):
        details = parent.get("subscription_details")
        subscription = details.get("subscription") if isinstance(details, Mapping) else None
    lines = obj.get("lines")
    rows = lines.get("data") if isinstance(lines, Mapping) else None
    if not isinstance(rows, list):
        raise MalformedEvent("the invoice has no lines")
    # the plan's line: the one with a price, covering the latest period (prorations cover older ones)
    best: tuple[int, int, str] | None = None
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        price = _line_price(row)
        period = row.get("period")
        if not price or not isinstance(period, Mapping):
            continue
        start, end = period.get("start"), period.get("end")
        if isinstance(start, int) and isinstance(end, int) and (best is None or start > best[0]):
            best = (start, end, price)
    if best is None:
        raise MalformedEvent("the invoice has no line with a price and a period")
    return replace(
        common,
        customer_id=_customer(obj),
        subscription_id=_id_of(subscription) if subscription else "",
        price_id=best[2],
        period_start=iso(best[0]),
        period_end=iso(best[1]),
    )


def _line_price(row: Mapping[str, Any]) -> str:
    price = row.get("price")
    if price:
        return _id_of(price)
    pricing = row.get("pricing")
    details = pricing.get("price_details") if isinstance(pricing, Mapping) else None
    if isinstance(details, Mapping) and details.get("price"):
        return _id_of(details["price"])
    return ""


def _customer(obj: Mapping[str, Any], *, required: bool = True) -> str:
    customer = obj.get("customer")
    if not customer:
        if required:
            raise MalformedEvent("the object names no customer")
        return ""
    return _id_of(customer)


def _id_of(value: object) -> str:
    """An id, or the id of an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise MalformedEvent("an id the event needs is missing")
    return value


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{key} is missing or not a string")
    return value


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedEvent(f"{key} is missing or not a whole number")
    return value
