"""Audit: replay the whole log with no use of the domain code or the projections, check every rule,
recompute the chain, and compare with the chain table, the live views and a signed digest.

The fold here is deliberately a second, plain implementation of the credit rules: if the domain
code ever let a rule slip, the auditor's replay is what notices.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mosaic.queries.chain import GENESIS, canonical, chain_step

ACCOUNT = "mosaic.domain.accounts:Account."
KEY = "mosaic.domain.keys:ApiKey."
GRANT_NAMESPACE = uuid.UUID("8a7f2c1e-43b5-4e0a-9c77-0d6f3f7c2b10")  # = domain.accounts, restated
DISCREPANCIES_KEPT_MAX = 1_000


@dataclass(frozen=True, slots=True)
class LogEvent:
    position: int
    aggregate: str
    version: int
    topic: str
    body: dict[str, Any]

    def canonical(self) -> bytes:
        return canonical(
            position=self.position,
            aggregate=self.aggregate,
            version=self.version,
            topic=self.topic,
            body=self.body,
        )


@dataclass(slots=True)
class AccountState:
    settled: int = 0
    reserved_credits: int = 0
    reserved: dict[str, int] = field(default_factory=dict)
    charges: dict[str, list[int]] = field(default_factory=dict)  # charge id -> [cost, refunded]
    released: set[str] = field(default_factory=set)
    periods: set[str] = field(default_factory=set)
    refund_ids: set[str] = field(default_factory=set)

    @property
    def available(self) -> int:
        return self.settled - self.reserved_credits


@dataclass(frozen=True, slots=True)
class ExpectedViews:
    """What the live views must hold once they have folded the log up to `position`."""

    position: int
    balances: dict[str, tuple[int, int]]  # account id -> (settled, reserved)
    charges: dict[str, tuple[int, int]]  # charge id -> (cost, refunded)
    keys_revoked: dict[str, bool]


@dataclass
class Report:
    events: int = 0
    accounts: int = 0
    keys: int = 0
    head_position: int = 0
    head_hash: str = GENESIS.hex()
    discrepancies: list[tuple[int, str]] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # claims asked for that could not be checked
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def problem(self, position: int, message: str) -> None:
        if len(self.discrepancies) < DISCREPANCIES_KEPT_MAX:
            self.discrepancies.append((position, message))

    @property
    def ok(self) -> bool:
        """Everything asked for was checked and holds."""
        return not self.discrepancies and not self.unverified

    @property
    def first_bad_position(self) -> int | None:
        return min(p for p, _ in self.discrepancies) if self.discrepancies else None


class Replay:
    """Folds log events in order, checking the ledger's rules and extending the chain."""

    def __init__(self) -> None:
        self.accounts: dict[str, AccountState] = {}
        self.keys_revoked: dict[str, bool] = {}
        self.versions: dict[str, int] = {}
        self.chain: dict[int, str] = {}
        self.report = Report()
        self._previous = GENESIS
        self._last_position = 0
        self.kept_hash: str | None = None  # the recomputed hash at `keep_hash_at`, if that position exists
        self.expected_views: ExpectedViews | None = None  # the state at `views_at`, if asked for

    def views_now(self) -> ExpectedViews:
        return ExpectedViews(
            position=self._last_position,
            balances={a: (state.settled, state.reserved_credits) for a, state in self.accounts.items()},
            charges={
                charge_id: (cost, refunded)
                for state in self.accounts.values()
                for charge_id, (cost, refunded) in state.charges.items()
            },
            keys_revoked=dict(self.keys_revoked),
        )

    def feed(self, event: LogEvent) -> bytes:
        report = self.report
        report.events += 1
        if event.position <= self._last_position:
            report.problem(event.position, "positions out of order")
        self._last_position = event.position
        expected_version = self.versions.get(event.aggregate, 0) + 1
        if event.version != expected_version:
            report.problem(
                event.position,
                f"aggregate {event.aggregate} jumps to version {event.version}, expected {expected_version}",
            )
        self.versions[event.aggregate] = event.version
        if event.topic.startswith(ACCOUNT):
            self._account(event, event.topic[len(ACCOUNT) :])
        elif event.topic.startswith(KEY):
            self.keys_revoked.setdefault(event.aggregate, False)
            if event.topic.endswith(".Revoked"):
                self.keys_revoked[event.aggregate] = True
        self._previous = chain_step(self._previous, event.canonical())
        report.head_position, report.head_hash = event.position, self._previous.hex()
        return self._previous

    def resync(self, hash_hex: str) -> None:
        """Continue from the recorded hash, so each later tampered event is named on its own."""
        self._previous = bytes.fromhex(hash_hex)

    def _account(self, event: LogEvent, kind: str) -> None:
        body, position = event.body, event.position
        if kind == "Opened":
            self.accounts[event.aggregate] = AccountState()
            return
        state = self.accounts.get(event.aggregate)
        if state is None:
            self.report.problem(position, f"{kind} on account {event.aggregate} before it was opened")
            return
        check = _RULES.get(kind)
        if check is not None:
            error = check(state, body, event.aggregate)
            if error:
                self.report.problem(position, error)
                return
        _APPLY.get(kind, _no_change)(state, body)
        if state.available < 0:
            self.report.problem(position, f"account {event.aggregate} goes negative ({state.available})")


def _no_change(state: AccountState, body: dict[str, Any]) -> None:
    return None


