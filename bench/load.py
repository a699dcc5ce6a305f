"""Load benchmark: mixed traffic against `mosaic serve` with 1 worker and with 2, on PostgreSQL.

Run: `.venv/bin/python bench/load.py [--seconds 60] [--max-seconds 20] [--connections 64] [--rounds 1]`
(about 6 minutes at the defaults; `--seconds 10` for a quick look). Needs `wrk` (Debian's package,
which `scripts/services` installs) and PostgreSQL on 127.0.0.1 (user postgres, trust).

For each configuration, alternating (1 worker, 2 workers, then again with `--rounds 2` …), in a fresh
database of its own with `--accounts` accounts on a plan of 1,000,000 credits:

1. Mixed traffic for `--seconds`: 70 % of the connections ask `GET /api/credits/balance` (API key),
   20 % `POST /api/generate` (a 48×32 PNG, hex mystery: 1 credit), 10 % `GET /api/keys` (JWT). Each
   route is one `wrk` process (bench/load.lua) on its share of the connections, all three at once,
   so each reports its own p50/p99; closed loop (a connection sends when answered), so the share of
   requests follows each route's speed, not the share of connections. The generate connections stop
   sending at the end and their requests in flight are waited for, so every charge is counted.
   Errors: every non-2xx answer and every socket error. Server CPU: utime + stime of the server's
   process tree (supervisor, workers, image processes) from /proc before and after, and of the
   PostgreSQL backends serving its database (reported apart: the database is shared by design).
   Target: requests per server CPU-second with 2 workers ≥ 0.9 × that with 1.
2. `GET /api/credits/balance` alone, closed loop, for `--max-seconds`: the server's own maximum.
3. The same paced at half that maximum for `--seconds` (target p99 ≤ 10 ms), or at `--paced-rate`
   for every configuration: one rate for 1 worker and 2 tells the servers' latency apart from the
   load generator's, whose sends double with the rate on the cores it shares with them. wrk cannot pace, so each
   thread's k-th send is due at k intervals from its start, on whichever connection is free (the
   `delay()` hook): open loop while some connection is free when a send is due. Latency is timed from
   the write, so a send that found every connection busy hides its wait (coordinated omission): those
   are counted as late (> 1 ms, > 10 ms) and printed beside the p99. Beside them, how long the
   serving processes' event loops waited for a core (/proc/PID/schedstat): on 2 shared cores a
   tail is often the machine's, not the server's, and this tells the two apart.
4. The server stopped, the ledger is checked: `mosaic audit verify` passes, and each account's balance
   is its starting credits less its generate 200s (warm-up included).

The load generators run on the same 2 cores as the server; their CPU seconds are printed too. The
machine is shared and noisy: compare the ratios of one run, and expect ranges between runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import psycopg

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.live import LiveServer, server_env, start_server  # noqa: E402
from tests.http.images import photo_png  # noqa: E402

LUA_TEMPLATE: Final = Path(__file__).with_name("load.lua")
MOSAIC: Final = ROOT / ".venv" / "bin" / "mosaic"
ADMIN_DSN: Final = "host=127.0.0.1 user=postgres dbname=postgres"
PASSWORD: Final = "load bench password"
PLAN: Final = "load"
START_CREDITS: Final = 1_000_000
PLANS_TOML: Final = f"""
[plans.free]
title = "Free"
price_cents_monthly = 0
monthly_credits = 0
api_access = false

[plans.{PLAN}]
title = "Load benchmark"
price_cents_monthly = 0
monthly_credits = {START_CREDITS}
api_access = true
"""
# the share of connections per route; the routes' names are bench/load.lua's
MIX: Final = (("balance", 0.7), ("generate", 0.2), ("keys", 0.1))
ROUTE_PATHS: Final = {
    "balance": "GET /api/credits/balance", "generate": "POST /api/generate", "keys": "GET /api/keys",
}
BOUNDARY: Final = "mosaic-load-bench-boundary"
# the cheapest paid request (1 credit): ~70 ms of an image process's CPU on the reference machine; the
# output is a page whatever the photo's size (hex mystery: ~130 ms)
GENERATE_FIELDS: Final = {"mode": "hex", "output": "svg", "density": "easy"}
PHOTO_SIZE: Final = (48, 32)
WARMUP_S: Final = 3  # image processes started, pools filled, code paths warm
DRAIN_S: Final = 30  # at most, for generate requests in flight when sending stops
WRK_TIMEOUT: Final = "30s"  # wrk counts a request older than this as an error
STARTUP_TIMEOUT_S: Final = 90.0
ATTEMPTS: Final = 3
CLK_TCK: Final = os.sysconf("SC_CLK_TCK")
QUEUED_JOBS_PER_IMAGE_WORKER: Final = 1 + 4  # mosaic.commands.pool admits this many per image process
IMAGE_PROCESS: Final = b"multiprocessing.forkserver"  # the pool's fork server and its workers


# -- CPU time from /proc ------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone
        return None
    return text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces


def _cpu_ticks(pid: int) -> int:
    """utime + stime of the process (all its threads) and of its children it has waited for."""
    fields = _stat_fields(pid)
    return 0 if fields is None else sum(int(f) for f in fields[11:15])


def _run_wait_ns(pid: int) -> int:
    """How long the process's main thread (a serving process's event loop) has waited for a core."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
    except OSError:  # gone
        return 0


