"""Who is calling: an API key (`Bearer us_live_…`) or a JWT issued by sign-in.

An API key costs microseconds: its checksum is checked with no storage at all, then its keyed hash
(HMAC) is looked up through a small per-process cache in front of the `api_keys` view. Entries live
at most `KEY_CACHE_TTL_S`, so a key revoked through another server is refused here within that time;
a key revoked through this server is dropped from the cache at once (`forget_key`). A key in use is
looked up again in the background once its entry has lived half its time, while the entry still
answers: under load a lookup waits for a worker thread and for the interpreter, 15-80 ms measured at
5,500 requests/s, and every request for that key would wait with it twice a second. Requests that find
no entry at all share one lookup instead of each sending one to a worker thread.

JWTs are HS256 only (algorithms pinned), signed with a secret derived from the server secret under
its own label, so a token secret never equals the key-hash secret. `exp`, `iat` and `sub` are required.
A token also carries `ver`, the user's session version when it was issued (none: 0, as before there
was one); a password reset or change moves the version on and so ends every earlier session. The
check reads the version through a per-process cache whose entries live `SESSION_CACHE_TTL_S`, so a
session ended through another server is refused here within that time, and one ended through this
server at once (`forget_sessions`); it is refreshed ahead and shared as the key cache is.
Every failure is a 401 (`Unauthorized`), never a 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

import jwt
from starlette.concurrency import run_in_threadpool

from mosaic.commands.owners import Owners
from mosaic.domain.keys import KEY_CHARS, KEY_PREFIX, is_well_formed_key
from mosaic.domain.plans import api_access_refusal
from mosaic.domain.users import ROLES
from mosaic.http.errors import NotPermitted, Unauthorized
from mosaic.queries.views import KeyGrant

KEY_CACHE_TTL_S = 0.5
KEY_CACHE_ENTRIES_MAX = 10_000
SESSION_CACHE_TTL_S = 0.5
SESSION_CACHE_ENTRIES_MAX = 10_000
AUTHORIZATION_CHARS_MAX = 4_096
JWT_ALGORITHM = "HS256"
JWT_SECRET_LABEL = b"mosaic/jwt-hs256/v1"

assert KEY_CACHE_TTL_S <= 1.0, "a key revoked elsewhere must be refused here within 1 s"
assert SESSION_CACHE_TTL_S <= 1.0, "a session ended elsewhere must be refused here within 1 s"

K = TypeVar("K")
V = TypeVar("V")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mosaic"'}


def unauthorized(code: str, message: str) -> Unauthorized:
    return Unauthorized(code, message, headers=_CHALLENGE)


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["api_key", "jwt"]
    user_id: str
    account_id: str
    role: str
    key_id: str | None = None

    @property
    def rate_identity(self) -> str:
        """What the API rate limit counts: each key on its own, or the signed-in user."""
        return f"key:{self.key_id}" if self.key_id is not None else f"user:{self.user_id}"


class _ExpiringEntries(Generic[K, V]):
    """key → (value, refresh time, expiry), bounded (oldest out first); `epoch` guards against a lookup
    racing a change: a `put` read under an older epoch than the current one is dropped, its answer may
    be stale. An entry is served until its expiry; from half its life on, `lookup` says it is due."""

    def __init__(self, ttl_s: float, entries_max: int, clock: Callable[[], float]) -> None:
        assert ttl_s > 0 and entries_max > 0
        self.ttl_s = ttl_s
        self.clock = clock
        self.entries_max = entries_max
        self.epoch = 0
        self._entries: OrderedDict[K, tuple[V, float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> tuple[bool, V | None]:
        hit, value, _ = self.lookup(key)
        return hit, value

    def lookup(self, key: K) -> tuple[bool, V | None, bool]:
        """(hit, value, due): `due` when a hit has lived half its time and should be looked up again."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None, False
        now = self.clock()
        if entry[2] <= now:
            return False, None, False
        return True, entry[0], entry[1] <= now

    def put(self, key: K, value: V, *, epoch: int) -> None:
        with self._lock:
            if epoch != self.epoch:
                return
            now = self.clock()
            self._entries[key] = (value, now + self.ttl_s / 2, now + self.ttl_s)
            self._entries.move_to_end(key)
            while len(self._entries) > self.entries_max:
                self._entries.popitem(last=False)

    def _forget(self, key: K) -> None:
        with self._lock:
            self.epoch += 1
            self._entries.pop(key, None)

    def _forget_where(self, matches: Callable[[K, V], bool]) -> None:
        with self._lock:
            self.epoch += 1
            for key, (value, _, _) in list(self._entries.items()):
                if matches(key, value):
                    del self._entries[key]


