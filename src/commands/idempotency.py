"""`Idempotency-Key` (docs/architecture.md, rule 4): one key, one body, one result, charged once.

Everything about keys is here: what a key may look like, the ids derived from it (ledger request
ids, a bulk request's per-image sub-keys, each attempt of a request, support refunds and grants),
and the claim → complete / abandon protocol over stored results.

A first request claims its key with an in-flight record that holds a lease (the reservation timeout),
so a server that crashes mid-request does not lock the key for ever. When it has an answer, the
record keeps that answer for `ttl_s`; a repeat with the same body replays it, a repeat with another
body is refused (422), and a repeat while the first is still running is refused (409). A request
that ends before anything was charged (a 402, a busy pool: `produce` raises), or with a "retry
later" (a result whose `retry_later` is set), gives its key back.

A server can stop (be killed, lose its host) after charging a request and before keeping its answer.
The claim of the same body taken over once its lease has run out is a resumption
(`Claimed.resumed`): while it produces, `resuming()` is true, and paid work lets a charge of it that
was captured stand instead of refusing the request, so the client gets its result, charged once. A
resumption that ends with "retry later" keeps the key bound to its body (its lease ended rather than
the record deleted): another body must never inherit a charge made for this one.

Records live in the `idempotency` table (scope = the account, `created_at` = the claim's token), so
every server sharing the database agrees. The ledger's request id is derived from the same key, so
even a record lost in between could not charge a key twice.
"""

from __future__ import annotations

import contextvars
import enum
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Final
from uuid import UUID

import anyio
import anyio.to_thread

from mosaic.domain.errors import ErrorKind, Failure, IdempotencyKeyReused
from mosaic.queries.db import Database, Tx

IDEMPOTENCY_KEY_CHARS_MAX: Final = 255
IN_FLIGHT: Final = "in_flight"
DONE: Final = "done"
RETRY_AFTER_IN_FLIGHT_S: Final = 1


class Purpose(enum.Enum):
    """What a derived id names. Each purpose has its own UUID namespace, so ids of two purposes never
    collide; the namespaces are fixed for ever, because the ledger has recorded ids derived under them
    (a repeat must derive the very id it derived before)."""

    REQUEST = UUID("5b8f9c2a-7d1e-4f3b-a6c4-2e9d8b7a1c05")  # a paid request of an account
    ATTEMPT = UUID("0e6f3b1c-9a47-4d2e-8c5b-7f1a2d3e4b60")  # a later attempt of a paid request
    SUPPORT = UUID("c4d0a3e2-1f6b-4b8e-9d2a-7e5f3c1b0a99")  # a staff member's refund or grant


def derived_id(purpose: Purpose, name: str) -> UUID:
    """The one way an id is derived from a key: a version-5 UUID of `name` in `purpose`'s namespace."""
    return uuid.uuid5(purpose.value, name)


class InvalidIdempotencyKey(Failure):
    """The header is not 1 to 255 visible ASCII characters."""

    kind = ErrorKind.INVALID_INPUT
    code = "invalid_idempotency_key"


class RequestInProgress(Failure):
    """The first request with this key and body is still running: retry once it has answered."""

    kind = ErrorKind.CONFLICT
    code = "request_in_progress"
    retry_after_s = RETRY_AFTER_IN_FLIGHT_S


def checked_idempotency_key(raw: str) -> str:
    """The key as sent; visible ASCII only, so derived names (`key + " " + n`) never collide with one."""
    if not 0 < len(raw) <= IDEMPOTENCY_KEY_CHARS_MAX or not all("!" <= ch <= "~" for ch in raw):
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_CHARS_MAX} visible ASCII characters (no spaces)"
        )
    return raw


def request_id_for(account_id: UUID, key: str) -> UUID:
    """The same Idempotency-Key on the same account always names the same ledger request."""
    return derived_id(Purpose.REQUEST, f"{account_id}:{key}")


