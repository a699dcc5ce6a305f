"""The operator CLI, run as a new user would: a fresh directory, the embedded SQLite default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mosaic.domain.keys import is_well_formed_key

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
