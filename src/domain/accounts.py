"""The credit account: the ledger's one consistency boundary.

Every credit movement of one customer is an event of their `Account`, so the ledger's rules
(docs/architecture.md) hold inside one aggregate: a balance never goes below zero (reserved credits
count against it), a reservation is captured or released once, a refund names its charge and never
exceeds what remains of it, and a period's quota is granted once. Public methods check the rule and
compute every value once; the events' `apply` only changes state. Identifiers inside events are
canonical UUID strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from mosaic.domain.errors import (
    ChargeNotFound,
    Forbidden,
    IdempotencyKeyReused,
    InsufficientCredits,
    InvalidCredits,
    InvalidSubscriptionStatus,
    KeyLimitReached,
    RefundExceedsCharge,
    ReservationNotOpen,
)
from mosaic.domain.plans import (
    SUBSCRIPTION_STATUSES,
    USABLE_SUBSCRIPTION_STATUSES,
    Plan,
    api_access_refusal,
)
from mosaic.domain.text import check_plain_text

KEYS_PER_ACCOUNT_MAX = 100
COST_CREDITS_MAX = 1_000
GRANT_CREDITS_MAX = 1_000_000
REASON_CHARS_MAX = 500
SUMMARY_CHARS_MAX = 300

GRANT_NAMESPACE = UUID("8a7f2c1e-43b5-4e0a-9c77-0d6f3f7c2b10")


def grant_id_for(account_id: UUID, period: str) -> UUID:
    """The deterministic id of `account_id`'s quota grant for `period` (rule 6)."""
    return uuid5(GRANT_NAMESPACE, f"{account_id}:{period}")


@dataclass(slots=True)
class Reservation:
    cost_credits: int
    tool: str
    reserved_at: datetime


@dataclass(slots=True)
class Charge:
    cost_credits: int
    tool: str
    refunded_credits: int = 0

    @property
    def refundable_credits(self) -> int:
        return self.cost_credits - self.refunded_credits


