"""The audit chain: what an auditor recomputes to prove the log was not rewritten.

    hash_0 = 32 zero bytes
    hash_n = SHA-256(hash_{n-1} || canonical(event n))      for the events in log (position) order

`canonical(event)` is the UTF-8 JSON of

    {"aggregate": "<originator id, lowercase hyphenated UUID>", "body": <the stored event body>,
     "position": <notification id>, "topic": "<event class topic>", "version": <originator version>}

with keys sorted, no whitespace, and non-ASCII characters written as UTF-8 (RFC 8785 JSON
canonicalisation for the value types events contain: objects, strings, integers, booleans and null;
event bodies hold no floats). In Python:
`json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

GENESIS = bytes(32)

_body_decoder = msgspec.json.Decoder(dict[str, Any])
_sorted_encode = msgspec.json.Encoder(order="sorted").encode
_sha256 = hashlib.sha256

EventRow = tuple[int, str, int, str, dict[str, Any]]  # position, aggregate, version, topic, body
StoredRow = tuple[int, str, int, str, bytes]  # the same with the body as stored (JSON)

# canonical(event) % (JSON of aggregate, body, position, JSON of topic, version) when the stored
# body is canonical JSON already, as the event store writes it (keys sorted, no whitespace).
CANONICAL_AROUND_STORED = b'{"aggregate":%s,"body":%s,"position":%d,"topic":%s,"version":%d}'


def json_string(text: str) -> bytes:
    return msgspec.json.encode(text)


def decode_body(state: bytes) -> dict[str, Any]:
    """The stored state as plain JSON values (no datetime conversion: the chain hashes it as stored)."""
    return _body_decoder.decode(state)


def canonical(event: EventRow) -> bytes:
    position, aggregate, version, topic, body = event
    return _sorted_encode(
        {"aggregate": aggregate, "body": body, "position": position, "topic": topic, "version": version}
    )


def next_hash(previous: bytes, event: EventRow) -> bytes:
    """hash_n from hash_{n-1} and event n."""
    return _sha256(previous + canonical(event)).digest()
