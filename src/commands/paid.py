"""Paid work (DESIGN rule 2): reserve → do the work → capture what succeeded, release the rest.

`Payments.pay_for(charges, work)` is the one way a route charges for work:

1. One ledger command reserves every charge of the request, all or none. A refusal (402, a busy
   ledger, a repeat of a request that was settled already) is raised as it is: nothing was charged.
2. `work(held)` runs. It returns `Done`: its value and the charges whose part of the work failed
   (a bulk request's unusable images). If it raises, every charge is released with the reason and
   `PaidWorkFailed` carries the cause.
3. One ledger command captures the charges that succeeded and releases the others, so a result is
   charged only once it exists, and all of it or none.

A release always runs, even when the client went away in the middle (the task is cancelled).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

import anyio
import anyio.to_thread

from mosaic.commands import credits
from mosaic.commands.generation import AlreadyCompleted, AlreadyReleased
from mosaic.commands.ledger import Ledger
from mosaic.commands.writer import Command, Committed, Unit
from mosaic.domain.accounts import Account
from mosaic.domain.errors import InsufficientCredits

T = TypeVar("T")

RELEASE_REASON_CHARS_MAX = 200


@dataclass(frozen=True, slots=True)
class Charge:
    account_id: UUID
    request_id: UUID
    tool: str
    cost_credits: int
    summary: str = ""  # the request's parameters, shown to support staff next to the charge


@dataclass(frozen=True, slots=True)
class Held:
    """The reservations of one request, in the order of its charges."""

    charges: tuple[Charge, ...]
    available_credits: int  # after reserving


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
    """The work failed after its credits were reserved; they were released. `cause` says why."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Payments:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def pay_for(self, charges: Sequence[Charge], work: Callable[[Held], Awaitable[Done[T]]]) -> Paid[T]:
        """Reserve `charges`, run `work`, settle (see the module docstring)."""
        held = await self._reserve(charges)
        try:
            done = await work(held)
        except Exception as exc:
            await self._release_all(held, failure_reason(exc))
            raise PaidWorkFailed(exc) from exc
        except BaseException as exc:  # cancelled: the client went away
            await self._release_all(held, failure_reason(exc))
            raise
        return await self._settle(held, done)

    async def pay_for_one(self, charge: Charge, work: Callable[[Held], Awaitable[T]]) -> Paid[T]:
        """`pay_for` of a single charge whose work either succeeds or raises."""

        async def whole(held: Held) -> Done[T]:
            return Done(await work(held))

        return await self.pay_for((charge,), whole)

    async def _reserve(self, charges: Sequence[Charge]) -> Held:
        assert charges and len({c.account_id for c in charges}) == 1, "one account per request"
        committed = await self._execute(ReserveCharges(tuple(charges)))
        return Held(tuple(charges), committed.value)

    async def _settle(self, held: Held, done: Done[T]) -> Paid[T]:
        assert all(0 <= index < len(held.charges) for index in done.failed)
        captured = [c for index, c in enumerate(held.charges) if index not in done.failed]
        released = [(held.charges[index], reason) for index, reason in done.failed.items()]
        command = SettleCharges(
            held.charges[0].account_id,
            captures=tuple(c.request_id for c in captured),
            releases=tuple((c.request_id, _clipped(reason)) for c, reason in released),
        )
        with anyio.CancelScope(shield=True):  # the result exists: record its charge, come what may
            committed = await self._execute(command)
        return Paid(done.value, sum(c.cost_credits for c in captured), committed.value)

    async def _release_all(self, held: Held, reason: str) -> None:
        command = SettleCharges(
            held.charges[0].account_id,
            captures=(),
            releases=tuple((c.request_id, _clipped(reason)) for c in held.charges),
        )
        with anyio.CancelScope(shield=True):
            await self._execute(command)

    async def _execute(self, command: Command[T]) -> Committed[T]:
        """Blocking ledger calls wait for a commit: run them on anyio's worker threads."""
        return await anyio.to_thread.run_sync(functools.partial(self.ledger.writer.execute, command))


@dataclass(frozen=True, slots=True)
class ReserveCharges:
    """Reserve every charge of one account: all of them, or none (the total is checked first).

    A repeat of a charge still reserved (a crashed first attempt) is taken over; one settled
    already is refused. Returns the credits available afterwards.
    """

    charges: tuple[Charge, ...]

    def __call__(self, unit: Unit) -> int:
        account = credits.account(unit, self.charges[0].account_id)
        fresh = []
        for charge in self.charges:
            state = account.request_state(charge.request_id)
            if state is None:
                fresh.append(charge)
            else:
                _refuse_settled_repeat(state)
        _check_affordable(account, sum(c.cost_credits for c in fresh))
        for charge in fresh:
            account.reserve(
                request_id=charge.request_id,
                tool=charge.tool,
                cost_credits=charge.cost_credits,
                summary=charge.summary,
            )
        return account.available_credits


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


def _refuse_settled_repeat(state: str) -> None:
    if state == "released":
        raise AlreadyReleased("this request failed earlier and its credits were released; use a new key")
    if state == "captured":
        raise AlreadyCompleted("this request was completed and charged earlier; its result has expired")
    assert state == "reserved", state


def failure_reason(exc: BaseException) -> str:
    """What a release says about the failure (on the customer's statement: a code, no details)."""
    if isinstance(exc, asyncio.CancelledError):
        return "the client went away before the result was ready"
    name: Any = getattr(exc, "code", None) or type(exc).__name__
    return f"generation failed: {name}"


def _clipped(reason: str) -> str:
    return reason[:RELEASE_REASON_CHARS_MAX]
