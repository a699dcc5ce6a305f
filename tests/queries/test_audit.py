"""Auditors: the chain, signed digests, and tampering found directly in SQL on both back-ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mosaic.bootstrap import Services
from mosaic.commands.store import events_table
from mosaic.queries import audit_log
from mosaic.queries import digest as digests
from mosaic.queries.audit import LogEvent, Replay
from mosaic.queries.audit_log import export, export_line, iter_log, verify_database, verify_export
from tests import charging
from tests.conftest import TEST_SECRET, both_backends

ROOT = Path(__file__).parents[2]


def busy_history(services: Services) -> uuid.UUID:
    committed = services.ledger.register_user(email="ada@example.com", password="correct horse battery", plan_name="commercial")
    user_id, account_id = committed.value.user_id, committed.value.account_id
    key, _ = services.ledger.create_key(user_id=user_id, name="shop")
    for i in range(6):
        request_id = uuid.uuid4()
        charging.reserve(services, account_id, request_id, tool="cbn", cost_credits=2)
        if i % 3 == 2:
            charging.release(services, account_id, request_id, "failed")
        else:
            charging.capture(services, account_id, request_id)
            if i == 1:
                services.ledger.refund(account_id=account_id, charge_id=request_id, amount_credits=1, reason="smudge", issued_by="support")
    services.ledger.revoke_key(user_id=user_id, key_id=key.value.key_id)
    services.ledger.grant_credits(account_id=account_id, amount_credits=7, reason="sorry", issued_by="support")
    services.runner.catch_up()
    return account_id


def signed_head(services: Services) -> digests.Digest:
    head = services.views.chain_head()
    assert head is not None
    return digests.sign(TEST_SECRET.encode(), position=head[0], hash_hex=head[1])


class Tamper:
    """Direct SQL on the event table, as an attacker with database access would do it."""

    def __init__(self, services: Services) -> None:
        self.db = services.db
        self.table = events_table(services.db.dialect)
        self.pos = "notification_id" if services.db.dialect == "postgresql" else "rowid"

    def rows(self) -> list[tuple[Any, ...]]:
        with self.db.read() as tx:
            return tx.all(f"SELECT {self.pos}, originator_id, originator_version, topic, state FROM {self.table} ORDER BY {self.pos}")

    def position_of(self, topic_suffix: str, nth: int = 0) -> int:
        return [int(r[0]) for r in self.rows() if r[3].endswith(topic_suffix)][nth]

    def change_amount(self, position: int) -> None:
        state = next(r[4] for r in self.rows() if int(r[0]) == position)
        body = json.loads(bytes(state))
        body["cost_credits"] = body["cost_credits"] + 40
        with self.db.write() as tx:
            tx.execute(f"UPDATE {self.table} SET state = ? WHERE {self.pos} = ?", (json.dumps(body).encode(), position))

    def delete(self, position: int) -> None:
        with self.db.write() as tx:
            tx.execute(f"DELETE FROM {self.table} WHERE {self.pos} = ?", (position,))

    def swap(self, a: int, b: int) -> None:
        with self.db.write() as tx:
            tx.execute(f"UPDATE {self.table} SET {self.pos} = -1 WHERE {self.pos} = ?", (a,))
            tx.execute(f"UPDATE {self.table} SET {self.pos} = ? WHERE {self.pos} = ?", (a, b))
            tx.execute(f"UPDATE {self.table} SET {self.pos} = ? WHERE {self.pos} = -1", (b,))

    def insert_forged_grant(self, after: int, account_id: uuid.UUID) -> None:
        rows = self.rows()
        versions = [int(r[2]) for r in rows if str(r[1]).replace("-", "") == account_id.hex]
        body = {"timestamp": "2026-11-25T12:00:00Z", "grant_id": str(uuid.uuid4()), "amount_credits": 100000,
                "reason": "free money", "issued_by": "nobody"}
        originator = account_id.hex if self.db.dialect == "sqlite" else account_id
        with self.db.write() as tx:
            for position in sorted((int(r[0]) for r in rows if int(r[0]) > after), reverse=True):
                tx.execute(f"UPDATE {self.table} SET {self.pos} = ? WHERE {self.pos} = ?", (position + 1, position))
            tx.execute(
                f"INSERT INTO {self.table} ({self.pos}, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
                (after + 1, originator, max(versions) + 1, "mosaic.domain.accounts:Account.CreditsGranted", json.dumps(body).encode()),
            )


@both_backends()
@pytest.mark.parametrize("processes", [1, 2])
def test_an_untouched_log_verifies_against_its_digest(services: Services, processes: int) -> None:
    busy_history(services)
    server_key = digests.public_key_hex(TEST_SECRET.encode())
    report = verify_database(services.db, digest=signed_head(services), trusted_key=server_key, processes=processes)
    assert report.ok, report.discrepancies
    assert report.events == services.store.recorder.max_notification_id()
    assert (report.accounts, report.keys) == (1, 1)


@both_backends()
@pytest.mark.parametrize("processes", [1, 2])
def test_a_digest_of_any_position_verifies_whichever_process_checks_that_part_of_the_chain(
    services: Services, processes: int
) -> None:
    busy_history(services)
    server_key = digests.public_key_hex(TEST_SECRET.encode())
    chain = {e.position: h for e, h in zip(iter_log(services.db), _hashes(services), strict=True)}
    for position in (1, 2, max(chain) // 2, max(chain)):
        digest = digests.sign(TEST_SECRET.encode(), position=position, hash_hex=chain[position])
        report = verify_database(services.db, digest=digest, trusted_key=server_key, processes=processes)
        assert report.ok, (position, report.discrepancies)
    wrong = digests.sign(TEST_SECRET.encode(), position=2, hash_hex=chain[3])
    report = verify_database(services.db, digest=wrong, trusted_key=server_key, processes=processes)
    assert report.discrepancies == [(2, DIGEST_MISMATCH)]


def _hashes(services: Services) -> list[str]:
    replay = Replay()
    return [replay.feed(e).hex() for e in iter_log(services.db)]


@both_backends()
@pytest.mark.parametrize("processes", [1, 2])
def test_a_log_written_before_bodies_were_canonical_verifies_the_slow_way(services: Services, processes: int) -> None:
    from tests.commands.test_store import archived_streams

    streams = archived_streams("archive-v1.jsonl")  # bodies with their keys in class order
    services.store.recorder.insert_events([e for events in streams.values() for e in events])
    services.runner.catch_up()
    report = verify_database(services.db, processes=processes)
    assert report.ok, report.discrepancies
    assert report.events == sum(len(events) for events in streams.values())


@both_backends()
def test_a_charge_in_the_view_that_the_log_never_made_is_found(services: Services) -> None:
    busy_history(services)
    with services.db.write() as tx:
        tx.execute(
            "INSERT INTO charges (charge_id, account_id, tool, cost_credits, refunded_credits, captured_at) "
            "SELECT 'made-up', account_id, tool, cost_credits, 0, captured_at FROM charges LIMIT 1"
        )
    report = verify_database(services.db)
    assert [m for _, m in report.discrepancies] == ["the charges view disagrees with the log for charge made-up"]


TAMPERINGS: dict[str, Callable[[Tamper, uuid.UUID], int]] = {
    "changed amount": lambda t, a: (t.change_amount(p := t.position_of("CreditsReserved", 2)), p)[1],
    "deleted event": lambda t, a: (t.delete(p := t.position_of("ReservationCaptured", 1)), p)[1],
    "swapped events": lambda t, a: (t.swap(p := t.position_of("CreditsReserved", 1), t.position_of("ReservationReleased")), p)[1],
    "forged event": lambda t, a: (t.insert_forged_grant(p := t.position_of("CreditsReserved", 3), a), p + 1)[1],
}


@both_backends()
@pytest.mark.parametrize("processes", [1, 2], ids=["one process", "chain in a second process"])
@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_tampering_in_sql_is_found_and_the_first_bad_position_named(services: Services, tampering: str, processes: int) -> None:
    account_id = busy_history(services)
    digest = signed_head(services)
    expected_first_bad = TAMPERINGS[tampering](Tamper(services), account_id)
    server_key = digests.public_key_hex(TEST_SECRET.encode())
    report = verify_database(services.db, digest=digest, trusted_key=server_key, processes=processes)
    assert not report.ok
    assert report.first_bad_position == expected_first_bad, report.discrepancies


@both_backends()
@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_tampering_is_found_when_the_chain_is_split_between_the_two_processes(
    services: Services, tampering: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_log, "CHAIN_SHARE_HERE", 0.5)  # this process checks the first half
    account_id = busy_history(services)
    digest = signed_head(services)
    expected_first_bad = TAMPERINGS[tampering](Tamper(services), account_id)
    server_key = digests.public_key_hex(TEST_SECRET.encode())
    report = verify_database(services.db, digest=digest, trusted_key=server_key, processes=2)
    assert not report.ok
    assert report.first_bad_position == expected_first_bad, report.discrepancies
    without_digest = verify_database(services.db, processes=2)
    assert without_digest.first_bad_position == expected_first_bad


UNREADABLE_STATES = {
    "not JSON": b"not json {",
    "a field the rule reads missing": b'{"timestamp":"2026-11-25T12:00:00Z","tool":"cbn"}',
    "a field of the wrong type": b'{"cost_credits":"two","request_id":"r","summary":"","timestamp":"2026-11-25T12:00:00Z","tool":"cbn"}',
}


@both_backends()
@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("state", sorted(UNREADABLE_STATES))
def test_a_body_overwritten_with_something_unreadable_is_a_finding_at_its_position(
    services: Services, state: str, processes: int
) -> None:
    busy_history(services)
    tamper = Tamper(services)
    position = tamper.position_of("CreditsReserved", 2)
    with services.db.write() as tx:
        tx.execute(f"UPDATE {tamper.table} SET state = ? WHERE {tamper.pos} = ?", (UNREADABLE_STATES[state], position))
    report = verify_database(services.db, processes=processes)
    assert not report.ok
    assert report.first_bad_position == position, report.discrepancies
    assert any("cannot be read" in message for _, message in report.discrepancies)


DIGEST_MISMATCH = "the log up to the digest's position no longer hashes to the digest"


def rewrite_chain_and_views(services: Services) -> None:
    """What an attacker with write access does after editing an event: recompute every chain hash
    from the edited log and rebuild the views, so the database agrees with itself again."""
    replay = Replay()
    rows = [(e.position, replay.feed(e).hex()) for e in iter_log(services.db)]
    with services.db.write() as tx:
        tx.execute("DELETE FROM audit_chain")
        tx.executemany("INSERT INTO audit_chain (position, hash) VALUES (?, ?)", rows)
    services.runner.rebuild()


@both_backends()
def test_an_event_rewritten_with_its_chain_and_views_fails_against_a_digest_taken_before(services: Services) -> None:
    busy_history(services)
    digest = signed_head(services)
    tamper = Tamper(services)
    position = tamper.position_of("CreditsGranted")
    state = next(r[4] for r in tamper.rows() if int(r[0]) == position)
    body = json.loads(bytes(state))
    body["amount_credits"] = 700  # a grant breaks no rule: only the chain can tell
    with services.db.write() as tx:
        tx.execute(f"UPDATE {tamper.table} SET state = ? WHERE {tamper.pos} = ?", (json.dumps(body).encode(), position))
    rewrite_chain_and_views(services)
    server_key = digests.public_key_hex(TEST_SECRET.encode())
    assert verify_database(services.db).ok  # the database alone agrees with itself
    report = verify_database(services.db, digest=digest, trusted_key=server_key)
    assert report.discrepancies == [(digest.position, DIGEST_MISMATCH)]  # which event changed is unknowable here
    assert report.first_bad_position is None  # the digest's position bounds the change; it is not the change
    assert report.changed_at_or_before == digest.position


def test_an_export_rehashed_after_an_edit_fails_against_the_servers_digest(services: Services) -> None:
    busy_history(services)
    digest = signed_head(services)
    rows = [json.loads(line) for line in export(services.db)]
    next(r for r in rows if r["type"] == "Account.CreditsGranted")["body"]["amount_credits"] = 700
    report = verify_export(rehashed(rows), digest=digest, trusted_key=digests.public_key_hex(TEST_SECRET.encode()))
    assert report.discrepancies == [(digest.position, DIGEST_MISMATCH)]


def write_once_the_log_is_read(monkeypatch: pytest.MonkeyPatch, writer: Services, account_id: uuid.UUID) -> None:
    """Another server commits (and projects) a grant as verify starts reading the log and again once
    it has read the last event: after verify's snapshot began, before its chain process starts."""
    read_log = audit_log._log_rows

    def grant() -> None:
        writer.ledger.grant_credits(account_id=account_id, amount_credits=5, reason="late", issued_by="support")
        writer.runner.catch_up()

    def write_read_write(*args: Any, **kwargs: Any) -> Any:
        grant()
        yield from read_log(*args, **kwargs)
        grant()

    monkeypatch.setattr(audit_log, "_log_rows", write_read_write)


