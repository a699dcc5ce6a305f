"""`Idempotency-Key` (DESIGN rule 4): one key, one body, one result, charged once.

A first request claims its key with an in-flight record that holds a lease (the reservation timeout),
so a server that crashes mid-request does not lock the key for ever. When it has an answer, the
record keeps that answer for `idempotency_ttl_s`; a repeat with the same body replays it, a repeat
with another body is refused (422), and a repeat while the first is still running is refused (409).
A request that ends before anything was charged (a 402, a busy pool), or with a "retry later" (a
5xx with Retry-After), gives its key back.

Records live in the `idempotency` table (scope = the account, `created_at` = the claim's token), so
every server sharing the database agrees. The ledger's request id is derived from the same key
(`request_id_for`, then one per attempt: `mosaic.commands.paid`), so even a record lost in between
could not charge a key twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mosaic.queries.db import Database, Tx

IDEMPOTENCY_KEY_CHARS_MAX: Final = 255
IN_FLIGHT: Final = "in_flight"
DONE: Final = "done"


class InvalidIdempotencyKey(ValueError):
    """The header is not 1 to 255 visible ASCII characters."""


def checked_idempotency_key(raw: str) -> str:
    """The key as sent; visible ASCII only, so derived ids (`key + " " + n`) never collide with one."""
    if not 0 < len(raw) <= IDEMPOTENCY_KEY_CHARS_MAX or not all("!" <= ch <= "~" for ch in raw):
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_CHARS_MAX} visible ASCII characters (no spaces)"
        )
    return raw


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    media_type: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claimed:
    """The key is ours until `complete` or `abandon` (or the lease runs out)."""

    token: float


@dataclass(frozen=True, slots=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True, slots=True)
class InFlight:
    """The first request with this key and body is still running."""


@dataclass(frozen=True, slots=True)
class OtherBody:
    """The key was used with another request body."""


Claim = Claimed | Replay | InFlight | OtherBody

_COLUMNS: Final = "request_hash, state, status_code, media_type, headers, body, expires_at"


class IdempotencyStore:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def claim(self, *, scope: str, key: str, request_hash: str, lease_s: float) -> Claim:
        """Claim `key` for a request with `request_hash`, or say what became of the earlier one."""
        assert lease_s > 0
        now = self.clock()
        with self.db.write() as tx:
            inserted = tx.one(
                "INSERT INTO idempotency (scope, idem_key, request_hash, state, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, idem_key) DO NOTHING RETURNING created_at",
                (scope, key, request_hash, IN_FLIGHT, now, now + lease_s),
            )
            if inserted is not None:
                return Claimed(now)
            lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""  # SQLite: BEGIN IMMEDIATE
            row = tx.one(f"SELECT {_COLUMNS} FROM idempotency WHERE scope = ? AND idem_key = ?{lock}",
                         (scope, key))
            assert row is not None, "a conflicting row exists until it is purged, and we hold the lock"
            stored_hash, state, status_code, media_type, headers, body, expires_at = row
            if float(expires_at) <= now:
                _take_over(tx, scope=scope, key=key, request_hash=request_hash, now=now, lease_s=lease_s)
                return Claimed(now)
        if stored_hash != request_hash:
            return OtherBody()
        if state == IN_FLIGHT:
            return InFlight()
        assert state == DONE, state
        return Replay(StoredResponse(int(status_code), str(media_type), json.loads(headers), bytes(body)))

    def complete(
        self, *, scope: str, key: str, claim: Claimed, response: StoredResponse, ttl_s: float
    ) -> bool:
        """Keep `response` as the key's answer; False if the claim was lost (its lease ran out)."""
        with self.db.write() as tx:
            row = tx.one(
                "UPDATE idempotency SET state = ?, status_code = ?, media_type = ?, headers = ?, body = ?, "
                "expires_at = ? WHERE scope = ? AND idem_key = ? AND created_at = ? AND state = ? "
                "RETURNING created_at",
                (
                    DONE, response.status_code, response.media_type, json.dumps(response.headers),
                    response.body, self.clock() + ttl_s, scope, key, claim.token, IN_FLIGHT,
                ),
            )
        return row is not None

    def abandon(self, *, scope: str, key: str, claim: Claimed) -> None:
        """Give the key back: nothing was charged, so the same request may simply be sent again."""
        with self.db.write() as tx:
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
