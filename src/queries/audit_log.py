"""Reading the log for auditors: export as JSON lines, verify a database or an export file."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import msgspec

from mosaic.config import DatabaseUrl
from mosaic.queries.audit import (
    DISCREPANCIES_KEPT_MAX,
    ChainCheck,
    ExpectedViews,
    LogEvent,
    Report,
    RuleFold,
    readable,
    replay_log,
    rule_fields,
)
from mosaic.queries.chain import GENESIS, EventRow, StoredRow, decode_body
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
            "FROM mosaic_events WHERE notification_id > ? AND notification_id <= ? ORDER BY notification_id"
        )
    return (
        "SELECT rowid, originator_id, originator_version, topic, state "
        "FROM stored_events WHERE rowid > ? AND rowid <= ? ORDER BY rowid"
    )


def _aggregate_name(originator_id: str) -> str:
    """SQLite keeps ids as 32 hex digits; the chain uses the hyphenated form PostgreSQL returns."""
    if "-" in originator_id:
        return originator_id
    i = originator_id
    return f"{i[:8]}-{i[8:12]}-{i[12:16]}-{i[16:20]}-{i[20:]}"


def _rows(
    source: Database | Tx,
    *,
    after: int = 0,
    upto: int | None = None,
    decoder_for: Callable[[str], Callable[[bytes], Any]] | None = None,
) -> Iterator[tuple[int, str, int, str, Any]]:
    """(position, aggregate, version, topic, body) of every event after `after` (up to `upto`), in
    log order, straight from the event table; each body decoded by `decoder_for(topic)`, or as stored."""
    sql, params = _events_sql(source.dialect), (after, sys.maxsize if upto is None else upto)
    names: dict[str, str] = {}
    decoders: dict[str, Callable[[bytes], Any]] = {}
    for position, originator_id, version, topic, state in source.stream(sql, params):
        aggregate = names.get(originator_id)
        if aggregate is None:
            aggregate = names[originator_id] = _aggregate_name(originator_id)
        if decoder_for is None:
            yield position, aggregate, version, topic, state
        else:
            decode = decoders.get(topic) or decoders.setdefault(topic, decoder_for(topic))
            yield position, aggregate, version, topic, readable(decode, state)


def _stored_rows(source: Database | Tx, *, after: int = 0, upto: int | None = None) -> Iterator[StoredRow]:
    """Every event's body as stored (JSON)."""
    return _rows(source, after=after, upto=upto)


def _log_rows(source: Database | Tx, *, after: int = 0, upto: int | None = None) -> Iterator[EventRow]:
    """Every event's body decoded, as it was stored."""
    return _rows(source, after=after, upto=upto, decoder_for=_whole_body)


def _rule_rows(source: Database | Tx, *, after: int = 0, upto: int | None = None) -> Iterator[EventRow]:
    """Only what the rules read of each body decoded (see `rule_fields`): the rest is skipped."""
    return _rows(source, after=after, upto=upto, decoder_for=_rule_body)


def _whole_body(topic: str) -> Callable[[bytes], dict[str, Any]]:
    return decode_body


def _rule_body(topic: str) -> Callable[[bytes], dict[str, Any]]:
    decode: Callable[[bytes], dict[str, Any]] = msgspec.json.Decoder(rule_fields(topic)).decode
    return decode


def iter_log(source: Database | Tx, *, after: int = 0) -> Iterator[LogEvent]:
    """Every event after position `after`, in log order, straight from the event table."""
    for row in _log_rows(source, after=after):
        yield LogEvent(*row)