def _is_image_process(pid: int) -> bool:
    try:
        return IMAGE_PROCESS in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@dataclass
class CpuMeter:
    """CPU seconds of the server's live process tree, of the database's backends for its database,
    and of this process's finished children (the wrk processes) between `start()` and `stop()`."""

    server_pid: int
    database: str
    server_s: float = 0.0
    image_s: float = 0.0  # the part of server_s spent in the image pool's processes
    postgres_s: float = 0.0
    clients_s: float = 0.0
    serving_wait_s: float = 0.0  # the serving processes' event loops ready to run but without a core
    load: float = 0.0  # the machine's 1-minute load average at `stop()`
    _before: dict[str, dict[int, int]] = field(default_factory=dict)
    _clients: float = 0.0

    def _backends(self) -> list[int]:
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={self.database}") as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        return [int(row[0]) for row in rows]

    def _snapshot(self) -> dict[str, dict[int, int]]:
        tree = _tree(self.server_pid)
        return {
            "server": {pid: _cpu_ticks(pid) for pid in tree},
            "image": {pid: _cpu_ticks(pid) for pid in tree if _is_image_process(pid)},
            "postgres": {pid: _cpu_ticks(pid) for pid in self._backends()},
            "serving_wait": {pid: _run_wait_ns(pid) for pid in tree if not _is_image_process(pid)},
        }

    @staticmethod
    def _children_s() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def start(self) -> None:
        self._before = self._snapshot()
        self._clients = self._children_s()

    def stop(self) -> None:
        after = self._snapshot()
        # a process that started meanwhile counts from 0; one that ended is lost unless a parent in
        # the tree waited for it (then it is in that parent's cutime/cstime)
        for name in ("server", "image", "postgres"):
            ticks = sum(t - self._before[name].get(pid, 0) for pid, t in after[name].items())
            setattr(self, f"{name}_s", ticks / CLK_TCK)
        waited = sum(ns - self._before["serving_wait"].get(pid, 0) for pid, ns in after["serving_wait"].items())
        self.serving_wait_s = waited / 1e9
        self.clients_s = self._children_s() - self._clients
        self.load = os.getloadavg()[0]


# -- wrk -------------------------------------------------------------------------------------------


def _multipart(photo: bytes) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in GENERATE_FIELDS.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="tiny.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode() + photo + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


@dataclass
class Wrk:
    """One wrk process on one route; `result()` is what bench/load.lua's done() wrote."""

    route: str
    connections: int
    threads: int
    process: subprocess.Popen[bytes]
    result_file: Path

    def drain(self) -> None:
        """Once every thread has said it has nothing in flight (bench/load.lua), or after DRAIN_S,
        stop wrk (SIGINT: it reports as at its end)."""
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and self.process.poll() is None:
            drained = len(list(self.result_file.parent.glob(self.result_file.name + ".drained-*")))
            if drained >= self.threads:
                break
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)

    def result(self) -> dict[str, Any]:
        _, stderr = self.process.communicate()
        if self.process.returncode != 0 or not self.result_file.exists():
            raise SystemExit(f"wrk ({self.route}) failed: {stderr.decode(errors='replace')}")
        result: dict[str, Any] = json.loads(self.result_file.read_text())
        result["connections"] = self.connections
        return result


