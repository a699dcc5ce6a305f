"""Plans are data (a catalogue file read by the composition root); this is their shape."""

from __future__ import annotations

from dataclasses import dataclass

SUBSCRIPTION_STATUSES = ("active", "trialing", "past_due", "canceled")
USABLE_SUBSCRIPTION_STATUSES = frozenset({"active", "trialing"})


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    title: str
    price_cents_monthly: int
    monthly_credits: int
    api_access: bool

    def __post_init__(self) -> None:
        assert self.name.isidentifier(), self.name
        assert self.monthly_credits >= 0
        assert self.price_cents_monthly >= 0


def api_access_refusal(*, api_access: bool, sub_status: str) -> str | None:
    """Why an account may not use the API with a key right now, or None if it may (plan gating)."""
    if not api_access:
        return "API access needs the Commercial plan; this account's plan lacks it"
    if sub_status not in USABLE_SUBSCRIPTION_STATUSES:
        return f"API access needs an active Commercial plan subscription (this one is {sub_status!r})"
    return None