class Account(Aggregate):
    """Credits, plan and subscription of one customer."""

    class Opened(Aggregate.Created):
        owner_user_id: str
        plan_name: str
        monthly_quota_credits: int
        api_access: bool
        sub_status: str

    def __init__(
        self,
        owner_user_id: str,
        plan_name: str,
        monthly_quota_credits: int,
        api_access: bool,
        sub_status: str,
    ) -> None:
        self.owner_user_id = owner_user_id
        self.plan_name = plan_name
        self.monthly_quota_credits = monthly_quota_credits
        self.api_access = api_access
        self.sub_status = sub_status
        self.balance_credits = 0  # settled: grants + refunds - captures - expiries
        self.reserved_credits = 0
        self.reservations: dict[str, Reservation] = {}
        self.charges: dict[str, Charge] = {}
        self.released: set[str] = set()
        self.granted_periods: dict[str, int] = {}
        self.quota_remaining_credits = 0  # unspent part of the last monthly grant (spent first)
        # Refund and grant ids come from staff's Idempotency-Keys: what each was issued for, so a
        # repeat is recognised and a key reused for another charge or amount is refused (rule 4).
        self.refunds: dict[str, tuple[str, int]] = {}  # refund id -> (charge id, amount_credits)
        self.goodwill_grants: dict[str, int] = {}  # grant id -> amount_credits
        self.key_ids: set[str] = set()

    @classmethod
    def open(cls, *, account_id: UUID, owner_user_id: UUID, plan: Plan, sub_status: str) -> Account:
        _check_status(sub_status)
        return cls._create(
            cls.Opened,
            id=account_id,
            owner_user_id=str(owner_user_id),
            plan_name=plan.name,
            monthly_quota_credits=plan.monthly_credits,
            api_access=plan.api_access,
            sub_status=sub_status,
        )

    # -- queries on state -------------------------------------------------------------------------

    @property
    def available_credits(self) -> int:
        return self.balance_credits - self.reserved_credits

    @property
    def can_use_api(self) -> bool:
        return api_access_refusal(api_access=self.api_access, sub_status=self.sub_status) is None

    def request_state(self, request_id: UUID) -> str | None:
        """What became of `request_id`: reserved, captured, released, or None if never seen."""
        key = str(request_id)
        if key in self.reservations:
            return "reserved"
        if key in self.charges:
            return "captured"
        if key in self.released:
            return "released"
        return None

    def expired_reservations(self, *, now: datetime, timeout: timedelta) -> list[UUID]:
        return [
            UUID(request_id)
            for request_id, reservation in self.reservations.items()
            if now - reservation.reserved_at >= timeout
        ]

    # -- reservations (rule 2) --------------------------------------------------------------------

    def reserve(self, *, request_id: UUID, tool: str, cost_credits: int, summary: str = "") -> None:
        assert self.request_state(request_id) is None, "the command layer replays known requests"
        assert tool, "a reservation names its tool"
        if not 0 < cost_credits <= COST_CREDITS_MAX:
            raise InvalidCredits(f"a cost must be 1..{COST_CREDITS_MAX} credits, not {cost_credits}")
        if cost_credits > self.available_credits:
            raise InsufficientCredits(
                available_credits=self.available_credits, needed_credits=cost_credits
            )
        self.trigger_event(
            self.CreditsReserved,
            request_id=str(request_id),
            tool=tool,
            cost_credits=cost_credits,
            summary=summary[:SUMMARY_CHARS_MAX],
        )

    class CreditsReserved(Aggregate.Event):
        """v2 added `summary` (the request's parameters, for support staff); v1 events read as ""."""

        class_version = 2
        request_id: str
        tool: str
        cost_credits: int
        summary: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["summary"] = ""

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.reservations[self.request_id] = Reservation(
                self.cost_credits, self.tool, self.timestamp
            )
            account.reserved_credits += self.cost_credits

    def capture(self, *, request_id: UUID) -> bool:
        """Turn the reservation into a charge. False (and no event) if it was captured already."""
        state = self.request_state(request_id)
        if state == "captured":
            return False
        if state != "reserved":
            raise ReservationNotOpen(f"request {request_id} is {state or 'unknown'}, not reserved")
        reservation = self.reservations[str(request_id)]
        self.trigger_event(
            self.ReservationCaptured,
            request_id=str(request_id),
            tool=reservation.tool,
            cost_credits=reservation.cost_credits,
        )
        return True

    class ReservationCaptured(Aggregate.Event):
        request_id: str
        tool: str
        cost_credits: int

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            del account.reservations[self.request_id]
            account.reserved_credits -= self.cost_credits
            account.balance_credits -= self.cost_credits
            account.quota_remaining_credits = max(0, account.quota_remaining_credits - self.cost_credits)
            account.charges[self.request_id] = Charge(self.cost_credits, self.tool)

    def release(self, *, request_id: UUID, reason: str) -> bool:
        """Give the reserved credits back. False (and no event) if it was released already."""
        state = self.request_state(request_id)
        if state == "released":
            return False
        if state != "reserved":
            raise ReservationNotOpen(f"request {request_id} is {state or 'unknown'}, not reserved")
        reservation = self.reservations[str(request_id)]
        self.trigger_event(
            self.ReservationReleased,
            request_id=str(request_id),
            tool=reservation.tool,
            cost_credits=reservation.cost_credits,
            reason=_reason(reason),
        )
        return True

    class ReservationReleased(Aggregate.Event):
        request_id: str
        tool: str
        cost_credits: int
        reason: str

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            del account.reservations[self.request_id]
            account.reserved_credits -= self.cost_credits
            account.released.add(self.request_id)

    # -- refunds and grants (rules 5 and 6) -------------------------------------------------------

    def refund(
        self, *, refund_id: UUID, charge_id: UUID, amount_credits: int, reason: str, issued_by: str
    ) -> bool:
        """Compensate part or all of a captured charge. False if `refund_id` was applied already.

        `issued_by` is the staff member's user id; nobody refunds their own account. A known
        `refund_id` with another charge or amount is IdempotencyKeyReused.
        """
        if issued_by == self.owner_user_id:
            raise Forbidden("staff cannot refund charges on their own account; ask a colleague")
        issued = self.refunds.get(str(refund_id))
        if issued is not None:
            if issued != (str(charge_id), amount_credits):
                raise IdempotencyKeyReused(
                    f"this Idempotency-Key refunded {issued[1]} credit(s) of charge {issued[0]}; "
                    "use a new key for another refund"
                )
            return False
        charge = self.charges.get(str(charge_id))
        if charge is None:
            raise ChargeNotFound(f"no captured charge {charge_id} on this account")
        if amount_credits <= 0:
            raise InvalidCredits("a refund must be at least 1 credit")
        if amount_credits > charge.refundable_credits:
            raise RefundExceedsCharge(
                f"charge {charge_id} has {charge.refundable_credits} credit(s) left to refund, "
                f"not {amount_credits}"
            )
        assert issued_by, "a refund records who issued it"
        self.trigger_event(
            self.CreditsRefunded,
            refund_id=str(refund_id),
            charge_id=str(charge_id),
            amount_credits=amount_credits,
            reason=_reason(reason),
            issued_by=issued_by,
        )
        return True

    class CreditsRefunded(Aggregate.Event):
        refund_id: str
        charge_id: str
        amount_credits: int
        reason: str
        issued_by: str

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.charges[self.charge_id].refunded_credits += self.amount_credits
            account.refunds[self.refund_id] = (self.charge_id, self.amount_credits)
            account.balance_credits += self.amount_credits

    def start_period(self, *, period: str) -> bool:
        """Expire the last period's unspent quota and grant this period's, once (rule 6).

        Monthly credits do not roll over: what is left of the last grant (spending draws on quota
        first) expires when the next period starts. Credits from refunds and goodwill grants stay.
        False, and no event, if `period` was granted already.
        """
        if period in self.granted_periods:
            return False
        if self.sub_status not in USABLE_SUBSCRIPTION_STATUSES:
            return False  # no quota for a lapsed subscription
        if self.granted_periods and period < max(self.granted_periods):
            return False  # a late runner (clock skew) never grants a past period
        if self.granted_periods:
            last_period = max(self.granted_periods)
            leftover = min(self.available_credits, self.quota_remaining_credits)
            if leftover > 0:
                self.trigger_event(
                    self.CreditsExpired, period=last_period, amount_credits=leftover
                )
        self.trigger_event(
            self.MonthlyQuotaGranted,
            period=period,
            grant_id=str(grant_id_for(self.id, period)),
            amount_credits=self.monthly_quota_credits,
        )
        return True

    class MonthlyQuotaGranted(Aggregate.Event):
        period: str
        grant_id: str
        amount_credits: int

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.granted_periods[self.period] = self.amount_credits
            account.quota_remaining_credits = self.amount_credits
            account.balance_credits += self.amount_credits

    class CreditsExpired(Aggregate.Event):
        period: str
        amount_credits: int

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.balance_credits -= self.amount_credits
            account.quota_remaining_credits -= self.amount_credits

    def grant_credits(
        self, *, grant_id: UUID, amount_credits: int, reason: str, issued_by: str
    ) -> bool:
        """A goodwill grant by support staff. False if `grant_id` was applied already.

        A known `grant_id` with another amount is IdempotencyKeyReused.
        """
        if issued_by == self.owner_user_id:
            raise Forbidden("staff cannot grant credits to their own account; ask a colleague")
        granted_credits = self.goodwill_grants.get(str(grant_id))
        if granted_credits is not None:
            if granted_credits != amount_credits:
                raise IdempotencyKeyReused(
                    f"this Idempotency-Key granted {granted_credits} credit(s); "
                    "use a new key for another grant"
                )
            return False
        if not 0 < amount_credits <= GRANT_CREDITS_MAX:
            raise InvalidCredits(f"a grant must be 1..{GRANT_CREDITS_MAX} credits")
        self.trigger_event(
            self.CreditsGranted,
            grant_id=str(grant_id),
            amount_credits=amount_credits,
            reason=_reason(reason),
            issued_by=issued_by,
        )
        return True

    class CreditsGranted(Aggregate.Event):
        grant_id: str
        amount_credits: int
        reason: str
        issued_by: str

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.goodwill_grants[self.grant_id] = self.amount_credits
            account.balance_credits += self.amount_credits

    # -- plan and subscription --------------------------------------------------------------------

    def change_plan(self, *, plan: Plan, changed_by: str | None = None) -> bool:
        """Move to `plan`. `changed_by` is the staff member doing it, who may not be the owner."""
        if changed_by is not None and changed_by == self.owner_user_id:
            raise Forbidden("staff cannot change the plan of their own account; ask a colleague")
        if (plan.name, plan.monthly_credits, plan.api_access) == (
            self.plan_name,
            self.monthly_quota_credits,
            self.api_access,
        ):
            return False
        self.trigger_event(
            self.PlanChanged,
            plan_name=plan.name,
            monthly_quota_credits=plan.monthly_credits,
            api_access=plan.api_access,
        )
        return True

    class PlanChanged(Aggregate.Event):
        plan_name: str
        monthly_quota_credits: int
        api_access: bool

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.plan_name = self.plan_name
            account.monthly_quota_credits = self.monthly_quota_credits
            account.api_access = self.api_access

    def change_subscription_status(self, *, sub_status: str) -> bool:
        _check_status(sub_status)
        if sub_status == self.sub_status:
            return False
        self.trigger_event(self.SubscriptionStatusChanged, sub_status=sub_status)
        return True

    class SubscriptionStatusChanged(Aggregate.Event):
        sub_status: str

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.sub_status = self.sub_status

    # -- keys: the account counts them so the cap holds across servers ----------------------------

    def add_key(self, *, key_id: UUID) -> None:
        assert str(key_id) not in self.key_ids
        if len(self.key_ids) >= KEYS_PER_ACCOUNT_MAX:
            raise KeyLimitReached(
                f"an account holds at most {KEYS_PER_ACCOUNT_MAX} active keys; revoke one first"
            )
        self.trigger_event(self.KeyAdded, key_id=str(key_id))

    class KeyAdded(Aggregate.Event):
        key_id: str

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.key_ids.add(self.key_id)

    def remove_key(self, *, key_id: UUID) -> bool:
        if str(key_id) not in self.key_ids:
            return False
        self.trigger_event(self.KeyRemoved, key_id=str(key_id))
        return True

    class KeyRemoved(Aggregate.Event):
        key_id: str

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.key_ids.discard(self.key_id)


def _check_status(sub_status: str) -> None:
    if sub_status not in SUBSCRIPTION_STATUSES:
        raise InvalidSubscriptionStatus(
            f"subscription status must be one of {', '.join(SUBSCRIPTION_STATUSES)}"
        )


def _reason(reason: str) -> str:
    reason = reason.strip()
    assert reason, "a reason is required"
    check_plain_text(reason, field="reason")
    return reason[:REASON_CHARS_MAX]
