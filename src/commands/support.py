"""Support staff's compensating actions: refunds against a charge, goodwill grants, plan changes.

Each is idempotent under the staff member's `Idempotency-Key` (the refund or grant id is derived from
it), records who did it and why, and is refused on the staff member's own account (domain rule).
Callers find which account a charge belongs to in the charges view (a hint); the account aggregate
then decides whether the charge exists there and how much of it remains.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from mosaic.commands.ledger import Ledger
from mosaic.domain.errors import InvalidInput

SUPPORT_NAMESPACE = UUID("c4d0a3e2-1f6b-4b8e-9d2a-7e5f3c1b0a99")
STAFF_REASON_CHARS_MIN = 3


def action_id(staff_user_id: str, idempotency_key: str | None, kind: str) -> UUID:
    """The same staff member and key always name the same refund or grant; no key: a new one."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(SUPPORT_NAMESPACE, f"{kind}:{staff_user_id}:{idempotency_key}")


def _reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < STAFF_REASON_CHARS_MIN:
        raise InvalidInput("say why, in a few words: the reason goes on the customer's statement")
    return reason


@dataclass(frozen=True, slots=True)
class Refunded:
    refund_id: UUID
    account_id: str
    charge_id: str
    amount_credits: int
    applied: bool  # False: this key's refund was applied earlier (a repeat)
    position: int | None


def refund(
    ledger: Ledger,
    *,
    staff_user_id: str,
    account_id: str,
    charge_id: str,
    amount_credits: int,
    reason: str,
    idempotency_key: str | None,
) -> Refunded:
    refund_id = action_id(staff_user_id, idempotency_key, "refund")
    committed = ledger.refund(
        account_id=UUID(account_id),
        charge_id=UUID(charge_id),
        amount_credits=amount_credits,
        reason=_reason(reason),
        issued_by=staff_user_id,
        refund_id=refund_id,
    )
    return Refunded(
        refund_id, account_id, charge_id, amount_credits, committed.value, committed.position
    )


def grant(
    ledger: Ledger,
    *,
    staff_user_id: str,
    account_id: str,
    amount_credits: int,
    reason: str,
    idempotency_key: str | None,
) -> tuple[UUID, bool, int | None]:
    grant_id = action_id(staff_user_id, idempotency_key, "grant")
    committed = ledger.grant_credits(
        account_id=UUID(account_id),
        amount_credits=amount_credits,
        reason=_reason(reason),
        issued_by=staff_user_id,
        grant_id=grant_id,
    )
    return grant_id, committed.value, committed.position
