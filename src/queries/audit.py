"""Audit: replay the whole log with no use of the domain code or the projections, check every rule,
recompute the chain, and compare with the chain table, the live views and a signed digest.

The fold here is deliberately a second, plain implementation of the credit rules: if the domain
code ever let a rule slip, the auditor's replay is what notices.
"""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NotRequired, TypedDict, cast

import msgspec

from mosaic.queries.chain import (
    CANONICAL_AROUND_STORED,
    GENESIS,
    EventRow,
    StoredRow,
    decode_body,
    json_string,
    next_hash,
)

ACCOUNT = "mosaic.domain.accounts:Account."
KEY = "mosaic.domain.keys:ApiKey."
GRANT_NAMESPACE = uuid.UUID("8a7f2c1e-43b5-4e0a-9c77-0d6f3f7c2b10")  # = domain.accounts, restated
# = domain.plans, restated: the auditor's fold uses no domain code
SUBSCRIPTION_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid", "canceled"})
DISCREPANCIES_KEPT_MAX = 1_000


UNREADABLE: dict[str, Any] = {}  # stands, by identity, for a stored body that is not JSON
UNREADABLE_BODY = "the stored body cannot be read (not JSON, or a field its rule reads missing or mistyped)"


def readable(decode: Callable[[bytes], dict[str, Any]], state: bytes) -> dict[str, Any]:
    """`decode(state)`, or UNREADABLE: a body changed into something else is a finding, not a crash."""
    try:
        return decode(state)
    except msgspec.DecodeError:
        return UNREADABLE


class LogEvent(NamedTuple):
    """One event of the log as the chain sees it (hot loops pass plain tuples of the same shape)."""

    position: int
    aggregate: str
    version: int
    topic: str
    body: dict[str, Any]


@dataclass(slots=True)
class AccountState:
    settled: int = 0
    reserved_credits: int = 0
    reserved: dict[str, int] = field(default_factory=dict)
    # open reservations a grant found holding an ended period's quota: request id -> those credits
    # (spent by the capture, which draws the rest from packs, or expired by the release)
    spanning: dict[str, int] = field(default_factory=dict)
    charges: dict[str, list[int]] = field(default_factory=dict)  # charge id -> [cost, refunded]
    released: set[str] = field(default_factory=set)
    periods: set[str] = field(default_factory=set)
    refund_ids: set[str] = field(default_factory=set)
    # spending order (quota first, then packs, oldest first), replayed to bound what a pack refund
    # may take back
    quota: int = 0
    packs: dict[str, list[int]] = field(default_factory=dict)  # purchase id -> [credits, remaining]
    refunds_waiting: dict[str, int] = field(default_factory=dict)  # purchase id -> cents, before it
    payment_events: set[str] = field(default_factory=set)
    status_as_of: int = 0

    @property
    def available(self) -> int:
        return self.settled - self.reserved_credits


@dataclass(frozen=True, slots=True)
class ExpectedViews:
    """What the live views must hold once they have folded the log up to `position`."""

    position: int
    balances: dict[str, tuple[int, int]]  # account id -> (settled, reserved)
    charges: set[tuple[str, int, int]]  # (charge id, cost, refunded)
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
    # Positions of discrepancies that bound a change without locating it (a digest over 1..N that
    # no longer matches: some event at or before N changed, but which one the digest cannot tell).
    bounds: set[int] = field(default_factory=set)

    def problem(self, position: int, message: str, *, located: bool = True) -> None:
        if len(self.discrepancies) < DISCREPANCIES_KEPT_MAX:
            self.discrepancies.append((position, message))
            if not located:
                self.bounds.add(position)

    @property
    def ok(self) -> bool:
        """Everything asked for was checked and holds."""
        return not self.discrepancies and not self.unverified

    @property
    def first_bad_position(self) -> int | None:
        """The earliest position a discrepancy names as bad (not merely bounds)."""
        located = [p for p, _ in self.discrepancies if p not in self.bounds]
        return min(located) if located else None

    @property
    def changed_at_or_before(self) -> int | None:
        """The tightest bound on an unlocated change (see `bounds`), if there is one."""
        return min(self.bounds) if self.bounds else None


