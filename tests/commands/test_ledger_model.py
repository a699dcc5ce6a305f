"""Hypothesis: random command sequences against a plain model never break a rule, and the views
always equal a fold of the events, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mosaic.bootstrap import Services, build
from mosaic.commands.idempotency import attempt_request_id
from mosaic.commands.paid import ATTEMPTS_PER_REQUEST_MAX, Charge, ReserveCharges, SettleCharges
from mosaic.domain.accounts import Account
from mosaic.domain.errors import (
    AlreadyCompleted,
    AlreadyReleased,
    ChargeNotFound,
    InsufficientCredits,
    RefundExceedsCharge,
    ReservationNotOpen,
)
from tests.conftest import both_backends, settings_for

RESERVATION_TIMEOUT = timedelta(minutes=15)


class Clock:
    """Now, plus the months and minutes the test lets pass (events carry real timestamps)."""

    def __init__(self) -> None:
        self.origin = datetime.now(UTC)
        self.month = 0
        self.minutes = 0

    def __call__(self) -> datetime:
        # 31 days always lands in a later calendar month: each `next_month` is a new period.
        return self.origin + timedelta(days=31 * self.month, minutes=self.minutes)


@pytest.fixture
def shared(database_url: str) -> Iterator[tuple[Services, Clock]]:
    clock = Clock()
    services = build(settings_for(database_url), background=False, clock=clock)
    yield services, clock
    services.close()


class LedgerModel(RuleBasedStateMachine):
    """Paid requests go through the commands `Payments` sends (`ReserveCharges`, `SettleCharges`):
    a request's attempts each have their own ledger id; a request tried again reserves its next
    attempt, superseding (releasing) one still open, and is refused once one was captured."""

    services: Services
    clock: Clock

    def __init__(self) -> None:
        super().__init__()
        self.clock.origin, self.clock.month, self.clock.minutes = datetime.now(UTC), 0, 0
        email = f"m{uuid.uuid4().hex[:10]}@example.com"
        committed = self.services.ledger.register_user(
            email=email, password="correct horse battery", plan_name="commercial"
        )
        self.account_id = committed.value.account_id
        self.settled = 800
        self.quota_left = 800
        self.attempts: dict[uuid.UUID, list[uuid.UUID]] = {}  # request → its attempts' ids, in order
        self.reserved: dict[uuid.UUID, int] = {}  # attempt → cost, in the order reserved
        # attempts open when a period started → how much of an ended period's quota each holds
        # (its capture spends them, its release expires them; nothing held outlives its period)
        self.spanning: dict[uuid.UUID, int] = {}
        self.durable = 0  # credits granted that never expire (refunds, goodwill)
        self.charges: dict[uuid.UUID, list[int]] = {}  # captured attempt → [cost, refunded]
        # Ordered by when each came to be (dicts as ordered sets): a replayed example must draw from
        # the same lists, and random ids sorted anew each run would not be (Hypothesis: flaky).
        self.released: dict[uuid.UUID, None] = {}

    @property
    def available(self) -> int:
        return self.settled - sum(self.reserved.values())

    def _reserve(self, request_id: uuid.UUID, cost: int) -> tuple[uuid.UUID, ...]:
        """The attempt ids reserved; checks the credits the command says are left against the model's."""
        before = self.available
        charge = Charge(self.account_id, request_id, "cbn", cost)
        attempt_ids, _, available = self.services.writer.execute(ReserveCharges((charge,))).value
        freed = sum(self._returned(a) for a in self.attempts.get(request_id, []))
        assert available == before + freed - cost
        return attempt_ids

    def _returned(self, attempt: uuid.UUID) -> int:
        """What releasing `attempt` makes available again: its ended period's credits expire."""
        return self.reserved.get(attempt, 0) - self.spanning.get(attempt, 0)

    def _released(self, attempt: uuid.UUID) -> None:
        self.reserved.pop(attempt)
        self.settled -= self.spanning.pop(attempt, 0)
        self.released[attempt] = None

    @rule(cost=st.integers(1, 60))
    def reserve(self, cost: int) -> None:
        request_id = uuid.uuid4()
        try:
            attempt_ids = self._reserve(request_id, cost)
        except InsufficientCredits:
            assert cost > self.available
            return
        assert cost <= self.available and attempt_ids == (request_id,)
        self.reserved[request_id] = cost
        self.attempts[request_id] = [request_id]

    @precondition(lambda self: self.attempts)
    @rule(data=st.data(), cost=st.integers(1, 60))
    def a_request_tried_again_reserves_its_next_attempt_or_is_refused_once_charged(
        self, data: st.DataObject, cost: int
    ) -> None:
        request_id = data.draw(st.sampled_from(list(self.attempts)))
        attempts = self.attempts[request_id]
        last = attempts[-1]
        before = self.available
        if last in self.charges:
            with pytest.raises(AlreadyCompleted):
                self._reserve(request_id, cost)
            assert self.available == before
            return
        freed = self._returned(last)
        if len(attempts) == ATTEMPTS_PER_REQUEST_MAX:
            with pytest.raises(AlreadyReleased):
                self._reserve(request_id, cost)
            return
        if cost - freed > before:
            with pytest.raises(InsufficientCredits):
                self._reserve(request_id, cost)
            assert self.available == before
            return
        next_id = attempt_request_id(request_id, len(attempts))
        assert self._reserve(request_id, cost) == (next_id,)
        if last in self.reserved:  # the open attempt is superseded: released in the same command
            self._released(last)
        self.reserved[next_id] = cost
        attempts.append(next_id)

    @rule()
    def the_sweeper_releases_what_outlived_its_timeout(self) -> None:
        self.clock.minutes += int(RESERVATION_TIMEOUT.total_seconds() // 60) + 1
        released = self.services.sweeper.sweep()
        assert released >= len(self.reserved)  # other examples' accounts share the database
        for request_id in list(self.reserved):
            self._released(request_id)

    @precondition(lambda self: self.reserved)
    @rule(data=st.data())
    def capture(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(list(self.reserved)))
        self._settle(captures=(request_id,))
        cost = self.reserved.pop(request_id)
        self.settled -= cost
        if request_id in self.spanning:  # spends its ended period's credits, the rest never expire
            self.spanning.pop(request_id)
        else:
            self.quota_left = max(0, self.quota_left - cost)
        self.charges[request_id] = [cost, 0]

    @precondition(lambda self: self.reserved)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(list(self.reserved)))
        self._settle(releases=((request_id, "failed"),))
        self._released(request_id)

    @precondition(lambda self: self.released)
    @rule(data=st.data())
    def releasing_a_released_attempt_again_changes_nothing(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(list(self.released)))
        position = self.services.store.recorder.max_notification_id()
        assert self._settle(releases=((request_id, "late"),)) == self.available
        assert self.services.store.recorder.max_notification_id() == position

    def _settle(
        self, *, captures: tuple[uuid.UUID, ...] = (), releases: tuple[tuple[uuid.UUID, str], ...] = ()
    ) -> int:
        return self.services.writer.execute(SettleCharges(self.account_id, captures=captures, releases=releases)).value

    @precondition(lambda self: self.released or self.charges)
    @rule(data=st.data())
    def settling_the_other_way_is_refused(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from([*self.released, *self.charges]))
        with pytest.raises(ReservationNotOpen):
            if request_id in self.released:
                self._settle(captures=(request_id,))
            else:
                self._settle(releases=((request_id, "late"),))

    @rule(data=st.data(), amount=st.integers(1, 70))
    def refund(self, data: st.DataObject, amount: int) -> None:
        candidates = [*self.charges, uuid.uuid4()]
        charge_id = data.draw(st.sampled_from(candidates))
        try:
            self.services.ledger.refund(
                account_id=self.account_id, charge_id=charge_id, amount_credits=amount, reason="r", issued_by="s"
            )
        except ChargeNotFound:
            assert charge_id not in self.charges
            return
        except RefundExceedsCharge:
            cost, refunded = self.charges[charge_id]
            assert amount > cost - refunded
            return
        self.charges[charge_id][1] += amount
        assert self.charges[charge_id][1] <= self.charges[charge_id][0]
        self.settled += amount
        self.durable += amount

    @rule(amount=st.integers(1, 100))
    def goodwill(self, amount: int) -> None:
        self.services.ledger.grant_credits(account_id=self.account_id, amount_credits=amount, reason="sorry", issued_by="s")
        self.settled += amount
        self.durable += amount

    @rule()
    def next_month(self) -> None:
        self.clock.month += 1
        assert self.services.ledger.start_period(account_id=self.account_id).value is True
        assert self.services.ledger.start_period(account_id=self.account_id).value is False
        # the quota is spent first, so the attempts reserved in the period hold it first, oldest first;
        # what none holds expires, what they hold stays theirs and never becomes the new period's
        left = self.quota_left
        for attempt, cost in self.reserved.items():
            if attempt not in self.spanning:
                self.spanning[attempt] = take = min(left, cost)
                left -= take
        self.settled -= min(self.available, left)
        self.settled += 800
        self.quota_left = 800

    @invariant()
    def the_aggregate_agrees_with_the_model_and_never_goes_negative(self) -> None:
        account = self.services.store.repository.get(self.account_id)
        assert isinstance(account, Account)
        assert account.available_credits == self.available >= 0
        assert account.reserved_credits == sum(self.reserved.values())

    @invariant()
    def no_credit_outlives_its_period(self) -> None:
        """Independent of how reservations hold credits: the balance is at most this period's
        quota, what never expires, and what open reservations hold."""
        account = self.services.store.repository.get(self.account_id)
        assert isinstance(account, Account)
        assert account.balance_credits <= 800 + self.durable + sum(self.reserved.values())

    @invariant()
    def the_balance_view_agrees_once_caught_up(self) -> None:
        self.services.runner.catch_up()
        balance = self.services.views.balance(str(self.account_id))
        assert balance is not None and balance.balance == self.available

    def teardown(self) -> None:
        self.services.runner.catch_up()
        lines = self.services.views.statement(str(self.account_id), limit=500)
        running = 0
        for line in lines:
            running += line.delta_credits
            assert line.balance_after == running >= 0
        assert running == self.available


@both_backends()
def test_random_command_sequences_keep_every_rule(shared: tuple[Services, Clock]) -> None:
    LedgerModel.services, LedgerModel.clock = shared
    LedgerModel.TestCase.settings = settings(
        max_examples=30, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    LedgerModel.TestCase().runTest()
    before = shared[0].views.dump()
    shared[0].runner.rebuild()
    assert shared[0].views.dump() == before
