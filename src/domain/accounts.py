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
    Pack,
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
    """Credits held for one request.

    Held credits belong to the period (or pack) they were taken from, in the spending order: the
    period's quota first, then packs (oldest first), then credits that never expire. When a new
    period's quota is granted while the reservation is open, it `spans_period`: `ended_credits` of
    it are the ended period's quota; a capture spends them (and draws the rest from packs, never
    from the new quota), a release returns them expired. Nothing held outlives its period.
    """

    cost_credits: int
    tool: str
    reserved_at: datetime
    ended_credits: int = 0
    spans_period: bool = False

    @property
    def returned_credits(self) -> int:
        """What a release makes available again (the ended period's part expires)."""
        return self.cost_credits - self.ended_credits


@dataclass(slots=True)
class PackCredits:
    """One pack bought: its credits, what is left of them, and how much of it was refunded."""

    pack_name: str
    credits: int
    paid_cents: int
    remaining_credits: int
    refunded_cents: int = 0
    asked_back_credits: int = 0  # what refunds of its payment asked back (some may have been spent)


def pack_draws(packs: dict[str, PackCredits], credits: int) -> list[tuple[str, int]]:
    """Which packs `credits` of spending beyond the quota come from: the oldest purchase first."""
    draws = []
    for purchase_id, pack in packs.items():
        if credits <= 0:
            break
        take = min(pack.remaining_credits, credits)
        if take > 0:
            draws.append((purchase_id, take))
            credits -= take
    return draws


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
        # Payments (Stripe): the customer, the live subscription, and every payment event applied,
        # so a redelivered event changes nothing.
        self.customer_id = ""
        self.subscription_id = ""
        self.subscription_as_of = 0  # the Stripe timestamp of the newest status change applied
        self.subscription_ended = False  # a paid subscription ended: back on the free plan
        self.period_ends_at = ""
        self.payment_events: set[str] = set()
        self.packs: dict[str, PackCredits] = {}  # purchase id -> pack, in order of purchase
        # refunds delivered before their purchase (the provider does not order its events): purchase
        # id -> cents refunded in all, taken back when the purchase arrives
        self.refunds_waiting: dict[str, int] = {}
        self.ended_subscriptions: set[str] = set()

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
            reservation = account.reservations.pop(self.request_id)
            account.reserved_credits -= self.cost_credits
            account.balance_credits -= self.cost_credits
            # held across a grant: the ended period's part is spent with it, the rest was packs'
            from_quota = (
                0 if reservation.spans_period else min(account.quota_remaining_credits, self.cost_credits)
            )
            account.quota_remaining_credits -= from_quota
            beyond = self.cost_credits - from_quota - reservation.ended_credits
            for purchase_id, credits in pack_draws(account.packs, beyond):
                account.packs[purchase_id].remaining_credits -= credits
            account.charges[self.request_id] = Charge(self.cost_credits, self.tool)

    def release(self, *, request_id: UUID, reason: str) -> bool:
        """Give the reserved credits back, but those of a period that ended while they were held
        expire (`expired_credits`). False (and no event) if it was released already."""
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
            expired_credits=reservation.ended_credits,
        )
        return True

    class ReservationReleased(Aggregate.Event):
        """v2 added `expired_credits` (of a period that ended while held); v1 events read as 0."""

        class_version = 2
        request_id: str
        tool: str
        cost_credits: int
        reason: str
        expired_credits: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["expired_credits"] = 0

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            del account.reservations[self.request_id]
            account.reserved_credits -= self.cost_credits
            account.balance_credits -= self.expired_credits
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
        """Expire the last period's unspent quota and grant this calendar period's, once (rule 6).

        Monthly credits do not roll over: what is left of the last grant (spending draws on quota
        first) expires when the next period starts, except what open reservations hold, which stays
        theirs: a capture spends it, a release expires it (see `Reservation`). Credits from packs,
        refunds and goodwill grants stay. False, and no event, if `period` was granted already, or
        if a paid subscription's invoices grant this account's periods instead.
        """
        if self.subscription_id:
            return False
        if self.sub_status not in USABLE_SUBSCRIPTION_STATUSES and not self.subscription_ended:
            return False  # no quota for a lapsed subscription (one that ended is on the free plan)
        return self._grant_period(period, self.monthly_quota_credits)

    def _grant_period(self, period: str, amount_credits: int) -> bool:
        """Grant `period` once, and never one older than the newest granted of its track.

        Periods are strings that sort in time order: calendar months ('2026-12') and paid periods
        (their start, '2026-12-02T19:07:05Z'). A calendar month follows every period before it; a
        paid period only other paid ones: a payment made just before a month's start, applied after
        that month's free grant, still gets its period.
        """
        if period in self.granted_periods:
            return False
        track = [p for p in self.granted_periods if _is_paid_period(p) or not _is_paid_period(period)]
        if track and period < max(track):
            return False  # a late runner or a late delivery never grants a past period
        self._expire_quota()
        self.trigger_event(
            self.MonthlyQuotaGranted,
            period=period,
            grant_id=str(grant_id_for(self.id, period)),
            amount_credits=amount_credits,
            held=self._quota_held(),
        )
        return True

    def _quota_held(self) -> dict[str, int]:
        """How much of the current quota each reservation made in its period holds: the quota is
        spent first, so the oldest reservations hold it first (see `Reservation`)."""
        left = self.quota_remaining_credits
        held = {}
        for request_id, reservation in self.reservations.items():
            if not reservation.spans_period:
                held[request_id] = take = min(left, reservation.cost_credits)
                left -= take
        return held

    def _expire_quota(self) -> None:
        """Expire the quota no reservation holds (reservations hold the quota first)."""
        if not self.granted_periods:
            return
        held = sum(self._quota_held().values())
        leftover = min(self.available_credits, self.quota_remaining_credits - held)
        if leftover > 0:
            self.trigger_event(self.CreditsExpired, period=max(self.granted_periods), amount_credits=leftover)

    class MonthlyQuotaGranted(Aggregate.Event):
        """v2 added `held`: each reservation open at the grant, made in the ended period, and how
        much of that period's quota it holds (spent by its capture, expired by its release); v1
        events read as {}."""

        class_version = 2
        period: str
        grant_id: str
        amount_credits: int
        held: dict[str, int]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["held"] = {}

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            for request_id, credits in self.held.items():
                reservation = account.reservations[request_id]
                reservation.ended_credits += credits
                reservation.spans_period = True
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
        """An operator's change (the admin CLI); the provider's go through set_subscription_status."""
        _check_status(sub_status)
        if sub_status == self.sub_status:
            return False
        self.trigger_event(
            self.SubscriptionStatusChanged,
            sub_status=sub_status,
            subscription_id=self.subscription_id,
            as_of=self.subscription_as_of,
        )
        return True

    class SubscriptionStatusChanged(Aggregate.Event):
        """v2 added the subscription and the provider's timestamp; v1 events read as "" and 0."""

        class_version = 2
        sub_status: str
        subscription_id: str
        as_of: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["subscription_id"] = ""
            state["as_of"] = 0

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.sub_status = self.sub_status
            account.subscription_as_of = max(account.subscription_as_of, self.as_of)

    # -- payments: a customer of the payment provider, its subscription and its packs -----------

    def record_payment_event(self, *, event_id: str, event_type: str) -> bool:
        """Note a payment provider's event as applied; False if it was (a redelivery: do nothing)."""
        assert event_id and event_type
        if event_id in self.payment_events:
            return False
        self.trigger_event(self.PaymentEventRecorded, event_id=event_id, event_type=event_type)
        return True

    class PaymentEventRecorded(Aggregate.Event):
        event_id: str
        event_type: str

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.payment_events.add(self.event_id)

    def link_customer(self, *, customer_id: str) -> bool:
        """Remember the payment provider's customer of this account; False if it is linked already."""
        assert customer_id
        if self.customer_id:
            return False  # the first link stands; a second customer made by a race is left unused
        self.trigger_event(self.CustomerLinked, customer_id=customer_id)
        return True

    class CustomerLinked(Aggregate.Event):
        customer_id: str

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.customer_id = self.customer_id

    def follow_subscription(
        self, *, subscription_id: str, plan: Plan, period_ends_at: str, as_of: int
    ) -> bool:
        """Take `subscription_id` as this account's subscription to `plan`, with a period ending at
        `period_ends_at` (the latest seen is kept), as the provider said at `as_of` (its timestamp).
        A customer has one live subscription: a new one replaces the one followed. False if that
        subscription ended already, or if it is another one than the one followed and `as_of` is
        older than the newest status applied (a late delivery of a replaced subscription, which
        must neither take over nor, when its end arrives, end the one that replaced it)."""
        assert subscription_id
        if subscription_id in self.ended_subscriptions:
            return False
        if self.subscription_id not in ("", subscription_id) and as_of < self.subscription_as_of:
            return False
        same = subscription_id == self.subscription_id
        newer_end = max(period_ends_at, self.period_ends_at) if same else period_ends_at
        if (subscription_id, newer_end) != (self.subscription_id, self.period_ends_at):
            self.trigger_event(
                self.SubscriptionFollowed, subscription_id=subscription_id, period_ends_at=newer_end
            )
        self.change_plan(plan=plan)
        return True

    class SubscriptionFollowed(Aggregate.Event):
        subscription_id: str
        period_ends_at: str

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.subscription_id = self.subscription_id
            account.period_ends_at = self.period_ends_at
            account.subscription_ended = False

    def grant_paid_period(self, *, period: str, amount_credits: int) -> bool:
        """A paid period's quota, once (its grant id is derived from the period's start); it expires
        when the next period is granted or the subscription ends."""
        if not 0 <= amount_credits <= GRANT_CREDITS_MAX:
            raise InvalidCredits(f"a period's quota must be 0..{GRANT_CREDITS_MAX} credits")
        return self._grant_period(period, amount_credits)

    def set_subscription_status(self, *, subscription_id: str, sub_status: str, as_of: int) -> bool:
        """The subscription's status as the provider saw it at `as_of` (its timestamp, seconds).

        A status older than the newest one applied is a late delivery and changes nothing, nor does
        anything about a subscription that ended: statuses never move backwards.
        """
        _check_status(sub_status)
        if sub_status == "canceled":
            raise AssertionError("a subscription ends through end_subscription")
        if subscription_id != self.subscription_id or as_of < self.subscription_as_of:
            return False
        if sub_status == self.sub_status and as_of == self.subscription_as_of:
            return False  # an unchanged status is still recorded when newer: it bars older ones
        self.trigger_event(
            self.SubscriptionStatusChanged,
            sub_status=sub_status,
            subscription_id=subscription_id,
            as_of=as_of,
        )
        return True

    def end_subscription(self, *, subscription_id: str, free_plan: Plan, as_of: int) -> bool:
        """The subscription ended: its quota expires and the account is back on `free_plan`, whose
        calendar months are granted again from the next one. False if it had ended already."""
        if subscription_id in self.ended_subscriptions:
            return False
        if subscription_id != self.subscription_id:
            # another subscription of this customer (one replaced, or never followed): noted only
            self.trigger_event(self.SubscriptionEnded, subscription_id=subscription_id, current=False)
            return True
        self._expire_quota()
        self.change_plan(plan=free_plan)
        self.trigger_event(
            self.SubscriptionStatusChanged,
            sub_status="canceled",
            subscription_id=subscription_id,
            as_of=max(as_of, self.subscription_as_of),
        )
        self.trigger_event(self.SubscriptionEnded, subscription_id=subscription_id, current=True)
        return True

    class SubscriptionEnded(Aggregate.Event):
        subscription_id: str
        current: bool  # whether it was the account's subscription (or an older one of the customer)

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.ended_subscriptions.add(self.subscription_id)
            if self.current:
                account.subscription_id = ""
                account.period_ends_at = ""
                account.subscription_ended = True

    def buy_pack(self, *, purchase_id: str, pack: Pack, paid_cents: int) -> bool:
        """A pack's credits, once per purchase (the provider's payment id). They never expire."""
        assert purchase_id
        if purchase_id in self.packs:
            return False
        if paid_cents < 0:
            raise InvalidCredits("a pack's payment cannot be negative")
        waiting = self.refunds_waiting.get(purchase_id, 0)
        self.trigger_event(
            self.PackPurchased,
            purchase_id=purchase_id,
            pack_name=pack.name,
            amount_credits=pack.credits,
            paid_cents=paid_cents,
        )
        if waiting:
            self.refund_pack(purchase_id=purchase_id, refunded_cents=waiting)
        return True

    class PackPurchased(Aggregate.Event):
        purchase_id: str
        pack_name: str
        amount_credits: int
        paid_cents: int

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.packs[self.purchase_id] = PackCredits(
                self.pack_name, self.amount_credits, self.paid_cents, self.amount_credits
            )
            account.balance_credits += self.amount_credits
            account.refunds_waiting.pop(self.purchase_id, None)

    def refund_pack(self, *, purchase_id: str, refunded_cents: int) -> bool:
        """The payment of a pack was refunded, `refunded_cents` in all so far: take back that share
        of its credits, as far as they are unspent and available (never below zero). A refund of a
        purchase not seen yet is noted and taken back when the purchase arrives. False if there is
        nothing more to ask back or to note."""
        pack = self.packs.get(purchase_id)
        if pack is None:
            if refunded_cents <= self.refunds_waiting.get(purchase_id, 0):
                return False
            self.trigger_event(self.RefundNoted, purchase_id=purchase_id, refunded_cents=refunded_cents)
            return True
        refunded_cents = min(max(refunded_cents, 0), pack.paid_cents)
        if refunded_cents <= pack.refunded_cents:
            return False
        share = pack.credits * refunded_cents // pack.paid_cents if pack.paid_cents else pack.credits
        asked = share - pack.asked_back_credits
        taken = max(0, min(asked, pack.remaining_credits, self.available_credits))
        self.trigger_event(
            self.PackRefunded,
            purchase_id=purchase_id,
            amount_credits=taken,
            asked_credits=asked,
            refunded_cents=refunded_cents,
        )
        return True

    class PackRefunded(Aggregate.Event):
        purchase_id: str
        amount_credits: int  # taken back
        asked_credits: int  # what the refund's share of the pack was (the rest had been spent)
        refunded_cents: int  # refunded of the pack's payment so far

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            pack = account.packs[self.purchase_id]
            pack.remaining_credits -= self.amount_credits
            pack.asked_back_credits += self.asked_credits
            pack.refunded_cents = self.refunded_cents
            account.balance_credits -= self.amount_credits

    class RefundNoted(Aggregate.Event):
        """A refund of a purchase not applied yet (its event is late): nothing to take back until it is."""

        purchase_id: str
        refunded_cents: int  # refunded of the payment so far

        def apply(self, account: Any) -> None:
            assert isinstance(account, Account)
            account.refunds_waiting[self.purchase_id] = self.refunded_cents

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


def _is_paid_period(period: str) -> bool:
    return "T" in period


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