def _check_capture_or_release(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    request_id = body["request_id"]
    if request_id not in state.reserved:
        settled = (
            "released"
            if request_id in state.released
            else "captured"
            if request_id in state.charges
            else "unknown"
        )
        return f"settles reservation {request_id} which is {settled}, not open"
    if state.reserved[request_id] != body["cost_credits"]:
        return f"settles reservation {request_id} for a different cost than reserved"
    return None


def _check_reserve(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    rid = body["request_id"]
    if rid in state.reserved or rid in state.charges or rid in state.released:
        return f"reserves request {rid} a second time"
    if body["cost_credits"] <= 0 or body["cost_credits"] > state.available:
        return f"reserves {body['cost_credits']} with {state.available} available"
    return None


def _check_refund(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    charge = state.charges.get(body["charge_id"])
    if charge is None:
        return f"refunds {body['charge_id']}, which is not a captured charge"
    if body["refund_id"] in state.refund_ids:
        return f"applies refund {body['refund_id']} twice"
    if not 0 < body["amount_credits"] <= charge[0] - charge[1]:
        left = charge[0] - charge[1]
        return f"refunds {body['amount_credits']} of charge {body['charge_id']} with {left} left"
    return None


def _check_grant(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    if body["period"] in state.periods:
        return f"grants period {body['period']} a second time"
    if body["grant_id"] != str(uuid.uuid5(GRANT_NAMESPACE, f"{aggregate}:{body['period']}")):
        return f"grant id of period {body['period']} is not the deterministic one"
    return None


def _apply_reserve(state: AccountState, body: dict[str, Any]) -> None:
    state.reserved[body["request_id"]] = body["cost_credits"]
    state.reserved_credits += body["cost_credits"]


def _apply_capture(state: AccountState, body: dict[str, Any]) -> None:
    cost = state.reserved.pop(body["request_id"])
    state.reserved_credits -= cost
    state.settled -= cost
    state.charges[body["request_id"]] = [cost, 0]


def _apply_release(state: AccountState, body: dict[str, Any]) -> None:
    state.reserved_credits -= state.reserved.pop(body["request_id"])
    state.released.add(body["request_id"])


def _apply_refund(state: AccountState, body: dict[str, Any]) -> None:
    state.charges[body["charge_id"]][1] += body["amount_credits"]
    state.refund_ids.add(body["refund_id"])
    state.settled += body["amount_credits"]


def _apply_grant(state: AccountState, body: dict[str, Any]) -> None:
    state.periods.add(body["period"])
    state.settled += body["amount_credits"]


def _apply_credit(state: AccountState, body: dict[str, Any]) -> None:
    state.settled += body["amount_credits"]


def _apply_expiry(state: AccountState, body: dict[str, Any]) -> None:
    state.settled -= body["amount_credits"]


_RULES = {
    "CreditsReserved": _check_reserve,
    "ReservationCaptured": _check_capture_or_release,
    "ReservationReleased": _check_capture_or_release,
    "CreditsRefunded": _check_refund,
    "MonthlyQuotaGranted": _check_grant,
}
_APPLY = {
    "CreditsReserved": _apply_reserve,
    "ReservationCaptured": _apply_capture,
    "ReservationReleased": _apply_release,
    "CreditsRefunded": _apply_refund,
    "MonthlyQuotaGranted": _apply_grant,
    "CreditsGranted": _apply_credit,
    "CreditsExpired": _apply_expiry,
}


def replay_log(
    events: Iterable[LogEvent],
    *,
    chain_rows: Iterator[tuple[int, str]] | None = None,
    expected_hashes: bool = False,
    keep_hash_at: int | None = None,
    views_at: int | None = None,
) -> Replay:
    """Fold every event; compare each recomputed hash with `chain_rows` (position, hash) if given.

    With `expected_hashes`, each event's body carries the hash to compare under the key `_hash`
    (what an export holds). With `views_at`, `expected_views` keeps what views that have folded
    the log up to that position must hold.
    """
    started = time.perf_counter()
    replay = Replay()
    pending = next(chain_rows, None) if chain_rows is not None else None
    views_after = sys.maxsize if views_at is None else views_at
    for event in events:
        if event.position > views_after:
            replay.expected_views = replay.views_now()
            views_after = sys.maxsize
        expected = event.body.pop("_hash", None) if expected_hashes else None
        digest = replay.feed(event).hex()
        if event.position == keep_hash_at:
            replay.kept_hash = digest
        if expected is not None and expected != digest:
            replay.report.problem(event.position, "chain hash differs from the exported one")
            replay.resync(expected)
        if chain_rows is None:
            continue
        while pending is not None and pending[0] < event.position:
            replay.report.problem(pending[0], f"event at position {pending[0]} is missing from the log")
            pending = next(chain_rows, None)
        if pending is not None and pending[0] == event.position:
            if pending[1] != digest:
                replay.report.problem(
                    event.position, "chain hash differs: the event was changed, inserted or reordered"
                )
                replay.resync(pending[1])
            pending = next(chain_rows, None)
    while pending is not None:
        replay.report.problem(pending[0], f"event at position {pending[0]} is missing from the log")
        pending = next(chain_rows, None)  # type: ignore[arg-type]
    if views_after != sys.maxsize:  # the views are at (or, after a deletion, past) the log's head
        replay.expected_views = replay.views_now()
    replay.report.accounts = len(replay.accounts)
    replay.report.keys = len(replay.keys_revoked)
    replay.report.seconds = time.perf_counter() - started
    return replay
