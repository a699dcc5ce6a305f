"""Exactly once, whatever the delivery: Hypothesis tells a Stripe story (a subscription's checkout,
renewals paid or failed, status changes, packs bought and refunded, the end, a new subscription),
then delivers its events as Stripe may — each one to three times, out of order, runs of them held
up and delivered after the rest, some at once to two servers on one PostgreSQL database — with
spending in between. A plain model says what must result: each paid period's quota granted once
(never one older than a period granted already, never one not paid for), each pack once, refunds
taken back from what is left of a pack (also when the refund comes first), spending from the quota
first, then from packs; the status is the one of the newest event, and a replaced subscription's
late events change nothing. After every delivery the account equals the model, never goes below
zero and its status never moves back in time; after every story the views equal the model, each
event was applied by exactly one of its deliveries and the audit verifies; at the end
`mosaic audit verify` passes.

The default run is derandomized and bounded (`MOSAIC_BILLING_EXAMPLES`, 30 stories); a longer run:
`MOSAIC_BILLING_EXAMPLES=500 .venv/bin/pytest tests/http/test_billing_properties.py`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, note, settings

from mosaic.bootstrap import Services
from mosaic.cli import main
from mosaic.commands.stripe_events import iso
from mosaic.domain.accounts import Account
from mosaic.domain.errors import InsufficientCredits
from mosaic.queries.audit_log import verify_database
from tests.charging import capture, reserve
from tests.conftest import TEST_SECRET
from tests.fakes.stripe_server import MONTH_S, PERIOD_0, Delivery, FakeStripe, billing_env, serving, sign
from tests.http.billing_helpers import PLANS_FILE, WEBHOOK
from tests.http.conftest import AppClient, User, signed_in_user

EXAMPLES = int(os.environ.get("MOSAIC_BILLING_EXAMPLES", "30"))
STEPS_MAX = 7
QUOTA = 800  # the commercial plan's monthly credits (tests/fixtures/plans-stripe.toml)
FREE_QUOTA = 5
PACK_CREDITS, PACK_CENTS = 100, 999  # credits_100


# -- the story: what happens at Stripe --------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One thing that happens at Stripe after the first checkout, and so one event (two for
    "resubscribe": the session completed, and the first invoice).

    kind: "paid" (the next period's invoice paid), "failed" (the next period's payment failed;
    a later "paid" is its retry), "status" (customer.subscription.updated to `status`), "deleted"
    (the subscription ended), "resubscribe" (after it ended, a new subscription's checkout, paid,
    from the next period), "pack" (a pack bought), "refund" (pack number `pack`'s payment refunded
    `cents` in all)."""

    kind: str
    status: str = ""
    pack: int = 0
    cents: int = 0


@dataclass(frozen=True)
class Slot:
    """One moment of the delivery schedule: spend `spend` credits first (0: none), then deliver
    copies of the events `events` (indices into the story's events): one copy to one server, or
    two copies to both servers at once."""

    events: tuple[int, ...]
    servers: tuple[int, ...]
    spend: int = 0


@dataclass(frozen=True)
class Story:
    steps: tuple[Step, ...]
    slots: tuple[Slot, ...]
    spend_at_end: int