def iter_chain(
    source: Database | Tx, *, after: int = 0, upto: int | None = None
) -> Iterator[tuple[int, str]]:
    """(position, hash) of the chain table, in order (both back-ends return them as int and str)."""
    sql = "SELECT position, hash FROM audit_chain WHERE position > ? AND position <= ? ORDER BY position"
    rows: Iterator[Any] = source.stream(sql, (after, sys.maxsize if upto is None else upto))
    return rows


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
    chain = ChainCheck(Report())
    for row in _log_rows(db):
        hash_hex = chain.step(row).hex()
        if row[0] > after:
            yield export_line(LogEvent(*row), hash_hex)


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
    # Each of these bounds a change (somewhere in 1..position) without locating it.
    if not signature_is_valid(digest, trusted_public_key=trusted_key):
        message = "the digest's signature is not valid (or not from the trusted key)"
    elif recomputed is None:
        message = f"the digest's position {digest.position} is no longer in the log"
    elif recomputed != digest.hash:
        message = "the log up to the digest's position no longer hashes to the digest"
    else:
        return
    report.problem(digest.position, message, located=False)


def verify_export(
    lines: Iterable[bytes | str], *, digest: Digest | None = None, trusted_key: str | None = None
) -> Report:
    """Verify an export file: rules, its own chain hashes, and the digest. No database involved."""
    report, _, chain = replay_log(
        events_from_export(lines), expected_hashes=True, keep_hash_at=digest.position if digest else None
    )
    if digest is not None:
        check_digest(report, chain.kept_hash, digest, trusted_key)
    return report


def verify_database(
    db: Database,
    *,
    digest: Digest | None = None,
    trusted_key: str | None = None,
    processes: int | None = None,
) -> Report:
    """Replay from zero, check the rules, the chain table, the live views and the digest.

    Everything is read in one snapshot: events committed while the replay runs are not seen, and
    the views are compared with the replay at the position they had folded, so a live server's
    traffic is never taken for a discrepancy.

    The chain and the rules are independent folds of the same log, and the chain can be checked
    from any recorded hash on: on a large log (or with `processes=2`) a second process recomputes
    the chain from the recorded hash at `CHAIN_SHARE_HERE` of the log (its start, as set) to the
    head, while this one folds the rules and checks the chain up to that hash. The second
    process reads its own snapshot, bounded by this one's head: the log is append-only and each
    commit's positions follow the last one's, so every position up to the head is the same event
    in both. The views are compared while the chain process is still at work.
    """
    started = time.perf_counter()
    keep_hash_at = digest.position if digest else None
    with db.snapshot() as tx:
        tracked: Any = tx.one("SELECT position FROM projection_tracking WHERE name = ?", (TRACKING_NAME,))
        views_at = None if tracked is None else int(tracked[0])
        head = _head(tx)
        if processes is None:
            processes = 2 if head >= PARALLEL_FROM_EVENTS and (os.cpu_count() or 1) > 1 else 1
        split = _recorded_hash_near(tx, int(head * CHAIN_SHARE_HERE)) if processes > 1 else None
        rules_report, chain_report = Report(), Report()
        rules = RuleFold(rules_report, views_at=views_at)
        upto = head if split is None else split[0]
        chain = ChainCheck(chain_report, chain_rows=iter_chain(tx, upto=upto), keep_hash_at=keep_hash_at)
        with _pool(split is not None) as pool:
            rest = None
            if pool is not None and split is not None:
                rest = pool.submit(_chain_pass, db.url, split, head, keep_hash_at)
            rules.run(_stepping(chain, _log_rows(tx, upto=upto)))
            rules.run(_rule_rows(tx, after=upto, upto=head))
            rules.finish()
            views = Report(head_position=rules.last_position)  # compared while the chain process runs
            if rules.expected_views is None:
                views.notes.append("the views have never been projected; they were not compared")
            else:
                _compare_with_views(tx, rules.expected_views, views)
            outcomes = [_outcome(chain)] + ([] if rest is None else [rest.result()])
        report = _merged(rules_report, outcomes)
        kept_hash = next((o.kept_hash for o in outcomes if o.kept_hash is not None), None)
        if digest is not None:
            check_digest(report, kept_hash, digest, trusted_key)
        for position, message in views.discrepancies:
            report.problem(position, message)
        report.notes += views.notes
    report.seconds = time.perf_counter() - started
    return report


