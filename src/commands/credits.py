"""Credit commands: reserve, capture, release, refund, goodwill grant, release of stale reservations.

Each is a function of a `Unit` that decides from the account aggregate and leaves events on it; the
writer commits them. Repeats are answered with the first outcome, never a second charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from mosaic.commands.writer import Unit
from mosaic.domain.accounts import Account
from mosaic.domain.errors import NotFound


@dataclass(frozen=True, slots=True)
class Reserved:
    """The outcome of a reservation: `state` is what the request is now; `repeat` if seen before."""

    request_id: UUID
    state: str
    cost_credits: int
    available_credits: int
    repeat: bool


def account(unit: Unit, account_id: UUID) -> Account:
    found = unit.find(Account, account_id)
    if found is None:
        raise NotFound(f"no account {account_id}")
    return found


def reserve_credits(
    unit: Unit, *, account_id: UUID, request_id: UUID, tool: str, cost_credits: int, summary: str = ""
) -> Reserved:
    acct = account(unit, account_id)
    state = acct.request_state(request_id)
    if state is not None:
        return Reserved(request_id, state, cost_credits, acct.available_credits, repeat=True)
    acct.reserve(request_id=request_id, tool=tool, cost_credits=cost_credits, summary=summary)
    return Reserved(request_id, "reserved", cost_credits, acct.available_credits, repeat=False)


def capture_reservation(unit: Unit, *, account_id: UUID, request_id: UUID) -> int:
    """Capture; returns the credits available afterwards."""
    acct = account(unit, account_id)
    acct.capture(request_id=request_id)
    return acct.available_credits


def release_reservation(unit: Unit, *, account_id: UUID, request_id: UUID, reason: str) -> int:
    """Release; returns the credits available afterwards."""
    acct = account(unit, account_id)
    acct.release(request_id=request_id, reason=reason)
    return acct.available_credits


def refund_charge(
    unit: Unit,
    *,
    account_id: UUID,
    refund_id: UUID,
    charge_id: UUID,
    amount_credits: int,
    reason: str,
    issued_by: str,
) -> bool:
    acct = account(unit, account_id)
    return acct.refund(
        refund_id=refund_id,
        charge_id=charge_id,
        amount_credits=amount_credits,
        reason=reason,
        issued_by=issued_by,
    )


def grant_credits(
    unit: Unit, *, account_id: UUID, grant_id: UUID, amount_credits: int, reason: str, issued_by: str
) -> bool:
    acct = account(unit, account_id)
    return acct.grant_credits(
        grant_id=grant_id, amount_credits=amount_credits, reason=reason, issued_by=issued_by
    )


def release_expired_reservations(
    unit: Unit, *, account_id: UUID, now: datetime, timeout: timedelta
) -> list[UUID]:
    acct = account(unit, account_id)
    expired = acct.expired_reservations(now=now, timeout=timeout)
    for request_id in expired:
        acct.release(
            request_id=request_id,
            reason=f"timed out: not finished within {int(timeout.total_seconds())} s",
        )
    return expired
