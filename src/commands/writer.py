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

An aggregate that conflicted is contended: another process writes it too. The writer that lost
announces it to the others (`AggregateLocks`, on PostgreSQL), and for `CONTENDED_S` after the last
sign of another writer, each writer takes the aggregate's lock before using it, brings the cached
copy up to date with the events written since (a read of a few rows), and releases the lock once
its save has committed. Two writers on one hot account then take
turns instead of colliding: a conflict costs a reload from event zero (the aggregate in memory has
the failed group's events applied, and copying one to keep a clean spare costs as much as a replay),
and a long account's replay takes long enough for the other writer to commit again before it ends,
so without the lock the loser conflicts, reloads and conflicts again.
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
from mosaic.commands.store import AggregateLocks, LedgerStore
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
# An aggregate is written under its lock until this long after a conflict on it, or after the last
# time catching it up found events of another process. Long enough to outlast a burst of traffic,
# short enough that a process left alone soon saves the lock's round trips again.
CONTENDED_S = 10.0
CONTENDED_AGGREGATES_MAX = 10_000

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

    def __init__(
        self,
        store: LedgerStore,
        *,
        on_commit: Callable[[int], None] | None = None,
        locks: AggregateLocks | None = None,
    ) -> None:
        self.store = store
        self._on_commit = on_commit
        self._locks = locks
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=QUEUE_COMMANDS_MAX)
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._contended: dict[UUID, float] = {}  # aggregate id -> monotonic time it stops being
        self._locked = False  # whether the group running holds a lock
        # Counters for metrics: version conflicts retried, commits, commands committed, aggregates
        # replayed from event zero, contended aggregates caught up before use.
        self.retries = 0
        self.commits = 0
        self.commands = 0
        self.loads = 0
        self.catch_ups = 0
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
        if self._locks is not None:
            self._locks.close()

    # -- writer thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first] if first.future.set_running_or_notify_cancel() else []
            self._take_waiting(jobs)
            if not jobs:
                continue
            try:
                self._run_group(jobs)
            except BaseException as exc:  # a bug in the writer itself must not strand callers
                log.exception("ledger writer failed a group")
                self._unlock()
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _take_waiting(self, jobs: list[_Job]) -> None:
        """Append the commands waiting, up to BATCH_COMMANDS_MAX in all, less those withdrawn."""
        with contextlib.suppress(queue.Empty):
            while len(jobs) < BATCH_COMMANDS_MAX:
                job = self._queue.get_nowait()
                if job is None:
                    self._queue.put(None)
                    return
                if job.future.set_running_or_notify_cancel():
                    jobs.append(job)

    def _run_group(self, jobs: list[_Job]) -> None:
        """Run `jobs` and commit them together. `jobs` may grow: a group that waited for another
        writer's lock takes in the commands that arrived meanwhile (the caller sees them too)."""
        if self._locks is not None:
            self._contend(self._locks.announced())
        for attempt in range(CONFLICT_RETRIES_MAX + 1):
            unit = Unit(self)
            self._locked = False
            try:
                outcomes = [self._run_one(unit, job) for job in jobs]
                if self._locked:
                    # The lock is held until the save commits, and the other writer saves under it
                    # too: the fewer groups, the fewer turns, each a few round trips and a commit.
                    extra = len(jobs)
                    self._take_waiting(jobs)
                    outcomes += [self._run_one(unit, job) for job in jobs[extra:]]
            except _Poisoned:
                self._unlock()
                self._forget(unit.touched)
                if len(jobs) == 1:
                    return  # its future already holds the exception
                for job in jobs:  # isolate the faulty command: run each alone
                    if not job.future.done():
                        self._run_group([job])
                return
            written = [a.id for a in unit.touched.values() if a.pending_events]  # saving collects them
            try:
                position = self._save(unit.touched.values())
            except IntegrityError:
                self._unlock()
                self._forget(unit.touched)
                self._contend(written)
                if self._locks is not None:
                    self._locks.announce(written)
                self.retries += 1
                metrics.LEDGER_CONFLICTS.inc()
                backoff_s = min(CONFLICT_BACKOFF_CAP_S, CONFLICT_BACKOFF_BASE_S * 2**attempt)
                time.sleep(random.uniform(0, backoff_s))
                continue
            except OperationalError as exc:
                self._unlock()
                self._forget(unit.touched)
                log.warning("ledger group failed: %s", exc)  # the operator's; callers get no internals
                self._fail(jobs, LedgerBusy("the ledger database is busy or unreachable; retry shortly"))
                return
            self._unlock()  # committed: the other writer may go on before our callers hear back
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
        """`_load_from_store`, with a database that went away under the read a LedgerBusy (503)."""
        try:
            return self._load_from_store(aggregate_id)
        except (OperationalError, InterfaceError) as exc:
            log.warning("loading an aggregate failed: %s", exc)
            raise LedgerBusy("the ledger database is busy or unreachable; retry shortly") from None

    def _load_from_store(self, aggregate_id: UUID) -> tuple[Aggregate | None, bool]:
        """The aggregate, and whether it was just read from the store (so it is current).

        A contended aggregate is replayed (if not cached) before its lock is taken, so the other
        writer is not kept waiting through a long replay, then caught up under the lock.
        """
        aggregate: Aggregate | None = self._cache.get(aggregate_id)
        fresh = aggregate is None
        if aggregate is not None:
            self._cache.move_to_end(aggregate_id)
        else:
            try:
                aggregate = self.store.replay(aggregate_id)
            except AggregateNotFoundError:
                aggregate = None
            else:
                self.loads += 1
        if not self._is_contended(aggregate_id):
            return aggregate, fresh
        if self._locks is not None:
            # Not taken: go on unlocked, the store still arbitrates.
            self._locked = self._locks.acquire(aggregate_id) or self._locked
        if aggregate is None:
            try:
                aggregate = self.store.replay(aggregate_id)  # created meanwhile by the other writer?
            except AggregateNotFoundError:
                return None, True
        else:
            self._catch_up(aggregate_id, aggregate)  # clean: the cache holds only committed state
        return aggregate, True

    def _is_contended(self, aggregate_id: UUID) -> bool:
        until = self._contended.get(aggregate_id)
        if until is None:
            return False
        if time.monotonic() > until:
            del self._contended[aggregate_id]
            return False
        return True

    def _catch_up(self, aggregate_id: UUID, aggregate: Aggregate) -> None:
        version = aggregate.version
        self.store.replay(aggregate_id, into=aggregate)
        self.catch_ups += 1
        if aggregate.version != version:  # another process is still writing it
            self._contend([aggregate_id])

    def _contend(self, aggregate_ids: Iterable[UUID]) -> None:
        until = time.monotonic() + CONTENDED_S
        for aggregate_id in aggregate_ids:
            self._contended[aggregate_id] = until
        if len(self._contended) > CONTENDED_AGGREGATES_MAX:
            now = time.monotonic()
            self._contended = {i: t for i, t in self._contended.items() if t > now}

    def _unlock(self) -> None:
        if self._locks is not None:
            self._locks.release_all()

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
