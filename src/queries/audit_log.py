"""Reading the log for auditors: export as JSON lines, verify a database or an export file."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from mosaic.queries.audit import ExpectedViews, LogEvent, Replay, Report, replay_log
from mosaic.queries.chain import decode_body
from mosaic.queries.db import Database, Tx
from mosaic.queries.digest import Digest, signature_is_valid
from mosaic.queries.projections import TRACKING_NAME

_line_encoder = msgspec.json.Encoder()

UNPINNED_SIGNER = (
    "digest signer not pinned: its signature was checked only against the public key the digest "
    "carries, which whoever wrote it chooses; pass --trusted-key HEX (the server's public key: "
    "`public_key` from `mosaic audit digest` on the server, or from GET /api/audit/digest)"
)


def _events_sql(dialect: str) -> str:
    if dialect == "postgresql":
        return (
            "SELECT notification_id, originator_id::text, originator_version, topic, state "
            "FROM mosaic_events WHERE notification_id > ? ORDER BY notification_id"
        )
    return (
        "SELECT rowid, originator_id, originator_version, topic, state "
        "FROM stored_events WHERE rowid > ? ORDER BY rowid"
    )


def iter_log(source: Database | Tx, *, after: int = 0) -> Iterator[LogEvent]:
    """Every event after position `after`, in log order, straight from the event table."""
    names: dict[str, str] = {}
    rows = source.stream(_events_sql(source.dialect), (after,))
    for position, originator_id, version, topic, state in rows:
        aggregate = names.get(originator_id)
        if aggregate is None:  # SQLite keeps ids as 32 hex digits; the chain uses the hyphenated form
            aggregate = names[originator_id] = (
                originator_id
                if "-" in originator_id
                else (
                    f"{originator_id[:8]}-{originator_id[8:12]}-{originator_id[12:16]}-"
                    f"{originator_id[16:20]}-{originator_id[20:]}"
                )
            )
        yield LogEvent(int(position), aggregate, int(version), topic, decode_body(bytes(state)))


def iter_chain(source: Database | Tx) -> Iterator[tuple[int, str]]:
    for position, hash_hex in source.stream("SELECT position, hash FROM audit_chain ORDER BY position"):
        yield int(position), hash_hex


def export_line(event: LogEvent, hash_hex: str) -> bytes:
    kind = event.topic.rsplit(":", 1)[-1]
    return _line_encoder.encode(
        {
            "position": event.position,
            "type": kind,
            "topic": event.topic,
            "aggregate": event.aggregate,
            "version": event.version,
            "time": event.body.get("timestamp"),
            "body": event.body,
            "hash": hash_hex,
        }
    )


def export(db: Database, *, after: int = 0) -> Iterator[bytes]:
    """JSON lines of the log after `after`, each with its chain hash (recomputed from zero)."""
    replay = Replay()
    for event in iter_log(db):
        hash_hex = replay.feed(event).hex()
        if event.position > after:
            yield export_line(event, hash_hex)


def events_from_export(lines: Iterable[bytes | str]) -> Iterator[LogEvent]:
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        body = row["body"]
        body["_hash"] = row["hash"]
        yield LogEvent(row["position"], row["aggregate"], row["version"], row["topic"], body)


def check_digest(report: Report, recomputed: str | None, digest: Digest, trusted_key: str | None) -> None:
    """A digest proves the log only if its signer is known: without `trusted_key`, anyone who
    rewrote the log could have signed a matching digest, so the check counts as not verified."""
    if trusted_key is None:
        report.unverified.append(UNPINNED_SIGNER)
    if not signature_is_valid(digest, trusted_public_key=trusted_key):
        report.problem(digest.position, "the digest's signature is not valid (or not from the trusted key)")
    elif recomputed is None:
        report.problem(digest.position, f"the digest's position {digest.position} is no longer in the log")
    elif recomputed != digest.hash:
        report.problem(digest.position, "the log up to the digest's position no longer hashes to the digest")


def verify_export(
    lines: Iterable[bytes | str], *, digest: Digest | None = None, trusted_key: str | None = None
) -> Report:
    """Verify an export file: rules, its own chain hashes, and the digest. No database involved."""
    replay = replay_log(
        events_from_export(lines), expected_hashes=True, keep_hash_at=digest.position if digest else None
    )
    if digest is not None:
        check_digest(replay.report, replay.kept_hash, digest, trusted_key)
    return replay.report


def verify_database(db: Database, *, digest: Digest | None = None, trusted_key: str | None = None) -> Report:
    """Replay from zero, check the rules, the chain table, the live views and the digest.

    Everything is read in one snapshot: events committed while the replay runs are not seen, and
    the views are compared with the replay at the position they had folded, so a live server's
    traffic is never taken for a discrepancy.
    """
    with db.snapshot() as tx:
        tracked: Any = tx.one("SELECT position FROM projection_tracking WHERE name = ?", (TRACKING_NAME,))
        views_at = None if tracked is None else int(tracked[0])
        replay = replay_log(
            iter_log(tx),
            chain_rows=iter_chain(tx),
            keep_hash_at=digest.position if digest else None,
            views_at=views_at,
        )
        if digest is not None:
            check_digest(replay.report, replay.kept_hash, digest, trusted_key)
        if replay.expected_views is None:
            replay.report.notes.append("the views have never been projected; they were not compared")
        else:
            _compare_with_views(tx, replay.expected_views, replay.report)
    return replay.report


def _compare_with_views(tx: Tx, expected: ExpectedViews, report: Report) -> None:
    if expected.position < report.head_position:
        report.notes.append(
            f"the views had folded the log up to position {expected.position} of {report.head_position}; "
            "they were compared with the replay at that position"
        )
    balances = {
        row[0]: (int(row[1]), int(row[2]))
        for row in tx.all("SELECT account_id, settled_credits, reserved_credits FROM balances")
    }
    charges = {
        row[0]: (int(row[1]), int(row[2]))
        for row in tx.all("SELECT charge_id, cost_credits, refunded_credits FROM charges")
    }
    revoked = {row[0]: row[1] is not None for row in tx.all("SELECT key_id, revoked_at FROM api_keys")}
    position = expected.position
    if set(balances) != set(expected.balances):
        report.problem(position, "the balances view and the log disagree on which accounts exist")
    for account_id, settled_reserved in expected.balances.items():
        if balances.get(account_id) != settled_reserved:
            report.problem(position, f"the balances view disagrees with the log for account {account_id}")
    for charge_id, cost_refunded in expected.charges.items():
        if charges.get(charge_id) != cost_refunded:
            report.problem(position, f"the charges view disagrees with the log for charge {charge_id}")
    if revoked != expected.keys_revoked:
        report.problem(position, "the api_keys view disagrees with the log on which keys are revoked")
