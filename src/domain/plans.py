"""Plans and credit packs are data (a catalogue file read by the composition root); this is their shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SUBSCRIPTION_STATUSES = ("active", "trialing", "past_due", "unpaid", "canceled")
USABLE_SUBSCRIPTION_STATUSES = frozenset({"active", "trialing"})
LAPSED_UNPAID = frozenset({"past_due", "unpaid"})

Interval = Literal["month", "year"]
MONTHS_PER_INTERVAL: dict[Interval, int] = {"month": 1, "year": 12}


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    title: str
    price_cents_monthly: int
    monthly_credits: int
    api_access: bool
    price_cents_annual: int | None = None
    # The operator's Stripe Price ids; a plan without one is not on sale through Stripe.
    stripe_price_monthly: str = ""
    stripe_price_annual: str = ""

    def __post_init__(self) -> None:
        assert self.name.isidentifier(), self.name
        assert self.monthly_credits >= 0
        assert self.price_cents_monthly >= 0
        assert self.price_cents_annual is None or self.price_cents_annual >= 0

    @property
    def paid(self) -> bool:
        return self.price_cents_monthly > 0

    @property
    def intervals_on_sale(self) -> list[Interval]:
        return [interval for interval in MONTHS_PER_INTERVAL if self.stripe_price(interval)]

    def stripe_price(self, interval: Interval) -> str:
        return self.stripe_price_monthly if interval == "month" else self.stripe_price_annual


@dataclass(frozen=True, slots=True)
class Pack:
    """Credits bought once. They never expire, and spending reaches them after the period's quota."""

    name: str
    title: str
    credits: int
    price_cents: int
    stripe_price: str = ""

    def __post_init__(self) -> None:
        assert self.name.isidentifier(), self.name
        assert self.credits > 0 and self.price_cents > 0


def api_access_refusal(*, api_access: bool, sub_status: str) -> tuple[str, str] | None:
    """Why an account may not use the API with a key right now, as (code, message), or None if it may.

    A lapsed subscription is named by its status first: an account whose paid subscription ended is
    back on the free plan, and what its owner needs to hear is that the subscription was canceled.
    """
    if sub_status not in USABLE_SUBSCRIPTION_STATUSES:
        hint = " (update the payment method in the billing portal)" if sub_status in LAPSED_UNPAID else ""
        return (
            f"subscription_{sub_status}",
            f"API access needs an active subscription; this account's is {sub_status}{hint}",
        )
    if not api_access:
        return "plan_required", "API access needs the Commercial plan; this account's plan lacks it"
    return None
