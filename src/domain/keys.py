"""API keys: their format (checked without any storage) and their lifecycle aggregate.

A key reads `us_live_` + 40 base62 characters of randomness + a 6-character base62 checksum of them,
so a mistyped key is refused before any lookup. The aggregate stores only a keyed hash (HMAC-SHA-256
with a server secret, computed by the command layer) and a display prefix: never the key.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from mosaic.domain.errors import KeyRevoked

KEY_PREFIX = "us_live_"
KEY_BODY_CHARS = 40
KEY_CHECKSUM_CHARS = 6
KEY_CHARS = len(KEY_PREFIX) + KEY_BODY_CHARS + KEY_CHECKSUM_CHARS
KEY_DISPLAY_CHARS = len(KEY_PREFIX) + 6
KEY_NAME_CHARS_MAX = 100
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62)
_KEY_FORMAT = re.compile(re.escape(KEY_PREFIX) + f"[{BASE62}]{{{KEY_BODY_CHARS + KEY_CHECKSUM_CHARS}}}")

assert 62**KEY_BODY_CHARS > 2**200, "at least 200 bits of randomness"


def key_checksum(body: str) -> str:
    """Six base62 characters derived from `body` (not a secret: it catches typos)."""
    number = int.from_bytes(hashlib.sha256(body.encode("ascii")).digest()[:8], "big")
    chars = []
    for _ in range(KEY_CHECKSUM_CHARS):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(chars)


def key_from_body(body: str) -> str:
    assert len(body) == KEY_BODY_CHARS and set(body) <= _BASE62_SET
    return KEY_PREFIX + body + key_checksum(body)


def is_well_formed_key(candidate: str) -> bool:
    """True if `candidate` has the key format and a correct checksum (no storage consulted)."""
    if _KEY_FORMAT.fullmatch(candidate) is None:
        return False
    body_end = len(KEY_PREFIX) + KEY_BODY_CHARS
    return key_checksum(candidate[len(KEY_PREFIX) : body_end]) == candidate[body_end:]


def display_prefix(key: str) -> str:
    return key[:KEY_DISPLAY_CHARS]


class ApiKey(Aggregate):
    class Created(Aggregate.Created):
        account_id: str
        user_id: str
        name: str
        prefix: str
        key_hash: str

    def __init__(self, account_id: str, user_id: str, name: str, prefix: str, key_hash: str) -> None:
        self.account_id = account_id
        self.user_id = user_id
        self.name = name
        self.prefix = prefix
        self.key_hash = key_hash
        self.revoked_by: str | None = None

    @classmethod
    def create(
        cls,
        *,
        key_id: UUID,
        account_id: UUID,
        user_id: UUID,
        name: str,
        prefix: str,
        key_hash: str,
    ) -> ApiKey:
        assert 0 < len(name) <= KEY_NAME_CHARS_MAX, "the edge validates names"
        assert prefix.startswith(KEY_PREFIX) and len(prefix) == KEY_DISPLAY_CHARS
        assert len(key_hash) == 64, "a hex SHA-256, never the key"
        return cls._create(
            cls.Created,
            id=key_id,
            account_id=str(account_id),
            user_id=str(user_id),
            name=name,
            prefix=prefix,
            key_hash=key_hash,
        )

    @property
    def is_revoked(self) -> bool:
        return self.revoked_by is not None

    def revoke(self, *, revoked_by: str) -> bool:
        """Revoke the key. False (and no event) if it was revoked already."""
        if self.is_revoked:
            return False
        self.trigger_event(self.Revoked, revoked_by=revoked_by)
        return True

    def check_usable(self) -> None:
        if self.is_revoked:
            raise KeyRevoked("this API key has been revoked")

    class Revoked(Aggregate.Event):
        revoked_by: str

        def apply(self, key: Any) -> None:
            assert isinstance(key, ApiKey)
            key.revoked_by = self.revoked_by
