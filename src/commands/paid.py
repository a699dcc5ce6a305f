"""Paid work (docs/architecture.md, rule 2): reserve → do the work → capture what succeeded, release the rest.

`Payments.pay_for(charges, work)` is the one way a use case charges for work:

1. One ledger command reserves every charge of the request, all or none. A refusal (402, a busy
   ledger, a repeat of a request that was settled already) is raised as it is: nothing was charged.
2. `work(held)` runs. It returns `Done`: its value and the charges whose part of the work failed
   (a bulk request's unusable images). If it raises, every charge is released with the reason and
   `PaidWorkFailed` carries the cause. The work must end by `held.deadline`: a share of the
   reservation timeout counted from the reservation, so the rest of it is left for settling and the
   sweeper never releases credits under work still running (a single job's own timeout, counted from
   its submission right after the reservation, is within it; a bulk request enforces it itself).
3. One ledger command captures the charges that succeeded and releases the others, so a result is
   charged only once it exists, and all of it or none.

Settling is shielded from cancellation (a client that went away still gets its credits released),
and a busy ledger is retried `SETTLE_TRIES_MAX` times. A capture that still does not commit is
released instead (`PaidWorkFailed(LedgerBusy)`: a 503 to retry); if even the release does not
commit, the reservation stays open until the sweeper releases it (rule 3). Never charged without a
result, never lost.

Attempts. A request may be tried again after a failure that says "retry later" (a busy ledger or
upstream), and its Idempotency-Key is given back for that. Each attempt has its own ledger request
id, derived from the request's (`mosaic.commands.idempotency.attempt_request_id`): attempt 0 is the
request id itself, and the next attempt is the first one the ledger has not seen. An earlier attempt
left reserved (its capture and release never committed, or its server crashed) is released as
superseded in the same command that reserves the next one. So at most one attempt of a request is
ever open or captured: a request is charged at most once, and a repeat of one that was charged is
refused (`AlreadyCompleted`), except when it resumes a request whose server stopped between the
capture and keeping the answer (`mosaic.commands.idempotency.resuming`): then the charge captured
stands (`Held.paid_earlier`), the work is done again, and nothing more is charged for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, NamedTuple, TypeVar
from uuid import UUID

import anyio
import anyio.to_thread

from mosaic.commands import credits
from mosaic.commands.idempotency import attempt_request_id, resuming
from mosaic.commands.writer import Command, Committed, LedgerBusy, Unit, Writer
from mosaic.domain.accounts import Account
from mosaic.domain.errors import AlreadyCompleted, AlreadyReleased, Failure, InsufficientCredits

log = logging.getLogger(__name__)

T = TypeVar("T")

RELEASE_REASON_CHARS_MAX: Final = 200
ATTEMPTS_PER_REQUEST_MAX: Final = 16  # then the request counts as failed for good (`AlreadyReleased`)
SETTLE_TRIES_MAX: Final = 3  # tries of one capture or release when the ledger answers LedgerBusy
DRAIN_POLL_S: Final = 0.05
SETTLE_BACKOFF_S: Final = 0.05  # times the try number, between tries
SUPERSEDED_REASON: Final = "superseded: the request was tried again"



@dataclass(frozen=True, slots=True)
class Charge:
    account_id: UUID
    request_id: UUID  # the request's; each attempt reserves under `attempt_request_id(request_id, n)`
    tool: str
    cost_credits: int
    summary: str = ""  # the request's parameters, shown to support staff next to the charge


@dataclass(frozen=True, slots=True)
class Held:
    """The reservations of one request, in the order of its charges."""

    charges: tuple[Charge, ...]
    request_ids: tuple[UUID, ...]  # this attempt's, one per charge
    available_credits: int  # after reserving
    deadline: float  # on `anyio.current_time()`'s clock: the work must be done by then
    work_budget_s: float  # from the reservation to the deadline
    paid_earlier: frozenset[int] = frozenset()  # charges captured by an earlier attempt: not held

    def open_indexes(self) -> list[int]:
        """The charges reserved by this attempt, to capture or release."""
        return [index for index in range(len(self.charges)) if index not in self.paid_earlier]


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """What the work made, and why the part of each failed charge failed (by index into the charges)."""

    value: T
    failed: Mapping[int, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Paid(Generic[T]):
    """The work's value, what it cost and what the account has left (for X-Credits-* headers)."""

    value: T
    charged_credits: int
    remaining_credits: int