@dataclass(frozen=True, slots=True)
class Payer:
    """Who pays for a request, and the Idempotency-Key it came with (None: every request is new)."""

    account_id: UUID
    key: str | None = None

    def request_id(self) -> UUID:
        """The ledger request id: derived from the key, so the ledger itself refuses to charge it twice."""
        return uuid.uuid4() if self.key is None else request_id_for(self.account_id, self.key)

    def item(self, index: int) -> Payer:
        """The payer of item `index` of a bulk request: its own sub-key (keys hold no spaces)."""
        return Payer(self.account_id, None if self.key is None else f"{self.key} {index}")


def attempt_request_id(request_id: UUID, attempt: int) -> UUID:
    """The ledger request id of `attempt` of the request `request_id` (attempt 0: the id itself)."""
    assert attempt >= 0, attempt
    return request_id if attempt == 0 else derived_id(Purpose.ATTEMPT, f"{request_id}:{attempt}")


def support_action_id(staff_user_id: str, key: str | None, action: str) -> UUID:
    """The same staff member and key always name the same refund or grant; no key: a new one."""
    if key is None:
        return uuid.uuid4()
    return derived_id(Purpose.SUPPORT, f"{action}:{staff_user_id}:{key}")


@dataclass(frozen=True, slots=True)
class StoredResult:
    """An answer as kept for replay: neutral (status, media type, headers, body), no framework object.

    `retry_later` marks an answer that is no outcome (temporarily unavailable): never kept."""

    status_code: int
    media_type: str
    headers: dict[str, str]
    body: bytes
    retry_later: bool = field(default=False, compare=False)
    replayed: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class Claimed:
    """The key is ours until `complete` or `abandon` (or the lease runs out). `resumed`: taken over
    from a holder of the same body whose lease ran out; it may have charged the request already."""

    token: float
    resumed: bool = False


# Set while a resumed claim produces its answer. A context variable, because the paid work that
# reads it is a route's closure and a use case away, and runs in this very task.
_resuming: contextvars.ContextVar[bool] = contextvars.ContextVar("resuming", default=False)


def resuming() -> bool:
    """True while producing the answer of a request whose earlier holder stopped (`Claimed.resumed`)."""
    return _resuming.get()


@dataclass(frozen=True, slots=True)
class Replay:
    result: StoredResult


@dataclass(frozen=True, slots=True)
class InFlight:
    """The first request with this key and body is still running."""


@dataclass(frozen=True, slots=True)
class OtherBody:
    """The key was used with another request body."""


Claim = Claimed | Replay | InFlight | OtherBody

_COLUMNS: Final = "request_hash, state, status_code, media_type, headers, body, expires_at"


