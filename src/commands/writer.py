"""One writer per process: commands are applied one at a time and committed in groups.

Callers submit a command (a function of a `Unit`) and wait for its outcome. The writer thread takes
every command waiting (up to `BATCH_COMMANDS_MAX`), runs them in order against aggregates it keeps in
memory, and saves all their events in one transaction: one commit (one fsync) for many commands, and
no version conflicts between commands of this process, because they never overlap. A command is
answered only after its transaction commits.

Across processes the event store's (originator_id, version) key is the arbiter: a conflicting save
raises `IntegrityError`; the writer forgets the aggregates of that group, reloads them and re-runs the
group, so no conflict reaches a caller (after `CONFLICT_RETRIES_MAX` it answers `LedgerBusy`, a 503).
A command refused by a rule on an aggregate that might be stale (cached, and another process may
have written since) is re-checked once against the stored events before the refusal stands.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

from mosaic.commands import metrics
from mosaic.commands.store import LedgerStore
from mosaic.domain.errors import DomainError, ErrorKind, Failure

log = logging.getLogger(__name__)

BATCH_COMMANDS_MAX = 256
QUEUE_COMMANDS_MAX = 10_000
CACHE_AGGREGATES_MAX = 20_000
CONFLICT_RETRIES_MAX = 20
# After the n-th conflict in a row, wait a random time up to min(cap, base * 2**n): two processes
# that keep colliding on one hot account spread apart quickly instead of retrying in step.
CONFLICT_BACKOFF_BASE_S = 0.001
CONFLICT_BACKOFF_CAP_S = 0.1
COMMAND_TIMEOUT_S = 30.0

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)


class LedgerBusy(Failure):
    """The ledger could not commit in time (lock timeout, or conflicts kept recurring)."""

    kind = ErrorKind.UNAVAILABLE
    code = "ledger_busy"


@dataclass(frozen=True, slots=True)
class Committed(Generic[T]):
    """A command's result and the log position its caller can wait for (None: nothing written)."""

    value: T
    position: int | None


Command = Callable[["Unit"], T]


class _Job:
    __slots__ = ("command", "future")

    def __init__(self, command: Command[Any]) -> None:
        self.command = command
        self.future: Future[Committed[Any]] = Future()


class _Poisoned(Exception):
    """A command failed after changing aggregates: their state in memory cannot be trusted."""


