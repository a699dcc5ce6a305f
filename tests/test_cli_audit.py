"""`mosaic audit …` through the CLI's entry point: export to a file, verify it with no database, digests
with and without a pinned signer, and tampering found in SQL on both back-ends."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mosaic.bootstrap import Services
from mosaic.cli import main
from mosaic.queries import digest as digests
from tests.conftest import TEST_SECRET, both_backends
from tests.queries.test_audit import TAMPERINGS, Tamper, busy_history, rehashed

SERVER_KEY = digests.public_key_hex(TEST_SECRET.encode())


class Cli:
    """Runs `mosaic …` in this process with only the given environment; returns (status, stdout, stderr)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def __call__(self, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
        with self.monkeypatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("MOSAIC_")]:
                patch.delenv(name)
            for name, value in env.items():
                patch.setenv(name, value)
            self.capsys.readouterr()
            status = main(list(args))
            out, err = self.capsys.readouterr()
        return status, out, err


@pytest.fixture
def mosaic(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys)


@pytest.fixture
def server_env(database_url: str) -> dict[str, str]:
    return {"MOSAIC_DATABASE_URL": database_url, "MOSAIC_SECRET": TEST_SECRET}


def exported(mosaic: Cli, server_env: dict[str, str], tmp_path: Path) -> tuple[Path, Path]:
    """The log exported and its head signed by the CLI, as an auditor takes them from the server."""
    export_file, digest_file = tmp_path / "log.jsonl", tmp_path / "digest.json"
    status, _, err = mosaic("audit", "export", "-o", str(export_file), env=server_env)
    assert status == 0 and "exported" in err, err
    status, _, err = mosaic("audit", "digest", "-o", str(digest_file), env=server_env)
    assert status == 0, err
    return export_file, digest_file


def test_an_export_written_by_the_cli_verifies_from_the_file_with_no_database(
    services: Services, mosaic: Cli, server_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_history(services)
    export_file, _ = exported(mosaic, server_env, tmp_path)
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    status, out, err = mosaic("audit", "verify", "--from-export", str(export_file), env={})
    assert status == 0, out + err
    events = services.store.recorder.max_notification_id()
    assert f"audit OK: {events:,} events, 1 accounts, 1 keys" in out and "discrepancies: 0" in out
    assert list(elsewhere.iterdir()) == []  # no database was opened, not even the default one


def test_a_digest_checked_against_an_export_counts_only_when_its_signer_is_pinned(
    services: Services, mosaic: Cli, server_env: dict[str, str], tmp_path: Path
) -> None:
    busy_history(services)
    export_file, digest_file = exported(mosaic, server_env, tmp_path)
    verify = ("audit", "verify", "--from-export", str(export_file), "--digest", str(digest_file))
    status, out, _ = mosaic(*verify, env={})
    assert status == 1
    assert "audit NOT VERIFIED" in out and "warning: digest signer not pinned" in out and "discrepancies: 0" in out
    status, out, _ = mosaic(*verify, "--trusted-key", SERVER_KEY, env={})
    assert status == 0 and "audit OK" in out and "warning" not in out, out
    another_key = digests.public_key_hex(b"another-secret-" + b"y" * 40)
    status, out, _ = mosaic(*verify, "--trusted-key", another_key, env={})
    assert status == 1 and "audit FAILED" in out and "not from the trusted key" in out


def _verify_edited_export(
    mosaic: Cli, server_env: dict[str, str], tmp_path: Path, edit: Callable[[list[dict[str, Any]]], list[bytes]]
) -> tuple[int, str, int]:
    """Export, let `edit` rewrite the rows into export lines, verify that against the digest taken
    with the export: (exit status, output, the digest's position)."""
    export_file, digest_file = exported(mosaic, server_env, tmp_path)
    rows = [json.loads(line) for line in export_file.read_bytes().splitlines()]
    export_file.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in edit(rows)))
    status, out, _ = mosaic(
        "audit", "verify", "--from-export", str(export_file), "--digest", str(digest_file),
        "--trusted-key", SERVER_KEY, env={},
    )
    return status, out, json.loads(digest_file.read_bytes())["position"]


def test_an_amount_changed_in_an_export_fails_through_the_cli_at_its_position(
    services: Services, mosaic: Cli, server_env: dict[str, str], tmp_path: Path
) -> None:
    busy_history(services)
    victims: list[int] = []

    def edit(rows: list[dict[str, Any]]) -> list[bytes]:
        victim = next(r for r in rows if r["type"] == "Account.ReservationCaptured")
        victim["body"]["cost_credits"] += 1
        victims.append(victim["position"])
        return [msgspec.json.encode(r) for r in rows]

    status, out, _ = _verify_edited_export(mosaic, server_env, tmp_path, edit)
    assert status == 1 and "audit FAILED" in out
    assert f"first bad position: {victims[0]}" in out


def test_an_export_edited_and_rehashed_is_bounded_by_the_digest_not_named(
    services: Services, mosaic: Cli, server_env: dict[str, str], tmp_path: Path
) -> None:
    busy_history(services)

    def edit(rows: list[dict[str, Any]]) -> list[bytes]:  # a forger recomputes the chain hashes too
        next(r for r in rows if r["type"] == "Account.CreditsGranted")["body"]["amount_credits"] = 700
        return rehashed(rows)

    status, out, digest_position = _verify_edited_export(mosaic, server_env, tmp_path, edit)
    assert status == 1 and "audit FAILED" in out
    assert "first bad position" not in out, out
    assert f"changed at or before position {digest_position}:" in out, out


@both_backends()
@pytest.mark.parametrize("tampering", sorted(set(TAMPERINGS) - {"deleted event"}))
def test_tampering_in_sql_fails_the_cli_verify_and_names_the_first_bad_position(
    services: Services, mosaic: Cli, server_env: dict[str, str], tmp_path: Path, tampering: str
) -> None:
    account_id: uuid.UUID = busy_history(services)
    _, digest_file = exported(mosaic, server_env, tmp_path)
    status, out, _ = mosaic("audit", "verify", "--digest", str(digest_file), env=server_env)
    assert status == 0 and "discrepancies: 0" in out, out
    first_bad = TAMPERINGS[tampering](Tamper(services), account_id)
    status, out, _ = mosaic("audit", "verify", "--digest", str(digest_file), env=server_env)
    assert status == 1 and "audit FAILED" in out
    assert f"first bad position: {first_bad}" in out, out