PARALLEL_FROM_EVENTS = 100_000  # below this, starting a second process costs more than it saves
# The share of the chain checked by the process that also folds the rules and compares the views:
# none. Folding the rules and comparing the views costs about what the chain process spends (it hashes
# most bodies as stored), so giving this process a share only unbalances the two (see bench/audit.py).
CHAIN_SHARE_HERE = 0.0


@dataclass(frozen=True)
class ChainOutcome:
    """What a chain pass found, as it crosses from the worker process."""

    discrepancies: list[tuple[int, str]]
    head_position: int
    head_hash: str
    kept_hash: str | None


def _head(tx: Tx) -> int:
    """The last position of the log or of the chain table (a deleted last event leaves its chain row)."""
    postgres = tx.dialect == "postgresql"
    table, column = ("mosaic_events", "notification_id") if postgres else ("stored_events", "rowid")
    events: Any = tx.one(f"SELECT max({column}) FROM {table}")
    chain: Any = tx.one("SELECT max(position) FROM audit_chain")
    return max(int(events[0] or 0), int(chain[0] or 0))


def _stepping(chain: ChainCheck, events: Iterable[EventRow]) -> Iterator[EventRow]:
    """`events`, each checked by `chain` on its way through."""
    for event in events:
        chain.step(event)
        yield event


def _pool(wanted: bool) -> contextlib.AbstractContextManager[ProcessPoolExecutor | None]:
    if not wanted:
        return contextlib.nullcontext()
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def _recorded_hash_near(tx: Tx, position: int) -> tuple[int, str]:
    """The chain table's last (position, hash) at or before `position` (else the chain's start)."""
    sql = "SELECT position, hash FROM audit_chain WHERE position <= ? ORDER BY position DESC LIMIT 1"
    row: Any = tx.one(sql, (position,))
    return (0, GENESIS.hex()) if row is None else (int(row[0]), str(row[1]))


def _chain_pass(
    url: DatabaseUrl, start: tuple[int, str], head: int, keep_hash_at: int | None
) -> ChainOutcome:
    """In a worker process: recompute the chain from the recorded hash `start` (position, hash)
    up to `head`, comparing it with the chain table on the way."""
    db = Database(url)
    try:
        with db.snapshot() as tx:
            after, previous = start
            chain = ChainCheck(
                Report(), chain_rows=iter_chain(tx, after=after, upto=head), keep_hash_at=keep_hash_at
            )
            chain.previous = bytes.fromhex(previous)
            chain.run_stored(_stored_rows(tx, after=after, upto=head))
            return _outcome(chain)
    finally:
        db.close()


def _outcome(chain: ChainCheck) -> ChainOutcome:
    chain.finish()
    report = chain.report
    return ChainOutcome(report.discrepancies, report.head_position, report.head_hash, chain.kept_hash)


def _merged(rules: Report, chains: list[ChainOutcome]) -> Report:
    """The rules' report with the chain passes' findings (passes in log order)."""
    found = rules.discrepancies + [problem for chain in chains for problem in chain.discrepancies]
    rules.discrepancies = sorted(found, key=lambda problem: problem[0])[:DISCREPANCIES_KEPT_MAX]
    head = max(chains, key=lambda chain: chain.head_position)
    rules.head_position, rules.head_hash = head.head_position, head.head_hash
    return rules


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
    charges = set(tx.all("SELECT charge_id, cost_credits, refunded_credits FROM charges"))
    revoked = {row[0]: row[1] is not None for row in tx.all("SELECT key_id, revoked_at FROM api_keys")}
    position = expected.position
    if set(balances) != set(expected.balances):
        report.problem(position, "the balances view and the log disagree on which accounts exist")
    for account_id, settled_reserved in expected.balances.items():
        if balances.get(account_id) != settled_reserved:
            report.problem(position, f"the balances view disagrees with the log for account {account_id}")
    if charges != expected.charges:  # a whole-set comparison first: a million charges take a moment
        for charge_id in sorted({charge_id for charge_id, _, _ in charges ^ expected.charges}):
            report.problem(position, f"the charges view disagrees with the log for charge {charge_id}")
    if revoked != expected.keys_revoked:
        report.problem(position, "the api_keys view disagrees with the log on which keys are revoked")