class RuleFold:
    """The ledger's rules and each aggregate's version order, folded event by event (no chain)."""

    def __init__(self, report: Report, *, views_at: int | None = None) -> None:
        self.accounts: dict[str, AccountState] = {}
        self.keys_revoked: dict[str, bool] = {}
        self.versions: dict[str, int] = {}
        self.report = report
        self.expected_views: ExpectedViews | None = None  # the state at `views_at`, if asked for
        self._views_after = sys.maxsize if views_at is None else views_at
        self._last_position = 0
        self.events = 0

    def views_now(self) -> ExpectedViews:
        return ExpectedViews(
            position=self._last_position,
            balances={a: (state.settled, state.reserved_credits) for a, state in self.accounts.items()},
            charges={
                (charge_id, cost, refunded)
                for state in self.accounts.values()
                for charge_id, (cost, refunded) in state.charges.items()
            },
            keys_revoked=dict(self.keys_revoked),
        )

    def feed(self, event: EventRow) -> None:
        self.run((event,))

    def run(self, events: Iterable[EventRow]) -> None:
        """Fold `events` (in log order) into the replayed state, noting each rule broken."""
        problem, versions = self.report.problem, self.versions
        accounts, keys = self.accounts, self.keys_revoked
        views_after, last, count = self._views_after, self._last_position, 0
        for position, aggregate, version, topic, body in events:
            count += 1
            if position > views_after:
                self._last_position = last
                self.expected_views = self.views_now()
                views_after = self._views_after = sys.maxsize
            if position <= last:
                problem(position, "positions out of order")
            last = position
            expected_version = versions.get(aggregate, 0) + 1
            if version != expected_version:
                problem(position, f"aggregate {aggregate} jumps to version {version}, not {expected_version}")
            versions[aggregate] = version
            what, rule, kind = _TOPICS.get(topic) or _classify(topic)
            if body is UNREADABLE:
                problem(position, UNREADABLE_BODY)
            elif what is _ACCOUNT_EVENT:
                state = accounts.get(aggregate)
                if state is None:
                    problem(position, f"{kind} on account {aggregate} before it was opened")
                elif rule is not None and (error := _checked(rule, state, body, aggregate)):
                    problem(position, error)
                elif state.settled < state.reserved_credits:
                    problem(position, f"account {aggregate} goes negative ({state.available})")
            elif what is _OPENED:
                accounts[aggregate] = AccountState()
            elif what is _KEY_CREATED:
                keys.setdefault(aggregate, False)
            elif what is _KEY_REVOKED:
                keys[aggregate] = True
        self._last_position = last
        self.events += count

    @property
    def last_position(self) -> int:
        return self._last_position

    def finish(self) -> None:
        if self._views_after != sys.maxsize:  # the views are at (or, after a deletion, past) the log's head
            self.expected_views = self.views_now()
            self._views_after = sys.maxsize
        self.report.events = self.events
        self.report.accounts = len(self.accounts)
        self.report.keys = len(self.keys_revoked)