class PaidWorkFailed(Exception):
    """The work failed after its credits were reserved; they were released (or, with the ledger
    busy, left for the sweeper). `cause` says why."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Payments:
    def __init__(self, writer: Writer, *, work_budget_s: float) -> None:
        """`work_budget_s`: how long the work may take from the reservation on (see `Held.deadline`)."""
        assert work_budget_s > 0
        self.writer = writer
        self.work_budget_s = work_budget_s
        self.in_flight = 0  # paid requests between their reservation and their settlement

    async def drained(self, timeout_s: float) -> bool:
        """Wait until no paid request is between reservation and settlement (True), at most
        `timeout_s`: at shutdown, requests cancelled past the grace period are still releasing
        their credits, and the writer must outlive them."""
        with anyio.move_on_after(timeout_s):
            while self.in_flight:
                await anyio.sleep(DRAIN_POLL_S)
        return self.in_flight == 0

    async def pay_for(self, charges: Sequence[Charge], work: Callable[[Held], Awaitable[Done[T]]]) -> Paid[T]:
        """Reserve `charges`, run `work`, settle (see the module docstring)."""
        self.in_flight += 1
        try:
            held = await self._reserve(charges)
            try:
                done = await work(held)
            except Exception as exc:
                await self._release_all(held, failure_reason(exc))
                raise PaidWorkFailed(exc) from exc
            except BaseException as exc:  # cancelled: the client went away, or the server is stopping
                await self._release_all(held, failure_reason(exc))
                raise
            return await self._settle(held, done)
        finally:
            self.in_flight -= 1

    async def pay_for_one(self, charge: Charge, work: Callable[[Held], Awaitable[T]]) -> Paid[T]:
        """`pay_for` of a single charge whose work either succeeds or raises."""

        async def whole(held: Held) -> Done[T]:
            return Done(await work(held))

        return await self.pay_for((charge,), whole)

    async def _reserve(self, charges: Sequence[Charge]) -> Held:
        assert charges and len({c.account_id for c in charges}) == 1, "one account per request"
        deadline = anyio.current_time() + self.work_budget_s  # before the reservation: never later
        committed = await self._execute(ReserveCharges(tuple(charges), resumed=resuming()))
        reserved = committed.value
        return Held(
            tuple(charges), reserved.request_ids, reserved.available_credits, deadline, self.work_budget_s,
            reserved.paid_earlier,
        )

    async def _settle(self, held: Held, done: Done[T]) -> Paid[T]:
        assert all(0 <= index < len(held.charges) for index in done.failed)
        captured = [index for index in held.open_indexes() if index not in done.failed]
        releases = [
            (held.request_ids[index], _clipped(reason))
            for index, reason in done.failed.items() if index not in held.paid_earlier
        ]
        if failed_after_paying := held.paid_earlier & done.failed.keys():
            log.error("%d charge(s) captured earlier failed when done again", len(failed_after_paying))
        charged_credits = sum(held.charges[index].cost_credits for index in [*captured, *held.paid_earlier])
        if not captured and not releases:
            return Paid(done.value, charged_credits, held.available_credits)
        command = SettleCharges(
            held.charges[0].account_id,
            captures=tuple(held.request_ids[index] for index in captured),
            releases=tuple(releases),
        )
        try:
            committed = await self._settle_retrying(command)
        except Failure as exc:  # a ledger still busy, or a reservation the sweeper released already
            await self._release_all(held, f"not charged: the capture failed ({exc.code})")
            cause = exc
            if isinstance(exc, LedgerBusy):
                cause = LedgerBusy("the charge could not be recorded in time, so nothing was charged; retry")
            raise PaidWorkFailed(cause) from exc
        return Paid(done.value, charged_credits, committed.value)

    async def _release_all(self, held: Held, reason: str) -> None:
        """Release every reservation of `held`; if the ledger stays busy, the sweeper will (rule 3)."""
        command = SettleCharges(
            held.charges[0].account_id,
            captures=(),
            releases=tuple((held.request_ids[index], _clipped(reason)) for index in held.open_indexes()),
        )
        if not command.releases:
            return
        try:
            await self._settle_retrying(command)
        except LedgerBusy:
            log.error("%d reservation(s) left for the sweeper: the ledger stayed busy", len(command.releases))

    async def _settle_retrying(self, command: SettleCharges) -> Committed[int]:
        """Settling is never cancelled (the client going away must not leave credits reserved) and a
        busy ledger is retried a few times before the caller decides what to do without it."""
        with anyio.CancelScope(shield=True):
            for try_number in range(1, SETTLE_TRIES_MAX + 1):
                try:
                    return await self._execute(command)
                except LedgerBusy as exc:
                    if try_number == SETTLE_TRIES_MAX:
                        raise
                    log.warning("settling try %d of %d: %s", try_number, SETTLE_TRIES_MAX, exc)
                    await anyio.sleep(SETTLE_BACKOFF_S * try_number)
        raise AssertionError("unreachable")

    async def _execute(self, command: Command[T]) -> Committed[T]:
        """Blocking ledger calls wait for a commit: run them on anyio's worker threads."""
        return await anyio.to_thread.run_sync(functools.partial(self.writer.execute, command))


