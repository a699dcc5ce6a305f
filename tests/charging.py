"""Reserve, capture and release through the commands production runs (`ReserveCharges`, `SettleCharges`,
as `Payments` sends them), for tests that need charges on an account without the HTTP layer. Each
returns the commit, whose value is the credits available afterwards."""

from __future__ import annotations

from uuid import UUID

from mosaic.bootstrap import Services
from mosaic.commands.paid import Charge, ReserveCharges, SettleCharges
from mosaic.commands.writer import Committed


def reserve(
    services: Services, account_id: UUID, request_id: UUID, *, tool: str = "cbn", cost_credits: int = 1,
    summary: str = "",
) -> Committed[int]:
    """Reserve a new request's first attempt (whose id is the request's own)."""
    charge = Charge(account_id, request_id, tool, cost_credits, summary)
    committed = services.writer.execute(ReserveCharges((charge,)))
    (attempt_id,), _, available_credits = committed.value
    assert attempt_id == request_id, "a request reserved for the first time is its own first attempt"
    return Committed(available_credits, committed.position)


def capture(services: Services, account_id: UUID, request_id: UUID) -> Committed[int]:
    return services.writer.execute(SettleCharges(account_id, captures=(request_id,), releases=()))


def release(services: Services, account_id: UUID, request_id: UUID, reason: str = "failed") -> Committed[int]:
    return services.writer.execute(SettleCharges(account_id, captures=(), releases=((request_id, reason),)))
