"""Support staff's compensating actions: refunds against a charge, goodwill grants, plan changes.

Each is idempotent under the staff member's `Idempotency-Key` (the refund or grant id is derived from
it: `mosaic.commands.idempotency.support_action_id`), records who did it and why, and is refused on
the staff member's own account (a domain rule). Which account a charge belongs to comes from the
charges view (a hint); the account aggregate then decides whether the charge exists there and how
much of it remains.

The answers carry what the views show once they have folded the action. If they are slow, an action
is still answered as applied, without those numbers (None), never as a 503 that invites sending it
again: without a key, that would apply it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from mosaic.commands.idempotency import support_action_id
from mosaic.commands.ledger import Ledger
from mosaic.commands.writer import Committed
from mosaic.domain.errors import ChargeNotFound, InvalidInput, NotFound
from mosaic.domain.users import normalise_email
from mosaic.queries.runner import ViewsBehind
from mosaic.queries.views import AccountSummary, Views

STAFF_REASON_CHARS_MIN = 3

Settle = Callable[[Committed[Any]], None]  # wait for the views to show a commit, or raise ViewsBehind

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
    refundable_left_credits: int | None  # None: applied, but not shown by the views yet
    balance_credits: int | None


@dataclass(frozen=True, slots=True)
class Granted:
    grant_id: UUID
    account_id: str
    amount_credits: int
    applied: bool
    balance_credits: int | None  # None: applied, but not shown by the views yet


class Support:
    def __init__(
        self, *, ledger: Ledger, views: Views, settle: Settle, catch_up: Callable[[], object]
    ) -> None:
        """`catch_up` folds what the views lack, for callers without a background runner (the CLI)."""
        self.ledger = ledger
        self.views = views
        self.settle = settle
        self.catch_up = catch_up

    def _shown(self, committed: Committed[Any]) -> bool:
        try:
            self.settle(committed)
        except ViewsBehind:
            return False
        return True

    def staff_member(self, email: str) -> str:
        """The user id of support staff member `email` (for the CLI's `--as`)."""
        self.catch_up()
        user = self.views.user_by_email(normalise_email(email))
        if user is None or user.role != "support":
            raise NotFound(f"{email} is not a support staff member (create one with --role support)")
        return user.user_id

    def refund(
        self,
        *,
        staff_user_id: str,
        charge_id: str,
        amount_credits: int,
        reason: str,
        idempotency_key: str | None,
    ) -> Refunded:
        charge = self.views.charge(charge_id)
        if charge is None:
            raise ChargeNotFound(f"no captured charge {charge_id}")
        refund_id = support_action_id(staff_user_id, idempotency_key, "refund")
        committed = self.ledger.refund(
            account_id=UUID(charge.account_id),
            charge_id=UUID(charge_id),
            amount_credits=amount_credits,
            reason=_reason(reason),
            issued_by=staff_user_id,
            refund_id=refund_id,
        )
        left = balance = None
        if self._shown(committed):
            after = self.views.charge(charge_id)
            shown = self.views.balance(charge.account_id)
            assert after is not None and shown is not None
            left, balance = after.cost_credits - after.refunded_credits, shown.balance
        return Refunded(
            refund_id, charge.account_id, charge_id, amount_credits, committed.value, left, balance
        )

    def grant(
        self,
        *,
        staff_user_id: str,
        account_id: str,
        amount_credits: int,
        reason: str,
        idempotency_key: str | None,
    ) -> Granted:
        if self.views.balance(account_id) is None:
            raise NotFound(f"no account {account_id}")
        grant_id = support_action_id(staff_user_id, idempotency_key, "grant")
        committed = self.ledger.grant_credits(
            account_id=UUID(account_id),
            amount_credits=amount_credits,
            reason=_reason(reason),
            issued_by=staff_user_id,
            grant_id=grant_id,
        )
        balance = None
        if self._shown(committed):
            shown = self.views.balance(account_id)
            assert shown is not None
            balance = shown.balance
        return Granted(grant_id, account_id, amount_credits, committed.value, balance)

    def change_plan(self, *, staff_user_id: str, account_id: str, plan_name: str) -> AccountSummary:
        if self.views.user_of_account(account_id) is None:
            raise NotFound(f"no account {account_id}")
        committed = self.ledger.change_plan(
            account_id=UUID(account_id), plan_name=plan_name, changed_by=staff_user_id
        )
        self.settle(committed)
        summary = self.views.account_summary(account_id)
        assert summary is not None, "settled: the account is in the views"
        return summary
