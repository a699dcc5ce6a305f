"""Payment commands: what a payment provider's events do to an account, exactly once.

Every handled event is recorded on the account it concerns (`Account.record_payment_event`) in the
same commit as its effects, so a redelivery changes nothing, and two servers applying one event at
once collide on the account's version: the loser re-runs, finds the event recorded, and does
nothing. A period's grant has an id derived from the account and the period's start, so a period
seen through two events (the checkout and its first invoice) is granted once. Statuses carry the
provider's timestamp and never move backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal
from uuid import UUID

from mosaic.commands.credits import account
from mosaic.commands.plans import PlanCatalogue, PriceTarget
from mosaic.commands.stripe_events import IGNORED_STATUSES, Notice, Subscription
from mosaic.commands.writer import Unit
from mosaic.domain.accounts import Account
from mosaic.domain.billing import BillingCustomer, customer_index_id
from mosaic.domain.plans import USABLE_SUBSCRIPTION_STATUSES

Outcome = Literal["applied", "duplicate", "ignored"]


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: Outcome
    account_id: str = ""
    note: str = ""  # why an event was ignored (for the log)


def link_customer(unit: Unit, *, account_id: UUID, customer_id: str) -> str:
    """Link `customer_id` to the account, once; returns the customer the account is linked to."""
    acct = account(unit, account_id)
    if acct.customer_id:
        return acct.customer_id
    _claim(unit, acct, customer_id)
    return customer_id


def _claim(unit: Unit, acct: Account, customer_id: str) -> None:
    acct.link_customer(customer_id=customer_id)
    if unit.find(BillingCustomer, customer_index_id(customer_id)) is None:
        unit.add(BillingCustomer.claim(customer_id=customer_id, account_id=acct.id))


def apply_payment_event(unit: Unit, *, notice: Notice, catalogue: PlanCatalogue) -> Applied:
    """Apply one provider event to the account it concerns (found from its customer, or the account
    a checkout was made for). Events of no account of ours, or for a price this catalogue does not
    sell, are ignored and write nothing."""
    acct = _account_of(unit, notice)
    if acct is None:
        return Applied("ignored", note=f"no account has customer {notice.customer_id}")
    target = _price_target(notice, catalogue)
    if isinstance(target, str):
        return Applied("ignored", str(acct.id), target)
    if not acct.record_payment_event(event_id=notice.event_id, event_type=notice.event_type):
        return Applied("duplicate", str(acct.id))
    if not acct.customer_id:
        _claim(unit, acct, notice.customer_id)
    kind = notice.event_type
    if kind == "checkout.session.completed" and notice.pack_name:
        assert target is not None and target.pack is not None
        acct.buy_pack(purchase_id=notice.purchase_id, pack=target.pack, paid_cents=notice.paid_cents)
    elif kind == "checkout.session.completed":
        assert notice.subscription is not None and target is not None
        held = notice.subscription
        if _follow(acct, _at_checkout(held), target, catalogue, as_of=notice.created, deleted=False) and (
            held.status in USABLE_SUBSCRIPTION_STATUSES
        ):
            _grant(acct, target, held.period_start)
    elif kind.startswith("customer.subscription."):
        assert notice.subscription is not None and target is not None
        deleted = kind.endswith(".deleted")
        _follow(acct, notice.subscription, target, catalogue, as_of=notice.created, deleted=deleted)
    elif kind in ("invoice.paid", "invoice.payment_failed"):
        assert target is not None and target.plan is not None
        if notice.subscription_id and acct.follow_subscription(
            subscription_id=notice.subscription_id,
            plan=target.plan,
            period_ends_at=notice.period_end,
            as_of=notice.created,
        ):
            if kind == "invoice.paid":
                _grant(acct, target, notice.period_start)
            acct.set_subscription_status(
                subscription_id=notice.subscription_id,
                sub_status="active" if kind == "invoice.paid" else "past_due",
                as_of=notice.created,
            )
    elif kind == "charge.refunded":
        acct.refund_pack(purchase_id=notice.purchase_id, refunded_cents=notice.refunded_cents)
    return Applied("applied", str(acct.id))


def _account_of(unit: Unit, notice: Notice) -> Account | None:
    if notice.account_id:
        try:
            found = unit.find(Account, UUID(notice.account_id))
        except ValueError:
            found = None
        if found is not None and (not found.customer_id or found.customer_id == notice.customer_id):
            return found
    index = unit.find(BillingCustomer, customer_index_id(notice.customer_id)) if notice.customer_id else None
    return None if index is None else unit.find(Account, UUID(index.account_id))


def _price_target(notice: Notice, catalogue: PlanCatalogue) -> PriceTarget | str | None:
    """What the event's price buys; None if the event has no price; a reason (str) to ignore it."""
    if notice.pack_name:
        pack = catalogue.find_pack(notice.pack_name)
        return PriceTarget(pack=pack) if pack is not None else f"pack {notice.pack_name!r} is not sold"
    price_id = notice.subscription.price_id if notice.subscription is not None else notice.price_id
    if not price_id:
        return None
    target = catalogue.price(price_id)
    if target is None or target.plan is None:
        return f"price {price_id} is not a plan of the catalogue"
    return target


def _follow(
    acct: Account,
    sub: Subscription,
    target: PriceTarget,
    catalogue: PlanCatalogue,
    *,
    as_of: int,
    deleted: bool,
) -> bool:
    """Bring the account's subscription up to `sub`; False if it has ended (now or before)."""
    assert target.plan is not None
    if deleted or sub.status == "canceled":
        acct.end_subscription(subscription_id=sub.subscription_id, free_plan=catalogue.free, as_of=as_of)
        return False
    if not acct.follow_subscription(
        subscription_id=sub.subscription_id, plan=target.plan, period_ends_at=sub.period_end, as_of=as_of
    ):
        return False
    if sub.status not in IGNORED_STATUSES:
        acct.set_subscription_status(subscription_id=sub.subscription_id, sub_status=sub.status, as_of=as_of)
    return True


def _at_checkout(held: Subscription) -> Subscription:
    """The subscription as a checkout's event testifies to it at its own time.

    The session names its subscription, which is read from the provider when the event is delivered,
    perhaps long after: by then it may be past_due or unpaid in a later period. That status is newer
    than the event's timestamp, so it cannot stand with it (an older event applied next would undo
    it); at the checkout's time the first payment had just gone through. Nor is a current period
    that is not paid for granted (its invoice grants it when it is paid).
    """
    if held.status in ("past_due", "unpaid"):
        return replace(held, status="active")
    return held


def _grant(acct: Account, target: PriceTarget, period_start: str) -> None:
    assert target.plan is not None
    acct.grant_paid_period(period=period_start, amount_credits=target.plan.monthly_credits * target.months)
