"""Two OS processes, 64 concurrent callers, one PostgreSQL database, one account holding 800 credits."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mosaic.bootstrap import Services
from tests.conftest import both_backends

ROOT = Path(__file__).parents[2]
CALLS = 1_000
THREADS_PER_PROCESS = 32


def run_two_processes(database_url: str, account_id: str, calls: list[str]) -> tuple[dict[str, list[str]], int]:
    halves = [calls[0::2], calls[1::2]]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.commands.ledger_worker", database_url, account_id, json.dumps(half),
             str(THREADS_PER_PROCESS)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for half in halves
    ]
    merged: dict[str, list[str]] = {}
    retries = 0
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        report = json.loads(out)
        retries += report["retries"]
        for key, outcomes in report["outcomes"].items():
            merged.setdefault(key, []).extend(outcomes)
    return merged, retries


def open_commercial_account(services: Services) -> str:
    committed = services.ledger.register_user(
        email="shop@example.com", password="correct horse battery", plan_name="commercial"
    )
    services.settle(committed)
    return str(committed.value.account_id)


def assert_ledger_ends_at_zero(services: Services, account_id: str) -> None:
    services.runner.catch_up()
    balance = services.views.balance(account_id)
    assert balance is not None and (balance.balance, balance.reserved_credits) == (0, 0)
    live = services.views.dump()
    assert sum(1 for row in live["charges"] if row[1] == account_id) == 800
    services.runner.rebuild()
    assert services.views.dump() == live


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_exactly_the_affordable_calls_succeed_across_two_processes(services: Services, database_url: str) -> None:
    account_id = open_commercial_account(services)
    calls = [f"call-{i}" for i in range(CALLS)]
    outcomes, retries = run_two_processes(database_url, account_id, calls)
    print(f"version conflicts retried: {retries}")
    counts = Counter(outcome for results in outcomes.values() for outcome in results)
    assert counts == {"charged": 800, "refused": 200}
    assert_ledger_ends_at_zero(services, account_id)


@both_backends()
def test_repeated_idempotency_keys_never_charge_twice_and_repeat_the_first_outcome(
    services: Services, database_url: str
) -> None:
    account_id = open_commercial_account(services)
    unique = [f"call-{i}" for i in range(CALLS)]
    repeats = random.Random(7).choices(unique, k=CALLS * 30 // 100)
    calls = unique + repeats
    random.Random(8).shuffle(calls)
    outcomes, _ = run_two_processes(database_url, account_id, calls)
    assert sum(len(results) for results in outcomes.values()) == len(calls)
    for key, results in outcomes.items():
        assert len(set(results)) == 1, (key, results)  # every repeat got the first outcome
    firsts = Counter(results[0] for results in outcomes.values())
    assert firsts == {"charged": 800, "refused": 200}
    assert_ledger_ends_at_zero(services, account_id)