@both_backends()
@pytest.mark.parametrize("processes", [1, 2])
def test_events_committed_while_verify_runs_are_not_a_discrepancy(
    services: Services, make_services: Callable[..., Services], monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    account_id = busy_history(services)
    write_once_the_log_is_read(monkeypatch, make_services(), account_id)
    report = verify_database(services.db, processes=processes)
    assert report.ok, report.discrepancies
    assert report.head_position < signed_head(services).position  # the grant came after the read


@both_backends()
def test_a_view_that_disagrees_with_the_log_is_found_even_while_events_keep_coming(
    services: Services, make_services: Callable[..., Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = busy_history(services)
    with services.db.write() as tx:
        tx.execute("UPDATE balances SET settled_credits = settled_credits + 5")
    write_once_the_log_is_read(monkeypatch, make_services(), account_id)
    report = verify_database(services.db)
    assert [m for _, m in report.discrepancies] == [f"the balances view disagrees with the log for account {account_id}"]


@both_backends()
def test_views_behind_the_log_are_compared_with_the_replay_at_their_own_position(
    services: Services, make_services: Callable[..., Services]
) -> None:
    account_id = busy_history(services)
    other = make_services()  # no runner: its commits stay unprojected
    other.ledger.grant_credits(account_id=account_id, amount_credits=5, reason="late", issued_by="support")
    assert verify_database(services.db).ok
    with services.db.write() as tx:
        tx.execute("UPDATE charges SET refunded_credits = refunded_credits + 1")
    report = verify_database(services.db)
    assert report.discrepancies and all("the charges view disagrees" in m for _, m in report.discrepancies)


def test_a_digest_signed_with_another_key_is_refused(services: Services) -> None:
    busy_history(services)
    forged = digests.sign(b"another-secret-" + b"y" * 40, position=3, hash_hex="00" * 32)
    report = verify_database(services.db, digest=forged, trusted_key=digests.public_key_hex(TEST_SECRET.encode()))
    assert not report.ok


def test_an_export_verifies_with_no_database_and_an_edited_export_does_not(services: Services, tmp_path: Path) -> None:
    busy_history(services)
    digest = signed_head(services)
    lines = list(export(services.db))
    server_key = digests.public_key_hex(TEST_SECRET.encode())
    assert verify_export(lines, digest=digest, trusted_key=server_key).ok
    rows = [json.loads(line) for line in lines]
    victim = next(r for r in rows if r["type"] == "Account.CreditsRefunded")
    victim["body"]["amount_credits"] = 2
    edited = [msgspec.json.encode(r) for r in rows]
    report = verify_export(edited, digest=digest, trusted_key=server_key)
    assert report.first_bad_position == victim["position"]


def rehashed(rows: list[dict[str, Any]]) -> list[bytes]:
    """Export lines whose chain hashes are recomputed from `rows`, as a forger would write them."""
    replay = Replay()
    events = [LogEvent(r["position"], r["aggregate"], r["version"], r["topic"], r["body"]) for r in rows]
    return [export_line(event, replay.feed(event).hex()) for event in events]


def test_a_digest_is_not_taken_as_verified_unless_its_signer_is_pinned(services: Services) -> None:
    busy_history(services)
    genuine = signed_head(services)
    lines = list(export(services.db))
    server_key = digests.public_key_hex(TEST_SECRET.encode())
    unpinned = verify_export(lines, digest=genuine)
    assert not unpinned.ok and not unpinned.discrepancies
    assert unpinned.unverified == [audit_log.UNPINNED_SIGNER]
    assert verify_export(lines, digest=genuine, trusted_key=server_key).ok


def test_a_rewritten_export_with_a_digest_re_signed_by_the_forger_fails(services: Services) -> None:
    busy_history(services)
    rows = [json.loads(line) for line in export(services.db)]
    victim = next(r for r in rows if r["type"] == "Account.CreditsRefunded")
    victim["body"]["reason"] = "nothing happened"
    forged_lines = rehashed(rows)
    head = json.loads(forged_lines[-1])
    forged = digests.sign(b"forger-" + b"z" * 40, position=head["position"], hash_hex=head["hash"])
    unpinned = verify_export(forged_lines, digest=forged)
    assert not unpinned.ok
    assert unpinned.unverified == [audit_log.UNPINNED_SIGNER]
    pinned = verify_export(forged_lines, digest=forged, trusted_key=digests.public_key_hex(TEST_SECRET.encode()))
    assert [m for _, m in pinned.discrepancies] == ["the digest's signature is not valid (or not from the trusted key)"]


@both_backends()
def test_the_cli_verifies_exits_non_zero_on_tampering_and_names_the_position(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    busy_history(services)
    digest_file = tmp_path / "digest.json"
    env = {**os.environ, "MOSAIC_DATABASE_URL": database_url, "MOSAIC_SECRET": TEST_SECRET}
    mosaic = [sys.executable, "-m", "mosaic.cli"]
    subprocess.run([*mosaic, "audit", "digest", "-o", str(digest_file)], env=env, check=True, cwd=ROOT)
    clean = subprocess.run([*mosaic, "audit", "verify", "--digest", str(digest_file)], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "discrepancies: 0" in clean.stdout
    position = Tamper(services).position_of("ReservationCaptured", 0)
    Tamper(services).delete(position)
    tampered = subprocess.run([*mosaic, "audit", "verify", "--digest", str(digest_file)], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    assert tampered.returncode == 1
    assert f"first bad position: {position}" in tampered.stdout