class ChainCheck:
    """Recomputes the chain in log order and compares it with recorded hashes as it goes: the chain
    table's rows (`chain_rows`, (position, hash) in order) and/or a hash given with each event."""

    def __init__(
        self,
        report: Report,
        *,
        chain_rows: Iterator[tuple[int, str]] | None = None,
        keep_hash_at: int | None = None,
    ) -> None:
        self.report = report
        self.previous = GENESIS
        self.events = 0
        self.head_position = 0
        self.kept_hash: str | None = None  # the recomputed hash at `keep_hash_at`, if that position exists
        self._keep_hash_at = keep_hash_at
        self._rows = chain_rows
        self._pending = next(chain_rows, None) if chain_rows is not None else None

    def step(self, event: EventRow, expected: str | None = None) -> bytes:
        """Extend the chain by one event and compare; `expected`: the hash recorded beside it."""
        position = event[0]
        if event[4] is UNREADABLE:
            self.report.problem(position, "the stored body is not JSON: its chain hash cannot be recomputed")
            # a hash that matches no recorded one, so the chain table's hash is taken up from here
            digest = self.previous = hashlib.sha256(self.previous + b"\x00not JSON").digest()
        else:
            digest = self.previous = next_hash(self.previous, event)
        self.events += 1
        self.head_position = position
        if position == self._keep_hash_at:
            self.kept_hash = digest.hex()
        if expected is not None and expected != digest.hex():
            self.report.problem(position, "chain hash differs from the exported one")
            self.previous = bytes.fromhex(expected)  # on from the recorded hash: each later change is named
        if self._pending is not None and self._pending[0] <= position:
            self._compare(position, digest)
        return digest

    def run_stored(self, rows: Iterable[StoredRow]) -> None:
        """`step` for every event as stored: verify's hot loop.

        The store writes each body as canonical JSON, so where the chain table records a hash for
        the position, the stored bytes are hashed as they are first: equal hashes mean the bytes
        are those the chain projection hashed (SHA-256 does not collide), so that event checks out
        without being decoded. Any other event (an older, non-canonical body; a change; no
        recorded hash) is decoded and checked by `step`.
        """
        rows_left, pending, previous, keep = self._rows, self._pending, self.previous, self._keep_hash_at
        strings: dict[str, bytes] = {}
        sha256, around = hashlib.sha256, CANONICAL_AROUND_STORED
        count, position = 0, self.head_position
        for position, aggregate, version, topic, state in rows:
            if rows_left is not None and pending is not None and pending[0] == position:
                aggregate_json = strings.get(aggregate) or _remember(strings, aggregate)
                topic_json = strings.get(topic) or _remember(strings, topic)
                canonical = around % (aggregate_json, state, position, topic_json, version)
                digest = sha256(previous + canonical).digest()
                if pending[1] == digest.hex():
                    previous, pending = digest, next(rows_left, None)
                    count += 1
                    if position == keep:
                        self.kept_hash = digest.hex()
                    continue
            self.previous, self._pending = previous, pending
            self.step((position, aggregate, version, topic, readable(decode_body, state)))
            previous, pending = self.previous, self._pending
        self.previous, self._pending = previous, pending
        self.events += count
        self.head_position = position

    def finish(self) -> None:
        pending = self._pending
        while pending is not None:
            self.report.problem(pending[0], f"event at position {pending[0]} is missing from the log")
            pending = self._next_row()
        self._pending = None
        self.report.head_position, self.report.head_hash = self.head_position, self.previous.hex()

    def _compare(self, position: int, digest: bytes) -> None:
        """Compare with the chain table's rows up to `position` (those before it lost their event)."""
        pending = self._pending
        while pending is not None and pending[0] < position:
            self.report.problem(pending[0], f"event at position {pending[0]} is missing from the log")
            pending = self._next_row()
        if pending is not None and pending[0] == position:
            if pending[1] != digest.hex():
                self.report.problem(
                    position, "chain hash differs: the event was changed, inserted or reordered"
                )
                self.previous = bytes.fromhex(pending[1])
            pending = self._next_row()
        self._pending = pending

    def _next_row(self) -> tuple[int, str] | None:
        assert self._rows is not None
        return next(self._rows, None)


def _remember(strings: dict[str, bytes], text: str) -> bytes:
    encoded = strings[text] = json_string(text)
    return encoded


class Replay:
    """The rules and the chain together, one event at a time (an export's hashes, a forger's tools)."""

    def __init__(self) -> None:
        self.report = Report()
        self.rules = RuleFold(self.report)
        self.chain = ChainCheck(self.report)

    def feed(self, event: LogEvent) -> bytes:
        self.rules.feed(event)
        return self.chain.step(event)


# Each rule checks one kind of account event against the replayed state and, if it holds, applies
# it: it returns what is wrong (and changes nothing), or None.
Rule = Callable[[AccountState, dict[str, Any], str], "str | None"]
_ACCOUNT_EVENT, _OPENED, _KEY_CREATED, _KEY_REVOKED, _OTHER = "account", "opened", "key", "revoked", "other"
_TOPICS: dict[str, tuple[str, Rule | None, str]] = {}  # topic -> (what it is, its rule, its kind)


def _classify(topic: str) -> tuple[str, Rule | None, str]:
    kind = topic.rsplit(".", 1)[-1]
    if topic.startswith(ACCOUNT):
        what = _OPENED if kind == "Opened" else _ACCOUNT_EVENT
    elif topic.startswith(KEY):
        what = _KEY_REVOKED if kind == "Revoked" else _KEY_CREATED
    else:
        what = _OTHER
    found = _TOPICS[topic] = (what, _RULES.get(kind) if what is _ACCOUNT_EVENT else None, kind)
    return found