@dataclass
class Client:
    url: str
    work: Path
    accounts_file: Path
    body_file: Path
    runs: int = 0

    def start(
        self, route: str, connections: int, seconds: int, *, threads: int = 1, rate: float = 0.0,
        stop_sending_s: int = 0,
    ) -> Wrk:
        """wrk on `route` for `seconds`; `rate` > 0: paced at that many requests/s in all; with
        `stop_sending_s`, no new request after that long (wrk runs on for the ones in flight)."""
        self.runs += 1
        script = self.work / f"wrk-{self.runs}-{route}.lua"
        result_file = self.work / f"wrk-{self.runs}-{route}.json"
        paced = rate > 0 or stop_sending_s > 0
        script.write_text(
            string.Template(LUA_TEMPLATE.read_text()).substitute(
                route=route, accounts_file=self.accounts_file, body_file=self.body_file, boundary=BOUNDARY,
                result_file=result_file, send_for_ms=stop_sending_s * 1000,
                interval_ms=threads * 1000 / rate if rate > 0 else 0,
                # only where needed: with a delay() wrk arms a timer before every request
                delay_function="delay = paced_delay" if paced else "",
            )
        )
        command = [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT}",
            "-s", str(script), self.url,
        ]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return Wrk(route, connections, threads, process, result_file)


def split_connections(total: int) -> dict[str, int]:
    """70/20/10 of `total`, each route at least one connection (64: 45/13/6)."""
    shares = {route: max(1, round(total * share)) for route, share in MIX[:-1]}
    shares[MIX[-1][0]] = max(1, total - sum(shares.values()))
    return shares


def errors_of(result: dict[str, Any]) -> int:
    return int(result["not_ok"]) + sum(result["socket_errors"].values())


# -- one configuration ---------------------------------------------------------------------------


@dataclass
class Account:
    email: str
    account_id: str
    key: str
    jwt: str = ""


def _create_database() -> tuple[str, str]:
    name = f"mosaic_load_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def _drop_database(name: str) -> None:
    for _ in range(30):  # the shared database server may be restarting (others' fault tests)
        try:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
            return
        except psycopg.OperationalError:
            time.sleep(1)
    print(f"could not drop database {name}", file=sys.stderr)


@contextlib.contextmanager
def _services(env: dict[str, str]) -> Iterator[Any]:
    from mosaic.bootstrap import build
    from mosaic.config import Settings

    services = build(Settings.from_env(env), background=False)
    try:
        yield services
    finally:
        services.close()


def _create_accounts(env: dict[str, str], count: int) -> list[Account]:
    """Users on the load plan, each with an API key (in this process: a CLI run per account costs
    seconds of start-up each)."""
    accounts = []
    with _services(env) as services:
        for n in range(count):
            email = f"load{n}@example.com"
            registered = services.ledger.register_user(email=email, password=PASSWORD, plan_name=PLAN)
            created, key = services.ledger.create_key(user_id=registered.value.user_id, name="load")
            services.settle(created)
            accounts.append(Account(email, str(registered.value.account_id), key))
    return accounts


def _balances(env: dict[str, str], accounts: list[Account]) -> list[int]:
    with _services(env) as services:
        services.runner.catch_up()
        return [services.views.balance(a.account_id).balance for a in accounts]