class KeyGrantCache(_ExpiringEntries[str, KeyGrant | None]):
    """key hash → grant (None: no such key)."""

    def __init__(
        self,
        ttl_s: float = KEY_CACHE_TTL_S,
        entries_max: int = KEY_CACHE_ENTRIES_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert ttl_s <= KEY_CACHE_TTL_S
        super().__init__(ttl_s, entries_max, clock)

    def forget_key(self, key_id: str) -> None:
        self._forget_where(lambda _, grant: grant is not None and grant.key_id == key_id)

    def forget_account(self, account_id: str) -> None:
        """Drop the account's keys (its subscription changed): looked up afresh on next use."""
        self._forget_where(lambda _, grant: grant is not None and grant.account_id == account_id)


class SessionVersions(_ExpiringEntries[str, int | None]):
    """user id → session version (None: no such user)."""

    def __init__(
        self,
        ttl_s: float = SESSION_CACHE_TTL_S,
        entries_max: int = SESSION_CACHE_ENTRIES_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert ttl_s <= SESSION_CACHE_TTL_S
        super().__init__(ttl_s, entries_max, clock)

    def forget(self, user_id: str) -> None:
        self._forget(user_id)


class _SharedLookups(Generic[K, V]):
    """One lookup in flight per key, in a worker thread, whose answer goes into `entries`.

    Callers that need the answer await it (shielded: one caller going away does not cancel the
    others'); a refresh ahead of expiry starts it and goes on with the entry it has.
    """

    def __init__(self, entries: _ExpiringEntries[K, V], read: Callable[[K], V]) -> None:
        self.entries = entries
        self._read = read
        self._in_flight: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K) -> V | None:
        hit, value, due = self.entries.lookup(key)
        if not hit:
            return await self.fetch(key)
        if due:
            self.refresh(key)
        return value

    async def fetch(self, key: K) -> V:
        """The answer of this key's lookup in flight, or of a new one."""
        return await asyncio.shield(self._start(key))

    def refresh(self, key: K) -> None:
        """Look the key up in the background, unless a lookup is in flight."""
        self._start(key)

    def _start(self, key: K) -> asyncio.Future[V]:
        lookup = self._in_flight.get(key)
        if lookup is None:
            lookup = self._in_flight[key] = asyncio.ensure_future(self._look_up(key))
            lookup.add_done_callback(lambda done: self._finished(key, done))
        return lookup

    def _finished(self, key: K, done: asyncio.Future[V]) -> None:
        self._in_flight.pop(key, None)
        if not done.cancelled():
            done.exception()  # a refresh nobody awaited failed: the next miss reads (and reports) again

    async def _look_up(self, key: K) -> V:
        epoch = self.entries.epoch
        value = await run_in_threadpool(self._read, key)
        self.entries.put(key, value, epoch=epoch)
        return value


class Authenticator:
    def __init__(
        self, owners: Owners, *, secret: bytes, token_ttl_s: int, cache: KeyGrantCache | None = None
    ) -> None:
        self.owners = owners
        self._grants = _SharedLookups(cache or KeyGrantCache(), owners.key_grant)
        self._versions = _SharedLookups(SessionVersions(), owners.token_version)
        self._jwt_secret = hmac.new(secret, JWT_SECRET_LABEL, hashlib.sha256).digest()
        self.token_ttl_s = token_ttl_s

    async def authenticate(self, authorization: str | None, *, api_key_allowed: bool) -> Principal:
        token = _bearer_token(authorization)
        if token.startswith(KEY_PREFIX):
            if not api_key_allowed:
                raise unauthorized(
                    "api_key_not_accepted", "this route needs a signed-in session (JWT), not an API key"
                )
            return await self._api_key(token)
        principal, version = self._jwt(token)
        await self._check_session(principal.user_id, version)
        return principal

    # -- API keys ------------------------------------------------------------------------------

    async def _api_key(self, key: str) -> Principal:
        if len(key) != KEY_CHARS or not key.isascii():
            raise _malformed_key()
        key_hash = self.owners.key_hash(key)
        hit, grant, due = self._grants.entries.lookup(key_hash)
        if not hit:
            # The checksum saves a lookup for a mistyped key; a key whose keyed hash is cached is
            # known already (its checksum was checked when it was cached), so only a miss needs it.
            if not is_well_formed_key(key):
                raise _malformed_key()
            grant = await self._grants.fetch(key_hash)
        elif due:
            self._grants.refresh(key_hash)
        if grant is None:
            raise unauthorized("invalid_api_key", "this API key is not known")
        if grant.revoked:
            raise unauthorized("api_key_revoked", "this API key has been revoked")
        refusal = api_access_refusal(api_access=grant.api_access, sub_status=grant.sub_status)
        if refusal is not None:
            raise NotPermitted(*refusal)
        return Principal("api_key", grant.user_id, grant.account_id, "user", key_id=grant.key_id)

    @property
    def cache(self) -> KeyGrantCache:
        assert isinstance(self._grants.entries, KeyGrantCache)
        return self._grants.entries

    @cache.setter
    def cache(self, cache: KeyGrantCache) -> None:
        self._grants.entries = cache

    @property
    def sessions(self) -> SessionVersions:
        assert isinstance(self._versions.entries, SessionVersions)
        return self._versions.entries

    def forget_key(self, key_id: str) -> None:
        self.cache.forget_key(key_id)

    def forget_account(self, account_id: str) -> None:
        self.cache.forget_account(account_id)

    # -- JWT -----------------------------------------------------------------------------------

    def issue_token(self, *, user_id: str, account_id: str, role: str, token_version: int = 0) -> str:
        now = int(time.time())
        claims = {
            "sub": user_id,
            "acct": account_id,
            "role": role,
            "ver": token_version,
            "iat": now,
            "exp": now + self.token_ttl_s,
        }
        return jwt.encode(claims, self._jwt_secret, algorithm=JWT_ALGORITHM)

    async def session(self, token: str) -> Principal:
        """The signed-in user of a web page's session cookie (the same JWT sign-in issues, checked
        the same way, its session version included)."""
        if token.startswith(KEY_PREFIX) or len(token) > AUTHORIZATION_CHARS_MAX:
            raise unauthorized("invalid_token", "this session is not valid; sign in again")
        principal, version = self._jwt(token)
        await self._check_session(principal.user_id, version)
        return principal

    def forget_sessions(self, user_id: str) -> None:
        """The user's sessions were ended through this server: refuse their old tokens at once."""
        self.sessions.forget(user_id)

    async def _check_session(self, user_id: str, version: int) -> None:
        current = await self._versions.get(user_id)
        if current is None:
            raise unauthorized("invalid_token", "this token's user is not known")
        # Versions only grow, and only this service signs tokens: one newer than this server knows
        # was issued by a server whose views (or cache) are ahead, after a reset; it is valid.
        if version < current:
            raise unauthorized(
                "session_ended", "this session was ended (the password was reset or changed); sign in again"
            )

    def _jwt(self, token: str) -> tuple[Principal, int]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._jwt_secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("token_expired", "this token has expired; sign in again") from None
        except jwt.InvalidTokenError:
            raise unauthorized("invalid_token", "this token is not valid") from None
        user_id, account_id, role = claims.get("sub"), claims.get("acct"), claims.get("role")
        version = claims.get("ver", 0)
        if not (_is_uuid(user_id) and _is_uuid(account_id) and role in ROLES) or type(version) is not int:
            raise unauthorized("invalid_token", "this token's claims are not valid")
        assert isinstance(user_id, str) and isinstance(account_id, str) and isinstance(role, str)
        return Principal("jwt", user_id, account_id, role), version


def _malformed_key() -> Unauthorized:
    return unauthorized("invalid_api_key", "this API key is malformed (its checksum is wrong)")


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise unauthorized("missing_credentials", "send Authorization: Bearer <API key or token>")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if (
        scheme.lower() != "bearer"
        or not token
        or " " in token
        or len(authorization) > AUTHORIZATION_CHARS_MAX
    ):
        raise unauthorized("malformed_authorization", "the Authorization header must read 'Bearer <token>'")
    return token


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        UUID(value)
    except ValueError:
        return False
    return True
