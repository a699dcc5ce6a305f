"""The operator CLI, run as a new user would: a fresh directory, the embedded SQLite default."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mosaic.bootstrap import Services
from mosaic.domain.keys import is_well_formed_key
from mosaic.queries.audit_log import iter_log
from tests import charging
from tests.conftest import TEST_SECRET, both_backends
from tests.test_cli_audit import Cli

ROOT = Path(__file__).parents[1]


def mosaic(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_")}
    return subprocess.run(
        [sys.executable, "-m", "mosaic.cli", *args], cwd=cwd, env=env, input=stdin, capture_output=True,
        text=True, check=False, timeout=120,
    )


def test_users_keys_and_grants_work_on_a_fresh_directory(tmp_path: Path) -> None:
    created = mosaic(tmp_path, "users", "create", "ada@example.com", "--plan", "commercial", stdin="a long password\n")
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "mosaic.db").exists() and (tmp_path / "mosaic.db.secret").exists()
    key = mosaic(tmp_path, "keys", "create", "ada@example.com", "--name", "shop")
    assert key.returncode == 0, key.stderr
    assert is_well_formed_key(key.stdout.strip()) and key.stdout.count("\n") == 1
    first = mosaic(tmp_path, "grant-monthly")
    again = mosaic(tmp_path, "grant-monthly")
    assert first.returncode == again.returncode == 0
    assert "to 0 account(s)" in again.stdout  # this month was granted when the account opened
    statement = mosaic(tmp_path, "support", "statement", "ada@example.com")
    assert statement.stdout.count("monthly_grant") == 1 and "balance: 800" in statement.stdout
    rebuilt = mosaic(tmp_path, "projections", "rebuild")
    assert rebuilt.returncode == 0 and "rebuilt" in rebuilt.stdout


def test_a_generated_password_is_printed_once_when_none_is_piped(tmp_path: Path) -> None:
    created = mosaic(tmp_path, "users", "create", "bob@example.com")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("password: ")


def test_bad_input_exits_non_zero_with_the_reason_and_writes_nothing(tmp_path: Path) -> None:
    unknown_plan = mosaic(tmp_path, "users", "create", "c@example.com", "--plan", "gold", stdin="a long password\n")
    assert unknown_plan.returncode == 2 and "unknown plan 'gold'" in unknown_plan.stderr
    short = mosaic(tmp_path, "users", "create", "c@example.com", stdin="short\n")
    assert short.returncode == 2 and "password must be" in short.stderr
    no_user = mosaic(tmp_path, "keys", "create", "nobody@example.com", "--name", "x")
    assert no_user.returncode == 2 and "no user" in no_user.stderr
    export = mosaic(tmp_path, "audit", "export")
    assert export.stdout == ""  # nothing was written by the refused commands
    bad_url = subprocess.run(
        [sys.executable, "-m", "mosaic.cli", "grant-monthly"], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "MOSAIC_DATABASE_URL": "mysql://x"}, check=False,
    )
    assert bad_url.returncode == 2 and "MOSAIC_DATABASE_URL" in bad_url.stderr


@both_backends()
def test_a_refund_from_the_cli_is_on_the_record_and_on_the_customer_statement(
    services: Services, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = services.ledger.register_user(email="ada@example.com", password="correct horse battery", plan_name="commercial")
    staff = services.ledger.register_user(email="sam@example.com", password="correct horse battery", role="support")
    account_id, charge_id = customer.value.account_id, uuid.uuid4()
    charging.reserve(services, account_id, charge_id, tool="cbn", cost_credits=3)
    charging.capture(services, account_id, charge_id)
    services.runner.catch_up()
    cli, env = Cli(monkeypatch, capsys), {"MOSAIC_DATABASE_URL": database_url, "MOSAIC_SECRET": TEST_SECRET}
    refund = ("support", "refund", str(charge_id), "--amount", "2", "--reason", "smudged print", "--as", "sam@example.com")
    status, out, err = cli(*refund, "--idempotency-key", "ticket-41", env=env)
    assert status == 0 and out.startswith("refunded: 2 credit(s)"), err
    status, out, _ = cli(*refund, "--idempotency-key", "ticket-41", env=env)
    assert status == 0 and out.startswith("already refunded under this key")
    status, _, err = cli(*refund, env=env)
    assert status == 2 and "(refund_exceeds_charge)" in err
    status, out, _ = cli("support", "statement", "ada@example.com", env=env)
    refunds = [line for line in out.splitlines() if " refund " in line]
    assert len(refunds) == 1 and "+2" in refunds[0] and f"{charge_id} smudged print {staff.value.user_id}" in refunds[0], out
    assert out.splitlines()[-1] == "balance: 799"  # 800 granted, 3 charged, 2 refunded
    logged = [e for e in iter_log(services.db) if e.topic.endswith("CreditsRefunded")]
    assert [(e.body["amount_credits"], e.body["reason"], e.body["issued_by"]) for e in logged] == [
        (2, "smudged print", str(staff.value.user_id))
    ]


def test_commands_on_the_servers_data_refuse_a_directory_without_a_database_and_create_nothing(
    tmp_path: Path,
) -> None:
    for command in (
        ["audit", "verify"],
        ["audit", "export"],
        ["audit", "digest"],
        ["support", "statement", "ada@example.com"],
        ["keys", "create", "ada@example.com", "--name", "shop"],
        ["grant-monthly"],
        ["sweep"],
        ["projections", "rebuild"],
    ):
        refused = mosaic(tmp_path, *command)
        assert refused.returncode == 2, (command, refused.stdout, refused.stderr)
        assert f"no database at {tmp_path / 'mosaic.db'}" in refused.stderr, command
        assert "MOSAIC_DATABASE_URL" in refused.stderr
    assert list(tmp_path.iterdir()) == []  # no empty database, no new secret beside it