@st.composite
def stories(draw: st.DrawFn) -> Story:
    steps: list[Step] = []
    packs, refunded, status, live, subscriptions = 0, dict[int, int](), "active", True, 1
    for _ in range(draw(st.integers(0, STEPS_MAX))):
        refundable = [p for p in range(packs) if refunded.get(p, 0) < PACK_CENTS]
        if live:
            kinds = ["paid", "paid", "failed", "status", "deleted"]
        else:
            kinds = ["resubscribe"] * (3 if subscriptions == 1 else 0)
        kind = draw(st.sampled_from(kinds + ["pack"] + ["refund"] * (2 if refundable else 0)))
        if kind == "status":  # Stripe's own changes: unpaid once the retries of a failed payment ran out
            status = draw(st.sampled_from([status] + (["unpaid"] if status != "active" else [])))
            steps.append(Step(kind, status=status))
        elif kind == "pack":
            steps.append(Step(kind, pack=packs))
            packs += 1
        elif kind == "refund":
            pack = draw(st.sampled_from(refundable))
            cents = draw(st.sampled_from([PACK_CENTS, draw(st.integers(refunded.get(pack, 0) + 1, PACK_CENTS))]))
            refunded[pack] = cents
            steps.append(Step(kind, pack=pack, cents=cents))
        else:
            if kind in ("paid", "failed", "resubscribe"):
                status = "past_due" if kind == "failed" else "active"
            live = kind != "deleted"
            subscriptions += kind == "resubscribe"
            steps.append(Step(kind))
    # the first checkout's two events (the session completed, the first invoice), then one a step
    events = 2 + sum(2 if step.kind == "resubscribe" else 1 for step in steps)
    # each event's first delivery comes on time, a little late or after all the others; its repeats
    # later; and a run of events may be held up (the endpoint was down) and come after the rest, in any order
    held_from = draw(st.sampled_from([0, draw(st.integers(0, events))]))
    held = range(held_from, held_from + draw(st.integers(0, events - held_from)))
    copies = []
    for index in range(events):
        if index in held:
            first = events + draw(st.integers(0, events))
        else:
            first = index + draw(st.sampled_from([0, 0, 0, 1, 2, 3, events]))
        for repeat in range(draw(st.integers(1, 3))):
            copies.append((first + (draw(st.integers(0, 6)) if repeat else 0), draw(st.integers(0, 3)), index))
    copies.sort()
    slots: list[Slot] = []
    order = [index for _, _, index in copies]
    while order:
        spend = draw(st.sampled_from([0, 0, 0, 1, 37, 150, 420, 790]))
        how = draw(st.sampled_from(["one", "one", "both", "pair"]))
        if how == "pair" and len(order) >= 2:
            slots.append(Slot((order.pop(0), order.pop(0)), (0, 1), spend))
        elif how == "both":
            index = order.pop(0)
            slots.append(Slot((index, index), (0, 1), spend))
        else:
            slots.append(Slot((order.pop(0),), (draw(st.integers(0, 1)),), spend))
    return Story(tuple(steps), tuple(slots), draw(st.sampled_from([0, 5, 900])))