def _wait_for_workers(server: LiveServer, workers: int) -> None:
    """/healthz answers once one worker listens; wait until every worker has started."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while server.log_path.read_text().count("Application startup complete") < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers did not start: {server.log_path.read_text()[-4000:]}")
        time.sleep(0.2)


def _sign_in(url: str, accounts: list[Account]) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        for account in accounts:
            response = http.post("/api/auth/login", json={"email": account.email, "password": PASSWORD})
            response.raise_for_status()
            account.jwt = response.json()["access_token"]


def _mixed(client: Client, meter: CpuMeter | None, connections: int, seconds: int) -> dict[str, Any]:
    split = split_connections(connections)
    if meter:
        meter.start()
    runs = [
        client.start("balance", split["balance"], seconds),
        # a thread per connection, each on its own account (bench/load.lua): exact charges per account
        client.start(
            "generate", split["generate"], seconds + DRAIN_S, threads=split["generate"],
            stop_sending_s=seconds,
        ),
        client.start("keys", split["keys"], seconds),
    ]
    results = {run.route: run.result() for run in runs if run.route != "generate"}
    runs[1].drain()
    results["generate"] = runs[1].result()
    if meter:
        meter.stop()
    return results


@dataclass
class Configuration:
    workers: int
    image_workers: int
    mixed: dict[str, Any] = field(default_factory=dict)
    mixed_cpu: dict[str, float] = field(default_factory=dict)
    closed: dict[str, Any] = field(default_factory=dict)
    closed_cpu: dict[str, float] = field(default_factory=dict)
    paced_rate: float = 0.0
    paced: dict[str, Any] = field(default_factory=dict)
    paced_cpu: dict[str, float] = field(default_factory=dict)
    charged: list[int] = field(default_factory=list)
    unanswered: int = 0
    balances_ok: bool = False
    balance_mismatches: list[str] = field(default_factory=list)
    audit_ok: bool = False
    audit_summary: str = ""


def _cpu(meter: CpuMeter) -> dict[str, float]:
    return {
        "server_s": meter.server_s, "image_s": meter.image_s, "postgres_s": meter.postgres_s,
        "clients_s": meter.clients_s, "serving_wait_s": meter.serving_wait_s, "load": meter.load,
    }


def run_configuration(workers: int, args: argparse.Namespace, work: Path, body: bytes) -> Configuration:
    config = Configuration(workers, args.image_workers)
    name, url = _create_database()
    run_dir = work / f"{workers}w-{name}"
    run_dir.mkdir()
    plans = run_dir / "plans.toml"
    plans.write_text(PLANS_TOML)
    env = server_env(
        url, MOSAIC_IMAGE_WORKERS=str(config.image_workers), MOSAIC_PLANS_FILE=str(plans),
        # the rate limits are not what this measures
        MOSAIC_RATELIMIT="100000000/minute", MOSAIC_RATELIMIT_LOGIN="100000/minute",
    )
    try:
        subprocess.run([str(MOSAIC), "db", "upgrade"], env=env, check=True, capture_output=True)
        accounts = _create_accounts(env, args.accounts)
        start = _balances(env, accounts)
        server = start_server(env, run_dir / "server.log", args=("--workers", str(workers)))
        try:
            _wait_for_workers(server, workers)
            _sign_in(server.url, accounts)
            accounts_file = run_dir / "accounts.txt"
            accounts_file.write_text("".join(f"{a.key} {a.jwt}\n" for a in accounts))
            body_file = run_dir / "generate.body"
            body_file.write_bytes(body)
            client = Client(server.url, run_dir, accounts_file, body_file)
            meter = CpuMeter(server.process.pid, name)
            generated = [_mixed(client, None, args.connections, WARMUP_S)["generate"]]
            config.mixed = _mixed(client, meter, args.connections, args.seconds)
            config.mixed_cpu = _cpu(meter)
            generated.append(config.mixed["generate"])
            meter.start()
            config.closed = client.start("balance", args.connections, args.max_seconds).result()
            meter.stop()
            config.closed_cpu = _cpu(meter)
            config.paced_rate = args.paced_rate or config.closed["ok"] / args.max_seconds / 2
            meter.start()
            config.paced = client.start(
                "balance", args.connections, args.seconds, rate=config.paced_rate
            ).result()
            meter.stop()
            config.paced_cpu = _cpu(meter)
        finally:
            server.stop()
        check_ledger(config, env, accounts, start, generated)
    finally:
        _drop_database(name)
    return config


def check_ledger(
    config: Configuration, env: dict[str, str], accounts: list[Account], start: list[int],
    generated: list[dict[str, Any]],
) -> None:
    """Each account: start − its 200s (generate thread n used account n); then `mosaic audit verify`."""
    charged = [0] * len(accounts)
    for result in generated:
        for thread in result["threads"]:
            charged[thread["id"] - 1] += thread["ok"]
        config.unanswered += int(result["sent"]) - int(result["answered"])
    config.charged = charged
    now = _balances(env, accounts)
    for account, before, spent, after in zip(accounts, start, charged, now, strict=True):
        if after != before - spent:
            config.balance_mismatches.append(f"{account.email}: {before} - {spent} != {after}")
    config.balances_ok = not config.balance_mismatches and sum(charged) > 0
    audit = subprocess.run(
        [str(MOSAIC), "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    config.audit_ok = audit.returncode == 0 and "discrepancies: 0" in audit.stdout
    found = re.findall(r"position \d+|discrepancies: \d+", audit.stdout)
    config.audit_summary = ", ".join(found) if found else audit.stderr[-300:]


# -- report ----------------------------------------------------------------------------------------


def _rps(result: dict[str, Any], seconds: float) -> float:
    return float(result["ok"]) / seconds


def _ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def summary(c: Configuration, args: argparse.Namespace) -> dict[str, Any]:
    requests = sum(c.mixed[route]["ok"] for route, _ in MIX)
    return {
        "workers": c.workers, "req_s": round(requests / args.seconds),
        "errors": sum(errors_of(c.mixed[route]) for route, _ in MIX),
        "p99_ms": {route: round(c.mixed[route]["p99_us"] / 1000, 1) for route, _ in MIX},
        "server_cpu_s": round(c.mixed_cpu["server_s"], 1), "req_per_cpu_s": round(requests / c.mixed_cpu["server_s"]),
        "balance_max_req_s": round(_rps(c.closed, args.max_seconds)),
        "paced_p99_ms": round(c.paced["p99_us"] / 1000, 1),
        "paced_no_core_ms_s": round(c.paced_cpu["serving_wait_s"] / args.seconds * 1000), "ledger_ok": c.balances_ok and c.audit_ok,
    }


def report(configs: list[Configuration], args: argparse.Namespace) -> None:
    split = split_connections(args.connections)
    print(
        f"\nmixed traffic, {args.connections} connections ({split['balance']} balance / {split['generate']}"
        f" generate / {split['keys']} key list, closed loop), {args.seconds} s each, PostgreSQL,"
        f" {args.accounts} accounts; load {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'workers':>7} {'img':>3} {'req/s':>6} {'errors':>6}  "
        + "  ".join(f"{route + ' req/s p50/p99 ms':>27}" for route, _ in MIX)
        + f"  {'server CPU s':>12} {'(images)':>8} {'req/CPU-s':>9}  {'serving ms/req':>14}"
        f" {'image ms/gen':>12} {'PG CPU s':>8} {'wrk CPU s':>9}"
    )
    print(header)
    per_cpu: dict[int, list[float]] = {}
    per_all_cpu: dict[int, list[float]] = {}
    for c in configs:
        requests = sum(int(c.mixed[route]["ok"]) for route, _ in MIX)
        generated = int(c.mixed["generate"]["ok"])
        errors = sum(errors_of(c.mixed[route]) for route, _ in MIX)
        cpu = c.mixed_cpu
        per_cpu.setdefault(c.workers, []).append(requests / cpu["server_s"])
        per_all_cpu.setdefault(c.workers, []).append(requests / (cpu["server_s"] + cpu["postgres_s"]))
        routes = "  ".join(
            f"{_rps(c.mixed[r], args.seconds):9.1f} {_ms(c.mixed[r]['p50_us']):>7}/{_ms(c.mixed[r]['p99_us']):<9}"
            for r, _ in MIX
        )
        serving_ms = (cpu["server_s"] - cpu["image_s"]) / requests * 1000
        image_ms = cpu["image_s"] / generated * 1000 if generated else 0.0
        print(
            f"{c.workers:7d} {c.image_workers:3d} {requests / args.seconds:6.0f} {errors:6d}  {routes}"
            f"  {cpu['server_s']:12.1f} {cpu['image_s']:8.1f} {per_cpu[c.workers][-1]:9.0f}  {serving_ms:14.3f}"
            f" {image_ms:12.1f} {cpu['postgres_s']:8.1f} {cpu['clients_s']:9.1f}"
        )
    print(
        "  (img: image processes per serving process; serving ms/req: CPU of the serving processes"
        " (supervisor, workers) per request of any route; image ms/gen: the pool's CPU per generate 200)"
    )
    if 1 in per_cpu and 2 in per_cpu:
        ratios = [two / one for one, two in zip(per_cpu[1], per_cpu[2], strict=False)]
        with_pg = [two / one for one, two in zip(per_all_cpu[1], per_all_cpu[2], strict=False)]
        print(
            "requests per server CPU-second, 2 workers ÷ 1 (each round): "
            + ", ".join(f"{r:.2f}" for r in ratios) + "  (target ≥ 0.9);  counting PostgreSQL's backends too: "
            + ", ".join(f"{r:.2f}" for r in with_pg)
        )
        print(
            "  (closed loop: each route's share of the requests follows its speed, so compare the"
            " generate share too, which costs ~100× a balance read)"
        )
    print(
        f"\nGET /api/credits/balance alone, {args.connections} connections: closed loop for {args.max_seconds} s,"
        f" then paced at {f'{args.paced_rate:.0f} req/s' if args.paced_rate else 'half that rate'}"
        f" for {args.seconds} s (target p99 ≤ 10 ms)"
    )
    print(
        f"{'workers':>7} {'closed req/s':>12} {'p50/p99 ms':>13} {'req/CPU-s':>9} {'paced at':>9} {'got':>7}"
        f" {'p50/p99 ms':>13} {'max ms':>7} {'late >1/>10 ms':>15} {'errors':>6} {'no core ms/s':>12} {'load':>5}"
    )
    for c in configs:
        closed_rps = _rps(c.closed, args.max_seconds)
        closed_per_cpu = c.closed["ok"] / c.closed_cpu["server_s"]
        p = c.paced
        print(
            f"{c.workers:7d} {closed_rps:12.0f} {_ms(c.closed['p50_us']):>6}/{_ms(c.closed['p99_us']):<6}"
            f" {closed_per_cpu:9.0f} {c.paced_rate:9.0f} {_rps(p, args.seconds):7.0f}"
            f" {_ms(p['p50_us']):>6}/{_ms(p['p99_us']):<6} {_ms(p['max_us']):>7}"
            f" {p['late_1ms']:>7}/{p['late_10ms']:<7} {errors_of(c.closed) + errors_of(p):6d}"
            f" {c.paced_cpu['serving_wait_s'] / args.seconds * 1000:12.0f} {c.paced_cpu['load']:5.1f}"
        )
    print(
        "  (paced: each wrk thread's sends are due at fixed intervals on whichever connection is free;"
        " latency is timed from the write, so a late send — every connection busy — hides its wait:"
        " 'late' counts them; no core ms/s: how long per second the serving processes' event loops were"
        " ready to run while every core was busy with something else (/proc/PID/schedstat), the share of"
        " a tail that is the machine's; load: the 1-minute load average at the end)"
    )
    print("\nledger after each configuration (server stopped)")
    for c in configs:
        statuses = {route: c.mixed[route]["statuses"] for route, _ in MIX}
        print(
            f"  {c.workers} worker(s): generate 200s {sum(c.charged)} (per account {min(c.charged)}–"
            f"{max(c.charged)}), unanswered {c.unanswered}; balances = start − 200s: "
            f"{'yes' if c.balances_ok else 'NO ' + '; '.join(c.balance_mismatches[:3])};"
            f" audit verify: {'passes' if c.audit_ok else 'FAILS'} ({c.audit_summary}); statuses {statuses}"
        )
        for name, r in (("balance closed loop", c.closed), ("balance paced", c.paced)):
            if errors_of(r):  # what the errors were, to tell the server's from the machine's
                print(f"    {name}: statuses {r['statuses']}, socket errors {r['socket_errors']}")


def _wait_for_postgres() -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            psycopg.connect(ADMIN_DSN, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _attempts(workers: int, args: argparse.Namespace, work: Path, body: bytes) -> Configuration:
    """The database server is shared (on the reference machine others' fault tests restart it): a
    configuration it failed under is run again from the start, and the output says so."""
    for attempt in range(1, ATTEMPTS + 1):
        _wait_for_postgres()
        try:
            return run_configuration(workers, args, work, body)
        except Exception as exc:
            if attempt == ATTEMPTS:
                raise
            print(f"  attempt {attempt} failed ({type(exc).__name__}: {str(exc)[:200]}); again", flush=True)
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=60, help="mixed and paced runs")
    parser.add_argument("--max-seconds", type=int, default=20, help="the closed-loop balance run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1, help="each round runs 1 worker, then 2")
    parser.add_argument(
        "--paced-rate", type=float, default=0.0,
        help="pace the balance run at this rate (req/s) for every configuration; default: half its own maximum",
    )
    parser.add_argument("--accounts", type=int, default=0, help="default: one per generate connection")
    parser.add_argument(
        "--image-workers", type=int, default=0,
        help="image processes per serving process; default: enough for its pool to admit every generate"
        " connection, whichever worker the kernel gives them to (else the excess gets 503 generation_busy)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (scripts/services installs it)")
    generate_connections = split_connections(args.connections)["generate"]
    args.accounts = args.accounts or generate_connections
    args.image_workers = args.image_workers or -(-generate_connections // QUEUED_JOBS_PER_IMAGE_WORKER)
    if args.accounts < split_connections(args.connections)["generate"]:
        raise SystemExit("--accounts: at least one per generate connection")
    body = _multipart(photo_png(PHOTO_SIZE))
    configs = []
    with tempfile.TemporaryDirectory(prefix="mosaic-load-") as tmp:
        for round_ in range(args.rounds):
            for workers in (1, 2):  # alternate, so the machine's noise falls on both alike
                print(f"round {round_ + 1}: {workers} worker(s) …", flush=True)
                configs.append(_attempts(workers, args, Path(tmp), body))
                print(f"  {json.dumps(summary(configs[-1], args))}", flush=True)  # kept if a later one fails
    report(configs, args)


if __name__ == "__main__":
    main()
