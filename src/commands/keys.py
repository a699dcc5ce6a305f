"""API key commands. The plain key is made here, shown once by the caller, and never stored."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID

from mosaic.commands.accounts import user
from mosaic.commands.credits import account
from mosaic.commands.writer import Unit
from mosaic.domain.errors import NotFound
from mosaic.domain.keys import BASE62, KEY_BODY_CHARS, ApiKey, display_prefix, key_from_body


def new_plain_key() -> str:
    return key_from_body("".join(secrets.choice(BASE62) for _ in range(KEY_BODY_CHARS)))


def keyed_hash(secret: bytes, plain_key: str) -> str:
    """HMAC-SHA-256 of the key with the server secret: microseconds, and useless without the secret."""
    return hmac.digest(secret, plain_key.encode("ascii"), "sha256").hex()  # one C call


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key_id: UUID
    prefix: str
    name: str


def create_key(
    unit: Unit, *, user_id: UUID, key_id: UUID, name: str, plain_key: str, secret: bytes
) -> CreatedKey:
    owner = user(unit, user_id)
    acct = account(unit, UUID(owner.account_id))
    acct.add_key(key_id=key_id)
    prefix = display_prefix(plain_key)
    unit.add(
        ApiKey.create(
            key_id=key_id,
            account_id=acct.id,
            user_id=user_id,
            name=name,
            prefix=prefix,
            key_hash=keyed_hash(secret, plain_key),
        )
    )
    return CreatedKey(key_id, prefix, name)


def revoke_key(unit: Unit, *, user_id: UUID, key_id: UUID, revoked_by: str) -> bool:
    """Revoke the caller's own key; another user's key is 'not found', never 'forbidden'."""
    key = unit.find(ApiKey, key_id)
    if key is None or key.user_id != str(user_id):
        raise NotFound(f"no API key {key_id}")
    changed = key.revoke(revoked_by=revoked_by)
    account(unit, UUID(key.account_id)).remove_key(key_id=key_id)
    return changed
