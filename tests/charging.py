"""Reserve, capture and release through the commands production runs (`ReserveCharges`, `SettleCharges`,
as `Payments` sends them), for tests that need charges on an account without the HTTP layer."""

from __future__ import annotations

from uuid import UUID

from mosaic.bootstrap import Services
from mosaic.commands.paid import Charge, ReserveCharges, SettleCharges


def reserve(
    services: Services, account_id: UUID, request_id: UUID, *, tool: str = "cbn", cost_credits: int = 1
) -> int:
    """Reserve a new request's first attempt (its id is `request_id`); the credits available after."""
    committed = services.writer.execute(ReserveCharges((Charge(account_id, request_id, tool, cost_credits),)))
    (attempt_id,), available_credits = committed.value
    assert attempt_id == request_id, "a request reserved for the first time is its own first attempt"
    return available_credits


def capture(services: Services, account_id: UUID, request_id: UUID) -> int:
    return services.writer.execute(SettleCharges(account_id, captures=(request_id,), releases=())).value


def release(services: Services, account_id: UUID, request_id: UUID, reason: str = "failed") -> int:
    return services.writer.execute(SettleCharges(account_id, captures=(), releases=((request_id, reason),))).value


def charge(services: Services, account_id: UUID, request_id: UUID, *, tool: str = "cbn", cost_credits: int = 1) -> int:
    """Reserve and capture: a finished, paid generation."""
    reserve(services, account_id, request_id, tool=tool, cost_credits=cost_credits)
    return capture(services, account_id, request_id)
