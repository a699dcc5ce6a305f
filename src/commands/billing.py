"""Account owners' billing: what they pay for, Stripe Checkout and Portal sessions, and the webhook
through which Stripe's events become ledger events (`mosaic.commands.payments`).

Without Stripe configured every use case here is `BillingUnavailable` and nothing is written; plans
are then set by the admin CLI. Calls to Stripe are made before any command: a failing call writes
nothing, and a webhook that cannot be applied answers an error, so Stripe delivers it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal
from uuid import UUID

from mosaic.commands.ledger import Ledger
from mosaic.commands.payments import Applied
from mosaic.commands.stripe_events import Notice, read_event
from mosaic.commands.stripe_gateway import BillingUnavailable, StripeGateway
from mosaic.commands.writer import Committed
from mosaic.domain.errors import DomainError, ErrorKind, InvalidInput
from mosaic.domain.plans import Interval, Pack, Plan
from mosaic.queries.views import Views

log = logging.getLogger(__name__)

Settle = Callable[[Committed[Any]], None]


class NotForSale(DomainError):
    """A plan or pack that cannot be bought here (the free plan, or one without a Stripe price)."""

    kind = ErrorKind.INVALID_INPUT
    code = "not_for_sale"


class AlreadySubscribed(DomainError):
    kind = ErrorKind.CONFLICT
    code = "already_subscribed"


class NoBillingAccount(DomainError):
    """The portal needs a Stripe customer, made at the first checkout."""

    kind = ErrorKind.CONFLICT
    code = "no_billing_account"


@dataclass(frozen=True, slots=True)
class Overview:
    plan_name: str
    sub_status: str
    renews_at: str | None
    subscribed: bool  # a live Stripe subscription (managed in the portal)
    plans: list[Plan]
    packs: list[Pack]
    currency: str


class Billing:
    def __init__(
        self,
        *,
        ledger: Ledger,
        views: Views,
        settle: Settle,
        gateway: StripeGateway | None,
        public_url: str,
    ) -> None:
        self.ledger = ledger
        self.views = views
        self.settle = settle
        self.gateway = gateway
        self.public_url = public_url

    def _gateway(self) -> StripeGateway:
        if self.gateway is None:
            raise BillingUnavailable(
                "billing is not configured on this server (no MOSAIC_STRIPE_SECRET_KEY); "
                "plans are set by its operator"
            )
        return self.gateway

    def overview(self, *, account_id: str) -> Overview:
        self._gateway()
        balance = self.views.balance(account_id)
        assert balance is not None, "a signed-in user's account has a balance"
        billing = self.views.billing(account_id)
        catalogue = self.ledger.plans
        return Overview(
            plan_name=balance.plan_name,
            sub_status=balance.sub_status,
            renews_at=billing.period_ends_at or None,
            subscribed=bool(billing.subscription_id),
            plans=[plan for plan in catalogue.all() if plan.paid],
            packs=catalogue.packs(),
            currency=catalogue.currency,
        )

    def checkout(
        self,
        *,
        account_id: str,
        plan: str | None = None,
        pack: str | None = None,
        interval: Interval = "month",
    ) -> str:
        """The URL of a Stripe Checkout page for `plan` (a subscription) or `pack` (one payment)."""
        gateway = self._gateway()
        if (plan is None) == (pack is None):
            raise InvalidInput("name either a plan or a pack to buy")
        catalogue = self.ledger.plans
        billing = self.views.billing(account_id)
        if plan is not None:
            wanted = catalogue.get(plan)
            if not wanted.paid:
                raise NotForSale(f"the {wanted.title} plan needs no checkout")
            price_id = wanted.stripe_price(interval)
            if not price_id:
                raise NotForSale(f"the {wanted.title} plan is not on sale {_per(interval)} here")
            if billing.subscription_id:
                balance = self.views.balance(account_id)
                here = balance is not None and balance.plan_name == wanted.name
                raise AlreadySubscribed(
                    f"this account is subscribed to the {wanted.title} plan already"
                    if here
                    else "this account has a subscription: change plans in the billing portal"
                )
            mode: Literal["subscription", "payment"] = "subscription"
            metadata = {"plan": wanted.name}
        else:
            assert pack is not None
            bought = catalogue.pack(pack)
            price_id = bought.stripe_price
            if not price_id:
                raise NotForSale(f"the pack {bought.title!r} is not on sale here")
            mode, metadata = "payment", {"pack": bought.name}
        customer_id = billing.customer_id or self._new_customer(gateway, account_id)
        return gateway.checkout_url(
            mode=mode,
            customer_id=customer_id,
            price_id=price_id,
            account_id=account_id,
            metadata=metadata,
            success_url=f"{self.public_url}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{self.public_url}/billing/cancel",
        )

    def _new_customer(self, gateway: StripeGateway, account_id: str) -> str:
        owner = self.views.user_of_account(account_id)
        assert owner is not None, "every account has its owner"
        customer_id = gateway.create_customer(account_id=account_id, email=owner.email)
        committed = self.ledger.link_customer(account_id=UUID(account_id), customer_id=customer_id)
        self.settle(committed)
        return committed.value

    def portal(self, *, account_id: str) -> str:
        gateway = self._gateway()
        customer_id = self.views.billing(account_id).customer_id
        if not customer_id:
            raise NoBillingAccount("this account has no billing history yet: subscribe or buy a pack first")
        return gateway.portal_url(customer_id=customer_id, return_url=f"{self.public_url}/billing")

    def receive(self, payload: bytes, signature: str | None) -> Applied:
        """Apply one webhook delivery. A bad signature or body writes nothing (a 400); a repeat is
        acknowledged as a duplicate; an event for no account of ours, or of a type not handled, is
        acknowledged and ignored."""
        gateway = self._gateway()
        notice = read_event(gateway.verify(payload, signature))
        if not notice.handled:
            return Applied("ignored", note=f"{notice.event_type} is not an event this service acts on")
        if notice.event_type == "checkout.session.completed" and notice.subscription_id:
            # the session names its subscription; its period (the grant's key) is on the subscription
            notice = _with_subscription(notice, gateway)
        committed = self.ledger.apply_payment_event(notice)
        if committed.position is not None:
            self.settle(committed)
        applied = committed.value
        log.info(
            "stripe event %s (%s): %s %s", notice.event_id, notice.event_type, applied.outcome, applied.note
        )
        return applied


def _with_subscription(notice: Notice, gateway: StripeGateway) -> Notice:
    return replace(notice, subscription=gateway.subscription(notice.subscription_id))


def _per(interval: Interval) -> str:
    return "monthly" if interval == "month" else "annually"