def _checked(rule: Rule, state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    try:
        return rule(state, body, aggregate)
    except (KeyError, TypeError):  # a rule reads a field before changing anything
        return UNREADABLE_BODY


def _reserve(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    rid, cost = body["request_id"], body["cost_credits"]
    if rid in state.reserved or rid in state.charges or rid in state.released:
        return f"reserves request {rid} a second time"
    if cost <= 0 or cost > state.available:
        return f"reserves {cost} with {state.available} available"
    state.reserved[rid] = cost
    state.reserved_credits += cost
    return None


def _not_open(state: AccountState, body: dict[str, Any]) -> str | None:
    request_id = body["request_id"]
    cost = state.reserved.get(request_id)
    if cost is None:
        settled = (
            "released"
            if request_id in state.released
            else "captured"
            if request_id in state.charges
            else "unknown"
        )
        return f"settles reservation {request_id} which is {settled}, not open"
    if cost != body["cost_credits"]:
        return f"settles reservation {request_id} for a different cost than reserved"
    return None


def _capture(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    if error := _not_open(state, body):
        return error
    rid = body["request_id"]
    cost = state.reserved.pop(rid)
    state.reserved_credits -= cost
    state.settled -= cost
    state.charges[rid] = [cost, 0]
    if rid in state.spanning:
        beyond = cost - state.spanning.pop(rid)
    else:
        from_quota = min(state.quota, cost)
        state.quota -= from_quota
        beyond = cost - from_quota
    for pack in state.packs.values():
        take = min(pack[1], beyond)
        pack[1] -= take
        beyond -= take
    return None


def _release(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    if error := _not_open(state, body):
        return error
    rid = body["request_id"]
    ended, expired = state.spanning.get(rid, 0), body.get("expired_credits", 0)
    if expired != ended:
        return f"release of {rid} expires {expired} credit(s); it held {ended} of an ended period"
    state.spanning.pop(rid, None)
    state.reserved_credits -= state.reserved.pop(rid)
    state.settled -= expired
    state.released.add(rid)
    return None


def _refund(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    charge = state.charges.get(body["charge_id"])
    amount = body["amount_credits"]
    if charge is None:
        return f"refunds {body['charge_id']}, which is not a captured charge"
    if body["refund_id"] in state.refund_ids:
        return f"applies refund {body['refund_id']} twice"
    if not 0 < amount <= charge[0] - charge[1]:
        return f"refunds {amount} of charge {body['charge_id']} with {charge[0] - charge[1]} left"
    charge[1] += amount
    state.refund_ids.add(body["refund_id"])
    state.settled += amount
    return None


def _monthly_grant(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    period = body["period"]
    if period in state.periods:
        return f"grants period {period} a second time"
    if body["grant_id"] != str(uuid.uuid5(GRANT_NAMESPACE, f"{aggregate}:{period}")):
        return f"grant id of period {period} is not the deterministic one"
    if "held" in body:  # v1 grants predate it and held nothing
        if (held := body["held"]) != (expected := _quota_held(state)):
            return f"grant of period {period} finds {held} of the ended quota held; expected {expected}"
        for rid, credits in held.items():
            state.spanning[rid] = state.spanning.get(rid, 0) + credits
    state.periods.add(period)
    state.settled += body["amount_credits"]
    state.quota = body["amount_credits"]
    return None


def _quota_held(state: AccountState) -> dict[str, int]:
    """The quota each reservation made in the period holds, oldest first (the domain's rule)."""
    left, held = state.quota, {}
    for rid, cost in state.reserved.items():
        if rid not in state.spanning:
            held[rid] = take = min(left, cost)
            left -= take
    return held


def _grant(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    state.settled += body["amount_credits"]
    return None


def _expire(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    amount = body["amount_credits"]
    if not 0 < amount <= state.quota:
        return f"expires {amount} credit(s) with {state.quota} of the period's quota unspent"
    state.settled -= amount
    state.quota -= amount
    return None


def _pack_bought(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    purchase, amount = body["purchase_id"], body["amount_credits"]
    if purchase in state.packs:
        return f"grants the pack of purchase {purchase} a second time"
    if amount <= 0:
        return f"grants a pack of {amount} credit(s)"
    state.packs[purchase] = [amount, amount]
    state.refunds_waiting.pop(purchase, None)
    state.settled += amount
    return None


def _pack_refund(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    pack, amount = state.packs.get(body["purchase_id"]), body["amount_credits"]
    if pack is None:
        return f"refunds purchase {body['purchase_id']}, which bought no pack"
    if not 0 <= amount <= min(pack[1], state.available):
        return (
            f"takes back {amount} credit(s) of a pack with {pack[1]} unspent and {state.available} available"
        )
    pack[1] -= amount
    state.settled -= amount
    return None


def _refund_noted(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    purchase, cents = body["purchase_id"], body["refunded_cents"]
    if purchase in state.packs:
        return f"notes a refund of purchase {purchase}, whose pack is bought: it is taken back, not noted"
    if not isinstance(cents, int) or cents <= state.refunds_waiting.get(purchase, 0):
        return f"notes a refund of {cents} cent(s) of purchase {purchase}, no more than noted before"
    state.refunds_waiting[purchase] = cents
    return None


def _payment_event(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    if body["event_id"] in state.payment_events:
        return f"applies payment event {body['event_id']} twice"
    state.payment_events.add(body["event_id"])
    return None


def _status(state: AccountState, body: dict[str, Any], aggregate: str) -> str | None:
    status, as_of = body["sub_status"], body.get("as_of", 0)
    if status not in SUBSCRIPTION_STATUSES:
        return f"sets the unknown subscription status {status!r}"
    if not isinstance(as_of, int) or as_of < state.status_as_of:
        return f"moves the subscription status back in time (to {as_of}, after {state.status_as_of})"
    state.status_as_of = as_of
    return None


_RULE_FIELDS: dict[str, tuple[str, ...]] = {  # what each rule reads of a body
    "CreditsReserved": ("request_id", "cost_credits"),
    "ReservationCaptured": ("request_id", "cost_credits"),
    "ReservationReleased": ("request_id", "cost_credits", "expired_credits?"),
    "CreditsRefunded": ("charge_id", "refund_id", "amount_credits"),
    "MonthlyQuotaGranted": ("period", "grant_id", "amount_credits", "held?"),
    "CreditsGranted": ("amount_credits",),
    "CreditsExpired": ("amount_credits",),
    "PackPurchased": ("purchase_id", "amount_credits"),
    "PackRefunded": ("purchase_id", "amount_credits"),
    "RefundNoted": ("purchase_id", "refunded_cents"),
    "PaymentEventRecorded": ("event_id",),
    "SubscriptionStatusChanged": ("sub_status", "as_of?"),  # ?: absent from v1 bodies
}


def rule_fields(topic: str) -> type:
    """A TypedDict of the body fields the rules read for `topic`: decoding into it skips the rest."""
    what, _, kind = _TOPICS.get(topic) or _classify(topic)
    fields = _RULE_FIELDS.get(kind, ()) if what is _ACCOUNT_EVENT else ()
    types = {name.rstrip("?"): NotRequired[Any] if name.endswith("?") else Any for name in fields}
    state: type = cast(Any, TypedDict)(f"{kind}RuleFields", types)
    return state


_RULES: dict[str, Rule] = {
    "CreditsReserved": _reserve,
    "ReservationCaptured": _capture,
    "ReservationReleased": _release,
    "CreditsRefunded": _refund,
    "MonthlyQuotaGranted": _monthly_grant,
    "CreditsGranted": _grant,
    "CreditsExpired": _expire,
    "PackPurchased": _pack_bought,
    "PackRefunded": _pack_refund,
    "RefundNoted": _refund_noted,
    "PaymentEventRecorded": _payment_event,
    "SubscriptionStatusChanged": _status,
}


def replay_log(
    events: Iterable[LogEvent],
    *,
    chain_rows: Iterator[tuple[int, str]] | None = None,
    expected_hashes: bool = False,
    keep_hash_at: int | None = None,
    views_at: int | None = None,
) -> tuple[Report, RuleFold, ChainCheck]:
    """Fold every event in one process; compare each recomputed hash with `chain_rows` (position,
    hash) if given. With `expected_hashes`, each event's body carries the hash to compare under the
    key `_hash` (what an export holds). With `views_at`, the fold keeps in `expected_views` what
    views that have folded the log up to that position must hold.
    """
    started = time.perf_counter()
    report = Report()
    rules = RuleFold(report, views_at=views_at)
    chain = ChainCheck(report, chain_rows=chain_rows, keep_hash_at=keep_hash_at)
    for event in events:
        expected = event.body.pop("_hash", None) if expected_hashes else None
        rules.feed(event)
        chain.step(event, expected)
    rules.finish()
    chain.finish()
    report.discrepancies.sort(key=_position)
    report.seconds = time.perf_counter() - started
    return report, rules, chain


def _position(problem: tuple[int, str]) -> int:
    return problem[0]
