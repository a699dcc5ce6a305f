"""The catalogue of plans and credit packs, read from a TOML file (the packaged
`mosaic/data/plans.toml` unless configured). A malformed file is a `ConfigError` naming the entry."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mosaic.config import ConfigError
from mosaic.domain.errors import UnknownPack, UnknownPlan
from mosaic.domain.plans import MONTHS_PER_INTERVAL, Interval, Pack, Plan

BUNDLED_PLANS = resources.files("mosaic.data").joinpath("plans.toml")
FREE_PLAN_NAME = "free"


@dataclass(frozen=True, slots=True)
class PriceTarget:
    """What a Stripe Price id buys: a plan for an interval, or a pack."""

    plan: Plan | None = None
    interval: Interval = "month"
    pack: Pack | None = None

    @property
    def months(self) -> int:
        return MONTHS_PER_INTERVAL[self.interval]


class PlanCatalogue:
    def __init__(
        self, plans: dict[str, Plan], packs: dict[str, Pack] | None = None, *, currency: str = "usd"
    ) -> None:
        # Raised, not asserted: a bad file must be refused under `python -O` too.
        if FREE_PLAN_NAME not in plans:
            raise ConfigError(
                f"plans file: no plan named {FREE_PLAN_NAME!r} (sign-up and ended plans use it)"
            )
        self._plans = plans
        self._packs = packs or {}
        self.currency = currency
        self._prices: dict[str, PriceTarget] = {}
        for plan in plans.values():
            for interval in MONTHS_PER_INTERVAL:
                if price := plan.stripe_price(interval):
                    self._add_price(price, PriceTarget(plan=plan, interval=interval))
        for pack in self._packs.values():
            if pack.stripe_price:
                self._add_price(pack.stripe_price, PriceTarget(pack=pack))

    def _add_price(self, price: str, target: PriceTarget) -> None:
        if price in self._prices:
            raise ConfigError(f"plans file: Stripe price {price!r} is named twice")
        self._prices[price] = target

    @classmethod
    def load(cls, path: Path | None = None) -> PlanCatalogue:
        with (path or BUNDLED_PLANS).open("rb") as f:  # a Path, or the packaged resource
            data = tomllib.load(f)
        try:
            plans = {name: _plan(name, fields) for name, fields in data["plans"].items()}
            packs = {name: _pack(name, fields) for name, fields in data.get("packs", {}).items()}
            return cls(plans, packs, currency=str(data.get("currency", "usd")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"plans file {path or 'bundled'}: {exc!r}") from None

    @property
    def free(self) -> Plan:
        return self._plans[FREE_PLAN_NAME]

    def get(self, name: str) -> Plan:
        plan = self._plans.get(name)
        if plan is None:
            raise UnknownPlan(f"unknown plan {name!r}; plans: {', '.join(sorted(self._plans))}")
        return plan

    def all(self) -> list[Plan]:
        return [self._plans[name] for name in sorted(self._plans)]

    def find_pack(self, name: str) -> Pack | None:
        return self._packs.get(name)

    def pack(self, name: str) -> Pack:
        pack = self.find_pack(name)
        if pack is None:
            on_sale = ", ".join(sorted(self._packs)) or "none"
            raise UnknownPack(f"unknown pack {name!r}; packs: {on_sale}")
        return pack

    def packs(self) -> list[Pack]:
        return sorted(self._packs.values(), key=lambda p: (p.credits, p.name))

    def price(self, price_id: str) -> PriceTarget | None:
        """What `price_id` buys, or None for a price this catalogue does not sell."""
        return self._prices.get(price_id)


def _plan(name: str, fields: dict[str, Any]) -> Plan:
    annual = fields.get("price_cents_annual")
    return Plan(
        name=name,
        title=str(fields["title"]),
        price_cents_monthly=int(fields["price_cents_monthly"]),
        monthly_credits=int(fields["monthly_credits"]),
        api_access=bool(fields["api_access"]),
        price_cents_annual=None if annual is None else int(annual),
        stripe_price_monthly=str(fields.get("stripe_price_monthly", "")),
        stripe_price_annual=str(fields.get("stripe_price_annual", "")),
    )


def _pack(name: str, fields: dict[str, Any]) -> Pack:
    return Pack(
        name=name,
        title=str(fields["title"]),
        credits=int(fields["credits"]),
        price_cents=int(fields["price_cents"]),
        stripe_price=str(fields.get("stripe_price", "")),
    )
