"""Ledger throughput through the command layer, on SQLite and PostgreSQL, against the raw ceiling.

Prints, per back-end: reserve+capture cycles/s (the commands paid work sends: `ReserveCharges`,
`SettleCharges`) with 1 thread, 32 threads on 32 accounts and 32
threads on one account; p50/p99 of a cycle; version-conflict retries per cycle; events per commit;
replay events/s; and the raw single-row INSERT+COMMIT rows/s of the same database as the ceiling.
Targets (PostgreSQL): >= 2,000 cycles/s at 32 threads, hot account included, <= 0.05 retries per
cycle, p99 <= 25 ms; replay >= 150,000 events/s.

The start-up heap is frozen out of the cyclic collector's reach, as `mosaic serve` does (a full
collection over it paused every thread for about 60 ms, one run's p99 in three without it).

Each back-end runs twice: the command layer alone (views projected elsewhere, e.g. by
`mosaic projections run` in its own process), and with the projection runner in the same process,
competing for the interpreter and the database, as `mosaic serve` runs it.

On PostgreSQL it then runs servers as separate OS processes on one hot account, each with its own
composition root (and so its own writer), 32 threads each: one process, then two at once, alternately
for `--rounds` rounds, every run in fresh processes. Per run: cycles/s, p50/p99, version-conflict
retries per cycle, commands refused as busy, and the ratio of two processes to the one-process run
before it (target >= 0.8). Afterwards the hot account is replayed from the store: its balance,
reserved credits and event count must equal what the callers were told (nothing lost, nothing
charged twice).

    .venv/bin/python bench/ledger.py [--seconds 4] [--backend sqlite|postgresql|both] [--rounds 3]
    .venv/bin/python bench/ledger.py --processes-only [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from mosaic.bootstrap import Services, build
from mosaic.commands.paid import Charge, ReserveCharges, SettleCharges
from mosaic.commands.schema import upgrade
from mosaic.commands.writer import LedgerBusy
from mosaic.config import DatabaseUrl, Settings
from mosaic.domain.accounts import Account
from mosaic.http.server import freeze_startup_heap

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
SECRET = "bench-secret-" + "x" * 40


def fresh_database(backend: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    name = f"mosaic_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    return f"postgresql://postgres@127.0.0.1:5432/{name}", drop


def rich_account(services: Services, email: str) -> uuid.UUID:
    committed = services.ledger.register_user(email=email, password="bench password 123", plan_name="commercial")
    account_id = committed.value.account_id
    services.ledger.grant_credits(account_id=account_id, amount_credits=1_000_000, reason="bench", issued_by="bench")
    return account_id


def run_cycles(services: Services, accounts: list[uuid.UUID], threads: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    retries_before = services.writer.retries
    commits_before, commands_before = services.writer.commits, services.writer.commands

    def worker(index: int) -> None:
        account_id = accounts[index % len(accounts)]
        mine: list[float] = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            charge = Charge(account_id, uuid.uuid4(), "cbn", 1)  # a paid request, as `Payments` makes it
            (attempt_id,), _, _ = services.writer.execute(ReserveCharges((charge,))).value
            services.writer.execute(SettleCharges(account_id, captures=(attempt_id,), releases=()))
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    cycles = len(latencies)
    commits = services.writer.commits - commits_before
    return {
        "cycles_per_s": cycles / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (cycles - 1))],
        "retries_per_cycle": (services.writer.retries - retries_before) / cycles,
        "commands_per_commit": (services.writer.commands - commands_before) / max(commits, 1),
    }


REPLAY_RUNS = 5  # one replay of a hot account takes a tenth of a second: a single run is noise


def replay_rates(services: Services, account_id: uuid.UUID) -> tuple[list[float], int]:
    """Events/s of `REPLAY_RUNS` full replays of one account (read, decode, fold), and its events."""
    rates, version = [], 0
    for _ in range(REPLAY_RUNS):
        started = time.perf_counter()
        account = services.store.replay(account_id)
        elapsed = time.perf_counter() - started
        rates.append(account.version / elapsed)
        version = account.version
    return rates, version


def raw_insert_rate(url: str, seconds: float) -> float:
    """One row per transaction, committed durably (a regular, WAL-logged table: a TEMP table would
    skip the WAL flush): the floor cost of any durable write on this database."""
    database = DatabaseUrl.parse(url)
    deadline = time.perf_counter() + seconds
    count = 0
    started = time.perf_counter()
    if database.dialect == "postgresql":
        with psycopg.connect(database.psycopg_conninfo) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS ceiling (id bigserial PRIMARY KEY, body bytea)")
            conn.commit()
            while time.perf_counter() < deadline:
                conn.execute("INSERT INTO ceiling (body) VALUES (%s)", (b"x" * 200,))
                conn.commit()
                count += 1
    else:
        import sqlite3

        conn3 = sqlite3.connect(database.path, isolation_level=None)
        conn3.execute("PRAGMA journal_mode=WAL")
        conn3.execute("CREATE TABLE IF NOT EXISTS ceiling (id INTEGER PRIMARY KEY, body BLOB)")
        while time.perf_counter() < deadline:
            conn3.execute("BEGIN")
            conn3.execute("INSERT INTO ceiling (body) VALUES (?)", (b"x" * 200,))
            conn3.execute("COMMIT")
            count += 1
        conn3.close()
    return count / (time.perf_counter() - started)


def bench(backend: str, seconds: float, *, views_in_process: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(backend, Path(tmp))
        try:
            upgrade(DatabaseUrl.parse(url))
            services = build(Settings.from_env({"MOSAIC_DATABASE_URL": url, "MOSAIC_SECRET": SECRET}), background=views_in_process)
            accounts = [rich_account(services, f"bench{i}@example.com") for i in range(32)]
            freeze_startup_heap()  # as `mosaic serve` does: no full collection over the start-up heap
            where = "views projected in this process" if views_in_process else "command layer alone"
            print(f"\n== {backend}, {where} ==")
            ceiling = raw_insert_rate(url, seconds)
            print(f"raw single-row INSERT+COMMIT: {ceiling:,.0f} rows/s (the ceiling for one-at-a-time commits)")
            for label, accts, threads in (
                ("1 thread, 1 account", accounts[:1], 1),
                ("32 threads, 32 accounts", accounts, 32),
                ("32 threads, 1 hot account", accounts[:1], 32),
            ):
                r = run_cycles(services, accts, threads, seconds)
                print(
                    f"{label:28s} {r['cycles_per_s']:8,.0f} cycles/s  p50 {r['p50_ms']:6.2f} ms  "
                    f"p99 {r['p99_ms']:6.2f} ms  retries/cycle {r['retries_per_cycle']:.3f}  "
                    f"commands/commit {r['commands_per_commit']:.1f}  "
                    f"vs ceiling x{2 * r['cycles_per_s'] / ceiling:.2f} (events/s over rows/s)"
                )
            rates, events = replay_rates(services, accounts[0])
            print(
                f"replay: median {statistics.median(rates):,.0f} events/s, best {max(rates):,.0f}, "
                f"worst {min(rates):,.0f} over {REPLAY_RUNS} runs ({events:,} events of the hot account)"
            )
            services.close()
        finally:
            drop()


# -- servers as OS processes on one hot account ------------------------------------------------------

PROCESS_THREADS = 32  # callers in each process, as in the single-process hot-account run


def process_worker(url: str, account: str, threads: int, seconds: float) -> None:
    """One server process (`--worker`): its own composition root and writer. Prints "ready" once
    the account is loaded, waits for a line on stdin, runs cycles for `seconds`, prints a JSON report."""
    services = build(Settings.from_env({"MOSAIC_DATABASE_URL": url, "MOSAIC_SECRET": SECRET}), background=False)
    account_id = uuid.UUID(account)
    services.writer.execute(lambda unit: unit.find(Account, account_id))  # the replay is start-up, not a cycle
    freeze_startup_heap()
    print("ready", flush=True)
    sys.stdin.readline()
    latencies: list[float] = []
    counts = {"reserved": 0, "captured": 0, "busy": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        reserved = captured = busy = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            charge = Charge(account_id, uuid.uuid4(), "cbn", 1)
            try:
                (attempt_id,), _, _ = services.writer.execute(ReserveCharges((charge,))).value
            except LedgerBusy:
                busy += 1
                continue
            reserved += 1
            try:
                services.writer.execute(SettleCharges(account_id, captures=(attempt_id,), releases=()))
            except LedgerBusy:
                busy += 1  # left reserved: the model expects it open
                continue
            captured += 1
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            counts["reserved"] += reserved
            counts["captured"] += captured
            counts["busy"] += busy

    started = time.perf_counter()
    writer = services.writer
    before = {"retries": writer.retries, "commits": writer.commits, "loads": writer.loads, "catch_ups": writer.catch_ups}
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    report = {
        "elapsed_s": elapsed,
        "latencies": latencies,
        **{name: getattr(writer, name) - count for name, count in before.items()},
        **counts,
    }
    print(json.dumps(report), flush=True)
    services.close()


def run_processes(url: str, account_id: uuid.UUID, processes: int, seconds: float) -> dict[str, float]:
    """`processes` fresh server processes cycling on one account at once; their combined figures."""
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", url, str(account_id), str(PROCESS_THREADS), str(seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for _ in range(processes)
    ]
    for proc in workers:  # every process has built and loaded the account before any starts
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in workers:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = []
    for proc in workers:
        out, _ = proc.communicate(timeout=seconds + 120)
        assert proc.returncode == 0
        reports.append(json.loads(out))
    latencies = sorted(x for r in reports for x in r["latencies"])
    cycles = len(latencies)
    elapsed = max(r["elapsed_s"] for r in reports)
    names = ("reserved", "captured", "busy", "retries", "commits", "loads", "catch_ups")
    total = {k: sum(r[k] for r in reports) for k in names}
    return {
        "cycles_per_s": cycles / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (cycles - 1))],
        "retries_per_cycle": total["retries"] / max(cycles, 1),
        **{k: float(v) for k, v in total.items()},
    }


def bench_processes(seconds: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database("postgresql", Path(tmp))
        try:
            upgrade(DatabaseUrl.parse(url))
            services = build(Settings.from_env({"MOSAIC_DATABASE_URL": url, "MOSAIC_SECRET": SECRET}), background=False)
            account_id = rich_account(services, "hot@example.com")
            start = services.store.replay(account_id)
            assert isinstance(start, Account)
            expected_balance, expected_reserved, expected_version = (
                start.balance_credits, start.reserved_credits, start.version
            )
            print(f"\n== postgresql, server processes on one hot account, {PROCESS_THREADS} threads each ==")
            baseline = None
            rates: dict[int, list[float]] = {1: [], 2: []}
            for round_number in range(1, rounds + 1):
                for processes in (1, 2):  # alternately, so the machine's noise hurts both alike
                    r = run_processes(url, account_id, processes, seconds)
                    expected_balance -= int(r["captured"])  # one credit a cycle
                    expected_reserved += int(r["reserved"] - r["captured"])
                    expected_version += int(r["reserved"] + r["captured"])  # one event per command
                    ratio = "" if processes == 1 or baseline is None else f"  x{r['cycles_per_s'] / baseline:.2f} of 1 process"
                    if processes == 1:
                        baseline = r["cycles_per_s"]
                    rates[processes].append(r["cycles_per_s"])
                    print(
                        f"round {round_number}, {processes} process{'es' if processes > 1 else ''}  "
                        f"{r['cycles_per_s']:8,.0f} cycles/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                        f"retries/cycle {r['retries_per_cycle']:.3f}  busy {r['busy']:.0f}  "
                        f"commits {r['commits']:,.0f}  full replays {r['loads']:.0f}  catch-ups {r['catch_ups']:,.0f}{ratio}"
                    )
            one, two = statistics.median(rates[1]), statistics.median(rates[2])
            print(f"medians: 1 process {one:,.0f}, 2 processes {two:,.0f} cycles/s: x{two / one:.2f} (target >= 0.8)")
            end = services.store.replay(account_id)
            assert isinstance(end, Account)
            got = (end.balance_credits, end.reserved_credits, end.version)
            wanted = (expected_balance, expected_reserved, expected_version)
            verdict = "0 lost, 0 double" if got == wanted else "MISMATCH"
            print(f"hot account afterwards (balance, reserved, events): {got}, the callers' model {wanted}: {verdict}")
            services.close()
        finally:
            drop()


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        process_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3, help="alternating 1-process and 2-process runs")
    parser.add_argument("--processes-only", action="store_true", help="only the server-processes runs")
    args = parser.parse_args()
    if not args.processes_only:
        for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            for views_in_process in (False, True):
                bench(backend, args.seconds, views_in_process=views_in_process)
    if args.processes_only or args.backend != "sqlite":
        bench_processes(args.seconds, args.rounds)


if __name__ == "__main__":
    main()