# -- the model: what must result ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """What one event tells, for the model: kind is the step's kind, or "checkout" (the subscription's
    session completed: the server reads the subscription as Stripe holds it when it is delivered) or
    "purchase" (a pack's session completed)."""

    kind: str
    created: int
    subscription: int = 0  # which of the story's subscriptions (1 or 2) it is about, if any
    period: int = 0  # an invoice's period; a status event's current period; a checkout's (fetched)
    status: str = ""
    purchase: str = ""
    cents: int = 0


@dataclass
class PackModel:
    remaining: int = PACK_CREDITS
    refunded_cents: int = 0
    asked_back: int = 0


@dataclass
class Model:
    available: int = FREE_QUOTA
    quota: int = FREE_QUOTA  # the unspent part of the last period's grant
    periods: list[int] = field(default_factory=list)  # paid periods granted, in order
    packs: dict[str, PackModel] = field(default_factory=dict)  # in order of purchase
    refunds_waiting: dict[str, int] = field(default_factory=dict)  # purchase -> cents, seen before it
    following: int = 0  # the subscription followed (0: none)
    ended: set[int] = field(default_factory=set)
    plan: str = "free"
    status: str = "active"
    as_of: int = 0
    period_end: int | None = None

    def apply(self, fact: Fact) -> None:
        kind = fact.kind
        if kind == "purchase":
            self._purchase(fact.purchase)
        elif kind == "refund":
            self._refund(fact.purchase, fact.cents)
        elif kind == "deleted" or (kind == "checkout" and fact.status == "canceled"):
            self._end(fact.subscription, fact.created)
        elif self._follow(fact.subscription, fact.period):
            # A checkout read its subscription as Stripe holds it when delivered, perhaps much later:
            # its current period is paid for only if it is active; and the status it testifies to
            # is the one of its own time, when the first payment went through.
            if kind == "paid" or (kind == "checkout" and fact.status == "active"):
                self._grant(fact.period)
            status = {"paid": "active", "failed": "past_due", "checkout": "active"}.get(kind, fact.status)
            if fact.created >= self.as_of:  # a status older than the newest one seen changes nothing
                self.status, self.as_of = status, fact.created

    def spend(self, credits: int) -> bool:
        if credits > self.available:
            return False
        self.available -= credits
        from_quota = min(self.quota, credits)
        self.quota -= from_quota
        beyond = credits - from_quota
        for pack in self.packs.values():
            take = min(pack.remaining, beyond)
            pack.remaining -= take
            beyond -= take
        assert beyond == 0
        return True

    def _follow(self, subscription: int, period: int) -> bool:
        if subscription in self.ended or subscription < self.following:
            return False  # a late event of a subscription that ended, or that a newer one replaced
        end = period + 1
        same = subscription == self.following and self.period_end is not None
        self.period_end = max(self.period_end or 0, end) if same else end
        self.following, self.plan = subscription, "commercial"
        return True

    def _grant(self, period: int) -> None:
        if period in self.periods or (self.periods and period < max(self.periods)):
            return  # once, and never a period older than one granted
        self._expire()
        self.periods.append(period)
        self.available += QUOTA
        self.quota = QUOTA

    def _expire(self) -> None:
        leftover = min(self.available, self.quota)
        self.available -= leftover
        self.quota -= leftover

    def _end(self, subscription: int, created: int) -> None:
        if subscription in self.ended:
            return
        self.ended.add(subscription)
        if subscription != self.following:
            return  # one never followed, or replaced by a newer one: nothing to undo
        self._expire()
        self.following, self.plan, self.period_end = 0, "free", None
        self.status, self.as_of = "canceled", max(created, self.as_of)

    def _purchase(self, purchase: str) -> None:
        if purchase in self.packs:
            return
        self.packs[purchase] = PackModel()
        self.available += PACK_CREDITS
        if purchase in self.refunds_waiting:  # its refund was delivered first
            self._refund(purchase, self.refunds_waiting.pop(purchase))

    def _refund(self, purchase: str, cents: int) -> None:
        pack = self.packs.get(purchase)
        if pack is None:
            self.refunds_waiting[purchase] = max(cents, self.refunds_waiting.get(purchase, 0))
            return
        if cents <= pack.refunded_cents:
            return
        asked = PACK_CREDITS * cents // PACK_CENTS - pack.asked_back
        taken = max(0, min(asked, pack.remaining, self.available))
        pack.remaining -= taken
        pack.asked_back += asked
        pack.refunded_cents = cents
        self.available -= taken


# -- the world: two servers on one database, a fake Stripe -------------------------------------------


@dataclass
class World:
    servers: list[Services]
    clients: list[AppClient]
    stripe: FakeStripe
    pool: ThreadPoolExecutor


@pytest.fixture
def world(
    make_services: Callable[..., Services], make_client: Callable[..., AppClient]
) -> Iterator[World]:
    with serving() as stripe, ThreadPoolExecutor(2) as pool:
        env = {"MOSAIC_PLANS_FILE": PLANS_FILE, **billing_env(stripe)}
        servers = [make_services(**env), make_services(**env)]
        yield World(servers, [make_client(s) for s in servers], stripe, pool)


def checkout(client: AppClient, user: User, **body: str) -> str:
    response = client.post("/api/billing/checkout", json=body, headers=user.auth)
    assert response.status_code == 200, response.text
    url: str = response.json()["url"]
    return url.rsplit("/", 1)[-1]


def tell(world: World, user: User, steps: tuple[Step, ...]) -> tuple[list[Delivery], list[Fact]]:
    """Make the story happen at the fake Stripe: its events, and what each tells the model."""
    stripe, client = world.stripe, world.clients[0]
    deliveries: list[Delivery] = []
    facts: list[Fact] = []
    subscriptions: list[str] = []
    checkouts: list[int] = []  # where each subscription's checkout is among the facts
    period, purchases = -1, []

    def told(delivery: Delivery, fact: Fact) -> None:
        deliveries.append(delivery)
        facts.append(replace(fact, created=_created(delivery), subscription=len(subscriptions)))

    def subscribe() -> None:
        nonlocal period
        period += 1
        session_id = checkout(client, user, plan="commercial")
        completed, first_invoice = stripe.complete_checkout(session_id, period=period)
        subscriptions.append(next(s for s in stripe.sessions if s["id"] == session_id)["subscription"])
        checkouts.append(len(facts))
        told(completed, Fact("checkout", 0))
        told(first_invoice, Fact("paid", 0, period=period))

    subscribe()
    for step in steps:
        subscription = subscriptions[-1]
        if step.kind == "resubscribe":
            subscribe()
        elif step.kind == "paid":
            period += 1
            told(stripe.invoice_event("invoice.paid", subscription, period=period), Fact("paid", 0, period=period))
        elif step.kind == "failed":
            delivery = stripe.invoice_event("invoice.payment_failed", subscription, period=period + 1)
            told(delivery, Fact("failed", 0, period=period + 1))
        elif step.kind == "status":
            delivery = stripe.subscription_event("customer.subscription.updated", subscription, status=step.status)
            now = _current_period(json.loads(delivery.payload)["data"]["object"])
            told(delivery, Fact("status", 0, period=now, status=step.status))
        elif step.kind == "deleted":
            delivery = stripe.subscription_event("customer.subscription.deleted", subscription, status="canceled")
            told(delivery, Fact("deleted", 0))
        elif step.kind == "pack":
            (delivery,) = stripe.complete_checkout(checkout(client, user, pack="credits_100"))
            purchases.append(stripe.sessions[-1]["payment_intent"])
            told(delivery, Fact("purchase", 0, purchase=purchases[-1]))
        else:
            delivery = stripe.refund_event(purchases[step.pack], amount=PACK_CENTS, refunded=step.cents)
            told(delivery, Fact("refund", 0, purchase=purchases[step.pack], cents=step.cents))
    # a session's subscription is read from Stripe when the event is delivered: as the story left it
    for where, subscription in zip(checkouts, subscriptions, strict=True):
        held = stripe.subscriptions[subscription]
        facts[where] = replace(facts[where], status=held["status"], period=_current_period(held))
    return deliveries, facts


def _current_period(subscription: dict[str, Any]) -> int:
    start: int = subscription["items"]["data"][0]["current_period_start"]
    return (start - PERIOD_0) // MONTH_S


def _created(delivery: Delivery) -> int:
    created: int = json.loads(delivery.payload)["created"]
    return created


def deliver(world: World, delivery: Delivery, server: int) -> str:
    # Stripe signs each delivery afresh
    response = world.clients[server].post(
        WEBHOOK, content=delivery.payload,
        headers={"Stripe-Signature": sign(delivery.payload), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, (delivery.event_type, response.text)
    outcome: str = response.json()["outcome"]
    return outcome


def applied_order(services: Services, account_id: uuid.UUID) -> list[str]:
    """The payment events applied to the account, in the order they were."""
    return [
        json.loads(stored.state)["event_id"]
        for stored in services.store.recorder.select_events(account_id)
        if stored.topic.endswith(".PaymentEventRecorded")
    ]


def spend(services: Services, account_id: uuid.UUID, credits: int) -> bool:
    request_id = uuid.uuid4()
    try:
        reserve(services, account_id, request_id, cost_credits=credits)
    except InsufficientCredits:
        return False
    capture(services, account_id, request_id)
    return True


class Run:
    """One story delivered, checked against the model after every slot."""

    def __init__(self, world: World, story: Story) -> None:
        self.world, self.story = world, story
        services = world.servers[0]
        self.user = signed_in_user(services, world.clients[0], plan="free")
        self.account_id = uuid.UUID(self.user.account_id)
        self.deliveries, self.facts = tell(world, self.user, story.steps)
        self.index = {d.event_id: i for i, d in enumerate(self.deliveries)}
        self.model = Model()
        self.outcomes: dict[str, list[str]] = {d.event_id: [] for d in self.deliveries}
        self.as_of_seen = 0

    def account(self) -> Account:
        account = self.world.servers[0].store.repository.get(self.account_id)
        assert isinstance(account, Account)
        return account

    def play(self) -> None:
        for number, slot in enumerate(self.story.slots):
            server = self.world.servers[number % 2]
            if slot.spend:
                assert spend(server, self.account_id, slot.spend) == self.model.spend(slot.spend)
            before = applied_order(server, self.account_id)
            sent = [self.deliveries[i] for i in slot.events]
            futures = [
                self.world.pool.submit(deliver, self.world, delivery, where)
                for delivery, where in zip(sent, slot.servers, strict=True)
            ]
            for delivery, future in zip(sent, futures, strict=True):
                self.outcomes[delivery.event_id].append(future.result())
            # two events at once are applied in the order the database let them be: the model follows it
            for event_id in applied_order(server, self.account_id)[len(before):]:
                self.model.apply(self.facts[self.index[event_id]])
            self.check_account()
        if self.story.spend_at_end:
            assert spend(self.world.servers[1], self.account_id, self.story.spend_at_end) == self.model.spend(
                self.story.spend_at_end
            )
        self.check_account()
        self.check_views()

    def check_account(self) -> None:
        account, model = self.account(), self.model
        assert account.available_credits == model.available >= 0
        assert account.quota_remaining_credits == model.quota
        assert account.subscription_as_of >= self.as_of_seen, "the status moved back in time"
        self.as_of_seen = account.subscription_as_of
        assert (account.sub_status, account.subscription_as_of) == (model.status, model.as_of)
        assert account.plan_name == model.plan
        paid = sorted(p for p in account.granted_periods if "T" in p)
        assert paid == [_period_key(p) for p in sorted(model.periods)]
        assert {p: pack.remaining_credits for p, pack in account.packs.items()} == {
            p: pack.remaining for p, pack in model.packs.items()
        }
        ends = "" if model.period_end is None else _period_key(model.period_end)
        assert account.period_ends_at == ends

    def check_views(self) -> None:
        for event_id, outcomes in self.outcomes.items():
            # every event applied by exactly one of its deliveries; the others acknowledged as repeats
            assert sorted(outcomes) == ["applied"] + ["duplicate"] * (len(outcomes) - 1), (event_id, outcomes)
        for services, client in zip(self.world.servers, self.world.clients, strict=True):
            services.runner.catch_up()
            response = client.get("/api/credits/balance", headers=self.user.auth)
            assert response.status_code == 200, response.text
            assert response.json() == {
                "balance": self.model.available,
                "monthly_quota": QUOTA if self.model.plan == "commercial" else FREE_QUOTA,
                "plan_name": self.model.plan,
                "sub_status": self.model.status,
            }
        lines = self.world.servers[0].views.statement(self.user.account_id, limit=500)
        running = 0
        for line in lines:
            running += line.delta_credits
            assert line.balance_after == running >= 0
        assert running == self.model.available
        report = verify_database(self.world.servers[0].db)
        assert report.ok, report.discrepancies


def _period_key(period: int) -> str:
    return iso(PERIOD_0 + period * MONTH_S)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_any_delivery_of_any_stripe_story_grants_what_the_model_grants_once(
    world: World, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @settings(
        max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(story=stories())
    def delivered(story: Story) -> None:
        note(f"the story and its deliveries: {story!r}")
        Run(world, story).play()

    delivered()
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("MOSAIC_")]:
            patch.delenv(name)
        patch.setenv("MOSAIC_DATABASE_URL", database_url)
        patch.setenv("MOSAIC_SECRET", TEST_SECRET)
        capsys.readouterr()
        status = main(["audit", "verify"])
        out, _ = capsys.readouterr()
    assert status == 0, out
    assert "audit OK" in out and "discrepancies: 0" in out