class Unit:
    """What a command sees: aggregates by id (cached or loaded) and new ones to save."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self.touched: dict[UUID, Aggregate] = {}
        self.fresh: set[UUID] = set()  # loaded from the store during this attempt
        # The aggregates the running command has been given, with their pending events then
        # (-1: created by it): the only ones it can have changed.
        self._given: dict[UUID, int] = {}

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        aggregate = self.touched.get(aggregate_id)
        if aggregate is None:
            aggregate, fresh = self._writer._load(aggregate_id)
            if aggregate is None:
                return None
            self.touched[aggregate_id] = aggregate
            if fresh:
                self.fresh.add(aggregate_id)
        if not isinstance(aggregate, cls):
            return None  # an id of another kind of aggregate (a client's mix-up): not found
        if aggregate_id not in self._given:
            self._given[aggregate_id] = len(aggregate.pending_events)
        return aggregate

    def add(self, aggregate: Aggregate) -> None:
        assert aggregate.id not in self.touched
        self.touched[aggregate.id] = aggregate
        self.fresh.add(aggregate.id)
        self._given[aggregate.id] = -1

    def _begin_command(self) -> None:
        self._given = {}

    def _command_changed(self) -> bool:
        """Whether the running command has changed any aggregate (left events pending)."""
        return any(len(self.touched[i].pending_events) != n for i, n in self._given.items())

    def _refresh_stale(self) -> bool:
        """Fast-forward cached aggregates with no pending events; True if any was stale."""
        stale = False
        for aggregate_id, aggregate in list(self.touched.items()):
            if aggregate_id in self.fresh or aggregate.pending_events:
                continue
            version = aggregate.version
            self._writer.store.replay(aggregate_id, into=aggregate)
            stale = stale or aggregate.version != version
            self.fresh.add(aggregate_id)
        return stale


class Writer:
    """The process's single writer thread (see the module docstring)."""

    def __init__(self, store: LedgerStore, *, on_commit: Callable[[int], None] | None = None) -> None:
        self.store = store
        self._on_commit = on_commit
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=QUEUE_COMMANDS_MAX)
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self.retries = 0
        self.commits = 0
        self.commands = 0
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    # -- caller side ---------------------------------------------------------------------------

    def submit(self, command: Command[T]) -> Future[Committed[T]]:
        job = _Job(command)
        try:
            self._queue.put(job, timeout=COMMAND_TIMEOUT_S)
        except queue.Full:
            metrics.LEDGER_BUSY.inc()
            raise LedgerBusy("the ledger's queue is full; retry shortly") from None
        return job.future

    def execute(self, command: Command[T]) -> Committed[T]:
        """Run `command` and wait for its commit; domain errors are raised here.

        A command the writer has not started within COMMAND_TIMEOUT_S is withdrawn (it will never
        commit) and answered LedgerBusy; one already running is waited for, since its outcome stands.
        """
        future = self.submit(command)
        try:
            return future.result(timeout=COMMAND_TIMEOUT_S)
        except TimeoutError:
            if future.cancel():
                raise LedgerBusy("the ledger did not reach this command in time; nothing written") from None
            return future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=COMMAND_TIMEOUT_S)

    # -- writer thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            with contextlib.suppress(queue.Empty):
                while len(jobs) < BATCH_COMMANDS_MAX:
                    job = self._queue.get_nowait()
                    if job is None:
                        self._queue.put(None)
                        break
                    jobs.append(job)
            jobs = [job for job in jobs if job.future.set_running_or_notify_cancel()]  # drop withdrawn
            if not jobs:
                continue
            try:
                self._run_group(jobs)
            except BaseException as exc:  # a bug in the writer itself must not strand callers
                log.exception("ledger writer failed a group")
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _run_group(self, jobs: list[_Job]) -> None:
        for attempt in range(CONFLICT_RETRIES_MAX + 1):
            unit = Unit(self)
            try:
                outcomes = [self._run_one(unit, job) for job in jobs]
            except _Poisoned:
                self._forget(unit.touched)
                if len(jobs) == 1:
                    return  # its future already holds the exception
                for job in jobs:  # isolate the faulty command: run each alone
                    if not job.future.done():
                        self._run_group([job])
                return
            try:
                position = self._save(unit.touched.values())
            except IntegrityError:
                self._forget(unit.touched)
                self.retries += 1
                metrics.LEDGER_CONFLICTS.inc()
                backoff_s = min(CONFLICT_BACKOFF_CAP_S, CONFLICT_BACKOFF_BASE_S * 2**attempt)
                time.sleep(random.uniform(0, backoff_s))
                continue
            except OperationalError as exc:
                self._forget(unit.touched)
                log.warning("ledger group failed: %s", exc)  # the operator's; callers get no internals
                self._fail(jobs, LedgerBusy("the ledger database is busy or unreachable; retry shortly"))
                return
            self._remember(unit.touched)
            self.commits += 1
            self.commands += len(jobs)
            metrics.LEDGER_GROUP_SIZE.observe(len(jobs))
            for job, (ok, value) in zip(jobs, outcomes, strict=True):
                if ok:
                    job.future.set_result(Committed(value, position))
                else:
                    job.future.set_exception(value)
            if position is not None and self._on_commit is not None:
                self._on_commit(position)
            return
        self._fail(jobs, LedgerBusy("too many concurrent changes to the same account; retry"))

    def _run_one(self, unit: Unit, job: _Job) -> tuple[bool, Any]:
        for recheck in (False, True):
            unit._begin_command()
            try:
                return True, job.command(unit)
            except DomainError as exc:
                if unit._command_changed():
                    job.future.set_exception(exc)
                    raise _Poisoned from exc
                if recheck or not unit._refresh_stale():
                    return False, exc
            except Exception as exc:
                if unit._command_changed():
                    job.future.set_exception(exc)
                    raise _Poisoned from exc
                return False, exc
        raise AssertionError("unreachable")

    def _save(self, aggregates: Iterable[Aggregate]) -> int | None:
        changed = [a for a in aggregates if a.pending_events]
        events = [event for a in changed for event in a.pending_events]
        position = self.store.record(changed)
        metrics.count_credit_movements(events)  # only once committed
        return position

    def _load(self, aggregate_id: UUID) -> tuple[Aggregate | None, bool]:
        cached = self._cache.get(aggregate_id)
        if cached is not None:
            self._cache.move_to_end(aggregate_id)
            return cached, False
        try:
            return self.store.replay(aggregate_id), True
        except AggregateNotFoundError:
            return None, True
        except (OperationalError, InterfaceError) as exc:  # the database went away under the read
            log.warning("loading an aggregate failed: %s", exc)
            raise LedgerBusy("the ledger database is busy or unreachable; retry shortly") from None

    def _remember(self, touched: dict[UUID, Aggregate]) -> None:
        for aggregate_id, aggregate in touched.items():
            self._cache[aggregate_id] = aggregate
            self._cache.move_to_end(aggregate_id)
        while len(self._cache) > CACHE_AGGREGATES_MAX:
            self._cache.popitem(last=False)

    def _forget(self, touched: dict[UUID, Aggregate]) -> None:
        for aggregate_id in touched:
            self._cache.pop(aggregate_id, None)

    def _fail(self, jobs: list[_Job], exc: Exception) -> None:
        if isinstance(exc, LedgerBusy):
            metrics.LEDGER_BUSY.inc(len(jobs))
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(exc)
