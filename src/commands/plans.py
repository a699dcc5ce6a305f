"""The plan catalogue, read from a TOML file (the packaged `mosaic/data/plans.toml` unless configured)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from mosaic.domain.errors import UnknownPlan
from mosaic.domain.plans import Plan

BUNDLED_PLANS = resources.files("mosaic.data").joinpath("plans.toml")


class PlanCatalogue:
    def __init__(self, plans: dict[str, Plan]) -> None:
        assert plans, "a catalogue has at least one plan"
        self._plans = plans

    @classmethod
    def load(cls, path: Path | None = None) -> PlanCatalogue:
        with (path or BUNDLED_PLANS).open("rb") as f:  # a Path, or the packaged resource
            data = tomllib.load(f)
        plans = {
            name: Plan(
                name=name,
                title=str(fields["title"]),
                price_cents_monthly=int(fields["price_cents_monthly"]),
                monthly_credits=int(fields["monthly_credits"]),
                api_access=bool(fields["api_access"]),
            )
            for name, fields in data["plans"].items()
        }
        return cls(plans)

    def get(self, name: str) -> Plan:
        plan = self._plans.get(name)
        if plan is None:
            raise UnknownPlan(f"unknown plan {name!r}; plans: {', '.join(sorted(self._plans))}")
        return plan

    def all(self) -> list[Plan]:
        return [self._plans[name] for name in sorted(self._plans)]