class Reserved(NamedTuple):
    request_ids: tuple[UUID, ...]  # this attempt's, one per charge (paid earlier: the captured one)
    paid_earlier: frozenset[int]
    available_credits: int


@dataclass(frozen=True, slots=True)
class ReserveCharges:
    """Reserve the next attempt of every charge of one account: all of them, or none.

    Decides everything before changing anything: each charge's next attempt (refusing a request
    that was charged, or has used up its attempts), the earlier attempts still open (superseded:
    released here), and whether the account can pay. `resumed` (see the module docstring): a charge
    captured earlier is not refused but left as it is, paid. Returns this attempt's request ids (a
    charge paid earlier: its captured attempt's), the indexes of the charges paid earlier, and the
    credits available afterwards.
    """

    charges: tuple[Charge, ...]
    resumed: bool = False

    def __call__(self, unit: Unit) -> Reserved:
        account = credits.account(unit, self.charges[0].account_id)
        attempts = [_next_attempt(account, charge, resumed=self.resumed) for charge in self.charges]
        paid_earlier = frozenset(index for index, attempt in enumerate(attempts) if attempt.captured)
        superseded = [attempt.open_id for attempt in attempts if attempt.open_id is not None]
        freed_credits = sum(account.reservations[str(open_id)].returned_credits for open_id in superseded)
        needed_credits = sum(c.cost_credits for i, c in enumerate(self.charges) if i not in paid_earlier)
        _check_affordable(account, needed_credits - freed_credits)
        for open_id in superseded:
            account.release(request_id=open_id, reason=SUPERSEDED_REASON)
        for charge, attempt in zip(self.charges, attempts, strict=True):
            if not attempt.captured:
                account.reserve(
                    request_id=attempt.request_id,
                    tool=charge.tool,
                    cost_credits=charge.cost_credits,
                    summary=charge.summary,
                )
        request_ids = tuple(attempt.request_id for attempt in attempts)
        return Reserved(request_ids, paid_earlier, account.available_credits)


@dataclass(frozen=True, slots=True)
class SettleCharges:
    """Capture `captures` and release `releases` (request id, reason) of one account, in one commit.

    A release of a reservation released already (by the sweeper) changes nothing. Returns the credits
    available afterwards.
    """

    account_id: UUID
    captures: tuple[UUID, ...]
    releases: tuple[tuple[UUID, str], ...]

    def __call__(self, unit: Unit) -> int:
        account = credits.account(unit, self.account_id)
        for request_id in self.captures:
            account.capture(request_id=request_id)
        for request_id, reason in self.releases:
            account.release(request_id=request_id, reason=reason)
        return account.available_credits


def _check_affordable(account: Account, needed_credits: int) -> None:
    if needed_credits > account.available_credits:
        raise InsufficientCredits(available_credits=account.available_credits, needed_credits=needed_credits)


@dataclass(frozen=True, slots=True)
class _Attempt:
    request_id: UUID  # the attempt to reserve, or (`captured`) the one that was charged
    open_id: UUID | None = None  # an earlier attempt still reserved: superseded
    captured: bool = False


def _next_attempt(account: Account, charge: Charge, *, resumed: bool) -> _Attempt:
    """The charge's next attempt, and an earlier attempt still open (if any); `resumed`: or the
    attempt that was captured, which a request charged already answers with."""
    open_id = None
    for attempt in range(ATTEMPTS_PER_REQUEST_MAX):
        request_id = attempt_request_id(charge.request_id, attempt)
        state = account.request_state(request_id)
        if state is None:
            return _Attempt(request_id, open_id)
        if state == "captured":
            if resumed:
                return _Attempt(request_id, captured=True)
            raise AlreadyCompleted(
                "this request was completed and charged earlier, and its result is no longer kept; "
                "use a new Idempotency-Key"
            )
        if state == "reserved":
            assert open_id is None, "an attempt is reserved only once every earlier one is settled"
            open_id = request_id
    raise AlreadyReleased(
        f"this request failed {ATTEMPTS_PER_REQUEST_MAX} times (its credits were released each time); "
        "use a new Idempotency-Key"
    )


def failure_reason(exc: BaseException) -> str:
    """What a release says about the failure (on the customer's statement: a code, no details)."""
    if isinstance(exc, asyncio.CancelledError):
        return "the client went away before the result was ready"
    name: Any = getattr(exc, "code", None) or type(exc).__name__
    return f"generation failed: {name}"


def _clipped(reason: str) -> str:
    return reason[:RELEASE_REASON_CHARS_MAX]
