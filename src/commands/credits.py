"""Credit commands: refund, goodwill grant, release of stale reservations (paid work reserves and
settles through `mosaic.commands.paid`).

Each is a function of a `Unit` that decides from the account aggregate and leaves events on it; the
writer commits them. Repeats are answered with the first outcome, never a second refund or grant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from mosaic.commands.writer import Unit
from mosaic.domain.accounts import Account
from mosaic.domain.errors import NotFound


def account(unit: Unit, account_id: UUID) -> Account:
    found = unit.find(Account, account_id)
    if found is None:
        raise NotFound(f"no account {account_id}")
    return found


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
