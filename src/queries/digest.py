"""Signed digests of the audit chain's head: Ed25519, so an auditor verifies them without our secret.

The signing key is derived from the server secret (HMAC with a fixed label), so every server of a
deployment signs with the same key and the public key can be published (`GET /api/audit/digest`
carries it). A digest says: "the log up to `position` hashes to `hash`", signed at `issued_at`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

LABEL = b"mosaic audit digest signing key v1"


class Digest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    position: int
    hash: str
    issued_at: str
    public_key: str
    signature: str

    def message(self) -> bytes:
        return f"mosaic-audit-digest:v1:{self.position}:{self.hash}:{self.issued_at}".encode()


def signing_key(secret: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hmac.new(secret, LABEL, hashlib.sha256).digest())


def public_key_hex(secret: bytes) -> str:
    return signing_key(secret).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def sign(secret: bytes, *, position: int, hash_hex: str, now: datetime | None = None) -> Digest:
    issued_at = (now or datetime.now(UTC)).isoformat()
    unsigned = Digest(position, hash_hex, issued_at, public_key_hex(secret), "")
    signature = signing_key(secret).sign(unsigned.message()).hex()
    return msgspec.structs.replace(unsigned, signature=signature)


def signature_is_valid(digest: Digest, *, trusted_public_key: str | None = None) -> bool:
    """True if the signature matches the digest's key (and that key is the trusted one, if given)."""
    if trusted_public_key is not None and digest.public_key != trusted_public_key:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(digest.public_key))
        key.verify(bytes.fromhex(digest.signature), digest.message())
    except (InvalidSignature, ValueError):
        return False
    return True


def load(data: bytes) -> Digest:
    return msgspec.json.decode(data, type=Digest)


def dump(digest: Digest) -> bytes:
    return msgspec.json.format(msgspec.json.encode(digest), indent=2) + b"\n"