class IdempotencyStore:
    def __init__(
        self, db: Database, *, lease_s: float, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        """`lease_s`: how long a claim holds its key; `ttl_s`: how long a kept answer is replayed."""
        assert lease_s > 0 and ttl_s > 0
        self.db = db
        self.lease_s = lease_s
        self.ttl_s = ttl_s
        self.clock = clock

    async def answer_once(
        self,
        *,
        scope: str,
        key: str | None,
        request_hash: str,
        produce: Callable[[], Awaitable[StoredResult]],
    ) -> StoredResult:
        """`produce()` once per (scope, key): a repeat replays its result (see the module docstring)."""
        if key is None:
            return await produce()
        claim = await anyio.to_thread.run_sync(
            lambda: self.claim(scope=scope, key=key, request_hash=request_hash)
        )
        if isinstance(claim, Replay):
            return replace(claim.result, replayed=True)
        if isinstance(claim, OtherBody):
            raise IdempotencyKeyReused("this Idempotency-Key was used with another request")
        if isinstance(claim, InFlight):
            raise RequestInProgress("a request with this Idempotency-Key is still running; retry later")
        resumed = _resuming.set(claim.resumed)
        try:
            result = await produce()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: self.abandon(scope=scope, key=key, claim=claim))
            raise
        finally:
            _resuming.reset(resumed)
        # it may have been charged: a client gone by now still gets its answer on a repeat
        with anyio.CancelScope(shield=True):
            if result.retry_later:
                await anyio.to_thread.run_sync(lambda: self.abandon(scope=scope, key=key, claim=claim))
            else:
                await anyio.to_thread.run_sync(
                    lambda: self.complete(scope=scope, key=key, claim=claim, result=result)
                )
        return result

    def claim(self, *, scope: str, key: str, request_hash: str) -> Claim:
        """Claim `key` for a request with `request_hash`, or say what became of the earlier one."""
        now = self.clock()
        with self.db.write() as tx:
            inserted = tx.one(
                "INSERT INTO idempotency (scope, idem_key, request_hash, state, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, idem_key) DO NOTHING RETURNING created_at",
                (scope, key, request_hash, IN_FLIGHT, now, now + self.lease_s),
            )
            if inserted is not None:
                return Claimed(now)
            lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""  # SQLite: BEGIN IMMEDIATE
            row = tx.one(f"SELECT {_COLUMNS} FROM idempotency WHERE scope = ? AND idem_key = ?{lock}",
                         (scope, key))
            assert row is not None, "a conflicting row exists until it is purged, and we hold the lock"
            stored_hash, state, status_code, media_type, headers, body, expires_at = row
            if float(expires_at) <= now:
                _take_over(tx, scope=scope, key=key, request_hash=request_hash, now=now, lease_s=self.lease_s)
                return Claimed(now, resumed=state == IN_FLIGHT and stored_hash == request_hash)
        if stored_hash != request_hash:
            return OtherBody()
        if state == IN_FLIGHT:
            return InFlight()
        assert state == DONE, state
        return Replay(StoredResult(int(status_code), str(media_type), json.loads(headers), bytes(body)))

    def complete(self, *, scope: str, key: str, claim: Claimed, result: StoredResult) -> bool:
        """Keep `result` as the key's answer; False if the claim was lost (its lease ran out)."""
        with self.db.write() as tx:
            row = tx.one(
                "UPDATE idempotency SET state = ?, status_code = ?, media_type = ?, headers = ?, body = ?, "
                "expires_at = ? WHERE scope = ? AND idem_key = ? AND created_at = ? AND state = ? "
                "RETURNING created_at",
                (
                    DONE, result.status_code, result.media_type, json.dumps(result.headers),
                    result.body, self.clock() + self.ttl_s, scope, key, claim.token, IN_FLIGHT,
                ),
            )
        return row is not None

    def abandon(self, *, scope: str, key: str, claim: Claimed) -> None:
        """Give the key back: nothing was charged, so the same request may simply be sent again. A
        resumed claim's request may have been charged by its earlier holder: the key stays bound to
        this body, in flight with its lease ended, so the next try resumes it again."""
        with self.db.write() as tx:
            if claim.resumed:
                tx.execute(
                    "UPDATE idempotency SET expires_at = ? "
                    "WHERE scope = ? AND idem_key = ? AND created_at = ? AND state = ?",
                    (self.clock(), scope, key, claim.token, IN_FLIGHT),
                )
                return
            tx.execute(
                "DELETE FROM idempotency WHERE scope = ? AND idem_key = ? AND created_at = ? AND state = ?",
                (scope, key, claim.token, IN_FLIGHT),
            )

    def purge_expired(self) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM idempotency WHERE expires_at <= ?", (self.clock(),))


def _take_over(tx: Tx, *, scope: str, key: str, request_hash: str, now: float, lease_s: float) -> None:
    tx.execute(
        "UPDATE idempotency SET request_hash = ?, state = ?, status_code = NULL, media_type = NULL, "
        "headers = NULL, body = NULL, created_at = ?, expires_at = ? WHERE scope = ? AND idem_key = ?",
        (request_hash, IN_FLIGHT, now, now + lease_s, scope, key),
    )
